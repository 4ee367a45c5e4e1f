"""Benchmark: loading + validating an export, and daily active users.

Compares, in the same run and on the same Parquet files of the demo dataset:

- ``opskit.load`` (read, coerce, every contract check, duplicate count) against
  plain pandas (``read_parquet`` + the same null/negative/duplicate checks on
  ``events``) and raw DuckDB SQL (a view + one aggregate check query + a
  distinct count);
- ``opskit.activity.active_users(freq="day")`` against a pandas
  ``groupby(...).nunique()`` and a raw DuckDB ``GROUP BY``.

Prints seconds (best of ``--repeat``) and the ratio to raw DuckDB SQL.

Usage::

    python benchmarks/bench_load.py --users 200000 --repeat 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd

import opskit
from opskit import demo


def _best(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - started)
    return best, value


def _pandas_load(folder: Path) -> dict[str, int]:
    events = pd.read_parquet(folder / "events.parquet")
    return {
        "rows": len(events),
        "null_keys": int(events[["user_id", "event_at", "event"]].isna().any(axis=1).sum()),
        "negative": int((events["revenue"] < 0).sum()),
        "duplicates": int(events.duplicated().sum()),
    }


def _duckdb_load(folder: Path) -> dict[str, int]:
    con = duckdb.connect()
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{folder / 'events.parquet'}')")
    rows, nulls, negative = con.execute(
        "SELECT count(*), count(*) FILTER (user_id IS NULL OR event_at IS NULL OR event IS NULL), "
        "count(*) FILTER (revenue < 0) FROM events").fetchone()
    distinct = con.execute("SELECT count(*) FROM (SELECT DISTINCT * FROM events)").fetchone()[0]
    return {"rows": rows, "null_keys": nulls, "negative": negative, "duplicates": rows - distinct}


def _pandas_dau(events: pd.DataFrame) -> pd.Series:
    return events.groupby(events["event_at"].dt.floor("D"))["user_id"].nunique()


def _duckdb_dau(folder: Path) -> pd.DataFrame:
    return duckdb.sql(
        "SELECT date_trunc('day', event_at) AS period, count(DISTINCT user_id) AS active_users "
        f"FROM read_parquet('{folder / 'events.parquet'}') GROUP BY 1 ORDER BY 1").df()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        frames = demo.generate_frames(users=args.users, seed=7)
        for name, frame in frames.items():
            frame.to_parquet(folder / f"{name}.parquet", index=False)
        n_events = len(frames["events"])
        print(f"demo data: {args.users:,} users, {n_events:,} events, all 9 tables "
              f"(generated and written in {time.perf_counter() - started:.1f} s)")
        del frames

        only = folder / "events-only"
        only.mkdir()
        (only / "events.parquet").symlink_to(folder / "events.parquet")
        t_all, ds = _best(lambda: opskit.load(folder), args.repeat)
        t_ops, _ = _best(lambda: opskit.load(only), args.repeat)
        t_pd, pd_checks = _best(lambda: _pandas_load(folder), args.repeat)
        t_sql, sql_checks = _best(lambda: _duckdb_load(folder), args.repeat)
        assert pd_checks == sql_checks, (pd_checks, sql_checks)
        print(f"\nload + validate (best of {args.repeat})")
        print(f"  opskit.load, all 9 tables, every check   {t_all:8.2f} s")
        print(f"  opskit.load, events only, every check    {t_ops:8.2f} s   {t_ops / t_sql:6.1f}x raw SQL")
        print(f"  pandas, events only, 3 checks            {t_pd:8.2f} s   {t_pd / t_sql:6.1f}x raw SQL")
        print(f"  raw DuckDB SQL, events only, 3 checks    {t_sql:8.2f} s   {1:6.1f}x")

        events = pd.read_parquet(folder / "events.parquet", columns=["user_id", "event_at"])
        t_ops, ops = _best(lambda: opskit.activity.active_users(ds, freq="day"), args.repeat)
        t_pd, ref = _best(lambda: _pandas_dau(events), args.repeat)
        t_sql, sql = _best(lambda: _duckdb_dau(folder), args.repeat)
        assert ops["active_users"].sum() == ref.sum() == sql["active_users"].sum()
        print(f"\ndaily active users over {n_events:,} events (best of {args.repeat})")
        print(f"  opskit.activity.active_users             {t_ops:8.3f} s   {t_ops / t_sql:6.1f}x raw SQL")
        print(f"  pandas groupby nunique (data in memory)  {t_pd:8.3f} s   {t_pd / t_sql:6.1f}x raw SQL")
        print(f"  raw DuckDB SQL on the Parquet file       {t_sql:8.3f} s   {1:6.1f}x")


if __name__ == "__main__":
    main()

"""Benchmark: how fast the explorers answer a control change on large data.

Builds each explorer (``opskit.widgets``) on generated data and times, in one
process (the explorers live in a notebook kernel, so the caches are what is
being measured):

- opening it (the first computation, the one-time compactions included);
- cold: for each control, several changes in a row (values cycle, so the first
  visit of a value computes and later visits hit the caches); the median and
  the maximum of the changes, each against the issue's target (0.5 s);
- after preparation: a second explorer, ``ex.prepare(wait=True)`` after opening
  and again before each change (what the kernel's idle loop does while the
  analyst reads the answer), then the same changes; the preparation time is
  printed apart (the first one, and the total between changes);
- for reference, recomputing the same answer from scratch, in the same run:
  plain pandas and raw DuckDB SQL (``bench_retention``'s weekly cohort grid;
  ``bench_attribution``'s journeys to paths plus last-touch and linear credit),
  and the ratio of the explorer's median change to each.

Data: the retention explorer and the segment explorer get ``--events``
synthetic events (``bench_retention.generate``: ``events / 20`` users) and a
users table for them (``signup_at`` = first event, ``segment`` b2b/b2c 30/70,
``channel`` and ``country``); the attribution explorer gets ``--events / 2``
touchpoints (``bench_attribution.generate``, its default 5M at 10M events).
Explorer timings include building the Altair charts (not rendering them:
there is no browser). Prints the 1-minute load average next to each block
(the machine is shared; wall times stretch with its load).

Usage::

    python benchmarks/bench_widgets.py                     # 10M events
    python benchmarks/bench_widgets.py --events 1e6 --only retention
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _measure import load_average, peak_rss_mb

TARGET = 0.5

#: Per explorer: (control, values to set in turn).
CHANGES: dict[str, list[tuple[str, list]]] = {
    "retention": [
        ("period", ["month", "day", "week", "month", "day", "week"]),
        ("mode", ["on_or_after", "on", "on_or_after", "on"]),
        ("kind", ["recurring", "first_time", "recurring", "first_time"]),
        ("dates", "slider"),
        ("segment", ["segment", "channel", "(none)", "segment", "(none)"]),
        ("start_event", ["edit_doc", "(any)", "edit_doc", "(any)"]),
        ("return_event", ["share", "(any)", "share", "(any)"]),
    ],
    "attribution": [
        ("models", [("last_touch", "linear"), ("first_touch", "last_touch", "linear",
                                               "position_based", "time_decay", "markov"),
                    ("last_touch", "linear")]),
        ("half_life_days", [3.0, 14.0, 7.0, 3.0]),
        ("position_weights", [(0.2, 0.4), (0.3, 0.7), (0.4, 0.6), (0.2, 0.4)]),
        ("channels", "subsets"),
        ("lookback_days", [14, 30, 14, 30]),
    ],
    "segments": [
        ("metrics", "subsets"),
        ("groups", "pairs"),
        ("column", ["country", "segment", "country"]),
    ],
}


def write_users(events_file: Path, users_file: Path, seed: int = 5) -> int:
    """A users table for the synthetic events: signup at the first event, three segment columns."""
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    first = duckdb.sql(f"SELECT user_id, min(event_at) AS signup_at FROM read_parquet('{events_file}') "
                       "GROUP BY user_id ORDER BY user_id").arrow()
    if hasattr(first, "read_all"):
        first = first.read_all()
    rng = np.random.default_rng(seed)
    n = first.num_rows
    pick = lambda values, p: pa.array(np.asarray(values, dtype=object)[  # noqa: E731
        rng.choice(len(values), size=n, p=p)], pa.string())
    table = first.append_column("segment", pick(["b2b", "b2c"], [0.3, 0.7]))
    table = table.append_column("channel", pick(["微信", "百度搜索", "抖音", "email", "direct"],
                                                [0.3, 0.25, 0.2, 0.15, 0.1]))
    table = table.append_column("country", pick(["CN", "US", "DE", "JP"], [0.6, 0.2, 0.1, 0.1]))
    pq.write_table(table, users_file)
    return n


def _changes(ex, control: str, values, prepared: list[float] | None = None) -> list[float]:
    widget = ex.controls[control]
    if values == "slider":
        n = len(widget.options)
        values = [(n // 4, n - 1), (0, n // 2), (n // 3, 2 * n // 3), (0, n - 1), (n // 4, n - 1)]
        setter = lambda v: setattr(widget, "index", v)  # noqa: E731
    elif values == "subsets":
        opts = list(widget.options)
        names = [o[1] if isinstance(o, tuple) else o for o in opts]
        values = [tuple(names[:3]), tuple(names[1:5]), tuple(names), tuple(names[:3])]
        setter = lambda v: setattr(widget, "value", v)  # noqa: E731
    elif values == "pairs":
        names = list(widget.options)
        values = [tuple(names[i:i + 2]) for i in range(min(3, len(names) - 1))] + [tuple(names[:2])]
        setter = lambda v: setattr(widget, "value", v)  # noqa: E731
    else:
        setter = lambda v: setattr(widget, "value", v)  # noqa: E731
    took = []
    for value in values:
        if prepared is not None:  # the analyst reads; the kernel prepares the neighbours
            began = time.perf_counter()
            ex.prepare(wait=True)
            prepared.append(time.perf_counter() - began)
        setter(value)
        if ex.error:
            raise SystemExit(f"{control}={value!r}: {ex.error}")
        took.append(ex.seconds)
    return took


def bench_explorer(name: str, make: Callable[[], object], reference: dict[str, float]) -> None:
    began = time.perf_counter()
    ex = make()
    opened = time.perf_counter() - began
    if ex.error:
        raise SystemExit(f"{name} explorer: {ex.error}")
    print(f"\n{name} explorer: opened in {opened:.2f} s ({ex.status.value}); "
          f"load average {load_average()}")
    cold = {control: _changes(ex, control, values) for control, values in CHANGES[name]}
    ex.close()  # its engine tables are dropped before the second explorer is built
    del ex
    print(f"  cold done; load average {load_average()}")
    ex = make()
    began = time.perf_counter()
    views = ex.prepare(wait=True)
    first = time.perf_counter() - began
    print(f"  second explorer: first preparation {views} views in {first:.1f} s; "
          f"load average {load_average()}")
    between: list[float] = []
    warm = {control: _changes(ex, control, values, between) for control, values in CHANGES[name]}
    print(f"  preparation between changes: {len(between)} times, {sum(between):.1f} s in all, "
          f"max {max(between):.1f} s ({ex.prepared} views prepared in all)")
    print(f"  {'control':<18}{'changes':>8}{'cold med':>10}{'cold max':>10}{'prep med':>10}"
          f"{'prep max':>10}  {'target 0.5 s':<14}" + "".join(f"{'x ' + k:>12}" for k in reference))
    for control, _ in CHANGES[name]:
        took, after = cold[control], warm[control]
        med, top = statistics.median(after), max(after)
        verdict = "met" if top <= TARGET else ("median met" if med <= TARGET else "MISSED")
        ratios = "".join(f"{med / s:11.3f}x" for s in reference.values())
        print(f"  {control:<18}{len(took):>8}{statistics.median(took):10.3f}{max(took):10.2f}"
              f"{med:10.3f}{top:10.2f}  {verdict:<14}{ratios}")
    print("  (verdict and ratios: after preparation) from scratch: "
          + ", ".join(f"{k} {v:.2f} s" for k, v in reference.items())
          + f"; load average {load_average()}; peak memory so far {peak_rss_mb():,.0f} MB")
    ex.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="1e7", help="number of events (default 1e7)")
    parser.add_argument("--only", choices=sorted(CHANGES), action="append",
                        help="run only this explorer (repeatable)")
    args = parser.parse_args()
    n_events = int(float(args.events))
    wanted = args.only or ["retention", "attribution", "segments"]
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_attribution
    import bench_retention

    import opskit
    from opskit import widgets

    print(f"explorers on {n_events:,} events: opskit {opskit.__version__}; {os.cpu_count()} CPUs; "
          f"load average {load_average()}")
    with tempfile.TemporaryDirectory(prefix="bench_widgets_") as tmp:
        folder = Path(tmp) / "events"
        folder.mkdir()
        began = time.perf_counter()
        info = bench_retention.generate(n_events, folder / "events.parquet")
        users = write_users(folder / "events.parquet", folder / "users.parquet")
        print(f"{info['events']:,} events, {users:,} users written in {time.perf_counter() - began:.1f} s")
        if "retention" in wanted or "segments" in wanted:
            ref = {}
            for label, run in (("pandas", bench_retention.run_pandas),
                               ("raw SQL", bench_retention.run_duckdb)):
                began = time.perf_counter()
                run(folder)
                ref[label] = time.perf_counter() - began
            if "retention" in wanted:
                bench_explorer("retention", lambda: widgets.retention_explorer(opskit.load(folder)), ref)
            if "segments" in wanted:
                print("\n(segments: no pandas or SQL twin of compare.segments exists; the ratios are "
                      "against the weekly cohort grid above, for scale only)")
                bench_explorer("segments", lambda: widgets.segment_explorer(opskit.load(folder)), ref)
        if "attribution" in wanted:
            touch_folder = Path(tmp) / "touches"
            touch_folder.mkdir()
            began = time.perf_counter()
            tinfo = bench_attribution.generate(n_events // 2, touch_folder)
            print(f"\n{tinfo} written in {time.perf_counter() - began:.1f} s")
            ref = {}
            for label, run in (("pandas", bench_attribution.run_pandas),
                               ("raw SQL", bench_attribution.run_duckdb)):
                began = time.perf_counter()
                run(touch_folder)
                ref[label] = time.perf_counter() - began
            bench_explorer("attribution",
                           lambda: widgets.attribution_explorer(opskit.load(touch_folder)), ref)
    print(f"\npeak memory {peak_rss_mb():,.0f} MB; load average at the end {load_average()}")


if __name__ == "__main__":
    main()

"""Small argument and shaping helpers shared by the KPI modules (one copy, not one per module)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from opskit import engine
from opskit._inputs import table_arg
from opskit.errors import DataError

__all__ = ["as_list", "check", "data_span", "empty", "grid", "instant", "ints", "refuse_duplicates",
           "users_table"]

_DAY = pd.Timedelta(days=1)


def as_list(by: str | Sequence[str] | None) -> list[str]:
    """``by`` as a list of column names (None: none)."""
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def check(name: str, value: Any, allowed: Sequence[Any]) -> None:
    """Refuse an option value outside ``allowed``, naming them."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, not {value!r}")


def instant(value: Any, name: str) -> pd.Timestamp | None:
    """A tz-naive UTC instant from text, a date or a timestamp (``None`` passes)."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a date or timestamp such as '2025-07-01', not {value!r}") from exc
    if pd.isna(ts):
        raise ValueError(f"{name} must be a date or timestamp, not {value!r}")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def data_span(table: ir.Table) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Midnight of the first event's day, and the end of the data: midnight after the
    last event's day (exports are cut by day, as in :mod:`opskit.retention`). NaT if empty."""
    bounds = engine.to_pandas(table.aggregate(first=table.event_at.min(), last=table.event_at.max()))
    first, last = bounds["first"].iloc[0], bounds["last"].iloc[0]
    if pd.isna(last):
        return pd.NaT, pd.NaT
    return first.normalize(), last.normalize() + _DAY


def grid(counts: pd.DataFrame, periods: pd.DatetimeIndex, keys: list[str]) -> pd.DataFrame:
    """Every period for every ``keys`` group seen in ``counts``, with its counts (NaN if none)."""
    full = pd.DataFrame({"period": pd.DatetimeIndex(periods).astype("datetime64[ns]")})
    if keys:
        full = full.merge(counts[keys].drop_duplicates(), how="cross")
    return full.merge(counts, on=["period", *keys], how="left")


def ints(out: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``columns`` as int64 counts, missing counts 0."""
    for col in columns:
        out[col] = out[col].fillna(0).astype("int64")
    return out


def empty(columns: list[str], *, ints: Sequence[str] = (), bools: Sequence[str] = (),
          texts: Sequence[str] = ()) -> pd.DataFrame:
    """An empty result with the documented columns and dtypes."""
    def dtype(c: str) -> str:
        if c == "period":
            return "datetime64[ns]"
        return "int64" if c in ints else "bool" if c in bools else "str" if c in texts else "float64"

    return pd.DataFrame({c: pd.Series(dtype=dtype(c)) for c in columns})


def users_table(users: Any, columns: Sequence[str], fn: str) -> ir.Table:
    """The ``users`` table with ``user_id`` and ``columns``; one row per user or a DataError."""
    if users is None:
        raise ValueError(f"{fn}(by=...) breaks down by users columns: pass users=... (the users table)")
    table = table_arg(users, "users", ("user_id", *columns))
    sizes = engine.to_pandas(table.aggregate(rows=table.count(), ids=table.user_id.nunique()))
    refuse_duplicates(table, "users", "user_id", int(sizes["rows"].iloc[0]), int(sizes["ids"].iloc[0]),
                      "so those users would be counted more than once",
                      "keep one row per user (e.g. the earliest signup) before passing users")
    return table.select("user_id", *columns)


def refuse_duplicates(table: ir.Table, name: str, key: str, rows: int, ids: int, consequence: str,
                      fix: str) -> None:
    """A DataError when ``rows`` > ``ids`` (distinct ``key`` values), with three repeated keys."""
    if rows <= ids:
        return
    dup = table.group_by(key).aggregate(n=table.count())
    examples = engine.to_pandas(dup.filter(dup.n > 1).order_by(key).limit(3))[key]
    raise DataError.single(
        name, key, "duplicate_id", rows - ids,
        f"repeat a {key} that an earlier row already has, {consequence}", fix,
        total=rows, examples=tuple((None, str(v)) for v in examples))

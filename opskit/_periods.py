"""Calendar periods shared by every KPI family."""

from __future__ import annotations

import ibis.expr.types as ir
import pandas as pd

__all__ = ["FREQS", "floor_period", "period_range", "period_start"]

#: opskit frequency -> (Ibis truncation unit, pandas date_range frequency).
FREQS: dict[str, tuple[str, str]] = {
    "day": ("D", "D"),
    "week": ("W", "W-MON"),
    "month": ("M", "MS"),
}


def _unit(freq: str) -> tuple[str, str]:
    try:
        return FREQS[freq]
    except KeyError:
        raise ValueError(f"freq must be one of {', '.join(FREQS)}, not {freq!r}") from None


def period_start(ts: ir.TimestampValue, freq: str) -> ir.TimestampValue:
    """Start of the calendar period holding ``ts``: midnight UTC; weeks start on Monday (ISO)."""
    return ts.truncate(_unit(freq)[0])


def period_range(first: pd.Timestamp, last: pd.Timestamp, freq: str) -> pd.DatetimeIndex:
    """Every period start from ``first``'s period to ``last``'s, inclusive."""
    return pd.date_range(first, last, freq=_unit(freq)[1], name="period").astype("datetime64[ns]")


def floor_period(ts: pd.Timestamp, freq: str) -> pd.Timestamp:
    """Start of the calendar period holding ``ts`` (the pandas twin of :func:`period_start`).

    >>> floor_period(pd.Timestamp("2025-01-01 10:00"), "week")  # a Wednesday
    Timestamp('2024-12-30 00:00:00')
    """
    day = pd.Timestamp(ts).normalize()
    _unit(freq)
    if freq == "week":
        return day - pd.Timedelta(days=day.weekday())
    if freq == "month":
        return day.replace(day=1)
    return day

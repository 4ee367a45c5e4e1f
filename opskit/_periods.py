"""Calendar periods shared by every KPI family."""

from __future__ import annotations

import ibis.expr.types as ir
import pandas as pd

__all__ = ["FREQS", "period_range", "period_start"]

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

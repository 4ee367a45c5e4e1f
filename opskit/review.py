"""The periodic operations review: which period is reviewed, and against which.

Used by ``templates/ops_review.ipynb`` (seed 002's review: goals against
actuals, key numbers, channels, problems, next steps).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

__all__ = ["ReviewWindow", "review_window"]

_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*(?:/|:|\.\.|to)\s*(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class ReviewWindow:
    """The reviewed period ``[start, end)`` and the reference ``[ref_start, ref_end)``."""

    label: str
    start: pd.Timestamp
    end: pd.Timestamp
    ref_start: pd.Timestamp
    ref_end: pd.Timestamp
    compare_to: str

    @property
    def last_day(self) -> pd.Timestamp:
        return self.end - pd.Timedelta(days=1)


def _parse(period: str) -> tuple[pd.Timestamp, pd.Timestamp, str]:
    text = str(period).strip()
    if m := _QUARTER.match(text):
        start = pd.Timestamp(int(m[1]), 3 * int(m[2]) - 2, 1)
        return start, start + pd.DateOffset(months=3), "quarter"
    if m := _MONTH.match(text):
        start = pd.Timestamp(int(m[1]), int(m[2]), 1)
        return start, start + pd.DateOffset(months=1), "month"
    if m := _WEEK.match(text):
        start = pd.Timestamp.fromisocalendar(int(m[1]), int(m[2]), 1)
        return start, start + pd.Timedelta(weeks=1), "week"
    if m := _YEAR.match(text):
        start = pd.Timestamp(int(m[1]), 1, 1)
        return start, start + pd.DateOffset(years=1), "year"
    if m := _RANGE.match(text):
        start, last = pd.Timestamp(m[1]), pd.Timestamp(m[2])
        if last < start:
            raise ValueError(f"period {period!r} ends before it starts")
        return start, last + pd.Timedelta(days=1), "days"
    raise ValueError(
        f"period {period!r} is not a period opskit reads: write a quarter (2025-Q3), a month "
        "(2025-07), an ISO week (2025-W27), a year (2025) or a range of days "
        "(2025-07-01/2025-09-30, last day included)")


def review_window(period: str, /, *, compare_to: str = "previous") -> ReviewWindow:
    """The reviewed period and the one it is compared with.

    ``period`` is a quarter (``"2025-Q3"``), a month (``"2025-07"``), an ISO
    week (``"2025-W27"``), a year (``"2025"``) or a range of days with the
    last day included (``"2025-07-01/2025-09-30"``). ``compare_to`` is
    ``"previous"`` (the period of the same kind just before: the previous
    quarter, month or week; for a range of days, the same number of days
    before) or ``"year_ago"`` (the same dates one year earlier).

    Examples
    --------
    >>> w = review_window("2025-Q3")
    >>> [f"{t:%Y-%m-%d}" for t in (w.start, w.end, w.ref_start, w.ref_end)]
    ['2025-07-01', '2025-10-01', '2025-04-01', '2025-07-01']
    >>> w = review_window("2025-07-01/2025-07-10", compare_to="year_ago")
    >>> f"{w.ref_start:%Y-%m-%d}", f"{w.ref_end:%Y-%m-%d}"
    ('2024-07-01', '2024-07-11')
    """
    start, end, kind = _parse(period)
    if compare_to == "previous":
        offset = {"quarter": pd.DateOffset(months=3), "month": pd.DateOffset(months=1),
                  "year": pd.DateOffset(years=1)}.get(kind, end - start)
        ref_start, ref_end = start - offset, start
    elif compare_to == "year_ago":
        ref_start, ref_end = start - pd.DateOffset(years=1), end - pd.DateOffset(years=1)
    else:
        raise ValueError(f"compare_to must be 'previous' or 'year_ago', not {compare_to!r}")
    return ReviewWindow(str(period).strip(), start, end, pd.Timestamp(ref_start),
                        pd.Timestamp(ref_end), compare_to)

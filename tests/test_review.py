"""opskit.review: the reviewed period and its reference, read from what analysts write."""

from __future__ import annotations

import pandas as pd
import pytest

from opskit.review import review_window

T = pd.Timestamp


@pytest.mark.parametrize(("period", "start", "end", "previous"), [
    ("2025-Q1", "2025-01-01", "2025-04-01", ("2024-10-01", "2025-01-01")),
    ("2025q4", "2025-10-01", "2026-01-01", ("2025-07-01", "2025-10-01")),
    ("2025-03", "2025-03-01", "2025-04-01", ("2025-02-01", "2025-03-01")),
    ("2025-W01", "2024-12-30", "2025-01-06", ("2024-12-23", "2024-12-30")),   # ISO week 1
    ("2025", "2025-01-01", "2026-01-01", ("2024-01-01", "2025-01-01")),
    ("2025-07-01/2025-07-10", "2025-07-01", "2025-07-11", ("2025-06-21", "2025-07-01")),
])
def test_periods_and_the_previous_one(period, start, end, previous):
    w = review_window(period)
    assert (w.start, w.end) == (T(start), T(end))
    assert (w.ref_start, w.ref_end) == (T(previous[0]), T(previous[1]))
    assert w.last_day == T(end) - pd.Timedelta(days=1)


def test_year_ago_shifts_the_same_dates_back_a_year():
    w = review_window("2024-02", compare_to="year_ago")   # a leap-year February
    assert (w.ref_start, w.ref_end) == (T("2023-02-01"), T("2023-03-01"))


def test_unreadable_periods_say_what_is_read():
    with pytest.raises(ValueError, match=r"a quarter \(2025-Q3\), a month"):
        review_window("Q3 2025")
    with pytest.raises(ValueError, match="ends before it starts"):
        review_window("2025-07-10/2025-07-01")
    with pytest.raises(ValueError, match="compare_to must be"):
        review_window("2025-07", compare_to="last_year")

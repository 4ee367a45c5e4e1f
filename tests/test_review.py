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


def test_key_numbers_on_the_demo_agree_with_plain_counts(demo_frames):
    import opskit
    from opskit.review import key_numbers

    frames = demo_frames(2_000, 7)
    ds = opskit.Dataset.from_frames(**frames)
    w = review_window("2025-Q3")
    got = key_numbers(ds, w).set_index("metric")
    signup = pd.to_datetime(frames["users"]["signup_at"])
    in_q3 = ((signup >= w.start) & (signup < w.end)).sum()
    in_q2 = ((signup >= w.ref_start) & (signup < w.ref_end)).sum()
    assert got.loc["new_users", ["current", "reference"]].tolist() == [in_q3, in_q2]
    assert got.loc["new_users", "change"] == pytest.approx(in_q3 / in_q2 - 1)
    tickets = pd.to_datetime(frames["tickets"]["created_at"])
    assert got.loc["tickets", "current"] == ((tickets >= w.start) & (tickets < w.end)).sum()
    # planted: new users retain worse than returning ones
    assert got.loc["new_retention", "current"] < got.loc["returning_retention", "current"]
    rates = got[got["unit"] == "rate"]
    assert rates["current"].between(0, 1).all()
    assert (rates["change"] == rates["current"] - rates["reference"]).all()

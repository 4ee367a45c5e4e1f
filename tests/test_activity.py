"""opskit.activity.active_users: hand-computed cases and a pandas reference."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opskit.activity import active_users


def _events(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame({"user_id": [u for u, _ in rows], "event_at": [t for _, t in rows],
                         "event": "x"})


EVENTS = _events([
    ("a", "2025-01-01 09:00"), ("a", "2025-01-01 18:00"),  # a twice on Wed 1 Jan
    ("b", "2025-01-01 23:59:59"),                          # b on 1 Jan
    ("b", "2025-01-02 00:00:00"),                          # b on 2 Jan
    ("c", "2025-01-06 12:00"),                             # c on Mon 6 Jan (new ISO week)
    ("a", "2025-02-03 08:00"),                             # a in February
])


def test_daily_active_users_by_hand():
    got = active_users(EVENTS, freq="day")
    assert got.columns.tolist() == ["period", "active_users"]
    assert got["period"].dtype == "datetime64[ns]" and got["active_users"].dtype == "int64"
    assert len(got) == 34  # 1 Jan .. 3 Feb, idle days included
    by_day = got.set_index("period")["active_users"]
    assert by_day["2025-01-01"] == 2 and by_day["2025-01-02"] == 1
    assert by_day["2025-01-03"] == 0 and by_day["2025-01-06"] == 1 and by_day["2025-02-03"] == 1
    assert by_day.sum() == 5


def test_weekly_active_users_use_iso_weeks():
    got = active_users(EVENTS, freq="week").set_index("period")["active_users"]
    assert got.index[0] == pd.Timestamp("2024-12-30")  # the Monday of 1 Jan 2025
    assert got["2024-12-30"] == 2 and got["2025-01-06"] == 1
    assert got["2025-01-13"] == 0 and got["2025-02-03"] == 1
    assert len(got) == 6


def test_monthly_active_users():
    got = active_users(EVENTS, freq="month")
    assert got["period"].tolist() == [pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01")]
    assert got["active_users"].tolist() == [3, 1]


def test_empty_events_give_an_empty_frame():
    got = active_users(_events([]).astype({"event_at": "datetime64[ns]"}))
    assert got.empty and got.columns.tolist() == ["period", "active_users"]


def test_unknown_freq_is_a_value_error():
    with pytest.raises(ValueError, match="freq must be one of day, week, month"):
        active_users(EVENTS, freq="quarter")


def _reference(frame: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Plain pandas: distinct users per calendar period, idle periods as 0."""
    ts = pd.to_datetime(frame["event_at"])
    if freq == "day":
        period = ts.dt.normalize()
        step = "D"
    elif freq == "week":
        period = (ts - pd.to_timedelta(ts.dt.day_of_week, unit="D")).dt.normalize()
        step = "7D"
    else:
        period = ts.dt.to_period("M").dt.to_timestamp()
        step = "MS"
    counts = frame.assign(period=period).groupby("period")["user_id"].nunique()
    full = pd.date_range(counts.index.min(), counts.index.max(), freq=step)
    return (counts.reindex(full, fill_value=0).rename_axis("period")
            .rename("active_users").reset_index())


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["u1", "u2", "u3", "u4", "用户5"]),
                  st.datetimes(min_value=pd.Timestamp("2024-12-20").to_pydatetime(),
                               max_value=pd.Timestamp("2025-03-10").to_pydatetime())),
        min_size=1, max_size=60),
    freq=st.sampled_from(["day", "week", "month"]),
)
def test_matches_a_plain_pandas_reference(rows, freq):
    frame = pd.DataFrame({"user_id": [u for u, _ in rows],
                          "event_at": pd.to_datetime([t for _, t in rows]).astype("datetime64[ns]"),
                          "event": "x"})
    got = active_users(frame, freq=freq)
    expected = _reference(frame, freq)
    pd.testing.assert_frame_equal(got, expected, check_freq=False, check_dtype=False)
    assert got["active_users"].dtype == "int64"

"""opskit.activity: active users, stickiness, active days, participation (hand, reference, demo)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit.activity import active_days_distribution, active_users, participation, stickiness


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


# --- stickiness, active days, participation -----------------------------------------------

# Data from Mon 6 Jan to Mon 3 Feb 2025 (the data end at 2025-02-04 00:00).
WEEK = pd.DataFrame([
    ("a", "2025-01-06 09:00", "open"), ("a", "2025-01-06 18:00", "open"),   # a twice on the 6th
    ("a", "2025-01-07 09:00", "share"), ("a", "2025-01-08 09:00", "open"),
    ("b", "2025-01-06 10:00", "open"), ("b", "2025-01-10 10:00", "open"),
    ("c", "2025-01-15 10:00", "share"),
    ("a", "2025-02-03 10:00", "open"),
], columns=["user_id", "event_at", "event"])
USERS = pd.DataFrame({"user_id": ["a", "b", "c"], "signup_at": "2025-01-01",
                      "segment": ["b2b", "b2c", "b2c"]})
W = [pd.Timestamp(d) for d in ("2025-01-06", "2025-01-13", "2025-01-20", "2025-01-27", "2025-02-03")]
NAN = float("nan")


def _table(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return [tuple(None if isinstance(v, float) and v != v else v for v in row)
            for row in frame[columns].itertuples(index=False)]


def test_weekly_stickiness_by_hand():
    got = stickiness(WEEK, freq="week")
    assert got.columns.tolist() == ["period", "days", "mean_dau", "active_users", "stickiness", "complete"]
    assert _table(got, got.columns.tolist()) == [
        # DAU 2, 1, 1, 0, 1, 0, 0: mean 5/7 over WAU 2
        (W[0], 7, pytest.approx(5 / 7), 2, pytest.approx(5 / 14), True),
        (W[1], 7, pytest.approx(1 / 7), 1, pytest.approx(1 / 7), True),
        (W[2], 7, 0.0, 0, None, True), (W[3], 7, 0.0, 0, None, True),   # nobody: no ratio
        (W[4], 1, 1.0, 1, 1.0, False),   # only 3 Feb is inside the data
    ]


def test_monthly_stickiness_averages_the_days_inside_the_data():
    got = stickiness(WEEK)
    assert _table(got, ["period", "days", "mean_dau", "active_users", "stickiness", "complete"]) == [
        # 6..31 Jan: 26 days, DAU summing to 6; MAU 3
        (pd.Timestamp("2025-01-01"), 26, pytest.approx(6 / 26), 3, pytest.approx(2 / 26), False),
        (pd.Timestamp("2025-02-01"), 3, pytest.approx(1 / 3), 1, pytest.approx(1 / 3), False),
    ]
    key = stickiness(WEEK, freq="week", event="share")   # only the key action counts
    assert _table(key, ["period", "mean_dau", "active_users"]) == [
        (W[0], pytest.approx(1 / 7), 1), (W[1], pytest.approx(1 / 7), 1)]
    with pytest.raises(ValueError, match="freq must be one of 'week', 'month'"):
        stickiness(WEEK, freq="day")


def test_active_days_distribution_by_hand():
    got = active_days_distribution(WEEK)
    assert got.columns.tolist() == ["period", "days_in_period", "days_active", "users", "share",
                                    "users_at_least", "share_at_least", "active_users", "complete"]
    assert len(got) == 5 * 7 and (got["days_in_period"] == 7).all()
    first = got[got["period"] == W[0]]
    # a on 3 days (6, 7, 8 Jan), b on 2 days (6, 10 Jan)
    assert first["users"].tolist() == [0, 1, 1, 0, 0, 0, 0]
    assert first["users_at_least"].tolist() == [2, 2, 1, 0, 0, 0, 0]
    assert first["share"].tolist()[:3] == [0.0, 0.5, 0.5]
    assert first["share_at_least"].tolist()[:3] == [1.0, 1.0, 0.5]
    idle = got[got["period"] == W[2]]
    assert (idle["users"] == 0).all() and idle["share"].isna().all()
    assert got.loc[got["period"] == W[4], "complete"].eq(False).all()
    monthly = active_days_distribution(WEEK, freq="month")
    assert monthly.groupby("period")["days_in_period"].first().tolist() == [31, 28]
    assert monthly["users"].tolist()[:4] == [1, 1, 1, 0] and len(monthly) == 31 + 28


def test_participation_by_hand():
    got = participation(WEEK, event="share")
    assert got.columns.tolist() == ["period", "active_users", "participants", "participation_rate",
                                    "ci_low", "ci_high"]
    # January: a, b, c active; a and c shared. February: a only, no share
    assert _table(got, ["period", "active_users", "participants", "participation_rate"]) == [
        (pd.Timestamp("2025-01-01"), 3, 2, pytest.approx(2 / 3)), (pd.Timestamp("2025-02-01"), 1, 0, 0.0)]
    by = participation(WEEK, event=["share"], by="segment", users=USERS)
    assert _table(by, ["segment", "period", "active_users", "participants", "participation_rate"]) == [
        ("b2b", pd.Timestamp("2025-01-01"), 1, 1, 1.0), ("b2b", pd.Timestamp("2025-02-01"), 1, 0, 0.0),
        ("b2c", pd.Timestamp("2025-01-01"), 2, 1, 0.5), ("b2c", pd.Timestamp("2025-02-01"), 0, 0, None),
    ]
    with pytest.raises(ValueError, match="pass users="):
        participation(WEEK, event="share", by="segment")


def _floor(ts: pd.Series, freq: str) -> pd.Series:
    day = pd.to_datetime(ts).dt.normalize()
    if freq == "week":
        return day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    return day.dt.to_period("M").dt.to_timestamp()


def _days_reference(frame: pd.DataFrame, freq: str) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Plain pandas: mean DAU over the days inside the data, active-day counts, participants."""
    day = pd.to_datetime(frame["event_at"]).dt.normalize()
    days = pd.Series(pd.date_range(day.min(), day.max(), freq="D"))
    dau = frame.assign(day=day).groupby("day")["user_id"].nunique().reindex(days, fill_value=0)
    mean = dau.groupby(_floor(days, freq).to_numpy()).mean()
    active = frame.groupby(_floor(day, freq))["user_id"].nunique()
    sticky = pd.DataFrame({"mean_dau": mean, "active_users": active}).dropna()
    k = frame.assign(day=day, p=_floor(day, freq)).groupby(["p", "user_id"])["day"].nunique()
    shares = frame[frame["event"] == "share"]
    return sticky, k.groupby(level="p").value_counts(), shares.groupby(_floor(shares["event_at"], freq))[
        "user_id"].nunique()


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3", "u4"]), st.integers(0, 24 * 70),
                            st.sampled_from(["open", "share"])), min_size=1, max_size=50),
    freq=st.sampled_from(["week", "month"]),
)
def test_days_metrics_match_a_plain_reference(rows, freq):
    frame = pd.DataFrame({"user_id": [u for u, _, _ in rows], "event": [e for _, _, e in rows],
                          "event_at": [pd.Timestamp("2025-01-25 07:00") + pd.Timedelta(hours=h)
                                       for _, h, _ in rows]})
    sticky, k, shared = _days_reference(frame, freq)
    got = stickiness(frame, freq=freq).set_index("period")
    got = got[got["active_users"] > 0]
    assert got["active_users"].tolist() == sticky["active_users"].astype(int).tolist()
    assert np.allclose(got["mean_dau"], sticky["mean_dau"])
    dist = active_days_distribution(frame, freq=freq)
    nonzero = dist[dist["users"] > 0].set_index(["period", "days_active"])["users"]
    assert nonzero.sort_index().to_dict() == k.sort_index().to_dict()
    part = participation(frame, event="share", freq=freq).set_index("period")
    assert part.loc[part["participants"] > 0, "participants"].to_dict() == shared.to_dict()


# --- the demo -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    return opskit.demo.generate_frames(users=2000, seed=7)


def test_demo_activity_numbers(demo):
    events, users = demo["events"], demo["users"]
    # mean DAU per month is the demo targets' `dau` actual (docs/demo.md)
    day = events["event_at"].dt.normalize()
    dau = events.groupby(day)["user_id"].nunique()
    expected = dau.groupby(dau.index.to_period("M").to_timestamp()).mean()
    got = stickiness(events).set_index("period")
    assert np.allclose(got["mean_dau"], expected) and got["complete"].all()
    assert (got["stickiness"].between(0.03, 0.3)).all()
    # the distribution adds up to WAU, and most users come on one day a week
    weekly = active_days_distribution(events)
    wau = active_users(events, freq="week").set_index("period")["active_users"]
    assert weekly.groupby("period")["users"].sum().to_dict() == wau.to_dict()
    assert weekly.loc[weekly["days_active"] == 1, "share"].median() > 0.5
    # invite_member is a B2B-only action
    part = participation(events, event="invite_member", by="segment", users=users)
    assert (part.loc[part["segment"] == "b2c", "participants"] == 0).all()
    assert part.loc[part["segment"] == "b2b", "participation_rate"].mean() > 0.02

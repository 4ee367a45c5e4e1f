"""opskit.growth: hand-computed registrations, activations, channel conversion; references; engines."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit.growth import activations, channel_conversion, growth_rate, registrations
from opskit.retention import wilson

NAN = float("nan")
JAN, FEB, MAR, APR = (pd.Timestamp(d) for d in ("2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01"))


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return [tuple(None if isinstance(v, float) and math.isnan(v) else v for v in row)
            for row in frame[columns].itertuples(index=False)]


# --- registrations --------------------------------------------------------------------------

# Jan: a, b, c (c one minute before February); Feb: nobody; Mar: d, e; Apr: f on the 15th,
# the last signup, so the data end at 2025-04-16 and April is not complete.
USERS = pd.DataFrame({
    "user_id": ["a", "b", "c", "d", "e", "f"],
    "signup_at": ["2025-01-05", "2025-01-20", "2025-01-31 23:59", "2025-03-02", "2025-03-10",
                  "2025-04-15 10:00"],
    "segment": ["b2b", "b2c", "b2c", "b2b", "b2c", "b2c"],
})


def test_monthly_registrations_by_hand():
    got = registrations(USERS)
    assert got.columns.tolist() == ["period", "registrations", "growth_rate", "total_users", "complete"]
    assert got.dtypes.astype(str).tolist() == ["datetime64[ns]", "int64", "float64", "int64", "bool"]
    assert _rows(got, got.columns.tolist()) == [
        (JAN, 3, None, 3, True),    # no previous period
        (FEB, 0, -1.0, 3, True),    # (0 - 3) / 3
        (MAR, 2, None, 5, True),    # previous is 0: no rate
        (APR, 1, None, 6, False),   # April is in progress: not compared
    ]


def test_registrations_by_segment_and_window():
    got = registrations(USERS, by="segment")
    assert _rows(got, ["segment", "period", "registrations", "growth_rate", "total_users"]) == [
        ("b2b", JAN, 1, None, 1), ("b2b", FEB, 0, -1.0, 1), ("b2b", MAR, 1, None, 2),
        ("b2b", APR, 0, None, 2),
        ("b2c", JAN, 2, None, 2), ("b2c", FEB, 0, -1.0, 2), ("b2c", MAR, 1, None, 3),
        ("b2c", APR, 1, None, 4),
    ]
    # the first period kept still compares with the one before it; totals include earlier signups
    window = registrations(USERS, start="2025-02-01", end="2025-04-01")
    assert _rows(window, ["period", "registrations", "growth_rate", "total_users"]) == [
        (FEB, 0, -1.0, 3), (MAR, 2, None, 5)]


def test_weekly_registrations_use_iso_weeks():
    got = registrations(USERS.iloc[:3], freq="week")
    # Sun 5 Jan is in the week of Mon 30 Dec; 20 Jan is a Monday; 31 Jan in the week of 27 Jan
    assert got["period"].tolist() == list(pd.date_range("2024-12-30", "2025-01-27", freq="7D"))
    assert got["registrations"].tolist() == [1, 0, 0, 1, 1]
    assert got["growth_rate"].tolist()[:2] == [pytest.approx(NAN, nan_ok=True), -1.0]


def test_growth_rate_keeps_the_frames_order_and_groups():
    frame = pd.DataFrame({"period": pd.to_datetime(["2025-02-01", "2025-01-01", "2025-02-01", "2025-01-01"]),
                          "g": ["x", "x", "y", "y"], "n": [30, 20, 5, 0]})
    got = growth_rate(frame, column="n", by="g")
    assert got.iloc[0] == 0.5 and math.isnan(got.iloc[1]) and math.isnan(got.iloc[2])
    with pytest.raises(ValueError, match="needs column"):
        growth_rate(frame, column="users")


def _registrations_reference(users: pd.DataFrame, freq: str) -> pd.DataFrame:
    ts = pd.to_datetime(users["signup_at"])
    period = {"day": ts.dt.normalize(), "month": ts.dt.to_period("M").dt.to_timestamp(),
              "week": (ts - pd.to_timedelta(ts.dt.day_of_week, unit="D")).dt.normalize()}[freq]
    counts = users.assign(period=period).groupby("period")["user_id"].nunique()
    step = {"day": "D", "week": "7D", "month": "MS"}[freq]
    full = pd.date_range(counts.index.min(), counts.index.max(), freq=step)
    counts = counts.reindex(full, fill_value=0)
    horizon = ts.max().normalize() + pd.Timedelta(days=1)
    ends = full + (pd.offsets.MonthBegin(1) if freq == "month"
                   else pd.Timedelta(days=1 if freq == "day" else 7))
    prev = counts.shift(1)
    rate = ((counts - prev) / prev.where(prev != 0)).where(ends <= horizon)
    return pd.DataFrame({"registrations": counts.to_numpy(), "growth_rate": rate.to_numpy(),
                         "total_users": counts.cumsum().to_numpy()}, index=full)


@settings(max_examples=25, deadline=None)
@given(days=st.lists(st.integers(0, 120), min_size=1, max_size=40),
       freq=st.sampled_from(["day", "week", "month"]))
def test_registrations_match_a_pandas_reference(days, freq):
    users = pd.DataFrame({"user_id": [f"u{i}" for i in range(len(days))],
                          "signup_at": [pd.Timestamp("2025-01-29 13:00") + pd.Timedelta(hours=22 * d)
                                        for d in days]})
    got = registrations(users, freq=freq).set_index("period")
    expected = _registrations_reference(users, freq)
    pd.testing.assert_frame_equal(got[expected.columns], expected, check_names=False, check_freq=False,
                                  check_index_type=False)


# --- activations ----------------------------------------------------------------------------

# The events begin on 2025-01-03 and end on 2025-02-20 (so the data end at 2025-02-21 00:00).
A_USERS = pd.DataFrame({
    "user_id": ["p", "q", "r", "s", "t", "v", "w"],
    "signup_at": ["2025-01-02 10:00", "2025-01-05 12:00", "2025-01-06 09:00", "2025-01-10 08:00",
                  "2025-01-20 00:00", "2025-02-15 00:00", "2025-02-01 00:00"],
    "segment": ["b2b", "b2b", "b2c", "b2c", "b2c", "b2b", "b2c"],
})
A_EVENTS = pd.DataFrame([
    ("p", "2025-01-03 08:00", "create_doc"),   # p signed up before the events begin: not eligible
    ("q", "2025-01-12 11:59", "create_doc"),   # 6 days 23:59 after signup: activated
    ("r", "2025-01-13 09:00", "create_doc"),   # exactly 7 days after: outside [t0, t0 + 7 days)
    ("s", "2025-01-10 07:00", "create_doc"),   # before signing up: does not count
    ("t", "2025-01-21 00:00", "share_doc"),    # another key action
    ("v", "2025-02-16 00:00", "create_doc"),   # v's 7 days end 22 Feb, after the data: not eligible
    ("w", "2025-02-20 10:00", "page_view"),    # w eligible (window ends 8 Feb), never activated
], columns=["user_id", "event_at", "event"])
COLS = ["period", "registrations", "eligible", "activations", "activation_rate"]


def test_activations_by_hand():
    got = activations(A_EVENTS, users=A_USERS, activation_event="create_doc")
    assert got.columns.tolist() == [*COLS, "ci_low", "ci_high"]
    assert _rows(got, COLS) == [(JAN, 5, 4, 1, 0.25), (FEB, 2, 1, 0, 0.0)]
    low, high = wilson([1], [4])
    assert got.loc[0, "ci_low"] == pytest.approx(low[0]) and got.loc[0, "ci_high"] == pytest.approx(high[0])


def test_several_key_actions_and_a_longer_window():
    both = activations(A_EVENTS, users=A_USERS, activation_event=["create_doc", "share_doc"])
    assert _rows(both, COLS) == [(JAN, 5, 4, 2, 0.5), (FEB, 2, 1, 0, 0.0)]   # q and t
    longer = activations(A_EVENTS, users=A_USERS, activation_event="create_doc", days=14)
    assert _rows(longer, COLS) == [(JAN, 5, 4, 2, 0.5), (FEB, 2, 1, 0, 0.0)]   # q and r


def test_activations_by_segment():
    got = activations(A_EVENTS, users=A_USERS, activation_event="create_doc", by="segment")
    assert _rows(got, ["segment", *COLS]) == [
        ("b2b", JAN, 2, 1, 1, 1.0), ("b2b", FEB, 1, 0, 0, None),   # nobody eligible: no rate
        ("b2c", JAN, 3, 3, 0, 0.0), ("b2c", FEB, 1, 1, 0, 0.0),
    ]


def test_activation_options_are_checked():
    with pytest.raises(TypeError, match="activation_event"):
        activations(A_EVENTS, users=A_USERS, activation_event=[])
    with pytest.raises(ValueError, match="days must be > 0"):
        activations(A_EVENTS, users=A_USERS, activation_event="x", days=0)
    with pytest.raises(ValueError, match="freq must be one of 'day', 'week', 'month'"):
        activations(A_EVENTS, users=A_USERS, activation_event="x", freq="quarter")


@settings(max_examples=25, deadline=None)
@given(signups=st.lists(st.integers(0, 60 * 24), min_size=1, max_size=12),
       acts=st.lists(st.tuples(st.integers(0, 11), st.integers(-2 * 24, 70 * 24)), max_size=30),
       days=st.sampled_from([1, 3, 7, 2.5]))
def test_activations_match_a_plain_reference(signups, acts, days):
    base = pd.Timestamp("2025-01-30 05:00")
    users = pd.DataFrame({"user_id": [f"u{i}" for i in range(len(signups))],
                          "signup_at": [base + pd.Timedelta(hours=h) for h in signups]})
    rows = [(f"u{i % len(signups)}", base + pd.Timedelta(hours=h), "key") for i, h in acts]
    rows.append(("zz", base, "open"))   # the events begin on the first possible signup day
    events = pd.DataFrame(rows, columns=["user_id", "event_at", "event"])
    got = activations(events, users=users, activation_event="key", days=days, freq="week")
    first_day = events["event_at"].min().normalize()
    horizon = events["event_at"].max().normalize() + pd.Timedelta(days=1)
    window = pd.Timedelta(days=days)
    expected: dict[pd.Timestamp, list[int]] = {}
    for user, t0 in zip(users["user_id"], users["signup_at"], strict=True):
        week = (t0 - pd.Timedelta(days=t0.day_of_week)).normalize()
        cell = expected.setdefault(week, [0, 0, 0])
        cell[0] += 1
        if t0 >= first_day and t0 + window <= horizon:
            cell[1] += 1
            mine = events[(events["user_id"] == user) & (events["event"] == "key")]["event_at"]
            cell[2] += int(((mine >= t0) & (mine < t0 + window)).any())
    got_cells = {r.period: [r.registrations, r.eligible, r.activations] for r in got.itertuples()}
    assert {k: v for k, v in got_cells.items() if v != [0, 0, 0]} == expected


# --- channel conversion ---------------------------------------------------------------------

C_USERS = pd.DataFrame({
    "user_id": ["a", "b", "c", "d", "e", "f", "g", "h"],
    "signup_at": ["2025-01-01", "2025-01-15", "2025-02-03", "2025-01-10", "2025-02-10", "2024-12-20",
                  "2025-01-05", "2025-03-05"],
    "channel": ["微信", "微信", "微信", "百度搜索", "organic_search", "微信", None, "微信"],
})
# spend covers 2025-01-01 .. 2025-02-27: f (December) and h (March) fall outside; g has no channel
C_SPEND = pd.DataFrame({"date": ["2025-01-01", "2025-02-27", "2025-01-10"],
                        "channel": ["微信", "微信", "百度搜索"], "cost": [50.0, 150.0, 75.0],
                        "impressions": [1000, 3000, 500], "clicks": [20, 60, 25]})
C_COLS = ["channel", "impressions", "clicks", "cost", "registrations", "conversion_rate",
          "registration_rate", "cost_per_registration"]


def test_channel_conversion_by_hand():
    got = channel_conversion(C_USERS, C_SPEND)
    assert got.columns.tolist() == C_COLS
    assert got["registrations"].dtype == "int64" and got["impressions"].dtype == "float64"
    assert _rows(got, C_COLS) == [
        # 3 / 4000 impressions; 3 / 80 clicks; 200 / 3 yuan
        ("微信", 4000.0, 80.0, 200.0, 3, 0.00075, 0.0375, pytest.approx(66.6667, abs=1e-4)),
        ("organic_search", None, None, None, 1, None, None, None),   # no spend rows: unknown, not 0
        ("百度搜索", 500.0, 25.0, 75.0, 1, 0.002, 0.04, 75.0),
    ]
    wider = channel_conversion(C_USERS, C_SPEND, start="2024-12-01", end="2025-04-01")
    assert wider.loc[wider["channel"] == "微信", "registrations"].item() == 5   # f and h too


def test_channel_conversion_by_month():
    got = channel_conversion(C_USERS, C_SPEND, freq="month")
    assert _rows(got, ["period", "channel", "impressions", "cost", "registrations", "conversion_rate"]) == [
        (JAN, "微信", 1000.0, 50.0, 2, 0.002), (JAN, "百度搜索", 500.0, 75.0, 1, 0.002),
        (JAN, "organic_search", None, None, 0, None),
        (FEB, "organic_search", None, None, 1, None),
        (FEB, "微信", 3000.0, 150.0, 1, pytest.approx(1 / 3000)),
        (FEB, "百度搜索", 0.0, 0.0, 0, None),   # a paid channel idle in February: 0 spent, no rate
    ]


def test_channel_conversion_without_clicks_or_impressions():
    got = channel_conversion(C_USERS, C_SPEND.drop(columns="clicks"))
    assert got["clicks"].isna().all() and got["registration_rate"].isna().all()
    with pytest.raises(opskit.DataError, match=r"spend\.impressions"):
        channel_conversion(C_USERS, C_SPEND.drop(columns="impressions"))
    with pytest.raises(opskit.DataError, match=r"users\.channel"):
        channel_conversion(C_USERS.drop(columns="channel"), C_SPEND)


def test_empty_tables_give_empty_frames_with_their_columns():
    users, spend = C_USERS.iloc[:0], C_SPEND.iloc[:0]
    assert registrations(users).columns.tolist() == ["period", "registrations", "growth_rate", "total_users",
                                                     "complete"]
    assert activations(A_EVENTS.iloc[:0], users=users, activation_event="x").empty
    got = channel_conversion(users, spend, freq="week")
    assert got.empty and got.columns.tolist()[:2] == ["channel", "period"]


# --- the demo -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    return opskit.demo.generate_frames(users=4000, seed=7)


def test_demo_growth_numbers(demo):
    users, events, spend = demo["users"], demo["events"], demo["spend"]
    # registrations per segment and month are the demo targets' `new_users` actuals
    got = registrations(users, by="segment", start="2025-01-01")
    new = users[users["signup_at"] >= "2025-01-01"]
    expected = new.groupby([new["segment"], new["signup_at"].dt.to_period("M").dt.to_timestamp()]).size()
    assert got.set_index(["segment", "period"])["registrations"].to_dict() == expected.to_dict()
    # docs/demo.md: 57 % of new users create a document within 7 days of signing up
    act = activations(events, users=users, activation_event="create_doc")
    rate = act["activations"].sum() / act["eligible"].sum()
    assert 0.52 < rate < 0.62 and act["eligible"].sum() > 0.9 * len(new)
    # 微信 is the dearest channel per registration (finding 3 measures it per paid conversion)
    conv = channel_conversion(users, spend).set_index("channel")
    assert conv["cost_per_registration"].idxmax() == "微信"
    assert conv.loc["微信", "registrations"] == (new["channel"] == "微信").sum()
    assert np.isnan(conv.loc["direct", "conversion_rate"])


# --- the same answer on Spark ---------------------------------------------------------------


@pytest.mark.spark
def test_spark_gives_the_same_tables(tmp_path, spark_backend):
    frames = opskit.demo.generate_frames(users=400, seed=11)
    for name in ("users", "events", "spend"):
        frames[name].to_parquet(tmp_path / f"{name}.parquet", index=False)
        spark_backend.read_parquet(str(tmp_path / f"{name}.parquet"), table_name=name)
    on_spark, on_duckdb = opskit.load(spark_backend), opskit.load(tmp_path)

    def tables(ds):
        return [registrations(ds, freq="week", by="segment"),
                activations(ds, users=ds, activation_event="create_doc", days=3, by="segment"),
                channel_conversion(ds, ds, freq="month")]

    for spark_frame, duck_frame in zip(tables(on_spark), tables(on_duckdb), strict=True):
        pd.testing.assert_frame_equal(spark_frame, duck_frame)

"""opskit.retention.cohort_table and curve: hand-computed cells, a plain reference, engines."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit.retention import cohort_table, curve, wilson

# Weeks start on Monday: 2025-01-06, 01-13, 01-20, 01-27. The last event is on 01-29, so
# the data end at 2025-01-30 00:00: the week of 01-27 is incomplete, 02-03 has not begun.
EVENTS = pd.DataFrame([
    ("a", "2025-01-06 10:00", "signup", "ios"), ("a", "2025-01-08 10:00", "use", "ios"),
    ("a", "2025-01-15 10:00", "use", "web"), ("a", "2025-01-29 10:00", "use", "web"),
    ("b", "2025-01-07 09:00", "signup", "web"), ("b", "2025-01-21 09:00", "use", "web"),
    ("c", "2025-01-14 08:00", "signup", "ios"), ("c", "2025-01-15 08:00", "use", "ios"),
    ("c", "2025-01-22 08:00", "purchase", "ios"),
], columns=["user_id", "event_at", "event", "platform"])
USERS = pd.DataFrame({"user_id": ["a", "b", "c"], "signup_at": ["2025-01-06", "2025-01-07", "2025-01-14"],
                      "segment": ["b2b", "b2c", "b2c"]})
W1, W2, W3, W4 = (pd.Timestamp(d) for d in ("2025-01-06", "2025-01-13", "2025-01-20", "2025-01-27"))
NAN = float("nan")


def _cells(frame: pd.DataFrame, *extra: str) -> list[tuple]:
    return [tuple(None if isinstance(v, float) and math.isnan(v) else v for v in row)
            for row in frame[["cohort", "period", "cohort_size", "retained", "rate", "complete", *extra]]
            .itertuples(index=False)]


def test_first_time_on_calendar_weeks_by_hand():
    got = cohort_table(EVENTS, periods=3)
    assert got.columns.tolist() == ["cohort", "period", "cohort_size", "retained", "rate", "complete",
                                    "ci_low", "ci_high"]
    assert _cells(got) == [
        (W1, 0, 2, 2, 1.0, True), (W1, 1, 2, 1, 0.5, True), (W1, 2, 2, 1, 0.5, True),
        (W1, 3, 2, 1, 0.5, False),
        (W2, 0, 1, 1, 1.0, True), (W2, 1, 1, 1, 1.0, True), (W2, 2, 1, 0, 0.0, False),
        (W2, 3, 1, 0, None, False),   # the week of 02-03 had not begun: no rate
    ]
    low, high = wilson([1], [2])
    assert got.loc[1, "ci_low"] == pytest.approx(low[0]) and got.loc[1, "ci_high"] == pytest.approx(high[0])
    assert np.isnan(got.loc[7, "ci_low"])


def test_on_or_after_counts_any_later_return():
    got = cohort_table(EVENTS, periods=3, mode="on_or_after")
    assert got["retained"].tolist() == [2, 2, 2, 1, 1, 1, 0, 0]


def test_on_or_after_counts_returns_beyond_the_last_period():
    # a returns in week 3; with periods=1 the last column still counts them
    got = cohort_table(EVENTS, periods=1, mode="on_or_after")
    assert got.loc[got["cohort"] == W1, "retained"].tolist() == [2, 2]


def test_recurring_enters_a_cohort_every_active_period():
    got = cohort_table(EVENTS, periods=3, kind="recurring")
    assert _cells(got) == [
        (W1, 0, 2, 2, 1.0, True), (W1, 1, 2, 1, 0.5, True), (W1, 2, 2, 1, 0.5, True),
        (W1, 3, 2, 1, 0.5, False),
        (W2, 0, 2, 2, 1.0, True), (W2, 1, 2, 1, 0.5, True), (W2, 2, 2, 1, 0.5, False),
        (W2, 3, 2, 0, None, False),
        (W3, 0, 2, 2, 1.0, True), (W3, 1, 2, 0, 0.0, False), (W3, 2, 2, 0, None, False),
        (W3, 3, 2, 0, None, False),
        (W4, 0, 1, 1, 1.0, False), (W4, 1, 1, 0, None, False), (W4, 2, 1, 0, None, False),
        (W4, 3, 1, 0, None, False),
    ]


def test_distinct_start_and_return_events_make_period_zero_a_real_rate():
    got = cohort_table(EVENTS, periods=2, start_event="signup", return_event="use")
    assert _cells(got) == [
        (W1, 0, 2, 1, 0.5, True), (W1, 1, 2, 1, 0.5, True), (W1, 2, 2, 1, 0.5, True),
        (W2, 0, 1, 1, 1.0, True), (W2, 1, 1, 0, 0.0, True), (W2, 2, 1, 0, 0.0, False),
    ]


ROLLING = pd.DataFrame({"user_id": ["x", "x", "x", "y", "y"], "event": "e", "event_at": [
    "2025-01-01 22:00", "2025-01-02 21:00", "2025-01-03 23:00", "2025-01-02 01:00", "2025-01-03 02:00"]})
D1, D2 = pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-02")


def test_rolling_days_are_measured_from_each_users_start():
    got = cohort_table(ROLLING, period="day", periods=2, calendar=False)
    assert _cells(got) == [
        (D1, 0, 1, 1, 1.0, True), (D1, 1, 1, 0, 0.0, True), (D1, 2, 1, 1, 1.0, False),
        (D2, 0, 1, 1, 1.0, True), (D2, 1, 1, 1, 1.0, False), (D2, 2, 1, 0, None, False),
    ]


def test_calendar_days_differ_from_rolling_days():
    got = cohort_table(ROLLING, period="day", periods=2, calendar=True)
    # x's event 23 hours after starting is on the next calendar day
    assert got.loc[got["cohort"] == D1, "retained"].tolist() == [1, 1, 1]


def test_months_are_calendar_months():
    events = pd.DataFrame({"user_id": ["m", "m", "m"], "event": "e",
                           "event_at": ["2025-01-31 23:00", "2025-02-01 01:00", "2025-03-15"]})
    got = cohort_table(events, period="month", periods=2)
    assert got["retained"].tolist() == [1, 1, 1]
    assert got["complete"].tolist() == [True, True, False]


def test_breakdown_by_a_users_column_and_an_events_column():
    by_segment = cohort_table(EVENTS, periods=1, by="segment", users=USERS)
    assert _cells(by_segment, "segment") == [
        (W1, 0, 1, 1, 1.0, True, "b2b"), (W1, 1, 1, 1, 1.0, True, "b2b"),
        (W1, 0, 1, 1, 1.0, True, "b2c"), (W1, 1, 1, 0, 0.0, True, "b2c"),
        (W2, 0, 1, 1, 1.0, True, "b2c"), (W2, 1, 1, 1, 1.0, True, "b2c"),
    ]
    by_platform = cohort_table(EVENTS, periods=0, by="platform")   # value at the start event
    assert by_platform[["cohort", "platform", "cohort_size"]].values.tolist() == [
        [W1, "ios", 1], [W2, "ios", 1], [W1, "web", 1]]
    with pytest.raises(ValueError, match="pass users="):
        cohort_table(EVENTS, by="segment")


def test_start_and_end_bound_the_cohorts_not_the_returns():
    got = cohort_table(EVENTS, periods=3, start="2025-01-06", end="2025-01-13")
    assert set(got["cohort"]) == {W1} and got["retained"].tolist() == [2, 1, 1, 1]


@pytest.mark.parametrize("mode", ["on", "on_or_after"])
def test_no_cohort_entries_give_an_empty_typed_table(mode):
    # no "zzz" event: no cohort at all, in either mode (on_or_after used to fail on the merge)
    out = cohort_table(EVENTS, start_event="zzz", mode=mode, periods=1)
    assert out.empty and str(out["cohort"].dtype) == "datetime64[ns]"
    assert out["period"].dtype == "int64"


def test_options_are_checked():
    for option in ({"period": "quarter"}, {"mode": "in"}, {"kind": "new"}, {"periods": -1}):
        with pytest.raises(ValueError):
            cohort_table(EVENTS, **option)


def test_curve_is_cohort_size_weighted_over_complete_cells():
    table = cohort_table(EVENTS, periods=3)
    got = curve(table)
    # period 1: W1 (1 of 2) and W2 (1 of 1), complete -> 2 of 3; period 2: only W1 is complete
    assert got["period"].tolist() == [0, 1, 2]
    assert got["rate"].tolist() == pytest.approx([1.0, 2 / 3, 0.5])
    assert got["cohort_size"].tolist() == [3, 3, 2] and got["cohorts"].tolist() == [2, 2, 1]


# --- a plain reference on random event logs ----------------------------------------------


def _pstart(ts: pd.Timestamp, period: str) -> pd.Timestamp:
    day = ts.normalize()
    if period == "day":
        return day
    if period == "week":
        return day - pd.Timedelta(days=day.weekday())
    return day.replace(day=1)


def _index(ts: pd.Timestamp, period: str) -> int:
    if period == "month":
        return ts.year * 12 + ts.month
    days = (_pstart(ts, period) - pd.Timestamp("1970-01-05")).days
    return days if period == "day" else days // 7


def _next(start: pd.Timestamp, period: str, k: int) -> pd.Timestamp:
    if period == "month":
        return start + pd.DateOffset(months=k)
    return start + pd.Timedelta(days=k * (1 if period == "day" else 7))


def reference(events, *, period, mode, kind, calendar, periods):
    """Loop over users and entries, exactly as docs/metrics.md words the definitions."""
    ev = events.assign(event_at=pd.to_datetime(events["event_at"]))
    horizon = ev["event_at"].max().normalize() + pd.Timedelta(days=1)
    length = pd.Timedelta(days={"day": 1, "week": 7, "month": 30}[period])
    entries = []
    for user, rows in ev.groupby("user_id"):
        times = sorted(rows["event_at"])
        if kind == "first_time":
            entries.append((user, _pstart(times[0], period), times[0]))
        else:
            firsts: dict = {}
            for t in times:
                firsts.setdefault(_pstart(t, period), t)
            entries += [(user, c, t0) for c, t0 in firsts.items()]
    out = []
    for cohort in sorted({c for _, c, _ in entries}):
        members = [(u, t0) for u, c, t0 in entries if c == cohort]
        for n in range(periods + 1):
            retained = 0
            for user, t0 in members:
                later = ev.loc[(ev["user_id"] == user) & (ev["event_at"] >= t0), "event_at"]
                if calendar:
                    offsets = {_index(t, period) - _index(cohort, period) for t in later}
                else:
                    offsets = {math.floor((t - t0) / length) for t in later}
                retained += (n in offsets) if mode == "on" else any(m >= n for m in offsets)
            if calendar:
                start, end = _next(cohort, period, n), _next(cohort, period, n + 1)
            else:
                start = cohort + n * length
                end = max(t0 for _, t0 in members) + (n + 1) * length
            rate = retained / len(members) if start < horizon else NAN
            out.append((cohort, n, len(members), retained, rate, end <= horizon))
    return out


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3", "u4"]),
                            st.integers(min_value=0, max_value=80 * 24 * 60)),
                  min_size=1, max_size=25),
    period=st.sampled_from(["day", "week", "month"]),
    mode=st.sampled_from(["on", "on_or_after"]),
    kind=st.sampled_from(["first_time", "recurring"]),
    calendar=st.booleans(),
)
def test_matches_the_reference_on_random_logs(rows, period, mode, kind, calendar):
    base = pd.Timestamp("2025-01-29 17:00")
    events = pd.DataFrame({"user_id": [u for u, _ in rows], "event": "e",
                           "event_at": [base + pd.Timedelta(minutes=m) for _, m in rows]})
    periods = 4
    got = cohort_table(events, period=period, mode=mode, kind=kind, calendar=calendar, periods=periods)
    expected = reference(events, period=period, mode=mode, kind=kind, calendar=calendar, periods=periods)
    assert _cells(got) == [tuple(None if isinstance(v, float) and math.isnan(v) else v for v in row)
                           for row in expected]


# --- the same answer from every engine --------------------------------------------------


@pytest.fixture(scope="module")
def demo_folder(demo_parquet):
    return demo_parquet(400, 11)


OPTIONS = [dict(period="week", periods=6), dict(period="day", periods=10, calendar=False),
           dict(period="month", periods=3, mode="on_or_after", kind="recurring", by="segment")]


@pytest.mark.parametrize("options", OPTIONS)
def test_pandas_frame_and_parquet_give_the_same_table(demo_folder, options):
    ds = opskit.load(demo_folder)
    from_parquet = cohort_table(ds, users=ds.users, **options)
    frame = pd.read_parquet(demo_folder / "events.parquet")
    users = pd.read_parquet(demo_folder / "users.parquet")
    pd.testing.assert_frame_equal(cohort_table(frame, users=users, **options), from_parquet)


@pytest.mark.spark
def test_spark_gives_the_same_table(demo_folder, spark_backend):
    for path in demo_folder.glob("*.parquet"):
        spark_backend.read_parquet(str(path), table_name=path.stem)
    on_spark = opskit.load(spark_backend)
    on_duckdb = opskit.load(demo_folder)
    for options in OPTIONS:
        pd.testing.assert_frame_equal(cohort_table(on_spark, users=on_spark.users, **options),
                                      cohort_table(on_duckdb, users=on_duckdb.users, **options))

"""retention.compact_events: cohort_table on the compacted events equals it on the raw events."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit.retention import cohort_table, compact_events


def _frame(rows):
    return pd.DataFrame(rows, columns=["user_id", "event", "event_at"])


def test_hand_example_keeps_first_and_last_of_each_day():
    # a: 09:00, 12:00, 18:00 on Jan 6 -> 09:00 and 18:00 kept; Jan 14 08:00 kept; b: one row
    events = _frame([("a", "x", "2025-01-06 09:00"), ("a", "x", "2025-01-06 12:00"),
                     ("a", "x", "2025-01-06 18:00"), ("a", "x", "2025-01-14 08:00"),
                     ("b", "x", "2025-01-07 10:00")])
    kept = opskit.engine.to_pandas(compact_events(events)).sort_values(["user_id", "event_at"])
    assert kept["event_at"].dt.strftime("%m-%d %H:%M").tolist() == [
        "01-06 09:00", "01-06 18:00", "01-14 08:00", "01-07 10:00"]
    weekly = opskit.engine.to_pandas(compact_events(events, period="week", keep_events=False))
    assert len(weekly) == 4 and weekly["event"].isna().all()


def test_the_last_event_of_t0s_day_decides_a_same_day_return():
    # start "s" at 12:00; returns "r" at 08:00 (before t0) and 20:00 (after): only 20:00 counts.
    # Compaction keeps 08:00 and 20:00 of "r", so the answer is the raw one (period 0: 1 of 1)
    events = _frame([("a", "s", "2025-01-06 12:00"), ("a", "r", "2025-01-06 08:00"),
                     ("a", "r", "2025-01-06 15:00"), ("a", "r", "2025-01-06 20:00")])
    for calendar in (True, False):
        raw = cohort_table(events, start_event="s", return_event="r", periods=1, calendar=calendar)
        small = cohort_table(compact_events(events), start_event="s", return_event="r", periods=1,
                             calendar=calendar)
        pd.testing.assert_frame_equal(small, raw)
        assert raw["retained"].tolist() == [1, 0]


_times = st.integers(min_value=0, max_value=70 * 24 * 60).map(
    lambda m: pd.Timestamp("2025-01-01") + pd.Timedelta(minutes=m))
_rows = st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.sampled_from(["x", "y", "z"]),
                           _times), min_size=1, max_size=40)
_options = st.fixed_dictionaries({
    "mode": st.sampled_from(["on", "on_or_after"]),
    "kind": st.sampled_from(["first_time", "recurring"]),
    "start_event": st.sampled_from([None, "x", "y"]),
    "return_event": st.sampled_from([None, "x", "z"]),
    "period": st.sampled_from(["day", "week", "month"]),
})


@settings(max_examples=25, deadline=None)
@given(rows=_rows, options=_options, calendar=st.booleans())
def test_daily_compaction_is_exact_for_every_period(rows, options, calendar):
    events = _frame(rows)
    users = pd.DataFrame({"user_id": ["a", "b", "c", "d"], "signup_at": "2025-01-01",
                          "segment": ["b2b", "b2c", "b2c", "b2b"]})
    try:  # (cohort_table itself fails on some empty by= results; then both must fail)
        raw = cohort_table(events, periods=4, calendar=calendar, by="segment", users=users, **options)
    except ValueError:
        with pytest.raises(ValueError):
            cohort_table(compact_events(events), periods=4, calendar=calendar, by="segment",
                         users=users, **options)
        return
    small = cohort_table(compact_events(events), periods=4, calendar=calendar, by="segment",
                         users=users, **options)
    pd.testing.assert_frame_equal(small, raw)


@settings(max_examples=25, deadline=None)
@given(rows=_rows, options=_options)
def test_period_compaction_is_exact_for_its_calendar_period(rows, options):
    events = _frame(rows)
    try:  # (cohort_table fails on_or_after when no user starts: then both must fail)
        raw = cohort_table(events, periods=3, **options)
    except ValueError:
        with pytest.raises(ValueError):
            cohort_table(compact_events(events, period=options["period"]), periods=3, **options)
        return
    small = cohort_table(compact_events(events, period=options["period"]), periods=3, **options)
    pd.testing.assert_frame_equal(small, raw)
    if options["start_event"] is None and options["return_event"] is None:
        across = compact_events(events, period=options["period"], keep_events=False)
        pd.testing.assert_frame_equal(cohort_table(across, periods=3, **options), raw)


def test_demo_weekly_table_is_unchanged(demo_frames):
    ds = opskit.Dataset.from_frames(**demo_frames(2000, 7))
    for period in ("week", "month"):
        small = compact_events(ds, period=period, keep_events=False)
        pd.testing.assert_frame_equal(cohort_table(small, period=period, by="segment", users=ds.users),
                                      cohort_table(ds, period=period, by="segment", users=ds.users))


def test_bad_period():
    with pytest.raises(ValueError, match="'day', 'week', 'month'"):
        compact_events(_frame([("a", "x", "2025-01-01")]), period="year")


@pytest.mark.spark
def test_spark_gives_the_same_table(demo_frames, spark_backend, tmp_path):
    frames = demo_frames(300, 3)
    for name in ("events", "users"):
        frames[name].to_parquet(tmp_path / f"{name}.parquet", index=False)
        spark_backend.read_parquet(str(tmp_path / f"{name}.parquet"), table_name=name)
    on_spark = opskit.load(spark_backend)
    small = compact_events(on_spark, period="week")
    pd.testing.assert_frame_equal(cohort_table(small, period="week"),
                                  cohort_table(frames["events"], period="week"))

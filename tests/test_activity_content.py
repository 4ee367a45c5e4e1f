"""opskit.activity.usage_time and page_metrics: hand-computed sessions, a reference, the demo, Spark."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit.activity import (
    active_days_distribution,
    page_metrics,
    participation,
    stickiness,
    usage_time,
)

D6, D7, D8 = (pd.Timestamp(d) for d in ("2025-01-06", "2025-01-07", "2025-01-08"))


def _table(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return [tuple(None if isinstance(v, float) and v != v else v for v in row)
            for row in frame[columns].itertuples(index=False)]


# --- usage time ---------------------------------------------------------------------------

TIMED = pd.DataFrame([
    ("a", "2025-01-06 09:00", "view", "s1", 60.0), ("a", "2025-01-06 09:05", "edit", "s1", 120.0),
    ("a", "2025-01-07 23:50", "view", "s2", 30.0), ("a", "2025-01-08 00:10", "edit", "s2", 40.0),
    ("b", "2025-01-06 10:00", "view", "s3", 100.0),
    ("b", "2025-01-09 03:00", "purchase", None, None),   # server-side: no session, no time
], columns=["user_id", "event_at", "event", "session_id", "duration_s"])
USAGE = ["period", "users", "user_days", "total_seconds", "seconds_per_user", "seconds_per_user_day"]


def test_usage_time_from_durations_by_hand():
    got = usage_time(TIMED)
    assert got.columns.tolist() == USAGE
    assert got.dtypes.astype(str).tolist() == ["datetime64[ns]", "int64", "int64", "float64", "float64",
                                               "float64"]
    assert _table(got, USAGE) == [
        (D6, 2, 2, 280.0, 140.0, 140.0),   # a 60 + 120, b 100
        (D7, 1, 1, 30.0, 30.0, 30.0),
        (D8, 1, 1, 40.0, 40.0, 40.0),      # the purchase on the 9th carries no time
    ]
    weekly = usage_time(TIMED, freq="week")
    assert _table(weekly, USAGE) == [(D6, 2, 4, 350.0, 175.0, 87.5)]


def test_usage_time_from_sessions_by_hand():
    # s1 lasts 5 min; s2 runs 20 min across midnight and counts on the day it began; s3 has one event
    got = usage_time(TIMED, freq="week", method="sessions")
    assert _table(got, USAGE) == [(D6, 2, 3, 1500.0, 750.0, 500.0)]
    daily = usage_time(TIMED, method="sessions")
    assert _table(daily, ["period", "users", "total_seconds"]) == [(D6, 2, 300.0), (D7, 1, 1200.0)]
    # duration_s wins when it has values; without it the sessions are used
    assert usage_time(TIMED, method="auto").equals(usage_time(TIMED, method="duration"))
    no_duration = TIMED.assign(duration_s=None)
    assert usage_time(no_duration, freq="week").equals(got)


def test_usage_time_without_session_ids_cuts_sessions_at_30_minutes():
    bare = TIMED.drop(columns=["session_id", "duration_s"])
    got = usage_time(bare, freq="week")
    # a: 09:00-09:05 (300 s), 23:50-00:10 (1,200 s, a 20-minute gap); b: two one-event sessions,
    # the purchase now among them (every event is in a session without session_id)
    assert _table(got, USAGE) == [(D6, 2, 4, 1500.0, 750.0, 375.0)]
    shorter = usage_time(bare, freq="week", session_gap_minutes=10)
    assert shorter["total_seconds"].tolist() == [300.0]   # 23:50 and 00:10 are now apart


def test_usage_time_by_segment_and_options():
    users = pd.DataFrame({"user_id": ["a", "b"], "signup_at": "2025-01-01", "segment": ["b2b", "b2c"]})
    got = usage_time(TIMED, freq="week", by="segment", users=users)
    assert _table(got, ["segment", "users", "user_days", "total_seconds"]) == [
        ("b2b", 1, 3, 250.0), ("b2c", 1, 1, 100.0)]
    with pytest.raises(ValueError, match="method must be one of 'auto', 'duration', 'sessions'"):
        usage_time(TIMED, method="clock")
    with pytest.raises(opskit.DataError, match="duration_s"):
        usage_time(TIMED.drop(columns="duration_s"), method="duration")


# --- pages --------------------------------------------------------------------------------

PAGES = pd.DataFrame([
    ("a", "2025-01-06 09:00", "page_view", "s1", "/home"),
    ("a", "2025-01-06 09:01", "page_view", "s1", "/docs"),
    ("a", "2025-01-06 09:02", "edit_doc", "s1", "/editor"),
    ("a", "2025-01-07 10:00", "page_view", "s2", "/home"),     # a bounce
    ("b", "2025-01-06 10:00", "page_view", "s3", "/help"),
    ("b", "2025-01-06 10:00", "page_view", "s3", "/docs"),
    ("c", "2025-02-01 10:00", "page_view", "s4", "/pricing"),
    ("c", "2025-02-01 10:05", "page_view", "s4", "/pricing"),
    ("c", "2025-02-02 10:00", "page_view", None, "/home"),     # outside any session: PV and UV only
    ("c", "2025-02-02 11:00", "purchase", None, None),         # no page: not a view
], columns=["user_id", "event_at", "event", "session_id", "page"])
PAGE_COLS = ["page", "pv", "uv", "entries", "bounces", "exits", "bounce_rate", "exit_rate"]


def test_page_metrics_by_hand():
    got = page_metrics(PAGES)
    assert got.columns.tolist() == PAGE_COLS
    assert _table(got, PAGE_COLS) == [
        ("/home", 3, 2, 2, 1, 1, 0.5, pytest.approx(1 / 3)),
        ("/docs", 2, 2, 1, 0, 0, 0.0, 0.0),        # s3's views share an instant: /docs first (by page)
        ("/pricing", 2, 1, 1, 0, 1, 0.0, 0.5),     # two views of one page: not a bounce
        ("/editor", 1, 1, 0, 0, 1, None, 1.0),     # nobody lands on the editor: no bounce rate
        ("/help", 1, 1, 0, 0, 1, None, 1.0),
    ]
    site = page_metrics(PAGES, by_page=False)
    assert _table(site, PAGE_COLS[1:]) == [(9, 3, 4, 1, 4, 0.25, pytest.approx(4 / 9))]


def test_page_metrics_options():
    monthly = page_metrics(PAGES, freq="month")
    assert monthly.columns.tolist() == ["page", "period", *PAGE_COLS[1:]]
    assert len(monthly) == 10   # every page in every month
    feb = monthly[monthly["period"] == pd.Timestamp("2025-02-01")].set_index("page")
    assert feb.loc["/home", "pv"] == 1 and feb.loc["/home", "entries"] == 0 and feb.loc["/docs", "pv"] == 0
    views_only = page_metrics(PAGES, event="page_view").set_index("page")
    assert "/editor" not in views_only.index and views_only.loc["/docs", "exits"] == 1
    late = page_metrics(PAGES, start="2025-01-07").set_index("page")   # s1 and s3 are cut away
    assert late.loc["/home", ["pv", "entries", "bounces"]].tolist() == [2, 1, 1]
    # without session ids, a user's views up to 30 minutes apart are a session
    gap = page_metrics(PAGES.drop(columns="session_id")).set_index("page")
    assert gap.loc["/home", ["pv", "entries", "bounces", "exits"]].tolist() == [3, 3, 2, 2]


def _page_reference(frame: pd.DataFrame, gap_minutes: float = 30) -> pd.DataFrame:
    """Plain pandas: 30-minute sessions per user, entry/exit by (time, page) order."""
    hits = frame.sort_values(["user_id", "event_at", "page"]).reset_index(drop=True)
    new = hits["user_id"].ne(hits["user_id"].shift()) | (
        hits["event_at"].diff() > pd.Timedelta(minutes=gap_minutes))
    hits["s"] = new.cumsum()
    size = hits.groupby("s")["page"].transform("size")
    hits["entry"] = ~hits["s"].duplicated()
    hits["exit"] = ~hits["s"].duplicated(keep="last")
    hits["bounce"] = hits["entry"] & (size == 1)
    return hits.groupby("page").agg(pv=("s", "size"), uv=("user_id", "nunique"), entries=("entry", "sum"),
                                    bounces=("bounce", "sum"), exits=("exit", "sum"))


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3"]), st.integers(0, 600),
                               st.sampled_from(["/a", "/b", "/c"])), min_size=1, max_size=40))
def test_sessions_match_a_plain_reference(rows):
    frame = pd.DataFrame({"user_id": [u for u, _, _ in rows], "page": [p for _, _, p in rows], "event": "v",
                          "event_at": [pd.Timestamp("2025-03-30 22:00") + pd.Timedelta(minutes=5 * m)
                                       for _, m, _ in rows]})
    got = page_metrics(frame).set_index("page")[["pv", "uv", "entries", "bounces", "exits"]]
    frame = frame.drop_duplicates()   # as opskit's loader does with exact duplicate rows
    expected = _page_reference(frame)
    assert got.sort_index().to_dict() == expected.sort_index().astype("int64").to_dict()
    # the same sessions give the usage time: last - first event, on the day the session began
    used = usage_time(frame, method="sessions", freq="day")
    hits = frame.sort_values(["user_id", "event_at"]).reset_index(drop=True)
    s = (hits["user_id"].ne(hits["user_id"].shift())
         | (hits["event_at"].diff() > pd.Timedelta(minutes=30))).cumsum()
    spans = hits.groupby(s)["event_at"].agg(["min", "max"])
    by_day = ((spans["max"] - spans["min"]).dt.total_seconds()).groupby(spans["min"].dt.normalize()).sum()
    assert used.set_index("period")["total_seconds"].loc[by_day.index].tolist() == by_day.tolist()


def test_empty_events_give_empty_frames_with_their_columns():
    empty = PAGES.iloc[:0].assign(duration_s=pd.Series(dtype="float64"),
                                  event_at=pd.Series(dtype="datetime64[ns]"))
    for got in (stickiness(empty), active_days_distribution(empty), usage_time(empty),
                participation(empty, event="x"), page_metrics(empty), page_metrics(empty, by_page=False)):
        assert got.empty and len(got.columns) >= 6
    assert page_metrics(empty)["page"].dtype == "str" and usage_time(empty)["users"].dtype == "int64"


# --- the demo -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    return opskit.demo.generate_frames(users=2000, seed=7)


def test_demo_content_numbers(demo):
    events, users = demo["events"], demo["users"]
    pages = page_metrics(events).set_index("page")
    # every new user's signup session starts on /signup, once; nobody lands on the editor
    assert pages.loc["/signup", "pv"] == pages.loc["/signup", "uv"] == pages.loc["/signup", "entries"]
    assert pages.loc["/editor", "entries"] == 0 and pages.loc["/editor", "exit_rate"] > 0.3
    sessions = events["session_id"].nunique()
    assert pages["entries"].sum() == pages["exits"].sum() == sessions
    site = page_metrics(events, by_page=False).iloc[0]
    assert 0.05 < site["bounce_rate"] < 0.2 and site["pv"] == events["page"].notna().sum()
    # docs/demo.md: B2B users are quiet at weekends
    daily = usage_time(events, by="segment", users=users)
    weekend = daily["period"].dt.day_of_week >= 5
    b2b = daily[daily["segment"] == "b2b"]
    assert b2b.loc[weekend, "users"].mean() < 0.6 * b2b.loc[~weekend, "users"].mean()
    # duration_s includes each session's last event: more time than session spans
    by_duration = usage_time(events, freq="month")
    by_sessions = usage_time(events, freq="month", method="sessions")
    assert (by_duration["seconds_per_user"] > by_sessions["seconds_per_user"]).all()
    assert 60 < by_duration["seconds_per_user_day"].median() < 600


# --- the same answer on Spark -------------------------------------------------------------


@pytest.mark.spark
def test_spark_gives_the_same_activity_tables(tmp_path, spark_backend):
    frames = opskit.demo.generate_frames(users=400, seed=11)
    for name in ("users", "events"):
        frames[name].to_parquet(tmp_path / f"{name}.parquet", index=False)
        spark_backend.read_parquet(str(tmp_path / f"{name}.parquet"), table_name=name)
    on_spark, on_duckdb = opskit.load(spark_backend), opskit.load(tmp_path)

    def tables(ds):
        bare = ds.events.drop("session_id", "duration_s")
        return [stickiness(ds, freq="week"), active_days_distribution(ds, freq="month"),
                participation(ds, event="share_doc", by="segment", users=ds),
                usage_time(ds, freq="week"), usage_time(ds, method="sessions", freq="month"),
                usage_time(bare, freq="month"), page_metrics(ds), page_metrics(bare, freq="month")]

    for spark_frame, duck_frame in zip(tables(on_spark), tables(on_duckdb), strict=True):
        pd.testing.assert_frame_equal(spark_frame, duck_frame)

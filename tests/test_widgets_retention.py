"""The retention explorer: its frames are what cohort_table says, cached, and escaped."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

import opskit
from opskit import retention
from opskit.widgets import retention_explorer

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def ds(demo_ds):
    return demo_ds


@pytest.fixture(scope="module")
def ex(ds):
    return retention_explorer(ds)


def _expected(ds, ex):
    users = ds.users if ex.arguments.get("by") else None
    return retention.cohort_table(ds, users=users, **ex.arguments)


@pytest.mark.parametrize("name, value", [
    ("period", "month"), ("mode", "on_or_after"), ("kind", "recurring"), ("period", "day"),
    ("start_event", "signup"), ("return_event", "create_doc"), ("segment", "segment"),
    ("period", "week")])
def test_a_control_change_gives_what_cohort_table_gives(ds, ex, name, value):
    ex.controls[name].value = value
    assert ex.error is None, ex.error
    assert ex.arguments[{"segment": "by"}.get(name, name)] == value
    pd.testing.assert_frame_equal(ex.frames["cohorts"], _expected(ds, ex))
    pd.testing.assert_frame_equal(ex.frames["curve"], retention.curve(ex.frames["cohorts"]))


def test_the_date_range_is_a_view_of_the_cached_table(ds):
    ex = retention_explorer(ds, period="month", segment="plan")
    calls = ex._tables.misses
    ex.controls["dates"].index = (2, 5)  # March to June
    assert ex._tables.misses == calls  # no engine call
    assert ex.arguments["start"] == pd.Timestamp("2025-03-01")
    assert ex.arguments["end"] == pd.Timestamp("2025-07-01")
    assert ex.frames["cohorts"]["cohort"].nunique() == 4
    pd.testing.assert_frame_equal(ex.frames["cohorts"], _expected(ds, ex))
    ex.controls["period"].value = "week"  # the span is kept: weeks starting March 3 .. June 30
    assert ex.frames["cohorts"]["cohort"].min() == pd.Timestamp("2025-03-03")
    assert ex.frames["cohorts"]["cohort"].max() == pd.Timestamp("2025-06-30")
    pd.testing.assert_frame_equal(ex.frames["cohorts"], _expected(ds, ex))


def test_initial_values_and_unknown_names(ds):
    ex = retention_explorer(ds, period="month", mode="on_or_after",
                            dates=("2025-02-01", "2025-04-01"))
    assert ex.frames["cohorts"]["cohort"].drop_duplicates().tolist() == list(
        pd.date_range("2025-02-01", "2025-04-01", freq="MS"))
    with pytest.raises(ValueError, match="period, mode, kind"):
        retention_explorer(ds, perod="week")


def test_controls_repeat_from_the_memo_and_compact_once_per_period(ds, monkeypatch):
    ex = retention_explorer(ds)
    calls = []
    real = retention.cohort_table
    monkeypatch.setattr(retention, "cohort_table", lambda *a, **k: calls.append(k) or real(*a, **k))
    ex.controls["mode"].value = "on_or_after"
    ex.controls["mode"].value = "on"
    ex.controls["mode"].value = "on_or_after"
    assert len(calls) == 1
    assert ex._compactions == 1  # week, any event: built when the explorer opened
    ex.controls["return_event"].value = "create_doc"
    assert ex._compactions == 2  # week, with event names


def test_the_compacted_events_give_the_raw_answer(ds, ex):
    ex.controls["period"].value = "week"
    ex.controls["start_event"].value = "(any)"
    ex.controls["return_event"].value = "(any)"
    pd.testing.assert_frame_equal(ex.frames["cohorts"], _expected(ds, ex))


def test_planted_finding_b2b_retains_better(ds):
    # demo.md: B2B users retain better than B2C (docs/demo.md, tests/test_demo.py)
    ex = retention_explorer(ds, period="month", segment="segment")
    head = ex.frames["headline"].set_index(["segment", "period"])["rate"]
    assert head[("b2b", 1)] > head[("b2c", 1)]
    assert "b2b" in ex.headline.value


def test_status_line_and_chinese_labels(ds):
    ex = retention_explorer(ds, lang="zh", period="month")
    assert ex.status.value.startswith("月 · 当期 · 12 个同期群 · ")
    assert ex.controls["period"].description == "周期"
    assert ex.controls["start_event"].options[0] == ("（任意）", "(any)")
    assert "留存率" in ex.headline.value


def test_an_empty_selection_is_shown_not_raised(demo_frames):
    ds = opskit.Dataset.from_frames(**demo_frames(300, 3))
    ex = retention_explorer(ds)
    frames, figures = ex.frames, ex.charts
    ex.controls["start_event"].value = "invite_member"  # nobody: no cohort at all
    ex.controls["kind"].value = "recurring"
    ex.controls["return_event"].value = "invite_member"
    ex.controls["period"].value = "day"
    if not ex.frames["cohorts"].empty and ex.error is None:  # the demo has invites: use a gap
        ds.tables["events"] = ds.events.filter(ds.events.event == "nope")
        ex._sources.clear()
        ex._tables = type(ex._tables)(4)
        frames, figures = ex.frames, ex.charts
        ex.controls["period"].value = "month"
    assert ex.error and "no cohort" in ex.error
    assert "opskit-error" in ex.status._dom_classes and "no cohort" in ex.status.value
    assert ex.frames is frames and ex.charts is figures  # the previous answer stays
    ex.controls["start_event"].value = "(any)"
    ex.refresh()
    assert ex.error and "no cohort" in ex.error


def test_a_bad_dataset_is_shown_not_raised():
    ds = opskit.Dataset({"users": ibis.memtable({"user_id": ["a"]})})  # no events table
    ex = retention_explorer(ds)
    assert "events" in ex.error and "opskit-error" in ex.status._dom_classes
    assert ex.frames == {} and "period" in ex.controls
    missing = retention_explorer("/nonexistent/export")
    assert missing.error and "opskit-error" in missing.status._dom_classes


def test_hostile_segment_values_are_escaped(demo_frames):
    frames = dict(demo_frames(300, 3))
    users = frames["users"].copy()
    users["segment"] = users["segment"].map({"b2b": HOSTILE, "b2c": "b2c"})
    frames["users"] = users
    ex = retention_explorer(opskit.Dataset.from_frames(**frames), segment="segment")
    assert ex.error is None
    assert HOSTILE not in ex.headline.value
    assert "&lt;img src=x onerror=alert(1)&gt;" in ex.headline.value

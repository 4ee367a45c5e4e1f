"""Preparation: the neighbouring views are computed while the analyst reads."""

from __future__ import annotations

import asyncio

import pytest

import opskit
from opskit import widgets
from opskit.widgets._base import LRU


@pytest.fixture(scope="module")
def ds(demo_frames):
    return opskit.Dataset.from_frames(**demo_frames(300, 3))


def _key(ex, **changes):
    return ex._entry({**ex._options(), **changes})[0]


def test_nothing_is_scheduled_without_an_event_loop(ds):
    ex = widgets.retention_explorer(ds)
    assert ex.pending == 0 and ex.preparing.value == "" and ex._tables.misses == 1
    assert ex.status.value.endswith(" s")


def test_prepare_wait_fills_the_memo_in_order(ds):
    ex = widgets.retention_explorer(ds)  # week, on, first time, no segment
    steps = ex._neighbours()
    # current kind: week (on, on_or_after), day, month (each both modes); then recurring; then segments
    expected = [_key(ex, period=p, mode=m, kind=k) for k in ("first_time", "recurring")
                for p in ("week", "day", "month") for m in ("on", "on_or_after")]
    assert len(steps) == 12 + len(ex.controls["segment"].options) - 1  # "(none)" is the current
    assert steps[0].ready() and not steps[1].ready()
    done = ex.prepare(wait=True)
    assert done == len(steps) - 1 == ex._tables.misses - 1 == ex.prepared
    assert all(k in ex._tables for k in expected)
    assert ex.status_text().endswith(" s · all views ready")
    calls = ex._tables.misses
    ex.controls["segment"].value = "segment"  # each segment column: for the current period
    ex.controls["segment"].value = "(none)"
    for period in ("day", "month"):  # prepared: no engine call
        ex.controls["period"].value = period
        ex.controls["mode"].value = "on_or_after"
        ex.controls["mode"].value = "on"
    assert ex._tables.misses == calls and ex.error is None


def test_a_prepared_view_never_evicts_the_one_on_screen(ds):
    ex = widgets.retention_explorer(ds)
    ex._tables.size = 3  # smaller than the neighbours: the queue is cut, the view pinned
    visible = _key(ex)
    assert ex.prepare(wait=True) == 1  # size - 1 neighbours, one of them the visible view
    assert visible in ex._tables and len(ex._tables) <= 3
    memo = LRU(2)
    memo.get("a", lambda: 1)
    memo.pin = "a"
    for key in "bcd":
        memo.get(key, lambda: 0)
    assert "a" in memo and list(memo) == ["a", "d"]


def test_evicted_journeys_are_dropped_from_the_engine(ds):
    ex = widgets.attribution_explorer(ds, models=["last_touch"])
    con = ex._journeys.get(30, None).touch_table.get_backend()
    ex._journeys.size = 2
    first = ex._journeys.get(30, None).touch_table.op().name
    ex.controls["lookback_days"].value = 7
    ex.controls["lookback_days"].value = 14  # 30 is evicted (not on screen): its table dropped
    assert 30 not in ex._journeys and first not in con.list_tables()
    assert ex.prepare(wait=True) >= 1 and 14 in ex._journeys  # the window on screen is kept
    assert ex.error is None


def test_attribution_prepares_models_then_lookbacks(ds):
    ex = widgets.attribution_explorer(ds, models=["last_touch", "linear"])
    steps = ex._neighbours()
    # 8 models on 30 days (2 computed), then for 7, 14, 60, 90: journeys + the 2 chosen models
    assert len(steps) == 8 + 4 * 3 and sum(s.ready() for s in steps) == 2
    ex.prepare(wait=True)
    assert set(ex._journeys) == {30, 7, 14, 60, 90}
    built = ex._journeys.misses
    ex.controls["lookback_days"].value = 60
    ex.controls["models"].value = ("markov", "shapley")
    assert ex._journeys.misses == built and ex.error is None


def test_segments_prepare_each_other_column(ds):
    ex = widgets.segment_explorer(ds)
    others = [c for c in ex.controls["column"].options if c != "segment"]
    assert ex.prepare(wait=True) == len(others)
    calls = ex._tables.misses
    for column in others:
        ex.controls["column"].value = column
        assert ex.error is None
    assert ex._tables.misses == calls


def test_the_queue_runs_on_the_loop_and_restarts_on_a_change(ds):
    async def scenario():
        ex = widgets.retention_explorer(ds)
        ex._idle_delay = 0.0
        queued = ex.pending
        assert queued > 3 and ex.status_text().endswith(f"preparing {queued} more views…")
        await asyncio.sleep(0.05)  # the loop is idle: some steps run, one per callback
        while ex.pending == queued:
            await asyncio.sleep(0.01)
        assert ex.prepared > 0 and ex.pending == queued - ex.prepared
        ex.controls["kind"].value = "recurring"  # a change: the queue restarts from there
        assert ex._neighbours()[0].ready()  # the new view first, ready
        assert ex.pending == len([s for s in ex._neighbours() if not s.ready()])
        while ex.pending:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.01)
        return ex

    ex = asyncio.run(scenario())
    assert ex.status_text().endswith("all views ready") and ex._handle is None


def test_chinese_status(ds):
    async def scenario():
        ex = widgets.retention_explorer(ds, lang="zh", period="month")
        text = ex.status_text()
        ex._stop_preparing()
        return text

    text = asyncio.run(scenario())
    assert text.startswith("月 · 当期 · 12 个同期群 · ") and "正在预备另外" in text
    ex = widgets.retention_explorer(ds, lang="zh", period="month")
    ex.prepare(wait=True)
    assert ex.status_text().endswith("所有视图已就绪")


def test_a_failed_update_stops_preparation(ds):
    ex = widgets.segment_explorer(ds)
    ex.controls["groups"].value = ()
    assert ex.error and ex.prepare(wait=True) == 0 and ex.preparing.value == ""

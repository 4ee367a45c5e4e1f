"""The segment explorer: rows of compare.segments, computed once per column and groups."""

from __future__ import annotations

import pandas as pd
import pytest

import opskit
from opskit import compare
from opskit.widgets import segment_explorer

HOSTILE = "<img src=x onerror=alert(1)>"
FEW = ["new_users", "d30_retention", "monthly_churn", "arpu"]


@pytest.fixture(scope="module")
def ds(demo_ds):
    return demo_ds


@pytest.fixture(scope="module")
def ex(ds):
    return segment_explorer(ds, metrics=FEW)


def _expected(ds, ex):
    return compare.segments(ds, **ex.arguments)


def test_opens_on_segment_with_the_two_largest_groups(ds, ex):
    assert ex.arguments == {"segment": "segment", "groups": ["b2b", "b2c"], "metrics": FEW}
    pd.testing.assert_frame_equal(ex.frames["table"], _expected(ds, ex))
    assert ex.frames["table"].attrs["groups"] == ["b2b", "b2c"]


def test_metrics_are_a_view(ds, ex, monkeypatch):
    calls = []
    real = compare.segments
    monkeypatch.setattr(compare, "segments", lambda *a, **k: calls.append(k) or real(*a, **k))
    ex.controls["metrics"].value = ("arpu", "new_users")
    assert calls == []
    assert ex.frames["table"]["metric"].tolist() == ["new_users", "arpu"]  # METRICS order
    pd.testing.assert_frame_equal(ex.frames["table"], _expected(ds, ex))


def test_column_change_picks_its_two_largest_groups(ds, ex):
    ex.controls["column"].value = "plan"
    assert ex.error is None, ex.error
    assert len(ex.arguments["groups"]) == 2
    pd.testing.assert_frame_equal(ex.frames["table"], _expected(ds, ex))
    ex.controls["column"].value = "segment"
    assert ex.arguments["groups"] == ["b2b", "b2c"]


def test_two_groups_are_needed(ds):
    ex = segment_explorer(ds, metrics=["new_users"])
    ex.controls["groups"].value = ("b2b",)
    assert ex.error and "two different groups" in ex.error
    assert "opskit-error" in ex.status._dom_classes
    ex.controls["groups"].value = ("b2b", "b2c")
    assert ex.error is None


def test_planted_finding_b2c_churns_faster(ds):
    # docs/demo.md finding 2: B2C churns about ten times faster than B2B
    ex = segment_explorer(ds, metrics=["monthly_churn"])
    row = ex.frames["table"].iloc[0]
    assert row["b2c"] > 3 * row["b2b"]


def test_chinese_labels_and_hostile_values(demo_frames):
    frames = dict(demo_frames(300, 3))
    users = frames["users"].copy()
    users["segment"] = users["segment"].map({"b2b": HOSTILE, "b2c": "b2c"})
    frames["users"] = users
    ex = segment_explorer(opskit.Dataset.from_frames(**frames), lang="zh", metrics=["new_users"])
    assert ex.error is None, ex.error
    assert ex.controls["column"].description == "对比维度"
    assert "<img" not in ex.status.value and "&lt;img src=x onerror=alert(1)&gt;" in ex.status.value
    # the table is narrative's escaped Markdown (metric names in Chinese): the value is text
    table = ex.charts[1].data
    assert "新增用户" in table and "<img" not in table and "&lt;img src=x" in table

"""charts.segment_bars: one bar chart per metric, the groups side by side."""

from __future__ import annotations

import pandas as pd
import pytest

from opskit import charts

HOSTILE = "<img src=x onerror=alert(1)>"


def _table():
    table = pd.DataFrame({"metric": ["new_users", "arpu"], "unit": ["count", "money"],
                          "b2b": [120.0, 80.0], HOSTILE: [480.0, 12.0]})
    table.attrs["groups"] = ["b2b", HOSTILE]
    return table


def test_spec_facets_metrics_with_independent_scales():
    spec = charts.segment_bars(_table(), lang="zh", title="对比").to_dict()
    names = ["新增用户", "ARPU（每活跃用户每月）"]
    assert spec["facet"]["field"] == "name"
    assert spec["facet"]["sort"] == [charts_name(m) for m in ("new_users", "arpu")] == names
    assert spec["resolve"]["scale"]["x"] == "independent"
    assert spec["spec"]["layer"][0]["encoding"]["color"]["title"] == "组"
    values = next(iter(spec["datasets"].values()))
    assert {v["group"] for v in values} == {"b2b", HOSTILE}  # data, never markup
    assert len(values) == 4


def charts_name(metric: str) -> str:
    from opskit.narrative import metric_name

    return metric_name(metric, "zh")


def test_rates_are_drawn_in_per_cent():
    table = pd.DataFrame({"metric": ["monthly_churn"], "unit": ["rate"], "b2b": [0.022], "b2c": [0.21]})
    values = next(iter(charts.segment_bars(table).to_dict()["datasets"].values()))
    # 2.2 % and 21 % drawn as 2.2 and 21 under a "(%)" title
    assert [v["value"] for v in values] == pytest.approx([2.2, 21.0])
    assert {v["name"] for v in values} == {"Monthly churn (paying) (%)"}


def test_bad_input():
    with pytest.raises(ValueError, match="lang"):
        charts.segment_bars(_table(), lang="fr")
    with pytest.raises(ValueError, match="metric"):
        charts.segment_bars(pd.DataFrame({"x": [1]}))

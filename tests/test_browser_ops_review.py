"""The operations review in headless Chromium, offline: its chart draws and nothing runs."""

from __future__ import annotations

import pytest
from browser_support import CHART_STATE, assert_nothing_ran, open_offline

from opskit.report import run

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_review_draws_offline(demo_parquet, tmp_path):
    report = run("ops_review", {"data": str(demo_parquet(2_000, 7)), "lang": "zh"}, tmp_path).html
    with open_offline(report, tmp_path / "review.png") as (tab, seen):
        charts = tab.eval_on_selector_all("figure.opskit-chart", CHART_STATE)
        assert len(charts) == 1 and charts[0]["rendered"] == "true" and charts[0]["marks"] >= 10
        assert "下一步建议" in tab.evaluate("document.querySelector('main').innerText")
        assert_nothing_ran(tab, seen)

"""The attribution report in headless Chromium, offline, with HTML and script in channel and
campaign names: every chart draws, the names show as text, nothing injected runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import CHART_STATE, assert_nothing_ran, open_offline

import opskit
from opskit.report import run

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EVIL = {"微信": "<img src=x onerror=alert(1)>", "抖音": "</script><script>alert(2)</script>"}
EVIL_CAMPAIGN = "<b onmouseover=alert(3)>双11</b>"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("evil-data")
    frames = opskit.demo.generate_frames(users=1_500, seed=5)
    for name in ("touchpoints", "spend", "users"):
        frame = frames[name]
        frame["channel"] = frame["channel"].replace(EVIL)
        if "campaign" in frame:
            frame["campaign"] = frame["campaign"].where(frame["campaign"].isna(), EVIL_CAMPAIGN)
    for name, frame in frames.items():
        frame.to_parquet(data / f"{name}.parquet", index=False)
    out = tmp_path_factory.mktemp("report")
    return run("attribution", {"data": str(data), "lang": "zh"}, out).html


@pytest.fixture(scope="module")
def page(report, tmp_path_factory):
    with open_offline(report, tmp_path_factory.mktemp("shot") / "attribution.png") as opened:
        yield opened


def test_every_chart_draws_with_the_names_as_text(page):
    tab, _ = page
    charts = tab.eval_on_selector_all("figure.opskit-chart", CHART_STATE)
    assert len(charts) == 6
    for chart in charts:
        assert chart["rendered"] == "true" and chart["error"] is None
        assert chart["marks"] >= 2
    texts = [t for chart in charts for t in chart["texts"]]
    assert EVIL["微信"] in texts and EVIL["抖音"] in texts


def test_tables_and_findings_show_the_names_as_text(page):
    tab, _ = page
    body = tab.evaluate("document.querySelector('main').innerText")
    assert EVIL["微信"] in body and EVIL["抖音"] in body
    injected = "main b[onmouseover], main script:not([type])"
    assert tab.evaluate(f"document.querySelectorAll('{injected}').length") == 0


def test_nothing_leaves_the_file_and_nothing_injected_runs(page):
    tab, seen = page
    for row in tab.query_selector_all("main table tr"):
        row.hover()  # an onmouseover that survived would fire here
    assert_nothing_ran(tab, seen)

"""The rendered report in headless Chromium, offline: charts draw, nothing leaves, nothing injected runs.

A small template (tests/templates/channels.ipynb) whose data puts HTML and script into channel and
campaign names, through every sink a template might use (see tests/browser_support.py).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from browser_support import CHART_STATE, assert_nothing_ran, open_offline

from opskit.report import run

pytestmark = pytest.mark.browser

HERE = Path(__file__).parent / "templates"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser")
    return run(HERE / "channels.ipynb", {"data": str(HERE / "data"), "lang": "zh"}, out).html


@pytest.fixture(scope="module")
def page(report, tmp_path_factory):
    with open_offline(report, tmp_path_factory.mktemp("screenshot") / "report.png") as opened:
        yield opened


def test_every_chart_draws(page):
    tab, _ = page
    charts = tab.eval_on_selector_all("figure.opskit-chart", CHART_STATE)
    assert len(charts) == 2
    for chart in charts:
        assert chart["rendered"] == "true" and chart["error"] is None
        assert chart["marks"] >= 4
    # the names are drawn as text, not interpreted
    assert "<img src=x onerror=alert(1)>" in charts[0]["texts"]
    assert "</script><script>alert(2)</script>" in charts[0]["texts"]
    assert any("渠道" in t for t in charts[0]["texts"])


def test_nothing_leaves_the_file_and_nothing_injected_runs(page):
    assert_nothing_ran(*page)  # alert(1), alert(2) never ran


def test_tooltips_show_data_as_text(page):
    tab, seen = page
    tab.hover("#opskit-chart-1 svg .mark-rect path >> nth=1")
    tab.wait_for_selector("#vg-tooltip-element.visible", timeout=5_000)
    tooltip = tab.eval_on_selector(
        "#vg-tooltip-element", "e => ({text: e.textContent, imgs: e.querySelectorAll('img').length})")
    assert tooltip["imgs"] == 0
    assert "onerror" in tooltip["text"] or "script" in tooltip["text"]
    assert seen["dialogs"] == []


def test_legend_selection_is_interactive(page):
    tab, _ = page
    opacities = ("Array.from(document.querySelectorAll('#opskit-chart-2 .mark-line path'))"
                 ".map(p => p.getAttribute('opacity') ?? p.style.opacity)")
    before = tab.evaluate(opacities)
    tab.click("#opskit-chart-2 .role-legend-symbol path >> nth=0")
    tab.wait_for_function(f"JSON.stringify({opacities}) !== JSON.stringify({before})", timeout=5_000)
    assert tab.evaluate(opacities) != before


def test_toc_links_jump_to_sections(page):
    tab, _ = page
    targets = tab.eval_on_selector_all(
        ".opskit-toc a", "links => links.map(a => !!document.getElementById(a.hash.slice(1)))")
    assert targets and all(targets)


def test_screenshot_is_taken(page):
    _, seen = page
    shot: Path = seen["screenshot"]
    assert shot.stat().st_size > 50_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("OPSKIT_SCREENSHOT"):  # keep a copy to look at: OPSKIT_SCREENSHOT=/tmp/report.png
        shutil.copy(shot, os.environ["OPSKIT_SCREENSHOT"])

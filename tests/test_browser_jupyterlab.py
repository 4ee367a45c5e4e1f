"""The retention explorer in a real JupyterLab, in headless Chromium: run the notebook, change the
period in the page, and see the chart follow.

JupyterLab runs on 127.0.0.1 with a token and isolated settings (tests/jupyterlab_support.py) on a
copy of notebooks/ whose settings cell points DATA at 1,500 demo users in Parquet. Every request
that is not to the server is blocked, so the charts must draw without internet. The screenshot of
the explorer (by month) is kept in tmp_path, and written to docs/img/retention-explorer.png when
OPSKIT_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from browser_support import ARGS, CHROMIUM, require
from jupyterlab_support import error_outputs, local_only, open_notebook, run_all, start_lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "02_retention_explorer.ipynb"
SCREENSHOT = ROOT / "docs" / "img" / "retention-explorer.png"
#: What the explorer's chart area shows: how many charts drew (Vega canvas or SVG, or an image) and
#: a signature of their pixels / marks that changes when a chart is redrawn with other data.
CHART = """() => {
    const area = document.querySelector('.opskit-explorer .opskit-chart');
    if (!area) return {drawn: 0, signature: ''};
    const canvases = Array.from(area.querySelectorAll('canvas'))
        .filter(c => c.width > 0 && c.height > 0).map(c => `${c.width}x${c.height}:${c.toDataURL()}`);
    const svgs = Array.from(area.querySelectorAll('svg'))
        .filter(s => s.querySelector('path, rect')).map(s => s.outerHTML);
    const images = Array.from(area.querySelectorAll('img')).map(i => i.src);
    const all = [...canvases, ...svgs, ...images];
    return {drawn: all.length, signature: all.join('|')};
}"""
#: The period control: the explorer's <select> that offers day, week and month.
PERIOD = ".opskit-explorer .widget-dropdown select:has(option:text-is('month')):has(option:text-is('day'))"


@pytest.fixture(scope="module")
def lab(demo_parquet, tmp_path_factory):
    require(CHROMIUM.exists() or shutil.which("chromium") is not None, f"{CHROMIUM} is not installed")
    root = tmp_path_factory.mktemp("notebooks")
    shutil.copytree(ROOT / "notebooks", root, dirs_exist_ok=True)
    nb = nbformat.read(root / NOTEBOOK, as_version=4)
    settings = nb.cells[[c.cell_type for c in nb.cells].index("code")]
    assert settings.source.startswith("DATA = None  #")
    settings.source = settings.source.replace("DATA = None", f"DATA = {str(demo_parquet(1500, 7))!r}", 1)
    nbformat.write(nb, root / NOTEBOOK)
    server = start_lab(root, tmp_path_factory.mktemp("jupyter-home"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright is not installed (the `dev` extra)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def test_the_explorer_redraws_when_the_period_changes(lab, browser, tmp_path):
    seen: dict = {"requests": [], "blocked": [], "errors": []}
    context = browser.new_context(viewport={"width": 1280, "height": 1500})
    local_only(context, lab, seen)
    tab = context.new_page()
    tab.on("pageerror", lambda e: seen["errors"].append(str(e)))
    try:
        open_notebook(tab, lab, NOTEBOOK)
        run_all(tab)
        explorer = tab.locator(".opskit-explorer")
        explorer.wait_for(timeout=60_000)
        status = tab.locator(".opskit-explorer .opskit-status")
        tab.wait_for_function(f"({CHART})().drawn >= 2", timeout=60_000)  # heatmap and curves
        before, status_before = tab.evaluate(CHART), status.inner_text()
        assert status_before.startswith("week · on · ") and "cohorts" in status_before, status_before

        tab.screenshot(path=str(tmp_path / "lab-week.png"))

        tab.locator(PERIOD).select_option(label="month")  # as a user picks it in the page
        tab.wait_for_function(
            "() => /^month · on · \\d+ cohorts/.test("
            "document.querySelector('.opskit-explorer .opskit-status').innerText)", timeout=30_000)
        tab.wait_for_function(f"(before) => {{ const now = ({CHART})();"
                              " return now.drawn >= 2 && now.signature !== before; }",
                              arg=before["signature"], timeout=30_000)
        after = status.inner_text()
        tab.screenshot(path=str(tmp_path / "lab-month.png"))
        # the README's picture: the explorer alone, by month (53 weekly cohorts make a tall heatmap)
        explorer.scroll_into_view_if_needed()
        explorer.screenshot(path=str(tmp_path / "retention-explorer.png"))
        if os.environ.get("OPSKIT_UPDATE_SCREENSHOTS") == "1":
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tmp_path / "retention-explorer.png", SCREENSHOT)

        weeks, months = (int(s.split(" · ")[2].split()[0]) for s in (status_before, after))
        assert months < weeks  # ~53 weekly cohorts in a year of data, 12 monthly ones
        assert tab.locator(".opskit-error").count() == 0
        assert error_outputs(tab) == []
        assert seen["errors"] == []
        assert seen["blocked"] == []  # everything the page needed came from the server
    finally:
        context.close()

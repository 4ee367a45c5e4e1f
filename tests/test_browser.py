"""The rendered report in headless Chromium, offline: charts draw, nothing leaves, nothing injected runs.

Uses Debian's /usr/bin/chromium through Playwright (no browser download); `make test` installs
chromium and fonts-noto-cjk when they are missing. Without them the module is skipped, except
in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from opskit.report import run

pytestmark = pytest.mark.browser

HERE = Path(__file__).parent / "templates"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _require(ok: bool, why: str) -> None:
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"{why} (CI must run the browser test; `make test` installs it)")
        pytest.skip(why)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser")
    return run(HERE / "channels.ipynb", {"data": str(HERE / "data"), "lang": "zh"}, out).html


@pytest.fixture(scope="module")
def page(report, tmp_path_factory):
    """The report opened in headless Chromium with the network cut off; records what happened."""
    _require(CHROMIUM.exists() or shutil.which("chromium") is not None, f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require(False, "playwright is not installed (the `dev` extra)")
    seen = {"requests": [], "blocked": [], "console": [], "errors": [], "dialogs": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1200, "height": 900}, offline=True)

        def route(route):
            seen["requests"].append(route.request.url)
            if route.request.url.startswith("file:"):
                route.continue_()
            else:
                seen["blocked"].append(route.request.url)
                route.abort()

        context.route("**/*", route)
        tab = context.new_page()
        tab.on("console",
               lambda m: seen["console"].append(m.text) if m.type in {"error", "warning"} else None)
        tab.on("pageerror", lambda e: seen["errors"].append(str(e)))
        tab.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
        tab.goto(report.as_uri())
        tab.wait_for_function(
            "document.querySelectorAll('figure.opskit-chart').length > 0 && "
            "document.querySelectorAll('figure.opskit-chart').length === "
            "document.querySelectorAll('figure[data-opskit-rendered], figure[data-opskit-error]').length",
            timeout=30_000)
        shot = tmp_path_factory.mktemp("screenshot") / "report.png"
        tab.screenshot(path=str(shot), full_page=True)
        seen["screenshot"] = shot
        yield tab, seen
        browser.close()


def test_every_chart_draws(page):
    tab, _ = page
    charts = tab.eval_on_selector_all("figure.opskit-chart", """figures => figures.map(f => ({
        rendered: f.getAttribute('data-opskit-rendered'),
        error: f.getAttribute('data-opskit-error'),
        marks: f.querySelectorAll('svg .mark-rect path, svg .mark-line path, svg .mark-symbol path').length,
        texts: Array.from(f.querySelectorAll('svg text')).map(t => t.textContent)}))""")
    assert len(charts) == 2
    for chart in charts:
        assert chart["rendered"] == "true" and chart["error"] is None
        assert chart["marks"] >= 4
    # the names are drawn as text, not interpreted
    assert "<img src=x onerror=alert(1)>" in charts[0]["texts"]
    assert "</script><script>alert(2)</script>" in charts[0]["texts"]
    assert any("渠道" in t for t in charts[0]["texts"])


def test_nothing_leaves_the_file_and_nothing_injected_runs(page):
    tab, seen = page
    assert seen["blocked"] == []
    assert all(url.startswith("file:") for url in seen["requests"])
    assert seen["dialogs"] == []  # alert(1), alert(2) never ran
    assert tab.evaluate("window.__pwned") is None
    assert tab.evaluate("document.querySelectorAll('main img, main svg[onload], main iframe').length") == 0
    assert seen["errors"] == [] and seen["console"] == []


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

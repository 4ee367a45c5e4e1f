"""Opening a rendered report in headless Chromium, offline, recording what happened.

Uses Debian's /usr/bin/chromium through Playwright (no browser download); `make test` installs
chromium and fonts-noto-cjk when they are missing. Without them a browser test is skipped,
except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
#: True once every chart of the page has drawn (or failed to).
CHARTS_SETTLED = (
    "document.querySelectorAll('figure.opskit-chart').length > 0 && "
    "document.querySelectorAll('figure.opskit-chart').length === "
    "document.querySelectorAll('figure[data-opskit-rendered], figure[data-opskit-error]').length")
#: Per chart: whether it rendered, its error, how many marks it drew, and its SVG texts.
CHART_STATE = """figures => figures.map(f => ({
    rendered: f.getAttribute('data-opskit-rendered'),
    error: f.getAttribute('data-opskit-error'),
    marks: f.querySelectorAll('svg .mark-rect path, svg .mark-line path, svg .mark-symbol path').length,
    texts: Array.from(f.querySelectorAll('svg text')).map(t => t.textContent)}))"""


def require(ok: bool, why: str) -> None:
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"{why} (CI must run the browser test; `make test` installs it)")
        pytest.skip(why)


@contextmanager
def open_offline(report: Path, screenshot: Path) -> Iterator[tuple[object, dict]]:
    """``report`` in Chromium with the network cut off: yields (page, seen), where ``seen``
    lists requests, blocked requests, console errors/warnings, page errors and dialogs."""
    require(CHROMIUM.exists() or shutil.which("chromium") is not None, f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright is not installed (the `dev` extra)")
    seen: dict = {"requests": [], "blocked": [], "console": [], "errors": [], "dialogs": []}
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
        tab.wait_for_function(CHARTS_SETTLED, timeout=60_000)
        tab.screenshot(path=str(screenshot), full_page=True)
        seen["screenshot"] = screenshot
        try:
            yield tab, seen
        finally:
            browser.close()


def assert_nothing_ran(tab, seen: dict) -> None:
    """No request left the file, no injected script or handler ran, no error was logged."""
    assert seen["blocked"] == []
    assert all(url.startswith("file:") for url in seen["requests"])
    assert seen["dialogs"] == []
    assert tab.evaluate("window.__pwned") is None
    assert tab.evaluate("document.querySelectorAll('main img, main svg[onload], main iframe').length") == 0
    assert seen["errors"] == [] and seen["console"] == []

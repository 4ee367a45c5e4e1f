"""OUT/index.html in headless Chromium, offline: nothing fetched, links resolve, hostile text stays text.

The jobs' notebooks are not executed here (tests/test_report_batch.py does that): the job step is
replaced by one that writes what a job leaves in its working directory, so the rest of the
pipeline (status.json, latest/, the index) is the real one. To look at the screenshots, set
OPSKIT_SCREENSHOT_DIR=/some/folder (batch_index_en.png, batch_index_zh.png are copied there).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from browser_support import ARGS, CHROMIUM, require

from opskit.report import batch as batch_module
from opskit.report.batch import run_batch

pytestmark = pytest.mark.browser
BATCH = Path(__file__).parent / "templates" / "batch.ipynb"
HOSTILE = "<img src=x onerror=alert(1)>"


def fake_attempt(self, job, work, limit, began):
    stem = job.template.path.stem
    if job.params.get("mode") == "raise":
        (work / f"{stem}.failed.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                                               "nbformat_minor": 5}), encoding="utf-8")
        return {"status": "failed", "ename": "ValueError", "error": f"report failed: ValueError: {HOSTILE}"}
    (work / f"{stem}.html").write_text(f"<!DOCTYPE html><title>{job.name}</title><h1>{job.name}</h1>",
                                       encoding="utf-8")
    return {"status": "ok", "ename": None, "error": None}


@pytest.fixture(scope="module", params=["en", "zh"])
def out(request, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp(f"index-{request.param}")
    patch = pytest.MonkeyPatch()
    patch.setattr(batch_module._Runner, "_attempt", fake_attempt)
    try:
        for modes in (("ok", "ok"), ("ok", "raise")):
            path = root / "s.toml"
            path.write_text(
                f'[defaults]\nlang = "{request.param}"\n'
                f'[[reports]]\nname = "留存-weekly"\ntemplate = "{BATCH}"\n'
                f'params = {{ title = "{HOSTILE}", mode = "{modes[0]}" }}\n'
                f'[[reports]]\nname = "ops"\ntemplate = "{BATCH}"\nparams = {{ mode = "{modes[1]}" }}\n',
                encoding="utf-8")
            run_batch(path, root / "out", jobs=2)
    finally:
        patch.undo()
    return root / "out"


def test_index_offline_in_chromium(out, tmp_path):
    require(CHROMIUM.exists(), f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright is not installed (the `dev` extra)")
    lang = json.loads(next(out.glob("*/status.json")).read_text(encoding="utf-8"))["lang"]
    requests, dialogs, errors = [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
        context.route("**/*", lambda route: (requests.append(route.request.url),
                                             route.continue_() if route.request.url.startswith("file:")
                                             else route.abort()))
        tab = context.new_page()
        tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.goto((out / "index.html").as_uri())
        shot = tmp_path / f"batch_index_{lang}.png"
        tab.screenshot(path=str(shot), full_page=True)
        text = tab.inner_text("body")
        hrefs = tab.eval_on_selector_all("a", "links => links.map(a => a.href)")
        assert tab.eval_on_selector_all("img, script, iframe", "found => found.length") == 0
        tab.click("text=ops.html")  # the last success of the report that failed in the newest run
        assert tab.title() == "ops"
        browser.close()
    assert shot.stat().st_size > 10_000
    if os.environ.get("OPSKIT_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["OPSKIT_SCREENSHOT_DIR"]) / shot.name)
    assert all(url.startswith("file:") for url in requests), requests
    assert dialogs == [] and errors == []
    assert text.count(HOSTILE) >= 2  # the title parameter and the error message, as text
    assert ("Failed" if lang == "en" else "失败") in text and ("Reports" if lang == "en" else "报表") in text
    from urllib.parse import unquote, urlparse

    targets = [Path(unquote(urlparse(h).path)) for h in hrefs]
    assert all(t.is_file() for t in targets), [t for t in targets if not t.is_file()]
    names = {t.relative_to(out).as_posix() for t in targets}
    assert {"latest/留存-weekly.html", "latest/ops.html"} <= names
    assert any(n.endswith("/ops.failed.ipynb") for n in names)
    assert sum(n.endswith("/status.json") for n in names) == 2

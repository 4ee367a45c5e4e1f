"""The B2B-versus-B2C report in headless Chromium, offline, with HTML and script in segment and
channel names: every chart draws, nothing injected runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import CHART_STATE, assert_nothing_ran, open_offline

import opskit
from opskit.report import run

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EVIL_SEGMENT = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("evil-data")
    frames = opskit.demo.generate_frames(users=1_500, seed=5)
    frames["users"]["segment"] = frames["users"]["segment"].replace({"b2c": EVIL_SEGMENT})
    for name, frame in frames.items():
        frame.to_parquet(data / f"{name}.parquet", index=False)
    out = tmp_path_factory.mktemp("report")
    params = {"data": str(data), "lang": "zh", "segments": ["b2b", EVIL_SEGMENT]}
    return run("b2b_vs_b2c", params, out).html


def test_charts_draw_names_are_text_and_nothing_runs(report, tmp_path):
    with open_offline(report, tmp_path / "b2b.png") as (tab, seen):
        charts = tab.eval_on_selector_all("figure.opskit-chart", CHART_STATE)
        assert len(charts) == 6
        assert all(c["rendered"] == "true" and c["error"] is None for c in charts)
        assert EVIL_SEGMENT in [t for c in charts for t in c["texts"]]
        assert EVIL_SEGMENT in tab.evaluate("document.querySelector('main').innerText")
        assert_nothing_ran(tab, seen)

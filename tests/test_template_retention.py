"""templates/retention.ipynb executed on demo data, in English and Chinese (the static checks are in
test_templates_committed.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from template_checks import TEMPLATES, execute, outputs

import opskit
from opskit.narrative import escape_markdown

TEMPLATE = TEMPLATES / "retention.ipynb"


@pytest.fixture(scope="module")
def demo_dir(demo_parquet) -> Path:
    return demo_parquet(2_000, 7)


@pytest.mark.slow
def test_english_report_runs_on_demo_data(demo_dir, tmp_path):
    nb = execute(TEMPLATE, {"data": str(demo_dir), "lang": "en"}, tmp_path)
    markdown, specs, errors = outputs(nb)
    assert errors == []
    assert len(specs) == 6  # headline bars, heatmap, segment and channel curves, new vs returning, churn
    text = "\n".join(markdown)
    order = ["Headline: D1, D7 and D30 retention", "Cohort retention", "Retention curves", "By segment",
             "By acquisition channel", "New and returning users", "Churn of paying accounts", "Findings"]
    positions = [text.index(f"# {heading}") for heading in order]
    assert positions == sorted(positions)
    findings = markdown[-1]
    for pattern in (r"D1 retention is [\d.]+ %", r"D7 retention is", r"D30 retention is",
                    r"At week \d+, b2b retains",  # the segment curves compared
                    r"New users retain worse than returning users",  # planted: new_users_retain_worse
                    r"b2c churns [\d.]+x faster than b2b",  # planted: b2c_vs_b2b_churn (10x at this size)
                    r"(No week's churn was abnormal|churn was [\d.]+ %, above the normal)"):
        assert re.search(pattern, findings), pattern


@pytest.mark.slow
def test_chinese_report_reads_in_chinese(demo_dir, tmp_path):
    nb = execute(TEMPLATE, {"data": str(demo_dir), "lang": "zh", "start": "2025-02-01"}, tmp_path)
    markdown, specs, errors = outputs(nb)
    assert errors == [] and len(specs) == 6
    data_words = [escape_markdown(w) for w in (*opskit.demo.CHANNELS, "b2b", "b2c")]
    for md in markdown:  # every heading and paragraph is Chinese; Latin only in data, dates and numbers
        prose = re.sub("|".join(map(re.escape, data_words)), "", md)
        assert re.search(r"[\u4e00-\u9fff]", md) and not re.findall(r"[A-Za-z]{2,}", prose), md
    assert any(md.startswith("## 主要发现") for md in markdown)
    findings = markdown[-1]
    assert "新用户的留存低于老用户" in findings  # planted: new_users_retain_worse
    assert re.search(r"b2c 的流失速度是 b2b 的 [\d\\.]+ 倍", findings)  # planted: b2c_vs_b2b_churn
    titles = {spec["layer"][0]["encoding"].get("y", {}).get("title") for spec in specs} | {
        spec.get("encoding", {}).get("y", {}).get("title") for spec in specs}
    assert {"留存率", "流失率", "同期群"} <= titles
    heatmap = next(s for s in specs if s["layer"][0]["mark"]["type"] == "rect")
    cohorts = {row["cohort"] for rows in heatmap["datasets"].values() for row in rows}
    assert min(cohorts) >= "2025-02-01"  # `start` bounds the cohorts

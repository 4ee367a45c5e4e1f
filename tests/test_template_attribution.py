"""templates/attribution.ipynb executed on demo data, in English and Chinese (the static checks are in
test_templates_committed.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from template_checks import TEMPLATES, execute, outputs, plain

import opskit

TEMPLATE = TEMPLATES / "attribution.ipynb"


@pytest.fixture(scope="module")
def demo_dir(demo_parquet) -> Path:
    return demo_parquet(2_000, 7)


@pytest.mark.slow
def test_english_report_runs_on_demo_data(demo_dir, tmp_path):
    nb = execute(TEMPLATE, {"data": str(demo_dir), "lang": "en"}, tmp_path)
    markdown, specs, errors = outputs(nb)
    assert errors == []
    # model comparison, removal effects, path lengths, time to convert, lookback, economics
    assert len(specs) == 6
    text = "\n".join(markdown)
    order = ["Traffic and spend by channel", "Every model side by side", "Markov removal effects",
             "Journeys", "Lookback sensitivity", "Channel economics", "Findings"]
    positions = [text.index(f"# {heading}") for heading in order]
    assert positions == sorted(positions)
    findings = plain(markdown[-1])
    for pattern in (r"The models disagree most on \S+", r"has the largest removal effect",
                    r"has the lowest cost per conversion among paid channels",
                    r"of converting journeys have more than one touch",
                    r"With a 7-day lookback, [\d.]+ % of conversions have no touch"):
        assert re.search(pattern, findings), pattern
    assert (tmp_path / "attribution.html").exists()


@pytest.mark.slow
def test_chinese_report_reads_in_chinese(demo_dir, tmp_path):
    params = {"data": str(demo_dir), "lang": "zh", "models": ["last_touch", "linear", "markov"],
              "model": "last_touch", "conversion_kinds": ["paid"], "start": "2025-03-01"}
    nb = execute(TEMPLATE, params, tmp_path)
    markdown, specs, errors = outputs(nb)
    assert errors == [] and len(specs) == 6
    data_words = [*opskit.demo.CHANNELS, "(none)"]
    for md in markdown:
        if md.startswith("|"):  # tables: headers in Chinese, cells are data
            assert re.search(r"[\u4e00-\u9fff]", md.splitlines()[0]), md
            continue
        prose = re.sub("|".join(map(re.escape, data_words)), "", plain(md))
        prose = re.sub(r"CTR|CPC|CPA|ROAS|Shapley", "", prose)
        assert re.search(r"[\u4e00-\u9fff]", md) and not re.findall(r"[A-Za-z]{2,}", prose), md
    assert any(md.startswith("## 主要发现") for md in markdown)
    comparison = next(s for s in specs if s.get("encoding", {}).get("yOffset"))
    models = {row["model"] for rows in comparison["datasets"].values() for row in rows}
    assert models == {"last_touch", "linear", "markov"}

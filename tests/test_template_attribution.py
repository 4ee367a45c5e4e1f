"""templates/attribution.ipynb: committed clean, typed parameters, and it runs in en and zh."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from template_checks import (
    TEMPLATES,
    assert_committed_clean,
    assert_parameters,
    assert_thin,
    execute,
    outputs,
    plain,
)

import opskit
from opskit.report import templates

TEMPLATE = TEMPLATES / "attribution.ipynb"



ALL_MODELS = ('["first_touch", "last_touch", "last_non_direct", "linear", "position_based", '
              '"time_decay", "markov", "shapley"]')
PARAMETERS = {
    "data": ("str", '"demo-data"'), "start": ("Optional[str]", "None"),
    "end": ("Optional[str]", "None"), "lookback_days": ("int", "30"),
    "models": ("list[str]", ALL_MODELS), "model": ("str", '"markov"'),
    "conversion_kinds": ("list[str]", "[]"), "half_life_days": ("float", "7.0"),
    "position_weights": ("list[float]", "[0.4, 0.2, 0.4]"), "lang": ("str", '"en"'),
    "title": ("str", '""'),
}


def test_template_is_committed_without_outputs():
    assert_committed_clean(TEMPLATE)


def test_parameters_cell_is_tagged_typed_and_documented():
    assert_parameters(TEMPLATE, PARAMETERS)


def test_notebook_only_loads_calls_charts_and_narrates():
    assert_thin(TEMPLATE)


def test_template_is_found_by_the_report_pipeline():
    assert list(templates.find_template(TEMPLATE).parameters) == list(PARAMETERS)


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

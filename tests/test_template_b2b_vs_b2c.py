"""templates/b2b_vs_b2c.ipynb executed on demo data: the planted findings in English and Chinese (the
static checks are in test_templates_committed.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from template_checks import TEMPLATES, execute, outputs, plain

TEMPLATE = TEMPLATES / "b2b_vs_b2c.ipynb"


@pytest.fixture(scope="module")
def demo_dir(demo_parquet) -> Path:
    return demo_parquet(3_000, 7)


@pytest.mark.slow
def test_english_report_shows_the_planted_findings(demo_dir, tmp_path):
    nb = execute(TEMPLATE, {"data": str(demo_dir), "lang": "en"}, tmp_path)
    markdown, specs, errors = outputs(nb)
    assert errors == []
    # bridge, movements, AARRR funnel, retention curves, churn line, pipeline funnel
    assert len(specs) == 6
    text = plain("\n".join(markdown))
    order = ["The two businesses in one table", "MRR bridge: b2b", "AARRR funnel: b2c",
             "Retention of both", "Churn, NRR and GRR", "Pipeline and sales cycle",
             "Promotion cannibalisation", "What each side should do next"]
    positions = [text.index(f"# {heading}") for heading in order]
    assert positions == sorted(positions)
    findings = plain(markdown[-1])
    assert re.search(r"b2c loses [\d.]+ % of its paying accounts a month, [\d.]+x the rate of b2b",
                     findings)                                   # planted: b2c_vs_b2b_churn
    assert re.search(r"(8\d|9\d) % of the promotion's \d+ buying accounts were already paying",
                     findings)                                   # planted: promotion cannibalised
    assert (tmp_path / "b2b_vs_b2c.html").exists()


@pytest.mark.slow
def test_chinese_report_reads_in_chinese(demo_dir, tmp_path):
    nb = execute(TEMPLATE, {"data": str(demo_dir), "lang": "zh", "promo_start": "2025-11-01",
                            "promo_end": "2025-11-12"}, tmp_path)
    markdown, specs, errors = outputs(nb)
    assert errors == [] and len(specs) == 6
    allowed = r"b2b|b2c|MRR|ARR|ARPA|ARPU|NRR|GRR|LTV|CAC|CSAT|AARRR|ROAS|lead|qualified|" \
              r"proposal|negotiation|won|p 值|p-value"
    for md in markdown:
        prose = re.sub(allowed, "", plain(md.splitlines()[0] if md.startswith("|") else md))
        assert re.search(r"[\u4e00-\u9fff]", prose) and not re.findall(r"[A-Za-z]{2,}", prose), md
    findings = plain(markdown[-1])
    assert re.search(r"b2c 的付费账户月流失率为 [\d.]+%，是 b2b", findings)
    assert "在活动开始时已在付费" in findings

"""templates/ops_review.ipynb executed on demo data: the planted findings in English and Chinese (the
static checks are in test_templates_committed.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from template_checks import TEMPLATES, execute, outputs, plain

TEMPLATE = TEMPLATES / "ops_review.ipynb"


@pytest.fixture(scope="module")
def demo_dir(demo_parquet) -> Path:
    return demo_parquet(20_000, 7)  # the planted spike week stands out of the noise at this size


@pytest.mark.slow
def test_english_review_names_the_planted_findings(demo_dir, tmp_path):
    nb = execute(TEMPLATE, {"data": str(demo_dir), "lang": "en"}, tmp_path)
    markdown, specs, errors = outputs(nb)
    assert errors == [] and len(specs) == 1
    text = plain("\n".join(markdown))
    order = ["1. Goals against actuals", "2. Key numbers", "3. Channel performance", "4. Problems",
             "5. Next steps"]
    positions = [text.index(f"# {heading}") for heading in order]
    assert positions == sorted(positions)
    # planted: the churn-spike week, 微信 converting best at the highest cost, new users retaining worse
    assert re.search(r"In the week of 2025-07-07, paying-account churn of b2c was [\d.]+ %", text)
    assert re.search(r"微信 converts best \([\d.]+ % of its new users converted\) and costs the most", text)
    assert "New users retain worse than returning users" in text
    assert re.search(r"The weakest stage is \w+", text)
    assert "(rule: " in markdown[-1]


@pytest.mark.slow
def test_chinese_review_reads_in_chinese(demo_dir, tmp_path):
    nb = execute(TEMPLATE, {"data": str(demo_dir), "lang": "zh", "period": "2025-07",
                            "compare_to": "year_ago"}, tmp_path)
    markdown, specs, errors = outputs(nb)
    assert errors == [] and len(specs) == 1
    text = plain("\n".join(markdown))
    assert "## 五、下一步建议" in "\n".join(markdown).replace("\\", "")
    assert re.search(r"2025-07-07 当周，b2c 的付费账户流失率为 [\d.]+%", text)
    assert "「微信」的新用户转化率最高" in text

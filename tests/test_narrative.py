"""opskit.narrative: sentences from hand-made numbers, in English and Chinese, and safe Markdown."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from opskit import narrative
from opskit.narrative import Sentence
from opskit.retention import churn_alerts as kpi_churn_alerts

EVIL = "</script><img src=x onerror=alert(1)>"
CJK = r"[\u4e00-\u9fff]"


def _nday(rates: list[float], eligible: int = 1000, half_width: float = 0.03) -> pd.DataFrame:
    return pd.DataFrame({"day": [1, 7, 30][: len(rates)], "eligible": eligible,
                         "retained": [0 if r != r else round(r * eligible) for r in rates], "rate": rates,
                         "ci_low": [r - half_width for r in rates],
                         "ci_high": [r + half_width for r in rates]})


# --- formatting ------------------------------------------------------------------------
@pytest.mark.parametrize(("rate", "en", "zh"), [
    (0.65, "65 %", "65%"), (0.6549, "65 %", "65%"), (0.078, "7.8 %", "7.8%"), (0.1, "10 %", "10%"),
    (0.0, "0 %", "0%"), (1.0, "100 %", "100%"), (0.995, "99.5 %", "99.5%"), (0.9999, ">99.9 %", ">99.9%"),
    (0.0003, "<0.1 %", "<0.1%"), (None, "n/a", "无数据"), (float("nan"), "n/a", "无数据"),
    (0.705, "71 %", "71%"), (0.0996, "10 %", "10%"), (0.0995, "10 %", "10%"), (0.05, "5.0 %", "5.0%"),
])
def test_fmt_pct_rules(rate, en, zh):
    assert narrative.fmt_pct(rate) == en and narrative.fmt_pct(rate, "zh") == zh


def test_points_ratios_counts_periods():
    assert [narrative.fmt_points(d) for d in (0.05, -0.05, 0.01, 0.004, 0.1234)] == [
        "5 points", "5 points", "1 point", "0.4 points", "12 points"]
    assert narrative.fmt_points(0.004, "zh") == "0.4 个百分点"
    assert [narrative.fmt_ratio(r) for r in (9.46, 2.0, 1.25, 10.4)] == ["9.5x", "2x", "1.3x", "10x"]
    assert narrative.fmt_ratio(9.46, "zh") == "9.5 倍"
    assert narrative.fmt_count(1234567) == "1,234,567"
    assert narrative.fmt_period(pd.Timestamp("2025-11-01"), "month") == "November 2025"
    assert narrative.fmt_period("2025-11-01", "month", "zh") == "2025 年 11 月"
    assert narrative.fmt_period("2025-11-03", "day", "zh") == "2025-11-03"
    with pytest.raises(ValueError, match="lang must be"):
        narrative.fmt_pct(0.5, "de")


# --- headline --------------------------------------------------------------------------
def test_headline_a_significant_rise_in_both_languages():
    cur, prev = _nday([0.42, 0.30, 0.65]), _nday([0.40, 0.30, 0.55])
    en = narrative.headline(cur, prev)
    assert [s.severity for s in en] == ["info", "info", "good"]
    assert str(en[2]) == ("D30 retention is 65 % (650 of 1,000 new users), 10 points above the previous "
                          "period (55 %); the 95 % intervals do not overlap, so the change is real.")
    assert str(en[1]).startswith("D7 retention is 30 % (300 of 1,000 new users), the same as the previous")
    assert "2 points above" in str(en[0]) and "may be noise" in str(en[0])
    zh = narrative.headline(cur, prev, lang="zh")
    assert str(zh[2]) == ("30 日留存率为 65%（1,000 名新用户中 650 名），比上一周期高 10 个百分点"
                          "（上一周期 55%）；95% 置信区间不重叠，变化显著。")
    assert str(zh[0]).startswith("次日留存率为 42%") and str(zh[1]).startswith("7 日留存率为 30%")


def test_headline_a_significant_drop_is_a_warning():
    [d30] = narrative.headline(_nday([0.50]).assign(day=30), _nday([0.60]).assign(day=30),
                               previous_label="Q2")
    assert d30.severity == "warning" and "10 points below Q2 (60 %)" in d30.text


def test_headline_takes_a_significance_flag():
    cur, prev = _nday([0.50]), _nday([0.52])
    [flagged] = narrative.headline(cur, prev, significant={1: True})
    assert flagged.text.endswith("the change is statistically significant.") and flagged.severity == "warning"
    [zh] = narrative.headline(cur, prev, significant={1: False}, lang="zh")
    assert zh.text.endswith("变化不具有统计显著性。") and zh.severity == "info"


def test_headline_without_a_previous_period_or_without_data():
    cur = _nday([0.42, 0.30, float("nan")]).assign(eligible=[1000, 1000, 0])
    en = narrative.headline(cur)
    assert en[0].text.endswith("; there is no previous period to compare with.")
    assert en[2].text == "D30 retention cannot be measured yet: no new user's day 30 is inside the data."
    zh = narrative.headline(cur, lang="zh")
    assert zh[2].text == "30 日留存率尚无法计算：还没有新用户的第 30 天落在数据范围内。"


# --- segments, curves, new vs returning ------------------------------------------------
def _churn(rates: dict[str, tuple[int, int]], months: int = 2) -> pd.DataFrame:
    rows = [{"period": pd.Timestamp(2025, m + 1, 1), "segment": seg, "active_start": n, "churned": k,
             "churn_rate": k / n, "complete": True} for seg, (n, k) in rates.items() for m in range(months)]
    return pd.DataFrame(rows)


def test_segment_churn_pools_complete_periods():
    frame = _churn({"b2b": (1000, 22), "b2c": (1000, 212)})
    frame.loc[len(frame)] = {"period": pd.Timestamp("2025-03-01"), "segment": "b2b", "active_start": 10,
                             "churned": 9, "churn_rate": None, "complete": False}  # left out
    [s] = narrative.segment_churn(frame, subject="accounts")
    assert s.text == ("b2c churns 9.6x faster than b2b: 21 % against 2.2 % of paying accounts lost per "
                      "month (pooled over 2 complete months).")
    assert s.severity == "warning"
    [zh] = narrative.segment_churn(frame, lang="zh")
    assert zh.text == "b2c 的流失速度是 b2b 的 9.6 倍：每月活跃用户流失率 21% 对 2.2%（按 2 个完整月合计）。"


def test_segment_churn_edge_cases():
    assert "about the same pace" in narrative.segment_churn(_churn({"a": (100, 5), "b": (100, 5)}))[0].text
    assert "b lost none" in narrative.segment_churn(_churn({"a": (100, 5), "b": (100, 0)}))[0].text
    assert narrative.segment_churn(_churn({"a": (100, 5)})) == []
    with pytest.raises(ValueError, match="subject"):
        narrative.segment_churn(_churn({"a": (100, 5)}), subject="logos")


def test_curve_gap_two_and_many_groups():
    curve = pd.DataFrame({"segment": ["b2b"] * 2 + ["b2c"] * 3, "period": [0, 4, 0, 4, 5],
                          "rate": [1, 0.42, 1, 0.30, 0.28], "ci_low": [1, 0.39, 1, 0.28, 0.26],
                          "ci_high": [1, 0.45, 1, 0.32, 0.30]})
    [s] = narrative.curve_gap(curve, by="segment")  # week 4: the last period both reach
    assert s.text == ("At week 4, b2b retains 42 % and b2c 30 %, 12 points apart "
                      "(the 95 % intervals do not overlap).")
    channels = pd.DataFrame({"channel": ["微信", "抖音", "email"], "period": 2, "rate": [0.3, 0.1, 0.2],
                             "ci_low": 0.0, "ci_high": 1.0})
    [many] = narrative.curve_gap(channels, by="channel", period="month", lang="zh")
    assert many.text == "第 2 个月时，留存率最高的是 微信（30%），最低的是 抖音（10%），相差 20 个百分点。"


def test_new_vs_returning_pools_complete_periods():
    frame = pd.DataFrame({
        "period": pd.to_datetime(["2025-01-01"] * 2 + ["2025-02-01"] * 2 + ["2025-03-01"] * 2),
        "group": ["new", "returning"] * 3, "users": [100, 300, 100, 300, 50, 50],
        "retained": [47, 213, 75, 210, 0, 0], "rate": [0.47, 0.71, 0.75, 0.70, None, None],
        "complete": [True, True, True, True, False, False],
        "ci_low": 0.0, "ci_high": 1.0})
    [s] = narrative.new_vs_returning(frame)
    assert s.text == ("New users retain worse than returning users: 61 % of new against 71 % of "
                      "returning users were active in the 30 days after their month (pooled over 2 "
                      "months); new users trailed in 1 of 2 months.")
    assert s.severity == "warning"
    [zh] = narrative.new_vs_returning(frame, lang="zh")
    assert zh.text.startswith("新用户的留存低于老用户：")
    assert zh.text.endswith("2 个月中有 1 个月新用户落后。")


# --- churn alerts ----------------------------------------------------------------------
def _weekly(churned: list[int], at_risk: int = 574, segment: str | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({"period": pd.date_range("2025-05-05", periods=len(churned), freq="7D"),
                          "active_start": at_risk, "churned": churned})
    frame["churn_rate"] = frame["churned"] / frame["active_start"]
    frame["complete"] = True
    return frame if segment is None else frame.assign(segment=segment)


def test_churn_alerts_from_the_real_rule():
    """The frame of opskit.retention.churn_alerts; its rule text is translated, not guessed."""
    alerts = kpi_churn_alerts(_weekly([28, 27, 28, 28, 30, 28, 29, 28, 28, 45]))  # median 28 of 574
    [s] = narrative.churn_alerts(alerts)
    assert s.text == ("Churn in the week of 2025-07-07 was 7.8 %, above the normal 4.9 % (rule: churn rate "
                      ">= 1.3 x the median of the previous 8 complete periods, and z >= 3 (binomial, "
                      "one-sided)).")
    assert s.severity == "warning"
    [zh] = narrative.churn_alerts(alerts, lang="zh")
    assert zh.text == ("2025-07-07 当周的流失率为 7.8%，高于正常水平 4.9%（规则：流失率不低于前 8 个完整周期"
                       "中位数的 1.3 倍，且单侧二项检验 z 值不低于 3）。")


def test_churn_alerts_groups_limit_and_quiet_periods():
    frame = kpi_churn_alerts(_weekly([28] * 8 + [60, 28, 45, 50, 70, 28], segment="b2c"))
    shown = narrative.churn_alerts(frame, limit=2)
    assert [s.text.split(",")[0] for s in shown[:2]] == [
        "In the week of 2025-06-30", "In the week of 2025-07-28"]  # the two strongest, in time order
    assert "b2c churn was" in shown[0].text and "(rule:" in shown[0].text and "(rule:" not in shown[1].text
    assert shown[2].text == f"{frame['alert'].sum() - 2} more weeks were flagged too."
    quiet = narrative.churn_alerts(kpi_churn_alerts(_weekly([28] * 12)), period="week")
    assert quiet[0].text.startswith("No week's churn was abnormal (rule: churn rate >= 1.3") and (
        quiet[0].severity == "good")
    zh_quiet = narrative.churn_alerts(kpi_churn_alerts(_weekly([28] * 12)), lang="zh")
    assert zh_quiet[0].text.startswith("没有任何周的流失率异常（规则：流失率不低于")
    assert narrative.rule_text("some other rule", "zh") == "some other rule"


# --- report text and escaping ----------------------------------------------------------
def test_report_text_exists_in_both_languages_with_chinese_punctuation():
    en, zh = narrative._core._TEXT["en"], narrative._core._TEXT["zh"]
    assert en.keys() == zh.keys()
    for key, words in zh.items():
        assert re.findall(r"\{\w+\}", words) == re.findall(r"\{\w+\}", en[key]) or key in (
            "subtitle", "heatmap_intro", "churn_intro", "churn_accounts_intro"), key
        assert not re.search(f"{CJK}[,:;()]|[,:;()]{CJK}", words), f"ASCII punctuation in Chinese: {words}"
    assert narrative.section("findings", "zh") == "## 主要发现"
    assert narrative.section("heatmap", "en", period="week").startswith("## Cohort retention\n\nEach row")
    assert narrative.column_name("channel", "en") == "acquisition channel"
    with pytest.raises(KeyError, match="no report text"):
        narrative.text("nope")


def test_sentences_carry_no_ascii_punctuation_in_chinese():
    texts = [*narrative.headline(_nday([0.42, 0.30, 0.65]), _nday([0.40, 0.30, 0.55]), lang="zh"),
             *narrative.segment_churn(_churn({"b2b": (1000, 22), "b2c": (1000, 212)}), lang="zh"),
             *narrative.churn_alerts(kpi_churn_alerts(_weekly([28] * 9 + [45])), lang="zh")]
    for s in texts:
        assert not re.search(f"{CJK}[,:;()]|[,:;()]{CJK}", s.text), s.text


def test_markdown_escapes_data_and_renders_as_text():
    sentences = [Sentence(f"Channel {EVIL} retains **best** at $5 [link](javascript:alert(2))."),
                 "<script>alert(3)</script> # not a heading"]
    md = narrative.to_markdown(sentences)
    assert md.count("\n") == 1 and all(line.startswith("- ") for line in md.split("\n"))
    assert "<" not in md and ">" not in md
    html = markdown2html_mistune(md)
    assert "<img" not in html and "<script" not in html and "<strong>" not in html and "<a " not in html
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html and "**best**" in html
    assert "$5" in html and "<h1" not in html
    assert narrative.heading("A\nB <i>", level=3) == "### A B &lt;i&gt;"

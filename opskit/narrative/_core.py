"""Sentences, report texts, number formatting and Markdown output shared by every narrative."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

import pandas as pd

from opskit.report.display import escape_markdown

__all__ = ["LANGS", "Sentence", "column_name", "escape_markdown", "fmt_count", "fmt_money",
           "fmt_pct", "fmt_period", "fmt_points", "fmt_ratio", "heading", "register_texts",
           "section", "table", "text", "to_markdown"]

Severity = Literal["info", "good", "warning"]
LANGS = ("en", "zh")


@dataclass(frozen=True)
class Sentence:
    """One finding: plain text (never Markdown or HTML) and how much it matters.

    ``severity`` is ``"warning"`` for a significant change for the worse or an
    alert, ``"good"`` for a significant change for the better, ``"info"``
    otherwise. ``str(sentence)`` is its text.
    """

    text: str
    severity: Severity = "info"

    def __str__(self) -> str:
        return self.text


# ---------------------------------------------------------------------------------------
# report text: headings and short introductions, in both languages
# ---------------------------------------------------------------------------------------
_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Retention report",
        "subtitle": "Cohorts from {start} to {end}, by {period}.",
        "headline": "Headline: D1, D7 and D30 retention",
        "headline_intro": "Users who signed up from {start} to {end}, against those who signed up from "
                          "{prev_start} to {prev_end}. Day N retention: the share of new users active on "
                          "day N after signing up, counting only users whose day N is inside the data. "
                          "Bars show 95 % confidence intervals.",
        "heatmap": "Cohort retention",
        "heatmap_intro": "Each row is a cohort of users who started in the same {period}; each column the "
                         "{period}s since. Faint cells with a dashed border are periods that are not over "
                         "yet: their numbers will still rise.",
        "curves": "Retention curves",
        "curves_segment": "By {by}",
        "curves_channel": "By acquisition channel",
        "curves_intro": "Cohort-size-weighted average over complete cells, with 95 % confidence bands.",
        "new_vs_returning": "New and returning users",
        "new_vs_returning_intro": "For each month, the share of its active users who are active again in the "
                                  "{days} days after it: users who signed up that month (new) against "
                                  "everyone else (returning).",
        "churn": "Churn over time",
        "churn_intro": "Share of the users active at the start of each {period} who are lost in it, by "
                       "{by}. Dashed: the normal level (median of the previous complete {period}s); red "
                       "points: alerts.",
        "churn_accounts": "Churn of paying accounts",
        "churn_accounts_intro": "Share of the accounts paying at the start of each {period} whose "
                                "subscription lapses in it, by {by}. Dashed: the normal level (median of the "
                                "previous complete {period}s); red points: alerts.",
        "findings": "Findings",
        "current": "{start} – {end}",
        "previous": "{start} – {end}",
        "previous_period": "the previous period",
        "no_data": "No data for this section in the chosen range.",
        "day": "day", "week": "week", "month": "month", "period": "period",
        "days": "days", "weeks": "weeks", "months": "months", "periods": "periods",
        "segment": "segment", "channel": "channel",
    },
    "zh": {
        "title": "留存分析报告",
        "subtitle": "同期群范围：{start} 至 {end}，按{period}划分。",
        "headline": "核心指标：次日、7 日、30 日留存",
        "headline_intro": "{start} 至 {end} 注册的新用户，对比 {prev_start} 至 {prev_end} 注册的新用户。"
                          "N 日留存率：注册后第 N 天仍活跃的新用户占比，只统计第 N 天已落在数据范围内的用户。"
                          "误差线为 95% 置信区间。",
        "heatmap": "同期群留存",
        "heatmap_intro": "每一行是同一{period}开始使用的用户（同期群），每一列是此后第几{period}。"
                         "颜色较浅、带虚线边框的单元格表示该周期尚未结束，数值仍会上升。",
        "curves": "留存曲线",
        "curves_segment": "按{by}",
        "curves_channel": "按获客渠道",
        "curves_intro": "按同期群人数加权、只取完整单元格的平均留存，阴影为 95% 置信区间。",
        "new_vs_returning": "新用户与老用户",
        "new_vs_returning_intro": "每个月的活跃用户中，在该月之后 {days} 天内再次活跃的比例："
                                  "当月注册的用户（新用户）对比其他用户（老用户）。",
        "churn": "流失趋势",
        "churn_intro": "每{period}期初活跃的用户中在该{period}内流失的比例（按{by}）。"
                       "虚线为正常水平（此前完整周期的中位数），红点为异常告警。",
        "churn_accounts": "付费账户流失趋势",
        "churn_accounts_intro": "每{period}期初仍在付费的账户中，在该{period}内订阅终止的比例（按{by}）。"
                                "虚线为正常水平（此前完整周期的中位数），红点为异常告警。",
        "findings": "主要发现",
        "current": "{start} 至 {end}",
        "previous": "{start} 至 {end}",
        "previous_period": "上一周期",
        "no_data": "所选范围内没有这一部分的数据。",
        "day": "天", "week": "周", "month": "月", "period": "周期",
        "days": "天", "weeks": "周", "months": "个月", "periods": "个周期",
        "segment": "用户类型", "channel": "渠道",
    },
}


def register_texts(texts: Mapping[str, Mapping[str, str]]) -> None:
    """Add a report's texts (the same keys in every language) to those :func:`text` knows.

    Report families namespace their keys (``"attribution.title"``); the
    retention report's keys are the unprefixed ones.
    """
    if set(texts) != set(LANGS) or len({frozenset(t) for t in texts.values()}) != 1:
        raise ValueError("texts must give the same keys in every language of " + ", ".join(LANGS))
    clash = set(texts["en"]) & set(_TEXT["en"])
    if clash:
        raise ValueError(f"report texts already defined: {', '.join(sorted(clash))}")
    for lang in LANGS:
        _TEXT[lang].update(texts[lang])


def _lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"lang must be 'en' or 'zh', not {lang!r}")
    return lang


def text(key: str, lang: str = "en", /, **values: object) -> str:
    """A fixed report text in ``lang``, with ``values`` filled in (plain text).

    Keys are the section names of the retention report (``"title"``,
    ``"headline"``, ``"heatmap"``, ``"curves"``, ``"new_vs_returning"``,
    ``"churn"``, ``"findings"``, their ``*_intro`` texts, ...) and the unit
    words ``"day"``, ``"week"``, ``"month"``.

    Examples
    --------
    >>> text("findings", "zh")
    '主要发现'
    >>> text("curves_segment", "en", by=text("segment", "en"))
    'By segment'
    """
    try:
        template = _TEXT[_lang(lang)][key]
    except KeyError:
        raise KeyError(f"no report text {key!r}; known: {', '.join(sorted(_TEXT['en']))}") from None
    return template.format(**{k: str(v) for k, v in values.items()})


def heading(words: str, /, *, level: int = 2) -> str:
    """``words`` (plain text, e.g. a user's title) as a Markdown heading, escaped.

    Examples
    --------
    >>> heading("My <b>report</b>", level=1)
    '# My &lt;b&gt;report&lt;/b&gt;'
    """
    return f"{'#' * level} {escape_markdown(words)}"


def section(key: str, lang: str = "en", /, *, level: int = 2, **values: object) -> str:
    """Markdown for the start of a report section: the heading :func:`text` ``key`` and, when
    there is one, its ``<key>_intro`` paragraph; ``values`` fill both, everything escaped.

    Examples
    --------
    >>> print(section("churn", "zh", period="周", by="用户类型"))
    ## 流失趋势
    <BLANKLINE>
    每周期初活跃的用户中在该周内流失的比例（按用户类型）。虚线为正常水平（此前完整周期的中位数），红点为异常告警。
    """
    out = heading(text(key, lang, **values), level=level)
    if f"{key}_intro" in _TEXT[_lang(lang)]:
        out += "\n\n" + escape_markdown(text(f"{key}_intro", lang, **values))
    return out


_COLUMN_NAMES = {
    "en": {"segment": "segment", "channel": "acquisition channel", "plan": "plan", "country": "country",
           "company_size": "company size", "industry": "industry"},
    "zh": {"segment": "用户类型", "channel": "获客渠道", "plan": "套餐", "country": "国家或地区",
           "company_size": "公司规模", "industry": "行业"},
}


def column_name(column: str, lang: str = "en") -> str:
    """A users column's name in words (``"channel"`` -> ``"acquisition channel"`` / ``"获客渠道"``);
    other names are returned as they are.

    Examples
    --------
    >>> column_name("segment", "zh"), column_name("tier", "zh")
    ('用户类型', 'tier')
    """
    return _COLUMN_NAMES[_lang(lang)].get(column, column)


# ---------------------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------------------
def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA


def _trim(number: str) -> str:
    return number[:-2] if number.endswith(".0") else number


def _dec(x: float | Decimal) -> Decimal:
    """The shortest decimal form of a float (0.705, not 0.70499999...)."""
    return x if isinstance(x, Decimal) else Decimal(repr(float(x)))


def _round(x: float | Decimal, decimals: int) -> str:
    """``x`` with ``decimals`` decimals, halves rounded up as people do (70.5 -> 71)."""
    return str(_dec(x).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def fmt_pct(rate: float | None, lang: str = "en") -> str:
    """A rate (0.65) as a percent (``65 %``; Chinese ``65%``); see the module's rules.

    Examples
    --------
    >>> [fmt_pct(x) for x in (0.65, 0.078, 0.0, 1.0, 0.9951, 0.00004)]
    ['65 %', '7.8 %', '0 %', '100 %', '99.5 %', '<0.1 %']
    >>> fmt_pct(0.65, "zh"), fmt_pct(None)
    ('65%', 'n/a')
    """
    sign = "%" if _lang(lang) == "zh" else " %"
    if _missing(rate):
        return "无数据" if lang == "zh" else "n/a"
    percent = _dec(rate) * 100
    if percent in (0, 100):
        body = _round(percent, 0)
    elif 0 < percent < Decimal("0.05"):
        body = "<0.1"
    elif Decimal("99.95") <= percent < 100:
        body = ">99.9"
    elif percent < 10 or percent > 99:
        body = _round(percent, 1)
        body = "10" if body == "10.0" else body
    else:
        body = _round(percent, 0)
    return body + sign


def fmt_points(diff: float, lang: str = "en") -> str:
    """The size of a difference of two rates in percentage points (sign dropped).

    Examples
    --------
    >>> fmt_points(0.05), fmt_points(-0.004), fmt_points(0.01), fmt_points(0.123)
    ('5 points', '0.4 points', '1 point', '12 points')
    >>> fmt_points(0.05, "zh")
    '5 个百分点'
    """
    points = abs(_dec(diff)) * 100
    body = _round(points, 0) if points >= Decimal("9.95") else _trim(_round(points, 1))
    if _lang(lang) == "zh":
        return f"{body} 个百分点"
    return f"{body} point" if body == "1" else f"{body} points"


def fmt_ratio(ratio: float, lang: str = "en") -> str:
    """A ratio as ``9.5x`` (one decimal below 10, whole above); Chinese ``9.5 倍``.

    Examples
    --------
    >>> fmt_ratio(9.46), fmt_ratio(12.4), fmt_ratio(2.0), fmt_ratio(9.46, "zh")
    ('9.5x', '12x', '2x', '9.5 倍')
    """
    body = _round(ratio, 0) if ratio >= 9.95 else _trim(_round(ratio, 1))
    return f"{body} 倍" if _lang(lang) == "zh" else f"{body}x"


def fmt_count(n: float) -> str:
    """A count with thousands separators (``1,234``)."""
    return f"{round(float(n)):,}"


_SYMBOLS = {"CNY": "¥", "RMB": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}


def fmt_money(amount: float, currency: str = "CNY") -> str:
    """An amount with its currency: whole units from 100 up, two decimals below.

    ``currency`` is an ISO code (``ds.meta["currency"]``: ``CNY`` is written
    ``¥``, ``USD`` ``$``, other codes as a prefix) or a symbol.

    Examples
    --------
    >>> fmt_money(594.4), fmt_money(12.5), fmt_money(1234567, "USD"), fmt_money(80, "CHF")
    ('¥594', '¥12.50', '$1,234,567', 'CHF 80.00')
    >>> fmt_money(0)
    '¥0'
    """
    if _missing(amount):
        return "–"
    code = str(currency)
    symbol = _SYMBOLS.get(code.upper(), f"{code} " if code.isalpha() and len(code) == 3 else code)
    sign = "-" if amount < 0 else ""
    value = abs(float(amount))
    whole = value >= 100 or value == int(value) == 0
    body = f"{int(Decimal(_round(value, 0))):,}" if whole else _round(value, 2)
    return f"{sign}{symbol}{body}"


def fmt_period(start: object, period: str = "week", lang: str = "en") -> str:
    """The period starting at ``start`` in words.

    Examples
    --------
    >>> fmt_period("2025-07-07", "week"), fmt_period("2025-07-07", "week", "zh")
    ('the week of 2025-07-07', '2025-07-07 当周')
    >>> fmt_period("2025-07-01", "month"), fmt_period("2025-07-01", "month", "zh")
    ('July 2025', '2025 年 7 月')
    """
    ts = pd.Timestamp(start)
    zh = _lang(lang) == "zh"
    if period == "week":
        return f"{ts:%Y-%m-%d} 当周" if zh else f"the week of {ts:%Y-%m-%d}"
    if period == "month":
        return f"{ts.year} 年 {ts.month} 月" if zh else f"{ts:%B %Y}"
    return f"{ts:%Y-%m-%d}"


def _unit(period: str, lang: str, n: int | None = None) -> str:
    words = _TEXT[lang]
    key = period if period in ("day", "week", "month") else "period"
    return words[key] if n is None or n == 1 or lang == "zh" else words[key + "s"]


def _nth(period: str, n: int, lang: str) -> str:
    """``week 4`` / ``第 4 周``."""
    if lang == "zh":
        unit = {"day": "天", "week": "周", "month": "个月"}.get(period, "期")
        return f"第 {n} {unit}"
    return f"{_unit(period, lang)} {n}"


def _overlap(a: Mapping, b: Mapping) -> bool | None:
    keys = ("ci_low", "ci_high")
    if not all(k in a and k in b for k in keys):
        return None
    if any(_missing(x) for x in (a["ci_low"], a["ci_high"], b["ci_low"], b["ci_high"])):
        return None
    return not (a["ci_low"] > b["ci_high"] or a["ci_high"] < b["ci_low"])


def _complete(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["complete"].astype(bool)] if "complete" in frame.columns else frame


# ---------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------


def to_markdown(sentences: Iterable[Sentence | str]) -> str:
    """A Markdown bullet list of ``sentences``, every character escaped (see :func:`escape_markdown`).

    Render it with ``IPython.display.Markdown``: ``Markdown`` itself does not
    escape, this does.

    Examples
    --------
    >>> print(to_markdown([Sentence("D1 retention is 42 %."), "Churn of <b>b2c</b> is 21 %."]))
    - D1 retention is 42 %\\.
    - Churn of &lt;b&gt;b2c&lt;/b&gt; is 21 %\\.
    """
    return "\n".join(f"- {escape_markdown(s)}" for s in sentences)



_KPI_COLUMNS = {
    "en": {"channel": "Channel", "campaign": "Campaign", "impressions": "Impressions",
           "clicks": "Clicks", "ctr": "CTR", "cost": "Cost", "cpc": "CPC", "visits": "Visits",
           "traffic_share": "Share of traffic", "conversions": "Conversions",
           "value": "Value", "conversion_rate": "Conversion rate", "cpa": "CPA",
           "roas": "ROAS", "roi": "ROI", "path": "Path", "touches": "Touches",
           "nulls": "Non-converting", "share": "Share", "spread": "Spread", "min": "Lowest",
           "max": "Highest", "removal_effect": "Removal effect", "segment": "Segment",
           "mrr": "MRR", "arr": "ARR", "customers": "Customers", "arpa": "ARPA",
           "logo_churn": "Monthly churn", "gross_mrr_churn": "Gross MRR churn",
           "net_mrr_churn": "Net MRR churn", "nrr": "NRR", "grr": "GRR",
           "quick_ratio": "Quick ratio", "ltv": "LTV", "cac": "CAC",
           "company_size": "Company size", "deals": "Deals", "median_days": "Median days",
           "p25_days": "25th percentile", "p75_days": "75th percentile",
           "buyers": "Buyers", "already_paying": "Already paying",
           "share_already_paying": "Share already paying", "revenue": "Revenue",
           "discount_to_already_paying": "Discount to already paying",
           "revenue_share_already_paying": "Revenue share already paying",
           "discount_given": "Discount given", "win_rate": "Win rate",
           "opportunities": "Opportunities", "stage": "Stage", "metric": "Metric",
           "period_start": "Period", "target": "Target", "actual": "Actual",
           "attainment": "Attainment", "status": "Status", "new_users": "New users",
           "converted": "Converted", "cost_per_new_user": "Cost per new user",
           "cost_per_conversion": "Cost per conversion"},
    "zh": {"channel": "渠道", "campaign": "活动", "impressions": "展示", "clicks": "点击",
           "ctr": "点击率", "cost": "花费", "cpc": "CPC", "visits": "访问", "traffic_share": "流量占比",
           "conversions": "转化", "value": "金额", "conversion_rate": "转化率", "cpa": "CPA",
           "roas": "ROAS", "roi": "ROI", "path": "路径", "touches": "触点数",
           "nulls": "未转化", "share": "占比", "spread": "差距", "min": "最低", "max": "最高",
           "removal_effect": "移除效应", "segment": "分群",
           "mrr": "MRR", "arr": "ARR", "customers": "付费客户数", "arpa": "ARPA",
           "logo_churn": "月流失率", "gross_mrr_churn": "MRR 总流失率",
           "net_mrr_churn": "MRR 净流失率", "nrr": "NRR", "grr": "GRR",
           "quick_ratio": "快速比率", "ltv": "LTV", "cac": "CAC",
           "company_size": "公司规模", "deals": "成交数", "median_days": "中位天数",
           "p25_days": "25 分位天数", "p75_days": "75 分位天数",
           "buyers": "购买账户", "already_paying": "已在付费",
           "share_already_paying": "已在付费占比", "revenue": "收入",
           "discount_to_already_paying": "给已付费客户的折扣",
           "revenue_share_already_paying": "已付费客户收入占比",
           "discount_given": "折扣总额", "win_rate": "赢单率",
           "opportunities": "商机数", "stage": "阶段", "metric": "指标", "period_start": "周期",
           "target": "目标", "actual": "实际", "attainment": "完成率", "status": "状态",
           "new_users": "新增用户", "converted": "转化用户", "cost_per_new_user": "单个新用户成本",
           "cost_per_conversion": "单个转化成本"},
}

_FORMATS = {
    "pct": lambda x, lang, cur: "–" if _missing(x) else fmt_pct(x, lang),
    "money": lambda x, lang, cur: fmt_money(x, cur),
    "count": lambda x, lang, cur: "–" if _missing(x) else fmt_count(round(x)),
    "number": lambda x, lang, cur: "–" if _missing(x) else f"{x:,.1f}",
    "ratio": lambda x, lang, cur: "–" if _missing(x) else f"{x:.2f}",
    "text": lambda x, lang, cur: "" if _missing(x) else str(x),
    "date": lambda x, lang, cur: "" if _missing(x) else f"{pd.Timestamp(x):%Y-%m-%d}",
}


def table(frame: pd.DataFrame, /, formats: Mapping[str, str], *, lang: str = "en",
          labels: Mapping[str, str] | None = None, currency: str = "CNY",
          limit: int | None = None) -> str:
    """A Markdown table of ``frame``'s columns in ``formats``, every cell escaped.

    ``formats`` maps each column to show, in order, to ``"text"``, ``"date"``,
    ``"count"``, ``"number"`` (one decimal), ``"pct"`` (:func:`fmt_pct`),
    ``"money"`` (:func:`fmt_money`) or ``"ratio"`` (two decimals). Headers
    are the KPI column names in ``lang`` (``labels`` overrides them). Unlike
    ``DataFrame.style``, nothing from the data can become HTML.

    Examples
    --------
    >>> frame = pd.DataFrame({"channel": ["<b>微信</b>"], "ctr": [0.0251], "cost": [1234.5]})
    >>> print(table(frame, {"channel": "text", "ctr": "pct", "cost": "money"}, lang="zh"))
    | 渠道 | 点击率 | 花费 |
    | :-- | --: | --: |
    | &lt;b&gt;微信&lt;/b&gt; | 2\\.5% | ¥1,235 |
    """
    names = {**_KPI_COLUMNS[_lang(lang)], **(labels or {})}
    unknown = [f for f in formats.values() if f not in _FORMATS]
    if unknown:
        raise ValueError(f"unknown formats {unknown}; use {', '.join(_FORMATS)}")
    rows = frame if limit is None else frame.head(limit)
    head = "| " + " | ".join(escape_markdown(names.get(c, c)) for c in formats) + " |"
    align = "| " + " | ".join(":--" if f == "text" else "--:" for f in formats.values()) + " |"
    body = ["| " + " | ".join(escape_markdown(_FORMATS[f](row[c], lang, currency))
                              for c, f in formats.items()) + " |"
            for _, row in rows.iterrows()]
    return "\n".join([head, align, *body])

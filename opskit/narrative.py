"""Narrative: findings as sentences in English or Chinese, from numbers opskit computed.

The functions read the tidy frames the KPI functions return (or plain
numbers) and word what they show; they compare and format, they do not
compute metrics. Each returns a list of :class:`Sentence` (text and a
severity), and :func:`to_markdown` turns them into a Markdown list with every
Markdown and HTML special character escaped, so that a channel called
``<img src=x onerror=...>`` reaches a report as text.

Number formatting (both languages)
----------------------------------
- **Rates** (:func:`fmt_pct`) are given as fractions (0.65) and written as
  whole percents from 10 % to 99 % (``65 %``), with one decimal below 10 %
  and above 99 % (``7.8 %``, ``99.5 %``); exactly 0 and 1 are ``0 %`` and
  ``100 %``; a value that would round to 0 or 100 but is not is written
  ``<0.1 %`` or ``>99.9 %``. Halves round up (70.5 % is ``71 %``), on the
  shortest decimal form of the number (0.705 is 70.5 %). English puts a space before ``%`` (as the docs
  do), Chinese does not (``65%``).
- **Differences of rates** (:func:`fmt_points`) are percentage points, one
  decimal below 10 points without a trailing ``.0`` (``5 points``,
  ``0.4 points``, ``1 point``; ``5 个百分点``).
- **Ratios** (:func:`fmt_ratio`): one decimal below 10, whole above
  (``9.5x``, ``12x``; ``9.5 倍``).
- **Counts**: thousands separators (``1,234``) in both languages.
- **Periods**: weeks by their Monday (``the week of 2025-07-07``,
  ``2025-07-07 当周``), months as ``July 2025`` / ``2025 年 7 月``, days as
  ISO dates.

A change between two rates is called significant only when their 95 %
confidence intervals do not overlap (a conservative test), unless the caller
passes its own ``significant`` flag.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

import pandas as pd

from opskit.report.display import escape_markdown

__all__ = [
    "Sentence",
    "churn_alerts",
    "column_name",
    "curve_gap",
    "escape_markdown",
    "fmt_count",
    "fmt_pct",
    "fmt_period",
    "fmt_points",
    "fmt_ratio",
    "heading",
    "headline",
    "new_vs_returning",
    "rule_text",
    "section",
    "segment_churn",
    "text",
    "to_markdown",
]

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
# findings
# ---------------------------------------------------------------------------------------
def headline(current: pd.DataFrame, previous: pd.DataFrame | None = None, *, lang: str = "en",
             previous_label: str | None = None, significant: Mapping[int, bool] | None = None,
             ) -> list[Sentence]:
    """D1/D7/D30 retention, each against the previous period, as one sentence per day.

    Parameters
    ----------
    current, previous
        Frames of :func:`opskit.retention.nday` (``day``, ``eligible``,
        ``retained``, ``rate``, ``ci_low``, ``ci_high``) for the period and
        the one before it (None: no comparison).
    lang
        ``"en"`` or ``"zh"``.
    previous_label
        How to name the previous period (default "the previous period" /
        "上一周期").
    significant
        Your own significance verdict per day; by default a change is called
        significant when the two 95 % intervals do not overlap.

    Returns
    -------
    list of Sentence
        ``warning`` for a significant drop, ``good`` for a significant rise.

    Examples
    --------
    >>> import pandas as pd
    >>> cur = pd.DataFrame({"day": [30], "eligible": [1000], "retained": [650], "rate": [0.65],
    ...                     "ci_low": [0.62], "ci_high": [0.68]})
    >>> prev = cur.assign(retained=600, rate=0.60, ci_low=0.57, ci_high=0.63)
    >>> print(headline(cur, prev)[0])
    D30 retention is 65 % (650 of 1,000 new users), 5 points above the previous period (60 %);
    the 95 % intervals overlap, so the change may be noise.
    >>> print(headline(cur, prev.assign(rate=0.55, ci_high=0.58), lang="zh")[0])
    30 日留存率为 65%（1,000 名新用户中 650 名），比上一周期高 10 个百分点...；95% 置信区间不重叠，变化显著。
    """
    lang = _lang(lang)
    zh = lang == "zh"
    label = previous_label or _TEXT[lang]["previous_period"]
    prev_rows = {} if previous is None else {int(r["day"]): r for _, r in previous.iterrows()}
    out = []
    for _, row in current.sort_values("day").iterrows():
        day = int(row["day"])
        name = ("次日留存率" if day == 1 else f"{day} 日留存率") if zh else f"D{day} retention"
        if _missing(row["rate"]) or not row["eligible"]:
            out.append(Sentence(
                f"{name}尚无法计算：还没有新用户的第 {day} 天落在数据范围内。" if zh else
                f"{name} cannot be measured yet: no new user's day {day} is inside the data."))
            continue
        said = (f"{name}为 {fmt_pct(row['rate'], lang)}（{fmt_count(row['eligible'])} 名新用户中 "
                f"{fmt_count(row['retained'])} 名）" if zh else
                f"{name} is {fmt_pct(row['rate'], lang)} ({fmt_count(row['retained'])} of "
                f"{fmt_count(row['eligible'])} new users)")
        prev = prev_rows.get(day)
        if prev is None or _missing(prev["rate"]) or not prev["eligible"]:
            out.append(Sentence(said + ("，没有可比较的上一周期数据。" if zh else
                                        "; there is no previous period to compare with.")))
            continue
        diff = float(row["rate"]) - float(prev["rate"])
        was = fmt_pct(prev["rate"], lang)
        if abs(diff) < 0.0005:
            said += f"，与{label}持平（{was}）" if zh else f", the same as {label} ({was})"
        elif zh:
            said += f"，比{label}{'高' if diff > 0 else '低'} {fmt_points(diff, lang)}（上一周期 {was}）"
        else:
            said += f", {fmt_points(diff, lang)} {'above' if diff > 0 else 'below'} {label} ({was})"
        sig = significant.get(day) if significant is not None else None
        overlap = _overlap(row, prev)
        if sig is not None:
            said += (("；变化具有统计显著性。" if sig else "；变化不具有统计显著性。") if zh else
                     ("; the change is statistically significant." if sig else
                      "; the change is not statistically significant."))
        elif overlap is not None:
            sig = not overlap
            zh_note = ("；95% 置信区间不重叠，变化显著。" if sig else
                       "；95% 置信区间重叠，变化可能只是随机波动。")
            said += (zh_note if zh else
                     ("; the 95 % intervals do not overlap, so the change is real." if sig else
                      "; the 95 % intervals overlap, so the change may be noise."))
        else:
            said += "。" if zh else "."
        severity: Severity = "info"
        if sig and abs(diff) >= 0.0005:
            severity = "good" if diff > 0 else "warning"
        out.append(Sentence(said, severity))
    return out


def _pooled(frame: pd.DataFrame, by: str, num: str, den: str) -> pd.DataFrame:
    """Sum of ``num`` over sum of ``den`` per group (the pooled rate docs/metrics.md defines)."""
    sums = frame.groupby(by, sort=False)[[num, den]].sum()
    sums = sums[sums[den] > 0]
    return sums.assign(rate=sums[num] / sums[den], periods=frame.groupby(by, sort=False).size())


def segment_churn(churn: pd.DataFrame, *, by: str = "segment", lang: str = "en",
                  period: str = "month", subject: str = "users") -> list[Sentence]:
    """Which group churns faster, from a churn frame with ``by``.

    Takes :func:`opskit.retention.churn` (``subject="users"``) or
    :func:`opskit.retention.subscriber_churn` (``subject="accounts"``) output.
    Rates are pooled over the complete periods (churned summed over
    active_start summed), so that large and small periods weigh as their users
    do. The sentence compares the fastest- and the slowest-churning group.

    Examples
    --------
    >>> import pandas as pd
    >>> churn = pd.DataFrame({"segment": ["b2b", "b2b", "b2c", "b2c"],
    ...     "period": pd.to_datetime(["2025-01-01", "2025-02-01"] * 2),
    ...     "active_start": [500, 500, 1000, 1000], "churned": [11, 11, 212, 212],
    ...     "churn_rate": [0.022, 0.022, 0.212, 0.212], "complete": True})
    >>> print(segment_churn(churn, subject="accounts")[0])
    b2c churns 9.6x faster than b2b: 21 % against 2.2 % of paying accounts lost per month
    (pooled over 2 complete months).
    >>> print(segment_churn(churn, lang="zh", subject="accounts")[0])
    b2c 的流失速度是 b2b 的 9.6 倍：每月付费账户流失率 21% 对 2.2%（按 2 个完整月合计）。
    """
    lang = _lang(lang)
    zh = lang == "zh"
    if subject not in ("users", "accounts"):
        raise ValueError(f"subject must be 'users' or 'accounts', not {subject!r}")
    noun = ({"users": "活跃用户", "accounts": "付费账户"} if zh else
            {"users": "active users", "accounts": "paying accounts"})[subject]
    frame = _complete(churn)
    if by not in frame.columns or frame.empty:
        return []
    pooled = _pooled(frame, by, "churned", "active_start").sort_values("rate", ascending=False)
    if len(pooled) < 2:
        return []
    hi, lo = pooled.iloc[0], pooled.iloc[-1]
    hi_name, lo_name = str(pooled.index[0]), str(pooled.index[-1])
    n = int(frame["period"].nunique())
    unit = _unit(period, lang)
    span = (f"按 {n} 个完整{unit}合计" if zh else f"pooled over {n} complete {_unit(period, lang, n)}")
    rates = f"{fmt_pct(hi['rate'], lang)}{' 对 ' if zh else ' against '}{fmt_pct(lo['rate'], lang)}"
    if lo["rate"] == 0:
        said = (f"{hi_name} 每{unit}流失 {fmt_pct(hi['rate'], lang)} 的{noun}，{lo_name} 没有流失（{span}）。"
                if zh else f"{hi_name} loses {fmt_pct(hi['rate'], lang)} of its {noun} per {unit}; "
                f"{lo_name} lost none ({span}).")
        return [Sentence(said, "warning")]
    ratio = float(hi["rate"] / lo["rate"])
    if ratio < 1.1:
        said = (f"{hi_name} 与 {lo_name} 的流失速度相近：每{unit}{noun}流失率 {rates}（{span}）。" if zh else
                f"{hi_name} and {lo_name} churn at about the same pace: {rates} of {noun} lost per "
                f"{unit} ({span}).")
        return [Sentence(said)]
    said = (f"{hi_name} 的流失速度是 {lo_name} 的 {fmt_ratio(ratio, lang)}：每{unit}{noun}流失率 {rates}"
            f"（{span}）。" if zh else f"{hi_name} churns {fmt_ratio(ratio, lang)} faster than {lo_name}: "
            f"{rates} of {noun} lost per {unit} ({span}).")
    return [Sentence(said, "warning" if ratio >= 2 else "info")]


def curve_gap(curve: pd.DataFrame, *, by: str, lang: str = "en", period: str = "week",
              at: int | None = None) -> list[Sentence]:
    """How far apart the groups' retention curves are at one period.

    ``at`` defaults to the last period that every group reaches. With two
    groups the sentence compares them (and says whether their intervals
    overlap); with more it names the best and the worst.

    Examples
    --------
    >>> import pandas as pd
    >>> curve = pd.DataFrame({"segment": ["b2b", "b2c"], "period": [4, 4], "rate": [0.42, 0.30],
    ...                       "ci_low": [0.39, 0.28], "ci_high": [0.45, 0.32]})
    >>> print(curve_gap(curve, by="segment")[0])
    At week 4, b2b retains 42 % and b2c 30 %, 12 points apart (the 95 % intervals do not overlap).
    >>> print(curve_gap(curve, by="segment", lang="zh")[0])
    第 4 周时，b2b 的留存率为 42%，b2c 为 30%，相差 12 个百分点（95% 置信区间不重叠）。
    """
    lang = _lang(lang)
    zh = lang == "zh"
    frame = curve.dropna(subset=["rate"])
    if by not in frame.columns or frame[by].nunique() < 2:
        return []
    if at is None:
        at = int(frame.groupby(by)["period"].max().min())
    rows = frame[frame["period"] == at].sort_values("rate", ascending=False)
    if len(rows) < 2:
        return []
    when = _nth(period, at, lang)
    hi, lo = rows.iloc[0], rows.iloc[-1]
    gap = fmt_points(hi["rate"] - lo["rate"], lang)
    if len(rows) == 2:
        overlap = _overlap(hi, lo)
        note = "" if overlap is None else (
            ("（95% 置信区间重叠，差异可能只是随机波动）" if overlap else "（95% 置信区间不重叠）") if zh else
            (" (the 95 % intervals overlap, so this may be noise)" if overlap else
             " (the 95 % intervals do not overlap)"))
        said = (f"{when}时，{hi[by]} 的留存率为 {fmt_pct(hi['rate'], lang)}，{lo[by]} 为 "
                f"{fmt_pct(lo['rate'], lang)}，相差 {gap}{note}。" if zh else
                f"At {when}, {hi[by]} retains {fmt_pct(hi['rate'], lang)} and {lo[by]} "
                f"{fmt_pct(lo['rate'], lang)}, {gap} apart{note}.")
        return [Sentence(said)]
    said = (f"{when}时，留存率最高的是 {hi[by]}（{fmt_pct(hi['rate'], lang)}），最低的是 {lo[by]}"
            f"（{fmt_pct(lo['rate'], lang)}），相差 {gap}。" if zh else
            f"At {when}, retention ranges from {fmt_pct(lo['rate'], lang)} ({lo[by]}) to "
            f"{fmt_pct(hi['rate'], lang)} ({hi[by]}), {gap} apart.")
    return [Sentence(said)]


def new_vs_returning(frame: pd.DataFrame, *, lang: str = "en", days: int = 30,
                     period: str = "month") -> list[Sentence]:
    """The retention gap between new and returning users (a :func:`opskit.retention.new_vs_returning` frame).

    Rates are pooled over the complete periods (retained summed over users
    summed); the sentence also counts the periods in which new users trailed.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({
    ...     "period": pd.to_datetime(["2025-01-01"] * 2 + ["2025-02-01"] * 2),
    ...     "group": ["new", "returning"] * 2, "users": [100, 300, 100, 300],
    ...     "retained": [47, 213, 49, 215], "rate": [0.47, 0.71, 0.49, 0.7167],
    ...     "ci_low": [0.37, 0.66, 0.39, 0.66], "ci_high": [0.57, 0.76, 0.59, 0.76]})
    >>> print(new_vs_returning(frame)[0])
    New users retain worse than returning users: 48 % of new against 71 % of returning users
    were active in the 30 days after their month (pooled over 2 months); new users trailed in 2 of 2 months.
    >>> print(new_vs_returning(frame, lang="zh")[0])
    新用户的留存低于老用户：当月之后 30 天内仍活跃的比例，新用户为 48%，老用户为 71%...
    """
    lang = _lang(lang)
    zh = lang == "zh"
    frame = _complete(frame.dropna(subset=["rate"]))
    frame = frame[frame["users"] > 0]
    pooled = _pooled(frame, "group", "retained", "users")
    if not {"new", "returning"} <= set(pooled.index):
        return []
    new, old = pooled.loc["new", "rate"], pooled.loc["returning", "rate"]
    wide = frame.pivot_table(index="period", columns="group", values="rate").dropna()
    n, behind = len(wide), int((wide["new"] < wide["returning"]).sum())
    unit, units = _unit(period, lang), _unit(period, lang, n)
    if zh:
        zh_unit = {"month": "个月", "week": "周", "day": "天"}.get(period, "个周期")
        verdict = "低于" if new < old else "不低于"
        said = (f"新用户的留存{verdict}老用户：当{unit}之后 {days} 天内仍活跃的比例，"
                f"新用户为 {fmt_pct(new, lang)}，老用户为 {fmt_pct(old, lang)}（按 {n} {zh_unit}合计）；"
                f"{n} {zh_unit}中有 {behind} {zh_unit}新用户落后。")
    else:
        verdict = "worse than" if new < old else "as well as or better than"
        said = (f"New users retain {verdict} returning users: {fmt_pct(new, lang)} of new against "
                f"{fmt_pct(old, lang)} of returning users were active in the {days} days after their "
                f"{unit} (pooled over {n} {units}); new users trailed in {behind} of {n} {units}.")
    return [Sentence(said, "warning" if new < old - 0.05 else "info")]


_CHURN_COLUMNS = {"period", "active_start", "churned", "churn_rate", "complete", "baseline", "z_score",
                  "alert", "rule"}
_RULE = re.compile(r"churn rate >= (?P<ratio>[\d.]+) x the median of the previous (?P<window>\d+) complete "
                   r"periods, and z >= (?P<z>[\d.]+) \(binomial, one-sided\)")


def rule_text(rule: str, lang: str = "en") -> str:
    """The alert rule of :func:`opskit.retention.churn_alerts` in ``lang``.

    The rule is worded from the numbers in the frame's own ``rule`` text, so
    the two never disagree; a rule this function does not recognise is
    returned as it is.

    Examples
    --------
    >>> rule = ("churn rate >= 1.3 x the median of the previous 8 complete periods, "
    ...         "and z >= 3 (binomial, one-sided)")
    >>> rule_text(rule, "zh")
    '流失率不低于前 8 个完整周期中位数的 1.3 倍，且单侧二项检验 z 值不低于 3'
    >>> rule_text(rule, "en") == rule
    True
    """
    match = _RULE.fullmatch(str(rule).strip())
    if _lang(lang) == "en" or not match:
        return str(rule)
    return (f"流失率不低于前 {match['window']} 个完整周期中位数的 {match['ratio']} 倍，"
            f"且单侧二项检验 z 值不低于 {match['z']}")


def churn_alerts(frame: pd.DataFrame, *, lang: str = "en", period: str = "week", rule: str | None = None,
                 limit: int = 3) -> list[Sentence]:
    """One sentence per alert of a :func:`opskit.retention.churn_alerts` frame.

    At most ``limit`` alerts are worded, the strongest (highest ``z_score``)
    first chosen and then listed in time order; a last sentence counts the rest.

    The frame's ``rule`` is worded in ``lang`` by :func:`rule_text`; ``rule``
    replaces it. Without alerts the sentence says that churn stayed normal.
    Columns beyond the churn_alerts ones are taken as ``by`` groups and named.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"period": pd.to_datetime(["2025-06-30", "2025-07-07"]),
    ...     "active_start": [570, 574], "churned": [28, 45], "churn_rate": [0.049, 0.078],
    ...     "complete": True, "baseline": [0.05, 0.049], "alert": [False, True],
    ...     "rule": "churn >= 1.3x the median of the previous 8 complete weeks"})
    >>> print(churn_alerts(frame)[0])
    Churn in the week of 2025-07-07 was 7.8 %, above the normal 4.9 %
    (rule: churn >= 1.3x the median of the previous 8 complete weeks).
    >>> print(churn_alerts(frame, lang="zh", rule="流失率不低于前 8 周中位数的 1.3 倍")[0])
    2025-07-07 当周的流失率为 7.8%，高于正常水平 4.9%（规则：流失率不低于前 8 周中位数的 1.3 倍）。
    """
    lang = _lang(lang)
    zh = lang == "zh"
    groups = [c for c in frame.columns if c not in _CHURN_COLUMNS]
    flagged = frame[frame["alert"].fillna(False).astype(bool)]
    rules = frame["rule"].dropna() if "rule" in frame.columns else pd.Series(dtype=str)
    rule_words = rule or (rule_text(rules.iloc[0], lang) if len(rules) else "")
    if flagged.empty:
        said = (f"没有任何{_unit(period, lang)}的流失率异常" if zh else
                f"No {_unit(period, lang)}'s churn was abnormal")
        if rule_words:
            said += f"（规则：{rule_words}）。" if zh else f" (rule: {rule_words})."
        else:
            said += "。" if zh else "."
        return [Sentence(said, "good")]
    out = []
    strength = "z_score" if "z_score" in flagged.columns else "churn_rate"
    shown = flagged.sort_values(strength, ascending=False).head(limit).sort_values("period")
    for _, row in shown.iterrows():
        who = " ".join(str(row[g]) for g in groups)
        when = fmt_period(row["period"], period, lang)
        first = not out  # the rule is stated once, on the first alert
        rule_part = ((f"（规则：{rule_words}）" if zh else f" (rule: {rule_words})")
                     if rule_words and first else "")
        if zh:
            said = (f"{when}{(' ' + who + ' ') if who else ''}的流失率为 {fmt_pct(row['churn_rate'], lang)}，"
                    f"高于正常水平 {fmt_pct(row['baseline'], lang)}{rule_part}。")
        else:
            said = (f"{f'In {when}, {who} churn' if who else f'Churn in {when}'} was "
                    f"{fmt_pct(row['churn_rate'], lang)}, above the normal "
                    f"{fmt_pct(row['baseline'], lang)}{rule_part}.")
        out.append(Sentence(said, "warning"))
    if len(flagged) > limit:
        more = len(flagged) - limit
        out.append(Sentence(f"另有 {more} 个{_unit(period, lang)}的流失率也被标记为异常。" if zh else
                            f"{more} more {_unit(period, lang, more)} were flagged too.", "warning"))
    return out


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


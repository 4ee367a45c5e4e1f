"""B2B-versus-B2C findings: how the two businesses differ and what each should do next."""

from __future__ import annotations

import pandas as pd

from opskit.narrative._core import (
    Sentence,
    _lang,
    _missing,
    escape_markdown,
    fmt_count,
    fmt_money,
    fmt_pct,
    fmt_points,
    register_texts,
)

__all__ = ["business_findings", "comparison_table", "metric_name"]

_METRIC_NAMES = {
    "en": {"new_users": "New users", "acquisition_cost": "Acquisition cost per new user",
           "activation_rate": "Activation rate", "d30_retention": "D30 retention",
           "payer_conversion": "Paid within 30 days", "monthly_churn": "Monthly churn (paying)",
           "arpu": "ARPU (per active user, month)", "arpa": "ARPA (MRR per account)",
           "nrr": "NRR (12 months)", "grr": "GRR (12 months)", "ltv": "LTV",
           "ltv_to_cac": "LTV / CAC", "tickets_per_100_users": "Tickets per 100 active users",
           "csat": "CSAT (rated 4–5)", "first_response_hours": "First response (median hours)"},
    "zh": {"new_users": "新增用户", "acquisition_cost": "单个新用户获客成本",
           "activation_rate": "激活率", "d30_retention": "30 日留存率",
           "payer_conversion": "30 日内付费率", "monthly_churn": "月流失率（付费）",
           "arpu": "ARPU（每活跃用户每月）", "arpa": "ARPA（每账户 MRR）",
           "nrr": "净收入留存 NRR（12 个月）", "grr": "总收入留存 GRR（12 个月）", "ltv": "客户终身价值 LTV",
           "ltv_to_cac": "LTV / CAC", "tickets_per_100_users": "每百名活跃用户工单数",
           "csat": "满意度（4–5 分占比）", "first_response_hours": "首次响应时长（中位数，小时）"},
}

register_texts({
    "en": {
        "b2b.title": "B2B versus B2C review",
        "b2b.subtitle": "{first} and {second} side by side, {start} to {end}.",
        "b2b.side_by_side": "The two businesses in one table",
        "b2b.side_by_side_intro": "Each headline metric for both segments. Rates are compared with a "
                                  "two-sided two-proportion z-test; \"significant\" means p < 0.05.",
        "b2b.bridge": "MRR bridge: {segment}",
        "b2b.bridge_intro": "How monthly recurring revenue moved from the start to the end of the "
                            "period: new accounts, expansion and reactivation add; contraction and "
                            "churn take away.",
        "b2b.funnel": "AARRR funnel: {segment}",
        "b2b.funnel_intro": "New users of the period through acquisition, activation (the key "
                            "action within 7 days), retention (active 30–59 days after signing "
                            "up), revenue (paid within 30 days) and referral (invited someone "
                            "within 30 days).",
        "b2b.retention": "Retention of both",
        "b2b.retention_intro": "Weekly cohort retention curves by segment (complete cells, "
                               "cohort-size-weighted, 95 % bands).",
        "b2b.churn": "Churn, NRR and GRR",
        "b2b.churn_intro": "Monthly churn of paying accounts by segment, and the revenue retention "
                           "of the accounts paying twelve months before the end.",
        "b2b.pipeline": "Pipeline and sales cycle",
        "b2b.pipeline_intro": "Opportunities by the furthest stage they reached, win rate, and the "
                              "days from opportunity to won deal by company size.",
        "b2b.promotion": "Promotion cannibalisation",
        "b2b.promotion_intro": "Buyers of the promotion from {start} to {end} who were already "
                               "paying when it began, and the discount they received.",
        "b2b.next": "What each side should do next",
    },
    "zh": {
        "b2b.title": "B 端与 C 端经营对比",
        "b2b.subtitle": "{first} 与 {second} 对比，{start} 至 {end}。",
        "b2b.side_by_side": "两类业务一表对比",
        "b2b.side_by_side_intro": "两个分群的核心指标。比率类指标用双侧两比例 z 检验比较，"
                                  "“显著”表示 p < 0.05。",
        "b2b.bridge": "MRR 变动桥：{segment}",
        "b2b.bridge_intro": "期初到期末月经常性收入的变动："
                            "新增账户、扩张、回流带来增长，收缩与流失带来减少。",
        "b2b.funnel": "AARRR 漏斗：{segment}",
        "b2b.funnel_intro": "本期新用户依次经过获客、激活（7 天内完成关键行为）、"
                            "留存（注册后第 30–59 天仍活跃）、"
                            "变现（30 天内付费）与推荐（30 天内邀请他人）。",
        "b2b.retention": "两类用户的留存",
        "b2b.retention_intro": "按分群的周同期群留存曲线"
                               "（只取完整单元格，按同期群人数加权，阴影为 95% 置信区间）。",
        "b2b.churn": "流失、NRR 与 GRR",
        "b2b.churn_intro": "各分群付费账户的月流失率，以及十二个月前在付费的账户的收入留存。",
        "b2b.pipeline": "销售管道与成交周期",
        "b2b.pipeline_intro": "商机到达的最远阶段、赢单率，以及不同公司规模从商机到赢单的天数。",
        "b2b.promotion": "促销的自我蚕食",
        "b2b.promotion_intro": "{start} 至 {end} 促销期间的购买者中，"
                               "活动开始时已在付费的比例，以及给他们的折扣。",
        "b2b.next": "两类业务下一步该做什么",
    },
})


def metric_name(key: str, lang: str = "en") -> str:
    """A :func:`opskit.compare.segments` metric's name in words."""
    return _METRIC_NAMES[_lang(lang)].get(key, key)


_HEAD = {"en": ("Metric", "Difference", "p-value", "Significant", "yes", "no"),
         "zh": ("指标", "差异", "p 值", "是否显著", "是", "否")}


def _cell(value: float, unit: str, lang: str, currency: str) -> str:
    if _missing(value):
        return "–"
    if unit in ("rate", "share"):
        return fmt_pct(value, lang)
    if unit == "money":
        return fmt_money(value, currency)
    if unit == "count":
        return fmt_count(round(value))
    return f"{value:,.1f}"


def _signed_points(d: float, lang: str) -> str:
    if _missing(d):
        return "–"
    return ("+" if d > 0 else "-" if d < 0 else "") + fmt_points(abs(d), lang)


def comparison_table(comparison: pd.DataFrame, /, *, lang: str = "en", currency: str = "CNY") -> str:
    r""":func:`opskit.compare.segments` as an escaped Markdown table, each row in its unit.

    Rates and retention ratios as percents, money with its currency; the
    difference of two rates in percentage points; ``p-value`` and
    ``significant`` for the rates that were tested.

    Examples
    --------
    >>> table = pd.DataFrame({"metric": ["monthly_churn", "arpa"], "unit": ["rate", "money"],
    ...     "b2b": [0.022, 310.7], "b2c": [0.212, 48.4], "difference": [-0.19, 262.3],
    ...     "p_value": [1e-9, float("nan")], "test": ["two-proportion z-test", ""],
    ...     "significant": [True, False]})
    >>> table.attrs["groups"] = ["b2b", "b2c"]
    >>> print(comparison_table(table))
    | Metric | b2b | b2c | Difference | p\-value | Significant |
    | :-- | --: | --: | --: | --: | --: |
    | Monthly churn \(paying\) | 2\.2 % | 21 % | \-19 points | &lt;0\.001 | yes |
    | ARPA \(MRR per account\) | ¥311 | ¥48\.40 | ¥262 | – | – |
    """
    lang = _lang(lang)
    first, second = comparison.attrs.get("groups") or [
        c for c in comparison.columns if c not in {"metric", "unit"}][:2]
    metric, diff, pv, sig, yes, no = _HEAD[lang]
    head = [metric, str(first), str(second), diff, pv, sig]
    lines = ["| " + " | ".join(escape_markdown(h) for h in head) + " |",
             "| :-- | --: | --: | --: | --: | --: |"]
    for _, row in comparison.iterrows():
        unit = row["unit"]
        if unit in ("rate", "share"):
            difference = _signed_points(row["difference"], lang)
        else:
            difference = _cell(row["difference"], unit, lang, currency)
        tested = bool(row.get("test"))
        p = row.get("p_value")
        p_text = ("<0.001" if p < 0.001 else f"{p:.3f}") if tested and not _missing(p) else "–"
        cells = [metric_name(row["metric"], lang), _cell(row[first], unit, lang, currency),
                 _cell(row[second], unit, lang, currency), difference, p_text,
                 (yes if row["significant"] else no) if tested else "–"]
        lines.append("| " + " | ".join(escape_markdown(c) for c in cells) + " |")
    return "\n".join(lines)


def _row(table: pd.DataFrame, key: str) -> pd.Series | None:
    hit = table[table["metric"] == key]
    return None if hit.empty else hit.iloc[0]


def _churn(table: pd.DataFrame, a: str, b: str, lang: str) -> list[Sentence]:
    row = _row(table, "monthly_churn")
    if row is None or _missing(row[a]) or _missing(row[b]) or not min(row[a], row[b]) > 0:
        return []
    fast, slow = (b, a) if row[b] > row[a] else (a, b)
    times = row[fast] / row[slow]
    sig = "" if row["significant"] else (" (not significant)" if lang == "en" else "（差异不显著）")
    if lang == "zh":
        return [Sentence(f"{fast} 的付费账户月流失率为 {fmt_pct(row[fast], lang)}，是 {slow}"
                         f"（{fmt_pct(row[slow], lang)}）的 {times:.1f} 倍{sig}："
                         f"{fast} 的增长取决于留住用户，"
                         f"应把力气放在激活与前 30 天的体验上；{slow} 的重点是续约与扩张。",
                         "warning")]
    return [Sentence(f"{fast} loses {fmt_pct(row[fast], lang)} of its paying accounts a month, "
                     f"{times:.1f}x the rate of {slow} ({fmt_pct(row[slow], lang)}){sig}: {fast} grows "
                     f"only if it keeps users, so activation and the first 30 days come first; for "
                     f"{slow} the levers are renewals and expansion.", "warning")]


def _nrr(table: pd.DataFrame, a: str, lang: str) -> list[Sentence]:
    row = _row(table, "nrr")
    if row is None or _missing(row[a]):
        return []
    grr = _row(table, "grr")
    g = "" if grr is None or _missing(grr[a]) else (
        f" (GRR {fmt_pct(grr[a], lang)})" if lang == "en" else f"（GRR {fmt_pct(grr[a], lang)}）")
    good = row[a] >= 1
    if lang == "zh":
        verdict = "扩张收入超过了流失与收缩" if good else "扩张收入不足以弥补流失与收缩，需要加强续约和增购"
        return [Sentence(f"{a} 的 12 个月净收入留存为 {fmt_pct(row[a], lang)}{g}：{verdict}。",
                         "good" if good else "warning")]
    verdict = ("expansion outweighs churn and contraction" if good else
               "expansion does not make up for churn and contraction; renewals and upsell need work")
    return [Sentence(f"{a}'s 12-month net revenue retention is {fmt_pct(row[a], lang)}{g}: {verdict}.",
                     "good" if good else "warning")]


def _ltv_cac(table: pd.DataFrame, groups: list[str], lang: str) -> list[Sentence]:
    row = _row(table, "ltv_to_cac")
    out = []
    for g in groups if row is not None else []:
        v = row[g]
        if _missing(v) or v >= 3:
            continue
        if lang == "zh":
            out.append(Sentence(f"{g} 的 LTV/CAC 只有 {v:.1f}（健康水平通常在 3 以上）："
                                f"获客花费没有被客户价值覆盖，应削减低效渠道或提高付费转化。", "warning"))
        else:
            out.append(Sentence(f"{g}'s LTV/CAC is {v:.1f} (3 or more is usually healthy): customers "
                                f"are not worth what they cost to acquire; cut weak channels or raise "
                                f"paid conversion.", "warning"))
    return out


def _promotion(promo: pd.DataFrame | None, lang: str, currency: str) -> list[Sentence]:
    if promo is None or promo.empty:
        return []
    total = promo.iloc[-1]
    if not total["buyers"]:
        return []
    share, gift = total["share_already_paying"], total["discount_to_already_paying"]
    money = "" if _missing(gift) else fmt_money(gift, currency)
    if lang == "zh":
        tail = f"，让利 {money} 给了本来就会付费的客户" if money else ""
        return [Sentence(f"促销的 {total['buyers']:,} 个购买账户中，"
                         f"{fmt_pct(share, lang)} 在活动开始时已在付费"
                         f"{tail}：下次应只面向新客户或流失客户。", "warning" if share >= .5 else "info")]
    tail = f", handing {money} of discount to customers who were paying anyway" if money else ""
    return [Sentence(f"{fmt_pct(share, lang)} of the promotion's {total['buyers']:,} buying accounts were "
                     f"already paying when it began{tail}: target new or lapsed customers next time.",
                     "warning" if share >= .5 else "info")]


def _funnel(funnel: pd.DataFrame | None, segment: str, lang: str) -> list[Sentence]:
    if funnel is None or funnel.empty or "conversion_from_previous" not in funnel:
        return []
    # a stage nobody reached (no referral event in this segment) is not a drop-off to fix
    steps = funnel.dropna(subset=["conversion_from_previous"])
    steps = steps[steps["users"] > 0]
    if steps.empty:
        return []
    worst = steps.loc[steps["conversion_from_previous"].idxmin()]
    names = {"en": {"activation": "activation", "retention": "retention", "revenue": "revenue",
                    "referral": "referral"},
             "zh": {"activation": "激活", "retention": "留存", "revenue": "变现", "referral": "推荐"}}[lang]
    stage = names.get(worst["stage"], worst["stage"])
    rate = fmt_pct(worst["conversion_from_previous"], lang)
    if lang == "zh":
        return [Sentence(f"{segment} 的 AARRR 漏斗中，到「{stage}」这一步只有 {rate} 的上一阶段用户通过，"
                         f"是最大的流失点。")]
    return [Sentence(f"In {segment}'s AARRR funnel, the weakest step is {stage}: only {rate} of the "
                     f"users of the stage before get through.")]


def _cycle(cycle: pd.DataFrame | None, by: str, lang: str) -> list[Sentence]:
    if cycle is None or cycle.empty or by not in cycle:
        return []
    known = cycle.dropna(subset=["median_days"])
    if len(known) < 2:
        return []
    slow, fast = known.loc[known["median_days"].idxmax()], known.loc[known["median_days"].idxmin()]
    if lang == "zh":
        return [Sentence(f"公司规模 {slow[by]} 的赢单中位周期为 {slow['median_days']:.0f} 天，"
                         f"{fast[by]} 只需 {fast['median_days']:.0f} 天：销售预测与资源应按规模区分。")]
    return [Sentence(f"Deals with {slow[by]} employees take a median {slow['median_days']:.0f} days to "
                     f"win, against {fast['median_days']:.0f} for {fast[by]}: forecast and staff the "
                     f"pipeline by company size.")]


def business_findings(comparison: pd.DataFrame, /, *, promotion: pd.DataFrame | None = None,
                      funnel: pd.DataFrame | None = None, cycle: pd.DataFrame | None = None,
                      cycle_by: str = "company_size", lang: str = "en",
                      currency: str = "CNY") -> list[Sentence]:
    """What the B2B-versus-B2C review says, and what each side should do next.

    Reads :func:`opskit.compare.segments` (``attrs["groups"]``: B2B-like
    first, B2C-like second), optionally :func:`opskit.compare.cannibalisation`,
    the B2C side's :func:`opskit.consumer.aarrr` and
    :func:`opskit.saas.sales_cycle` by ``cycle_by``.

    Examples
    --------
    >>> table = pd.DataFrame({"metric": ["monthly_churn"], "unit": ["rate"], "b2b": [0.022],
    ...                       "b2c": [0.212], "significant": [True]})
    >>> table.attrs["groups"] = ["b2b", "b2c"]
    >>> print(business_findings(table)[0])  # doctest: +NORMALIZE_WHITESPACE
    b2c loses 21 % of its paying accounts a month, 9.6x the rate of b2b (2.2 %): b2c grows only
    if it keeps users, so activation and the first 30 days come first; for b2b the levers are
    renewals and expansion.
    """
    lang = _lang(lang)
    first, second = comparison.attrs.get("groups") or [c for c in comparison.columns
                                                      if c not in {"metric", "unit"}][:2]
    return [*_churn(comparison, first, second, lang), *_nrr(comparison, first, lang),
            *_ltv_cac(comparison, [first, second], lang), *_funnel(funnel, second, lang),
            *_cycle(cycle, cycle_by, lang), *_promotion(promotion, lang, currency)]

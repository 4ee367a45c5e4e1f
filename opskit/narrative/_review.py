"""The operations review's texts, its key-number table and its rule-based next steps."""

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

__all__ = ["key_number_table", "next_steps"]

register_texts({
    "en": {
        "review.title": "Operations review",
        "review.subtitle": "{label}: {start} to {end}, against {ref_start} to {ref_end}.",
        "review.goals": "1. Goals against actuals",
        "review.goals_intro": "Each target of the period with its actual, attainment (actual / target) "
                              "and the gap. A period still in progress is judged on its pace.",
        "review.numbers": "2. Key numbers",
        "review.numbers_intro": "Growth, activity, retention, revenue and service in the period, "
                                "against the reference period.",
        "review.channels": "3. Channel performance",
        "review.channels_intro": "Traffic, cost and paid conversions per channel in the period "
                                 "(last-touch attribution of paid conversions).",
        "review.problems": "4. Problems",
        "review.problems_intro": "Points of the weekly series that fall outside their normal range "
                                 "(modified z-score against the trailing median), and the weakest "
                                 "stage of the funnel against its own history and targets.",
        "review.next": "5. Next steps",
        "review.next_intro": "Suggested by fixed rules from the numbers above (each names the "
                             "number that triggered it); a starting point for the team, not a verdict.",
        "review.no_goals": "The dataset has no targets for this period.",
        "review.no_anomalies": "No point of the weekly series left its normal range.",
    },
    "zh": {
        "review.title": "运营复盘报告",
        "review.subtitle": "{label}：{start} 至 {end}，对比 {ref_start} 至 {ref_end}。",
        "review.goals": "一、目标完成情况",
        "review.goals_intro": "本期每项目标的实际值、完成率（实际 / 目标）与差额；尚未结束的周期按进度判断。",
        "review.numbers": "二、核心数据",
        "review.numbers_intro": "本期的增长、活跃、留存、收入与服务数据，并与对比期比较。",
        "review.channels": "三、渠道表现",
        "review.channels_intro": "本期各渠道的流量、花费与付费转化（付费转化按末次触达归因）。",
        "review.problems": "四、存在的问题",
        "review.problems_intro": "周度指标中超出正常范围的点（相对滚动中位数的修正 z 分数），"
                                 "以及相对自身历史与目标最薄弱的漏斗环节。",
        "review.next": "五、下一步建议",
        "review.next_intro": "由固定规则根据以上数据给出（每条都注明触发它的数字），供团队讨论，不是结论。",
        "review.no_goals": "数据中没有本期的目标。",
        "review.no_anomalies": "周度指标都在正常范围内。",
    },
})

_NAMES = {
    "en": {"new_users": "New users", "activation_rate": "Activation rate (7 days)",
           "dau": "Daily active users (mean)", "mau": "Monthly active users (mean)",
           "stickiness": "Stickiness (DAU / MAU)", "d30_retention": "D30 retention",
           "new_retention": "30-day retention, new users", "returning_retention":
           "30-day retention, returning users", "paying_accounts": "Paying accounts (end)",
           "mrr": "MRR (end)", "revenue": "Revenue", "arppu": "ARPPU (month)",
           "churn": "Monthly churn (paying)", "tickets": "Support tickets",
           "first_response_h": "First response (median hours)", "csat": "CSAT (rated 4–5)"},
    "zh": {"new_users": "新增用户", "activation_rate": "7 日激活率", "dau": "日活跃用户（均值）",
           "mau": "月活跃用户（均值）", "stickiness": "粘性（DAU / MAU）", "d30_retention": "30 日留存率",
           "new_retention": "新用户 30 天留存", "returning_retention": "老用户 30 天留存",
           "paying_accounts": "付费账户（期末）", "mrr": "MRR（期末）", "revenue": "收入",
           "arppu": "ARPPU（每月）", "churn": "月流失率（付费）", "tickets": "客服工单数",
           "first_response_h": "首次响应（中位数，小时）", "csat": "满意度（4–5 分占比）"},
}
_HEAD = {"en": ("Metric", "This period", "Reference", "Change"),
         "zh": ("指标", "本期", "对比期", "变化")}


def _value(x: float, unit: str, lang: str, currency: str) -> str:
    if _missing(x):
        return "–"
    if unit == "rate":
        return fmt_pct(x, lang)
    if unit == "money":
        return fmt_money(x, currency)
    if unit == "count":
        return fmt_count(round(x))
    return f"{x:,.2f}" if abs(x) < 10 else f"{x:,.1f}"


def key_number_table(numbers: pd.DataFrame, /, *, lang: str = "en", currency: str = "CNY") -> str:
    """:func:`opskit.review.key_numbers` as an escaped Markdown table (rates change in points).

    Examples
    --------
    >>> numbers = pd.DataFrame({"metric": ["new_users", "churn"], "unit": ["count", "rate"],
    ...                         "current": [1200, 0.08], "reference": [1000, 0.05]})
    >>> print(key_number_table(numbers))
    | Metric | This period | Reference | Change |
    | :-- | --: | --: | --: |
    | New users | 1,200 | 1,000 | \\+20 % |
    | Monthly churn \\(paying\\) | 8\\.0 % | 5\\.0 % | \\+3 points |
    """
    lang = _lang(lang)
    head = _HEAD[lang]
    lines = ["| " + " | ".join(escape_markdown(h) for h in head) + " |", "| :-- | --: | --: | --: |"]
    for _, row in numbers.iterrows():
        cur, ref, unit = row["current"], row["reference"], row["unit"]
        if _missing(cur) or _missing(ref):
            change = "–"
        elif unit == "rate":
            d = cur - ref
            change = ("+" if d > 0 else "-" if d < 0 else "") + fmt_points(abs(d), lang)
        else:
            rel = (cur - ref) / ref if ref else float("nan")
            change = "–" if _missing(rel) else ("+" if rel > 0 else "-" if rel < 0 else "") + \
                fmt_pct(abs(rel), lang)
        cells = [_NAMES[lang].get(row["metric"], row["metric"]), _value(cur, unit, lang, currency),
                 _value(ref, unit, lang, currency), change]
        lines.append("| " + " | ".join(escape_markdown(c) for c in cells) + " |")
    return "\n".join(lines)


_STEPS = {
    "en": {
        "weakest": "{stage} is the weakest stage: put the next sprint on {what} (rule: the weakest "
                   "stage comes first).",
        "anomaly": "{series} left its normal range in the week of {when}: run a post-mortem of that "
                   "week (releases, campaigns, incidents) (rule: every flagged point gets a post-mortem).",
        "goals": "{n} goal(s) missed: re-plan the target or the resources behind it (rule: a missed "
                 "goal is re-planned).",
        "channel": "{channel} converts best but costs the most per conversion: test lower bids and "
                   "budget to see whether conversions hold (rule: a channel that converts best at the "
                   "highest cost gets a budget test).",
        "new_users": "New users retain worse than returning ones: strengthen the first 30 days "
                     "(onboarding, early nudges) (rule: weak new-user retention puts the first month "
                     "first).",
    },
    "zh": {
        "weakest": "{stage}是最薄弱的环节：下一个迭代优先改进{what}（规则：最薄弱环节优先）。",
        "anomaly": "{when} 当周的「{series}」超出正常范围：复盘那一周发生了什么（版本、活动、事故）"
                   "（规则：异常点需要复盘）。",
        "goals": "{n} 项目标未完成：重新评估目标或调整资源（规则：未完成目标需要重新规划）。",
        "channel": "「{channel}」转化最好但单次转化成本最高：做出价与预算测试，看降低花费后转化是否保持"
                   "（规则：高转化高成本渠道先做预算测试）。",
        "new_users": "新用户留存低于老用户：加强新用户前 30 天的引导与触达"
                     "（规则：新用户留存偏低时优先做新手期）。",
    },
}
_STAGES = {
    "en": {"acquisition": ("Acquisition", "channels and campaigns that bring new users"),
           "activation": ("Activation", "onboarding and the first key action"),
           "retention": ("Retention", "the reasons users stop coming back"),
           "revenue": ("Revenue", "pricing, trials and the paywall")},
    "zh": {"acquisition": ("获客", "拉新渠道与活动"), "activation": ("激活", "新手引导与首个关键行为"),
           "retention": ("留存", "用户流失的原因"), "revenue": ("变现", "定价、试用与付费转化")},
}


def next_steps(*, weakest: str | None = None, anomalies: pd.DataFrame | None = None,
               missed_goals: int = 0, costliest_channel: str | None = None,
               best_converting_channel: str | None = None, new_retain_worse: bool = False,
               lang: str = "en") -> list[Sentence]:
    """Rule-based next steps, each naming the finding that triggered it.

    The rules: the weakest funnel stage gets the first step; each flagged
    point of a weekly series (``anomalies``: ``period`` and ``series``
    columns, at most three) asks for a post-mortem of that week; missed goals
    ask for a re-plan; a channel that converts best but costs the most asks
    for a bid/budget test; new users retaining worse than returning ones ask
    for onboarding work.

    Examples
    --------
    >>> print(next_steps(weakest="activation", lang="zh")[0])
    激活是最薄弱的环节：下一个迭代优先改进新手引导与首个关键行为（规则：最薄弱环节优先）。
    """
    lang = _lang(lang)
    words = _STEPS[lang]
    out: list[Sentence] = []
    if weakest in _STAGES[lang]:
        stage, what = _STAGES[lang][weakest]
        out.append(Sentence(words["weakest"].format(stage=stage, what=what), "warning"))
    if anomalies is not None and len(anomalies):
        for _, row in anomalies.head(3).iterrows():
            series = _SERIES[lang].get(row.get("metric"), row.get("series", ""))
            if row.get("group"):
                series = f"{row['group']} 的{series}" if lang == "zh" else f"{series} of {row['group']}"
            out.append(Sentence(words["anomaly"].format(
                when=f"{pd.Timestamp(row['period']):%Y-%m-%d}", series=series[:1].upper() + series[1:]),
                "warning"))
    if missed_goals:
        out.append(Sentence(words["goals"].format(n=missed_goals), "warning"))
    if costliest_channel and costliest_channel == best_converting_channel:
        out.append(Sentence(words["channel"].format(channel=costliest_channel)))
    if new_retain_worse:
        out.append(Sentence(words["new_users"]))
    return out


_SERIES = {"en": {"churn_rate": "paying-account churn", "tickets": "the support ticket count",
                  "active_users": "the daily active user count"},
           "zh": {"churn_rate": "付费账户流失率", "tickets": "客服工单数", "active_users": "日活跃用户"}}


def review_findings(*, anomalies: pd.DataFrame | None = None, channels: pd.DataFrame | None = None,
                    numbers: pd.DataFrame | None = None, diagnosis: pd.DataFrame | None = None,
                    lang: str = "en", currency: str = "CNY") -> list[Sentence]:
    """The review's findings in words: abnormal weeks, the channel that converts best and costs
    the most, new against returning users' retention, and the weakest funnel stage.

    Reads :func:`opskit.review.weekly_anomalies`, :func:`opskit.channels.acquisition`,
    :func:`opskit.review.key_numbers` and :func:`opskit.diagnose`.

    Examples
    --------
    >>> flagged = pd.DataFrame({"metric": ["churn_rate"], "group": ["b2c"],
    ...     "period": [pd.Timestamp("2025-07-07")], "value": [0.078], "expected_high": [0.071]})
    >>> print(review_findings(anomalies=flagged)[0])
    In the week of 2025-07-07, paying-account churn of b2c was 7.8 %, above its normal range (up to 7.1 %).
    """
    lang = _lang(lang)
    zh = lang == "zh"
    out: list[Sentence] = []
    for _, row in (anomalies if anomalies is not None else pd.DataFrame()).head(3).iterrows():
        what = _SERIES[lang].get(row["metric"], row["metric"])
        who = f"{row['group']} 的" if zh and row["group"] else (f" of {row['group']}" if row["group"] else "")
        fmt = (lambda x: fmt_pct(x, lang)) if row["metric"] == "churn_rate" else (
            lambda x: fmt_count(round(x)))
        when = f"{pd.Timestamp(row['period']):%Y-%m-%d}"
        below = row.get("expected_low")
        up = row["value"] > row.get("expected_high", float("inf"))
        bound = fmt(row["expected_high"] if up else below)
        if zh:
            side = f"高于正常范围（上限 {bound}）" if up else f"低于正常范围（下限 {bound}）"
            out.append(Sentence(f"{when} 当周，{who}{what}为 {fmt(row['value'])}，{side}。", "warning"))
        else:
            side = (f"above its normal range (up to {bound})" if up
                    else f"below its normal range (down to {bound})")
            out.append(Sentence(f"In the week of {when}, {what}{who} was {fmt(row['value'])}, {side}.",
                                "warning"))
    if channels is not None and len(channels) and channels["cost_per_conversion"].notna().any():
        best = channels.loc[channels["conversion_rate"].idxmax()]
        dear = channels.loc[channels["cost_per_conversion"].idxmax()]
        rate, cost = fmt_pct(best["conversion_rate"], lang), fmt_money(dear["cost_per_conversion"], currency)
        if best["channel"] == dear["channel"]:
            out.append(Sentence(
                f"「{best['channel']}」的新用户转化率最高（{rate}），"
                f"但单个转化成本也最高（{cost}）。" if zh else
                f"{best['channel']} converts best ({rate} of its new users converted) and costs the most "
                f"per conversion ({cost})."))
        else:
            out.append(Sentence(
                f"「{best['channel']}」的新用户转化率最高（{rate}）；"
                f"「{dear['channel']}」单个转化成本最高（{cost}）。"
                if zh else f"{best['channel']} converts best ({rate} of its new users converted); "
                f"{dear['channel']} costs the most per conversion ({cost})."))
    if numbers is not None:
        rates = numbers.set_index("metric")["current"]
        if {"new_retention", "returning_retention"} <= set(rates.index):
            new, old = rates["new_retention"], rates["returning_retention"]
            if new < old:
                out.append(Sentence(
                    f"新用户的留存低于老用户：新用户 30 天内再次活跃的比例为 {fmt_pct(new, lang)}，老用户为 "
                    f"{fmt_pct(old, lang)}。" if zh else
                    f"New users retain worse than returning users: {fmt_pct(new, lang)} of new users were "
                    f"active again within 30 days, against {fmt_pct(old, lang)} of returning users.",
                    "warning"))
    if diagnosis is not None and len(diagnosis) and diagnosis["weakest"].any():
        row = diagnosis[diagnosis["weakest"]].iloc[0]
        names = {"acquisition": "获客", "activation": "激活", "retention": "留存", "revenue": "变现"}
        stage = names.get(row["stage"], row["stage"]) if zh else row["stage"]
        value = fmt_count(row["value"]) if row["metric"] == "new_users" else fmt_pct(row["value"], lang)
        ref, att = row.get("reference"), row.get("attainment")
        shown = [] if _missing(ref) else [
            ("对比期 " if zh else "reference ")
            + (fmt_count(ref) if row["metric"] == "new_users" else fmt_pct(ref, lang))]
        if not _missing(att):
            shown.append(f"目标完成率 {fmt_pct(att, lang)}" if zh else f"{fmt_pct(att, lang)} of target")
        ref_text = (f"（{'，'.join(shown)}）" if zh else f" ({'; '.join(shown)})") if shown else ""
        out.append(Sentence(f"最薄弱的环节是{stage}：{value}{ref_text}。" if zh else
                            f"The weakest stage is {stage}: {value}{ref_text}.", "warning"))
    return out

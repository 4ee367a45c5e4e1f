"""Attribution findings: where the models disagree, what each channel is worth, what it costs."""

from __future__ import annotations

import math

import pandas as pd

from opskit.narrative._core import (
    Sentence,
    _lang,
    fmt_count,
    fmt_money,
    fmt_pct,
    register_texts,
)

__all__ = ["attribution_findings", "model_name"]

_MODEL_NAMES = {
    "en": {"first_touch": "first touch", "last_touch": "last touch",
           "last_non_direct": "last non-direct", "linear": "linear",
           "position_based": "position-based", "time_decay": "time decay",
           "markov": "Markov chain", "shapley": "Shapley"},
    "zh": {"first_touch": "首次触达", "last_touch": "末次触达", "last_non_direct": "末次非直接",
           "linear": "线性", "position_based": "位置（U 型）", "time_decay": "时间衰减",
           "markov": "马尔可夫链", "shapley": "Shapley 值"},
}

register_texts({
    "en": {
        "attribution.title": "Channel attribution report",
        "attribution.subtitle": "Conversions from {start} to {end}; touches up to {lookback} days "
                                "before each conversion.",
        "attribution.traffic": "Traffic and spend by channel",
        "attribution.traffic_intro": "Touches (visits), ad spend, impressions and clicks per channel "
                                     "in the period. CTR = clicks / impressions, CPC = cost / clicks.",
        "attribution.models": "Every model side by side",
        "attribution.models_intro": "Conversions credited to each channel by each attribution model, "
                                    "on the same journeys. Where the bars of a channel differ, the "
                                    "budget decision depends on the model: the spread column is the "
                                    "gap between the highest and the lowest credit.",
        "attribution.removal": "Markov removal effects",
        "attribution.removal_intro": "The share of conversions that would be lost if a channel were "
                                     "removed from every journey (its visitors dropping out), from the "
                                     "Markov chain of all journeys, converting or not.",
        "attribution.paths": "Journeys",
        "attribution.paths_intro": "The most frequent converting paths, how many touches a journey "
                                   "has, and how long it takes from the first touch to the conversion.",
        "attribution.lookback": "Lookback sensitivity",
        "attribution.lookback_intro": "Each channel's share of conversions under {model} attribution "
                                      "with a lookback window of {windows} days. \"(none)\" are "
                                      "conversions with no touch inside the window.",
        "attribution.economics": "Channel economics",
        "attribution.economics_intro": "Cost per conversion (CPA) and return on ad spend (ROAS = "
                                       "attributed value / cost) under {model} attribution. The dashed "
                                       "line marks ROAS 1: below it a channel returns less than it costs.",
        "attribution.top_paths": "Top converting paths",
    },
    "zh": {
        "attribution.title": "渠道归因分析报告",
        "attribution.subtitle": "转化时间：{start} 至 {end}；计入每次转化前 {lookback} 天内的触点。",
        "attribution.traffic": "各渠道流量与花费",
        "attribution.traffic_intro": "所选时段内各渠道的触点（访问）、广告花费、展示与点击。"
                                     "点击率 = 点击 / 展示，CPC = 花费 / 点击。",
        "attribution.models": "各归因模型对比",
        "attribution.models_intro": "同一批转化路径上，各归因模型分给每个渠道的转化数。"
                                    "同一渠道的柱子差距越大，预算结论越依赖所选模型；"
                                    "“模型间差距”一列是最高与最低归因之差。",
        "attribution.removal": "马尔可夫移除效应",
        "attribution.removal_intro": "如果某渠道从所有路径中消失（经过它的用户流失），"
                                     "会损失多少比例的转化；基于全部路径（含未转化路径）的马尔可夫链计算。",
        "attribution.paths": "转化路径",
        "attribution.paths_intro": "最常见的转化路径、每条路径的触点数，以及从首次触达到转化所用的时间。",
        "attribution.lookback": "回溯窗口敏感性",
        "attribution.lookback_intro": "{model}归因下，回溯窗口取 {windows} 天时各渠道的转化占比。"
                                      "“(none)”为窗口内没有任何触点的转化。",
        "attribution.economics": "渠道投入产出",
        "attribution.economics_intro": "{model}归因下各渠道的单次转化成本（CPA）与广告支出回报"
                                       "（ROAS = 归因金额 / 花费）。虚线为 ROAS 1：低于它说明回报不抵花费。",
        "attribution.top_paths": "转化最多的路径",
    },
})


def model_name(model: str, lang: str = "en") -> str:
    """A model's name in words (``"markov"`` -> ``"Markov chain"`` / ``"马尔可夫链"``)."""
    return _MODEL_NAMES[_lang(lang)].get(model, model)


def _num(x: float) -> str:
    return fmt_count(round(x)) if abs(x) >= 10 else f"{x:.1f}".rstrip("0").rstrip(".")


def _disagreement(wide: pd.DataFrame, lang: str) -> list[Sentence]:
    models = [c for c in wide.columns if c not in {"channel", "min", "max", "spread"}]
    if len(models) < 2 or wide.empty:
        return []
    row = wide.loc[wide["spread"].idxmax()]
    if row["spread"] <= 0:
        return []
    low = min(models, key=lambda m: row[m])
    high = max(models, key=lambda m: row[m])
    total = wide[models[0]].sum()
    share = row["spread"] / total if total else math.nan
    ch = str(row["channel"])
    if lang == "zh":
        text = (f"各模型对「{ch}」的分歧最大：{model_name(low, lang)}只给它 {_num(row[low])} 个转化，"
                f"{model_name(high, lang)}给它 {_num(row[high])} 个，相差全部转化的 {fmt_pct(share, lang)}。"
                f"只用一个模型做预算，会明显高估或低估这个渠道。")
    else:
        text = (f"The models disagree most on {ch}: {model_name(low, lang)} credits it with "
                f"{_num(row[low])} conversions, {model_name(high, lang)} with {_num(row[high])}, a gap of "
                f"{fmt_pct(share, lang)} of all conversions. A budget set on one model alone would "
                f"over- or under-fund it.")
    return [Sentence(text, "warning" if share >= 0.05 else "info")]


def _removal(effects: pd.DataFrame, lang: str) -> list[Sentence]:
    if effects.empty or effects["removal_effect"].max() <= 0:
        return []
    top = effects.sort_values("removal_effect", ascending=False).iloc[0]
    ch, re_ = str(top["channel"]), float(top["removal_effect"])
    if lang == "zh":
        return [Sentence(f"「{ch}」的移除效应最大：没有它，"
                         f"约 {fmt_pct(re_, lang)} 的转化会消失（马尔可夫链）。")]
    return [Sentence(f"{ch} has the largest removal effect: without it, about {fmt_pct(re_, lang)} of "
                     f"conversions would be lost (Markov chain).")]


def _economics(perf: pd.DataFrame, lang: str, model: str, currency: str) -> list[Sentence]:
    paid = perf[(perf["cost"] > 0) & (perf["conversions"] > 0)]
    out: list[Sentence] = []
    if len(paid) >= 2:
        cheap = paid.loc[paid["cpa"].idxmin()]
        dear = paid.loc[paid["cpa"].idxmax()]
        m = model_name(model, lang)
        if lang == "zh":
            out.append(Sentence(
                f"{m}归因下，付费渠道中「{cheap['channel']}」的单次转化成本最低"
                f"（{fmt_money(cheap['cpa'], currency)}），"
                f"「{dear['channel']}」最高（{fmt_money(dear['cpa'], currency)}），"
                f"是前者的 {dear['cpa'] / cheap['cpa']:.1f} 倍。"))
        else:
            out.append(Sentence(
                f"Under {m} attribution, {cheap['channel']} has the lowest cost per conversion among paid "
                f"channels ({fmt_money(cheap['cpa'], currency)}) and {dear['channel']} the highest "
                f"({fmt_money(dear['cpa'], currency)}), {dear['cpa'] / cheap['cpa']:.1f}x as much."))
    losing = perf[(perf["cost"] > 0) & (perf["roas"] < 1)].sort_values("roas")
    for _, row in losing.head(3).iterrows():
        back = fmt_money(row["roas"], currency)
        if lang == "zh":
            out.append(Sentence(
                f"「{row['channel']}」每花 {fmt_money(1, currency)} 只带回 {back} 的归因金额（ROAS < 1）。",
                "warning"))
        else:
            out.append(Sentence(f"{row['channel']} brings back {back} of attributed value per "
                                f"{fmt_money(1, currency)} spent (ROAS below 1).", "warning"))
    return out


def _multi_touch(lengths: pd.DataFrame, lang: str) -> list[Sentence]:
    total = lengths["conversions"].sum()
    if not total:
        return []
    multi = lengths.loc[lengths["touches"] > 1, "conversions"].sum() / total
    if lang == "zh":
        return [Sentence(f"{fmt_pct(multi, lang)} 的转化路径有两个及以上触点：单触点模型（首次、末次）"
                         f"忽略了这些路径上的其他渠道。")]
    return [Sentence(f"{fmt_pct(multi, lang)} of converting journeys have more than one touch: single-touch "
                     f"models (first, last) ignore every other channel on them.")]


def _lookback(sensitivity: pd.DataFrame, lang: str, no_touch: str) -> list[Sentence]:
    windows = sorted(sensitivity["lookback_days"].unique())
    if len(windows) < 2:
        return []
    none = sensitivity[sensitivity["channel"] == no_touch].set_index("lookback_days")["share"]
    short, long_ = windows[0], windows[-1]
    a, b = float(none.get(short, 0.0)), float(none.get(long_, 0.0))
    if lang == "zh":
        return [Sentence(f"回溯窗口为 {short:g} 天时，{fmt_pct(a, lang)} 的转化找不到任何触点；"
                         f"{long_:g} 天时为 {fmt_pct(b, lang)}。")]
    return [Sentence(f"With a {short:g}-day lookback, {fmt_pct(a, lang)} of conversions have no touch "
                     f"at all; with {long_:g} days, {fmt_pct(b, lang)}.")]


def attribution_findings(*, comparison: pd.DataFrame | None = None,
                         removal: pd.DataFrame | None = None,
                         performance: pd.DataFrame | None = None,
                         lengths: pd.DataFrame | None = None,
                         lookback: pd.DataFrame | None = None, model: str = "last_touch",
                         lang: str = "en", currency: str = "CNY",
                         no_touch: str = "(none)") -> list[Sentence]:
    """Findings of an attribution review, worded from the frames opskit computed.

    Each frame is optional: :func:`opskit.attribution.compare` (where the
    models disagree most), :func:`opskit.attribution.removal_effects` (the
    channel the conversions depend on most), :func:`opskit.channels.performance`
    under ``model`` (cheapest and dearest paid channel; channels with ROAS
    below 1), :func:`opskit.attribution.path_lengths` (how many conversions
    have several touches) and :func:`opskit.attribution.lookback_sensitivity`
    (conversions without a touch at the shortest and longest window).

    Examples
    --------
    >>> effects = pd.DataFrame({"channel": ["微信", "email"], "removal_effect": [0.42, 0.1]})
    >>> [s.text for s in attribution_findings(removal=effects, lang="zh")]
    ['「微信」的移除效应最大：没有它，约 42% 的转化会消失（马尔可夫链）。']
    """
    lang = _lang(lang)
    out: list[Sentence] = []
    if comparison is not None:
        out += _disagreement(comparison, lang)
    if removal is not None:
        out += _removal(removal, lang)
    if performance is not None:
        out += _economics(performance, lang, model, currency)
    if lengths is not None:
        out += _multi_touch(lengths, lang)
    if lookback is not None:
        out += _lookback(lookback, lang, no_touch)
    return out

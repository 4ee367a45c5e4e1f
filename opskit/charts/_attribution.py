"""Attribution charts: models side by side, removal effects, journeys, channel economics."""

from __future__ import annotations

import altair as alt
import pandas as pd

from opskit.charts._base import _INK, PALETTE, _require, _with_title

__all__ = ["attribution_comparison", "channel_economics", "lookback_lines", "path_lengths",
           "removal_effect_bars", "time_to_convert_bars"]

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "channel": "Channel", "model": "Model", "conversions": "Attributed conversions",
        "removal_effect": "Removal effect (conversions lost without the channel)",
        "touches": "Touches in the journey", "journeys_conv": "Conversions",
        "conversion_rate": "Conversion rate", "share": "Share of conversions",
        "cpa": "Cost per conversion (CPA)", "roas": "Return on ad spend (ROAS)",
        "cost": "Cost", "value": "Attributed value", "lookback": "Lookback window (days)",
        "bucket": "Days from first touch to conversion", "spread": "Spread across models",
        "first_touch": "First touch", "last_touch": "Last touch",
        "last_non_direct": "Last non-direct", "linear": "Linear",
        "position_based": "Position-based", "time_decay": "Time decay", "markov": "Markov chain",
        "shapley": "Shapley", "visits": "Visits", "nulls": "Non-converting journeys",
    },
    "zh": {
        "channel": "渠道", "model": "归因模型", "conversions": "归因转化数",
        "removal_effect": "移除效应（去掉该渠道损失的转化比例）",
        "touches": "路径触点数", "journeys_conv": "转化数",
        "conversion_rate": "转化率", "share": "转化占比",
        "cpa": "单次转化成本（CPA）", "roas": "广告支出回报（ROAS）",
        "cost": "花费", "value": "归因金额", "lookback": "回溯窗口（天）",
        "bucket": "首次触达到转化的天数", "spread": "模型间差距",
        "first_touch": "首次触达", "last_touch": "末次触达",
        "last_non_direct": "末次非直接", "linear": "线性",
        "position_based": "位置（U 型）", "time_decay": "时间衰减", "markov": "马尔可夫链",
        "shapley": "Shapley 值", "visits": "访问数", "nulls": "未转化路径",
    },
}
_NOT_MODELS = {"channel", "min", "max", "spread"}


def _words(lang: str) -> dict[str, str]:
    try:
        return _WORDS[lang]
    except KeyError:
        raise ValueError(f"lang must be 'en' or 'zh', not {lang!r}") from None


def attribution_comparison(wide: pd.DataFrame, *, lang: str = "en",
                           title: str | None = None) -> alt.Chart:
    """Attributed conversions per channel under each model, as grouped bars.

    Parameters
    ----------
    wide
        The frame :func:`opskit.attribution.compare` returns (``channel``,
        one column per model, ``min``, ``max``, ``spread``).
    lang, title
        Language of labels (``"en"``/``"zh"``) and an optional title.

    Examples
    --------
    >>> wide = pd.DataFrame({"channel": ["微信", "email"], "last_touch": [3.0, 1.0],
    ...                      "markov": [2.0, 2.0], "min": [2.0, 1.0], "max": [3.0, 2.0],
    ...                      "spread": [1.0, 1.0]})
    >>> spec = attribution_comparison(wide).to_dict()
    >>> spec["mark"]["type"], spec["encoding"]["yOffset"]["field"]
    ('bar', 'model_label')
    """
    words = _words(lang)
    _require(wide, ["channel"], "wide")
    models = [c for c in wide.columns if c not in _NOT_MODELS]
    long = wide.melt(id_vars=["channel"], value_vars=models, var_name="model",
                     value_name="conversions")
    long["model_label"] = long["model"].map(lambda m: words.get(m, m))
    labels = [words.get(m, m) for m in models]
    chart = alt.Chart(long).mark_bar().encode(
        y=alt.Y("channel:N", title=words["channel"], sort=list(wide["channel"])),
        x=alt.X("conversions:Q", title=words["conversions"]),
        color=alt.Color("model_label:N", title=words["model"], sort=labels),
        yOffset=alt.YOffset("model_label:N", sort=labels),
        tooltip=[alt.Tooltip("channel:N", title=words["channel"]),
                 alt.Tooltip("model_label:N", title=words["model"]),
                 alt.Tooltip("conversions:Q", title=words["conversions"], format=",.1f")],
    ).properties(width=520, height=alt.Step(7))
    return _with_title(chart, title)


def removal_effect_bars(effects: pd.DataFrame, *, lang: str = "en",
                        title: str | None = None) -> alt.Chart:
    """Markov removal effects as horizontal bars, largest first.

    Examples
    --------
    >>> effects = pd.DataFrame({"channel": ["微信", "email"], "removal_effect": [0.6, 0.25]})
    >>> removal_effect_bars(effects).to_dict()["encoding"]["x"]["axis"]["format"]
    '.0%'
    """
    words = _words(lang)
    _require(effects, ["channel", "removal_effect"], "effects")
    chart = alt.Chart(effects[["channel", "removal_effect"]]).mark_bar(color=PALETTE[0]).encode(
        y=alt.Y("channel:N", title=words["channel"], sort="-x"),
        x=alt.X("removal_effect:Q", title=words["removal_effect"], axis=alt.Axis(format=".0%")),
        tooltip=[alt.Tooltip("channel:N", title=words["channel"]),
                 alt.Tooltip("removal_effect:Q", title=words["removal_effect"], format=".1%")],
    ).properties(width=420, height=alt.Step(22))
    return _with_title(chart, title)


def path_lengths(lengths: pd.DataFrame, *, lang: str = "en", title: str | None = None) -> alt.Chart:
    """Conversions by number of touches in the journey (bars; conversion rate in the tooltip).

    Examples
    --------
    >>> lengths = pd.DataFrame({"touches": [1, 2], "conversions": [5.0, 3.0], "nulls": [20.0, 4.0],
    ...                         "conversion_rate": [0.2, 3 / 7], "share": [0.625, 0.375]})
    >>> path_lengths(lengths).to_dict()["mark"]["type"]
    'bar'
    """
    words = _words(lang)
    _require(lengths, ["touches", "conversions", "conversion_rate", "share"], "lengths")
    chart = alt.Chart(lengths).mark_bar(color=PALETTE[0]).encode(
        x=alt.X("touches:O", title=words["touches"], axis=alt.Axis(labelAngle=0)),
        y=alt.Y("conversions:Q", title=words["journeys_conv"]),
        tooltip=[alt.Tooltip("touches:O", title=words["touches"]),
                 alt.Tooltip("conversions:Q", title=words["journeys_conv"], format=",.0f"),
                 alt.Tooltip("share:Q", title=words["share"], format=".1%"),
                 alt.Tooltip("conversion_rate:Q", title=words["conversion_rate"], format=".1%")],
    ).properties(width=alt.Step(36), height=200)
    return _with_title(chart, title)


def time_to_convert_bars(buckets: pd.DataFrame, *, lang: str = "en",
                         title: str | None = None) -> alt.Chart:
    """Conversions by days from first touch, one bar per bucket of :func:`opskit.attribution.time_to_convert`.

    Examples
    --------
    >>> buckets = pd.DataFrame({"from_days": [0.0, 1.0], "to_days": [1.0, float("inf")],
    ...                         "conversions": [4.0, 6.0], "share": [0.4, 0.6]})
    >>> spec = time_to_convert_bars(buckets).to_dict()
    >>> [row["bucket"] for row in next(iter(spec["datasets"].values()))]
    ['0–1', '1+']
    """
    words = _words(lang)
    _require(buckets, ["from_days", "to_days", "conversions", "share"], "buckets")

    def label(lo: float, hi: float) -> str:
        if hi == float("inf"):
            return f"{lo:g}+"
        return f"{lo:g}–{hi:g}"

    data = pd.DataFrame({
        "bucket": [label(lo, hi) for lo, hi in zip(buckets["from_days"], buckets["to_days"],
                                                    strict=True)],
        "conversions": buckets["conversions"], "share": buckets["share"]})
    chart = alt.Chart(data).mark_bar(color=PALETTE[1]).encode(
        x=alt.X("bucket:N", title=words["bucket"], sort=list(data["bucket"]),
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("conversions:Q", title=words["journeys_conv"]),
        tooltip=[alt.Tooltip("bucket:N", title=words["bucket"]),
                 alt.Tooltip("conversions:Q", title=words["journeys_conv"], format=",.0f"),
                 alt.Tooltip("share:Q", title=words["share"], format=".1%")],
    ).properties(width=alt.Step(52), height=200)
    return _with_title(chart, title)


def lookback_lines(sensitivity: pd.DataFrame, *, lang: str = "en",
                   title: str | None = None) -> alt.Chart:
    """Each channel's share of conversions as the lookback window grows.

    Examples
    --------
    >>> frame = pd.DataFrame({"lookback_days": [7, 30], "channel": ["微信", "微信"],
    ...                       "conversions": [1.0, 2.0], "share": [0.2, 0.4]})
    >>> lookback_lines(frame).to_dict()["mark"]["type"]
    'line'
    """
    words = _words(lang)
    _require(sensitivity, ["lookback_days", "channel", "share"], "sensitivity")
    chart = alt.Chart(sensitivity).mark_line(point=True).encode(
        x=alt.X("lookback_days:O", title=words["lookback"], axis=alt.Axis(labelAngle=0)),
        y=alt.Y("share:Q", title=words["share"], axis=alt.Axis(format=".0%")),
        color=alt.Color("channel:N", title=words["channel"]),
        tooltip=[alt.Tooltip("channel:N", title=words["channel"]),
                 alt.Tooltip("lookback_days:O", title=words["lookback"]),
                 alt.Tooltip("share:Q", title=words["share"], format=".1%"),
                 alt.Tooltip("conversions:Q", title=words["journeys_conv"], format=",.1f")],
    ).properties(width=360, height=240)
    return _with_title(chart, title)


def channel_economics(performance: pd.DataFrame, *, lang: str = "en",
                      title: str | None = None) -> alt.HConcatChart:
    """Cost per conversion and ROAS per paid channel, side by side.

    Channels without cost (organic, direct) have no CPA or ROAS and are left
    out of the bars; the frame still lists them.

    Examples
    --------
    >>> perf = pd.DataFrame({"channel": ["微信", "email"], "cost": [100.0, 50.0],
    ...                      "conversions": [4.0, 5.0], "value": [400.0, 100.0],
    ...                      "cpa": [25.0, 10.0], "roas": [4.0, 2.0]})
    >>> len(channel_economics(perf).to_dict()["hconcat"])
    2
    """
    words = _words(lang)
    _require(performance, ["channel", "cost", "conversions", "value", "cpa", "roas"], "performance")
    data = performance[performance["cost"] > 0][
        ["channel", "cost", "conversions", "value", "cpa", "roas"]]
    tooltip = [alt.Tooltip("channel:N", title=words["channel"]),
               alt.Tooltip("cost:Q", title=words["cost"], format=",.0f"),
               alt.Tooltip("conversions:Q", title=words["conversions"], format=",.1f"),
               alt.Tooltip("value:Q", title=words["value"], format=",.0f"),
               alt.Tooltip("cpa:Q", title=words["cpa"], format=",.1f"),
               alt.Tooltip("roas:Q", title=words["roas"], format=".2f")]
    base = alt.Chart(data).encode(y=alt.Y("channel:N", title=words["channel"], sort="x"),
                                  tooltip=tooltip)
    cpa = base.mark_bar(color=PALETTE[1]).encode(
        x=alt.X("cpa:Q", title=words["cpa"])).properties(width=260, height=alt.Step(22))
    # symlog: one channel with a ROAS of 100 must not flatten the others around 1
    roas = base.mark_bar(color=PALETTE[2]).encode(
        x=alt.X("roas:Q", title=words["roas"], scale=alt.Scale(type="symlog"))
    ).properties(width=260, height=alt.Step(22))
    rule = alt.Chart(pd.DataFrame({"one": [1.0]})).mark_rule(color=_INK, strokeDash=[4, 3]).encode(
        x="one:Q")
    return _with_title(alt.hconcat(cpa, roas + rule), title)

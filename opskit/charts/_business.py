"""Business charts: the MRR bridge and movements (B2B), the AARRR funnel (B2C)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from opskit.charts._base import _INK, _MUTED, PALETTE, _require, _with_title

__all__ = ["funnel_bars", "mrr_bridge", "mrr_movement_bars"]

_GAIN, _LOSS, _LEVEL = PALETTE[2], "#C8372D", PALETTE[0]
_MOVES = ("new", "expansion", "reactivation", "contraction", "churned")
_WORDS = {
    "en": {"mrr_start": "MRR at start", "new": "New", "expansion": "Expansion",
           "reactivation": "Reactivation", "contraction": "Contraction", "churned": "Churned",
           "mrr_end": "MRR at end", "mrr": "MRR", "movement": "Movement", "period": "Month",
           "stage": "Stage", "users": "Users", "rate": "Share of acquired users",
           "rate_first": "Share of the first stage", "count": "Count", "amount": "Amount"},
    "zh": {"mrr_start": "期初 MRR", "new": "新增", "expansion": "扩张", "reactivation": "回流",
           "contraction": "收缩", "churned": "流失", "mrr_end": "期末 MRR", "mrr": "MRR",
           "movement": "变动", "period": "月份", "stage": "阶段", "users": "用户数",
           "rate": "占获客用户比例", "rate_first": "占第一阶段比例", "count": "数量", "amount": "金额"},
}
_STAGES = {
    "en": {"acquisition": "Acquisition", "activation": "Activation", "retention": "Retention",
           "revenue": "Revenue", "referral": "Referral"},
    "zh": {"acquisition": "获客", "activation": "激活", "retention": "留存", "revenue": "变现",
           "referral": "推荐"},
}


def _words(lang: str) -> dict[str, str]:
    try:
        return _WORDS[lang]
    except KeyError:
        raise ValueError(f"lang must be 'en' or 'zh', not {lang!r}") from None


def mrr_bridge(movements: pd.DataFrame, *, lang: str = "en", currency: str = "¥",
               title: str | None = None) -> alt.LayerChart:
    """The MRR bridge (waterfall) over the periods of ``movements``.

    MRR at the start of the first period, each movement summed over the
    periods (gains up, losses down), MRR at the end of the last period. The
    bridge identity of :func:`opskit.saas.mrr_movements` makes the bars meet
    the end exactly.

    Examples
    --------
    >>> moves = pd.DataFrame({"period": pd.to_datetime(["2025-01-01", "2025-02-01"]),
    ...     "mrr_start": [100.0, 130.0], "new": [40.0, 10.0], "expansion": [5.0, 0.0],
    ...     "contraction": [5.0, 0.0], "churned": [10.0, 20.0], "reactivation": [0.0, 5.0],
    ...     "mrr_end": [130.0, 125.0]})
    >>> data = next(iter(mrr_bridge(moves).to_dict()["datasets"].values()))
    >>> [(row["step"], row["lo"], row["hi"]) for row in data][::3]
    [('MRR at start', 0.0, 100.0), ('Reactivation', 155.0, 160.0), ('MRR at end', 0.0, 125.0)]
    """
    words = _words(lang)
    _require(movements, ["mrr_start", *_MOVES, "mrr_end"], "movements")
    ordered = movements.sort_values("period") if "period" in movements else movements
    start, end = float(ordered["mrr_start"].iloc[0]), float(ordered["mrr_end"].iloc[-1])
    rows, level = [("mrr_start", 0.0, start, "level")], start
    for move in _MOVES:
        amount = float(ordered[move].sum())
        sign = -1 if move in ("contraction", "churned") else 1
        lo, hi = sorted((level, level + sign * amount))
        rows.append((move, lo, hi, "loss" if sign < 0 else "gain"))
        level += sign * amount
    rows.append(("mrr_end", 0.0, end, "level"))
    data = pd.DataFrame(rows, columns=["key", "lo", "hi", "kind"])
    data["step"] = data["key"].map(words)
    data["amount"] = data["hi"] - data["lo"]
    order = list(data["step"])
    colour = alt.Color("kind:N", legend=None,
                       scale=alt.Scale(domain=["level", "gain", "loss"], range=[_LEVEL, _GAIN, _LOSS]))
    bars = alt.Chart(data).mark_bar(size=34).encode(
        x=alt.X("step:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("lo:Q", title=words["mrr"]), y2="hi:Q", color=colour,
        tooltip=[alt.Tooltip("step:N", title=words["movement"]),
                 alt.Tooltip("amount:Q", title=words["amount"], format=",.0f")])
    labels = alt.Chart(data).mark_text(dy=-6, color=_INK, fontSize=11).encode(
        x=alt.X("step:N", sort=order), y="hi:Q", text=alt.Text("amount:Q", format=",.0f"))
    return _with_title(alt.layer(bars, labels).properties(width=alt.Step(70), height=260), title)


def mrr_movement_bars(movements: pd.DataFrame, *, lang: str = "en",
                      title: str | None = None) -> alt.LayerChart:
    """Monthly MRR movements as stacked bars (gains above zero, losses below) with net MRR change.

    Examples
    --------
    >>> moves = pd.DataFrame({"period": pd.to_datetime(["2025-01-01"]), "mrr_start": [100.0],
    ...     "new": [40.0], "expansion": [5.0], "contraction": [5.0], "churned": [10.0],
    ...     "reactivation": [0.0], "mrr_end": [130.0]})
    >>> sorted({r["amount"] for r in next(iter(mrr_movement_bars(moves).to_dict()["datasets"].values()))
    ...         if "amount" in r})
    [-10.0, -5.0, 0.0, 5.0, 40.0]
    """
    words = _words(lang)
    _require(movements, ["period", "mrr_start", *_MOVES, "mrr_end"], "movements")
    long = movements.melt(id_vars=["period"], value_vars=list(_MOVES), var_name="key",
                          value_name="amount")
    long["amount"] = long["amount"].where(~long["key"].isin(["contraction", "churned"]),
                                          -long["amount"])
    long["movement"] = long["key"].map(words)
    long["rank"] = long["key"].map({m: i for i, m in enumerate(_MOVES)})
    long["month"] = pd.to_datetime(long["period"]).dt.strftime("%Y-%m")
    order = [words[m] for m in _MOVES]
    colours = [_GAIN, PALETTE[0], PALETTE[5], PALETTE[1], _LOSS]
    bars = alt.Chart(long).mark_bar().encode(
        x=alt.X("month:O", title=words["period"], axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("sum(amount):Q", title=words["mrr"]),
        color=alt.Color("movement:N", title=words["movement"], sort=order,
                        scale=alt.Scale(domain=order, range=colours)),
        order=alt.Order("rank:Q"),
        tooltip=[alt.Tooltip("month:O", title=words["period"]),
                 alt.Tooltip("movement:N", title=words["movement"]),
                 alt.Tooltip("amount:Q", title=words["amount"], format=",.0f")])
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color=_MUTED).encode(y="y:Q")
    return _with_title(alt.layer(bars, zero).properties(width=alt.Step(34), height=240), title)


def funnel_bars(funnel: pd.DataFrame, *, value: str = "users", rate: str = "rate",
                color: str | None = None, lang: str = "en", title: str | None = None) -> alt.Chart:
    """A funnel (e.g. AARRR) as horizontal bars: the share of the first stage reaching each stage.

    ``funnel`` has ``stage``, a count column ``value`` and a share column
    ``rate`` (:func:`opskit.consumer.aarrr`: ``users``/``rate``;
    :func:`opskit.saas.stage_funnel`: ``opportunities``/``share_of_first``);
    ``color`` splits it (e.g. ``"segment"``).

    Examples
    --------
    >>> aarrr = pd.DataFrame({"stage": ["acquisition", "activation", "revenue"],
    ...                       "users": [1000, 600, 90], "rate": [1.0, 0.6, 0.09]})
    >>> funnel_bars(aarrr).to_dict()["encoding"]["x"]["axis"]["format"]
    '.0%'
    """
    words = dict(_words(lang))
    if value != "users":  # not the AARRR funnel of acquired users
        words["rate"], words["users"] = words["rate_first"], words["count"]
    _require(funnel, ["stage", value, rate], "funnel")
    data = funnel[["stage", value, rate, *([color] if color else [])]].rename(
        columns={value: "users", rate: "rate"})
    names = _STAGES[lang]
    data["stage_label"] = data["stage"].map(lambda s: names.get(s, s))
    order = list(dict.fromkeys(data["stage_label"]))
    encode = {}
    if color:
        data[color] = data[color].astype(str)
        encode = {"color": alt.Color(f"{color}:N", title=color), "yOffset": alt.YOffset(f"{color}:N")}
    chart = alt.Chart(data).mark_bar(**({} if color else {"color": PALETTE[0]})).encode(
        y=alt.Y("stage_label:N", title=words["stage"], sort=order),
        x=alt.X("rate:Q", title=words["rate"], axis=alt.Axis(format=".0%")),
        tooltip=[*([alt.Tooltip(f"{color}:N", title=color)] if color else []),
                 alt.Tooltip("stage_label:N", title=words["stage"]),
                 alt.Tooltip("users:Q", title=words["users"], format=","),
                 alt.Tooltip("rate:Q", title=words["rate"], format=".1%")],
        **encode,
    ).properties(width=420, height=alt.Step(16 if color else 26))
    return _with_title(chart, title)

"""Channel economics: traffic, cost and attributed results per channel (``opskit.channels.performance``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import numpy as np
import pandas as pd

from opskit import engine
from opskit._inputs import table_arg
from opskit._periods import FREQS, floor_period, period_range
from opskit.attribution import NO_TOUCH, attribute

__all__ = ["performance"]

_KEY_SEP = "\x1e"
_NO_CAMPAIGN = "(none)"
_METRICS = ["impressions", "clicks", "ctr", "cost", "cpc", "visits", "traffic_share",
            "conversions", "value", "conversion_rate", "cpa", "roas", "roi"]


def performance(spend: Any, touchpoints: Any, conversions: Any, /, *,
                model: str = "last_touch", lookback_days: float = 30, by_campaign: bool = False,
                freq: str | None = None, kinds: Sequence[str] | None = None, start: Any = None,
                end: Any = None, **model_options: Any) -> pd.DataFrame:
    """What each channel costs and brings, under one attribution model.

    Parameters
    ----------
    spend
        The ``spend`` table (``date``, ``channel``, ``cost``; optional
        ``campaign``, ``impressions``, ``clicks``).
    touchpoints, conversions
        As for :func:`opskit.attribution.attribute` (a Dataset may be passed
        for all three).
    model, lookback_days, kinds, **model_options
        The attribution model and its options.
    by_campaign
        One row per channel and campaign (attribution then credits
        campaigns; touches and spend without a campaign are ``"(none)"``).
    freq
        ``"day"``, ``"week"`` or ``"month"`` for a trend: one row per period
        (spend by its date, conversions by their time, visits by the touch
        time); ``None`` (default) for the whole range.
    start, end
        Keep spend, touches and conversions with ``start <= time < end``.

    Returns
    -------
    pandas.DataFrame
        ``channel`` (``campaign`` with ``by_campaign``, ``period`` with
        ``freq``), then ``impressions``, ``clicks``, ``ctr`` (clicks /
        impressions), ``cost``, ``cpc`` (cost / clicks), ``visits``
        (touchpoints), ``traffic_share`` (visits / all visits), ``conversions``
        and ``value`` (attributed), ``conversion_rate`` (conversions /
        visits), ``cpa`` (cost / conversions, the CAC when conversions are
        first purchases; NaN for a channel without spend), ``roas`` (value /
        cost) and ``roi`` ((value - cost) / cost). A ratio whose denominator
        is 0 is NaN. Rows by cost, then conversions, descending; the
        ``"(none)"`` row (conversions with no touch) last.

    Examples
    --------
    >>> spend = pd.DataFrame({"date": ["2025-01-01", "2025-01-02"], "channel": ["微信", "微信"],
    ...                       "cost": [60.0, 40.0], "impressions": [1000, 1000],
    ...                       "clicks": [30, 20]})
    >>> touches = pd.DataFrame({"user_id": ["a", "b", "c"],
    ...                         "channel": ["微信", "微信", "organic_search"],
    ...                         "touched_at": ["2025-01-01", "2025-01-02", "2025-01-02"]})
    >>> sales = pd.DataFrame({"user_id": ["a", "c"], "converted_at": ["2025-01-03"] * 2,
    ...                       "value": [300.0, 100.0]})
    >>> performance(spend, touches, sales)[["channel", "ctr", "cpc", "cpa", "roas"]]
              channel    ctr  cpc    cpa  roas
    0              微信  0.025  2.0  100.0   3.0
    1  organic_search    NaN  NaN    NaN   NaN
    """
    if freq is not None and freq not in FREQS:
        raise ValueError(f"freq must be one of {', '.join(FREQS)} or None, not {freq!r}")
    sp = table_arg(spend, "spend", ("date", "channel", "cost"))
    tp = table_arg(touchpoints, "touchpoints", ("user_id", "touched_at", "channel"))
    keys = ["channel", "campaign"] if by_campaign else ["channel"]
    tp = _keyed(tp, by_campaign)
    sp = _keyed(sp, by_campaign)
    lo = None if start is None else pd.Timestamp(start)
    hi = None if end is None else pd.Timestamp(end)

    windows = [(lo, hi, None)]
    if freq is not None:
        span = engine.to_pandas(tp.aggregate(a=tp.touched_at.min(), b=tp.touched_at.max())).iloc[0]
        first = max(x for x in (lo, span["a"]) if x is not None)
        last = min(x for x in (hi, span["b"]) if x is not None)
        periods = (period_range(floor_period(first, freq), last, freq)
                   if pd.notna(first) and pd.notna(last) and first <= last else [])
        windows = [(max(p, lo) if lo is not None else p, _next(p, freq, hi), p) for p in periods]

    rows = []
    for w_lo, w_hi, label in windows:
        traffic = _traffic(sp, tp, w_lo, w_hi)
        credited = attribute(tp.mutate(channel=tp.key), conversions, model=model,
                             lookback_days=lookback_days, kinds=kinds, start=w_lo, end=w_hi,
                             **model_options).rename(columns={"channel": "key"})
        merged = traffic.merge(credited[["key", "conversions", "value"]], on="key", how="outer")
        if label is not None:
            merged.insert(0, "period", label)
        rows.append(merged)
    frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["key"])
    return _finish(frame, keys, freq is not None)


def _keyed(table: ibis.Table, by_campaign: bool):
    if not by_campaign:
        return table.mutate(key=table.channel)
    campaign = (table.campaign.fill_null(_NO_CAMPAIGN) if "campaign" in table.columns
                else ibis.literal(_NO_CAMPAIGN))
    return table.mutate(key=table.channel.concat(ibis.literal(_KEY_SEP), campaign))


def _next(period: pd.Timestamp, freq: str, hi: pd.Timestamp | None) -> pd.Timestamp:
    nxt = period_range(period, period + pd.Timedelta(days=32), freq)[1]
    return min(nxt, hi) if hi is not None else nxt


def _traffic(sp, tp, lo, hi) -> pd.DataFrame:
    def window(t, col):
        if lo is not None:
            t = t.filter(t[col] >= lo.date() if col == "date" else t[col] >= lo)
        if hi is not None:
            t = t.filter(t[col] < hi.date() if col == "date" else t[col] < hi)
        return t

    s = window(sp, "date")
    zero = ibis.literal(None, "float64")
    costs = engine.to_pandas(s.group_by("key").aggregate(
        cost=s.cost.sum().cast("float64"),
        impressions=(s.impressions.sum().cast("float64") if "impressions" in s.columns else zero),
        clicks=(s.clicks.sum().cast("float64") if "clicks" in s.columns else zero)))
    t = window(tp, "touched_at")
    visits = engine.to_pandas(t.group_by("key").aggregate(visits=t.count().cast("float64")))
    return costs.merge(visits, on="key", how="outer")


def _finish(frame: pd.DataFrame, keys: list[str], trend: bool) -> pd.DataFrame:
    for col in ("cost", "visits", "conversions", "value"):
        frame[col] = frame.get(col, pd.Series(np.nan, index=frame.index)).astype("float64").fillna(0.0)
    for col in ("impressions", "clicks"):
        frame[col] = frame.get(col, pd.Series(np.nan, index=frame.index)).astype("float64")
    split = frame["key"].astype(str).str.split(_KEY_SEP, n=1, expand=True)
    frame["channel"] = split[0]
    if len(keys) == 2:
        frame["campaign"] = split[1] if 1 in split.columns else _NO_CAMPAIGN
    frame = frame.groupby([*(["period"] if trend else []), *keys], as_index=False, dropna=False)[
        ["impressions", "clicks", "cost", "visits", "conversions", "value"]].sum(min_count=1)
    for col in ("cost", "visits", "conversions", "value"):
        frame[col] = frame[col].fillna(0.0)

    def ratio(num: pd.Series, den: pd.Series) -> pd.Series:
        return (num / den.where(den > 0)).astype("float64")

    frame["ctr"] = ratio(frame["clicks"], frame["impressions"])
    frame["cpc"] = ratio(frame["cost"], frame["clicks"])
    group = frame.groupby("period")["visits"] if trend else None
    total_visits = group.transform("sum") if trend else frame["visits"].sum()
    frame["traffic_share"] = ratio(frame["visits"], pd.Series(total_visits, index=frame.index))
    frame["conversion_rate"] = ratio(frame["conversions"], frame["visits"])
    frame["cpa"] = ratio(frame["cost"], frame["conversions"]).where(frame["cost"] > 0)
    frame["roas"] = ratio(frame["value"], frame["cost"])
    frame["roi"] = ratio(frame["value"] - frame["cost"], frame["cost"])
    frame["touched"] = frame["channel"] != NO_TOUCH  # conversions without a touch go last
    order = [*(["period"] if trend else []), "touched", "cost", "conversions"]
    asc = [*([True] if trend else []), False, False, False]
    frame = frame.sort_values([*order, *keys], ascending=[*asc, *[True] * len(keys)],
                              ignore_index=True)
    return frame[[*(["period"] if trend else []), *keys, *_METRICS]]

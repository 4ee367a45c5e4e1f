"""The rows of ``opskit.compare.segments``: each headline metric for every segment.

Each ``_row_*`` function returns ``{segment value: (value, numerator, denominator)}``
(numerator and denominator only for rates, which get a significance test) or None when
the dataset lacks what the metric needs. Metrics are taken from the KPI modules where
they are defined (retention, saas, consumer); what is computed here is only the
pooling over the window and the allocation of spend to segments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd

from opskit import consumer, engine, retention, saas
from opskit.dataset import Dataset

__all__ = ["METRICS", "Context", "MetricRow"]

Values = dict[Any, tuple[float, float, float]]


@dataclass(frozen=True)
class Context:
    """What every row needs: the data, the segment column, the window and the parameters."""

    data: Dataset
    segment: str
    start: pd.Timestamp
    end: pd.Timestamp
    gross_margin: float
    activation_event: str | None
    cache: dict


@dataclass(frozen=True)
class MetricRow:
    key: str
    unit: str  # count, money, rate (tested), share (a percent, not tested), multiple, number, hours
    compute: Callable[[Context], Values | None]


def _nan3(x: float) -> tuple[float, float, float]:
    return (float(x), np.nan, np.nan)


def _frame_by(frame: pd.DataFrame, seg: str, value: str) -> Values:
    return {k: _nan3(v) for k, v in zip(frame[seg], frame[value], strict=True)}


def _pooled(frame: pd.DataFrame, seg: str, num: str, den: str) -> Values:
    sums = frame.groupby(seg)[[num, den]].sum()
    return {k: (r[num] / r[den] if r[den] else np.nan, float(r[num]), float(r[den]))
            for k, r in sums.iterrows()}


def _summary(ctx: Context) -> pd.DataFrame | None:
    if "subscriptions" not in ctx.data:
        return None
    if "summary" not in ctx.cache:
        subs = ctx.data["subscriptions"]
        ended = subs.ended_at if "ended_at" in subs.columns else subs.started_at
        ends = engine.to_pandas(subs.aggregate(a=subs.started_at.max(), b=ended.max())).iloc[0]
        last = max(t for t in (ends["a"], ends["b"]) if pd.notna(t))
        data_end = last.normalize() + pd.Timedelta(days=1)   # saas' end of the data
        as_of = None if ctx.end >= data_end else ctx.end     # summary refuses a later instant
        ctx.cache["summary"] = saas.summary(ctx.data, as_of=as_of, gross_margin=ctx.gross_margin,
                                            by=ctx.segment, users=ctx.data)
    return ctx.cache["summary"]


def _new_users(ctx: Context) -> pd.DataFrame:
    """Users who signed up in the window, with their segment and channel (engine query, small result)."""
    if "new_users" not in ctx.cache:
        u = ctx.data["users"]
        cols = list(dict.fromkeys([ctx.segment, *(["channel"] if "channel" in u.columns else [])]))
        new = u.filter((u.signup_at >= ctx.start) & (u.signup_at < ctx.end))
        ctx.cache["new_users"] = engine.to_pandas(
            new.group_by(cols).aggregate(users=new.count()))
    return ctx.cache["new_users"]


def _row_new_users(ctx: Context) -> Values:
    frame = _new_users(ctx).groupby(ctx.segment, as_index=False)["users"].sum()
    return _frame_by(frame, ctx.segment, "users")


def _allocated_spend(ctx: Context) -> pd.Series | None:
    """Spend in the window shared out to segments by their share of each channel's new users."""
    new = _new_users(ctx)
    if "spend" not in ctx.data or "channel" not in new.columns:
        return None
    s = ctx.data["spend"]
    lo, hi = ctx.start.date(), ctx.end.date()
    cost = engine.to_pandas(s.filter((s.date >= lo) & (s.date < hi)).group_by("channel").aggregate(
        cost=s.cost.sum())).set_index("channel")["cost"]
    # a copy of the segment column, so segment="channel" (each channel its own segment) pivots too
    share = new.assign(_segment=new[ctx.segment]).pivot_table(
        index="channel", columns="_segment", values="users", aggfunc="sum", fill_value=0)
    share.columns.name = ctx.segment
    share = share.div(share.sum(axis=1), axis=0)
    return share.mul(cost.reindex(share.index).fillna(0.0), axis=0).sum()


def _row_acquisition_cost(ctx: Context) -> Values | None:
    spent = _allocated_spend(ctx)
    if spent is None:
        return None
    users = _new_users(ctx).groupby(ctx.segment)["users"].sum()
    return {k: _nan3(spent.get(k, 0.0) / n if n else np.nan) for k, n in users.items()}


def _aarrr(ctx: Context) -> pd.DataFrame | None:
    if ctx.activation_event is None:
        return None
    if "aarrr" not in ctx.cache:
        ctx.cache["aarrr"] = consumer.aarrr(ctx.data, activation_event=ctx.activation_event,
                                            users=ctx.data, by=ctx.segment, start=ctx.start,
                                            end=ctx.end)
    return ctx.cache["aarrr"]


def _stage(ctx: Context, stage: str) -> Values | None:
    funnel = _aarrr(ctx)
    if funnel is None:
        return None
    rows = funnel[funnel["stage"] == stage]
    return _pooled(rows, ctx.segment, "users", "eligible")


def _row_activation(ctx: Context) -> Values | None:
    return _stage(ctx, "activation")


def _row_payer_conversion(ctx: Context) -> Values | None:
    return _stage(ctx, "revenue")


def _row_d30(ctx: Context) -> Values:
    """Active again 30–59 days after signup (the AARRR retention stage, as goals and diagnose
    measure ``d30_retention``); without an activation event, active on day 30 (``nday``)."""
    funnel = _stage(ctx, "retention")
    if funnel is not None:
        return funnel
    frame = retention.nday(ctx.data, days=(30,), users=ctx.data, by=ctx.segment,
                           start=ctx.start, end=ctx.end)
    return _pooled(frame, ctx.segment, "retained", "eligible")


def _row_churn(ctx: Context) -> Values | None:
    if "subscriptions" not in ctx.data:
        return None
    frame = retention.subscriber_churn(ctx.data, period="month", by=ctx.segment, users=ctx.data,
                                       start=ctx.start, end=ctx.end)
    return _pooled(frame[frame["complete"]], ctx.segment, "churned", "active_start")


def _from_summary(column: str) -> Callable[[Context], Values | None]:
    def row(ctx: Context) -> Values | None:
        frame = _summary(ctx)
        return None if frame is None else _frame_by(frame, ctx.segment, column)
    return row


def _row_arpu(ctx: Context) -> Values | None:
    if "revenue" not in ctx.data["events"].columns:
        return None
    frame = consumer.revenue_metrics(ctx.data, freq="month", by=ctx.segment, users=ctx.data,
                                     start=ctx.start, end=ctx.end)
    pooled = _pooled(frame, ctx.segment, "revenue", "active_users")
    return {k: _nan3(v[0]) for k, v in pooled.items()}


def _row_ltv_cac(ctx: Context) -> Values | None:
    frame, spent = _summary(ctx), _allocated_spend(ctx)
    if frame is None or spent is None:
        return None
    payers = _new_payers(ctx)
    ltv = frame.set_index(ctx.segment)["ltv"]
    out = {}
    for k, v in ltv.items():
        cac = spent.get(k, 0.0) / payers.get(k, 0) if payers.get(k, 0) else np.nan
        out[k] = _nan3(v / cac if cac else np.nan)
    return out


def _new_payers(ctx: Context) -> pd.Series:
    """New users of the window who paid at any time after signing up, per segment."""
    e, u = ctx.data["events"], ctx.data["users"]
    new = u.filter((u.signup_at >= ctx.start) & (u.signup_at < ctx.end))
    paid = e.filter(e.revenue > 0).select(pid="user_id").distinct()
    joined = new.join(paid, new.user_id == paid.pid)
    frame = engine.to_pandas(joined.group_by(ctx.segment).aggregate(n=joined.count()))
    return frame.set_index(ctx.segment)["n"]


def _tickets(ctx: Context) -> ibis.Table | None:
    if "tickets" not in ctx.data:
        return None
    t, u = ctx.data["tickets"], ctx.data["users"]
    t = t.filter((t.created_at >= ctx.start) & (t.created_at < ctx.end))
    seg = u.select(tuid=u.user_id, **{ctx.segment: u[ctx.segment]})
    return t.join(seg, t.user_id == seg.tuid)


def _row_ticket_load(ctx: Context) -> Values | None:
    t = _tickets(ctx)
    if t is None:
        return None
    tickets = engine.to_pandas(t.group_by(ctx.segment).aggregate(n=t.count())).set_index(
        ctx.segment)["n"]
    active = consumer.revenue_metrics(ctx.data, freq="month", by=ctx.segment, users=ctx.data,
                                      start=ctx.start, end=ctx.end) \
        if "revenue" in ctx.data["events"].columns else None
    if active is None:
        return None
    monthly = active.groupby(ctx.segment)["active_users"].sum()
    return {k: _nan3(100 * tickets.get(k, 0) / n if n else np.nan) for k, n in monthly.items()}


def _row_csat(ctx: Context) -> Values | None:
    t = _tickets(ctx)
    if t is None or "satisfaction" not in t.columns:
        return None
    rated = t.filter(t.satisfaction.notnull())
    frame = engine.to_pandas(rated.group_by(ctx.segment).aggregate(
        happy=(rated.satisfaction >= 4).cast("int64").sum(), rated=rated.count()))
    return _pooled(frame, ctx.segment, "happy", "rated")


def _row_first_response(ctx: Context) -> Values | None:
    t = _tickets(ctx)
    if t is None or "first_response_at" not in t.columns:
        return None
    answered = t.filter(t.first_response_at.notnull())
    hours = (answered.first_response_at.epoch_seconds()
             - answered.created_at.epoch_seconds()) / 3600.0
    frame = engine.to_pandas(answered.group_by(ctx.segment).aggregate(hours=hours.median()))
    return _frame_by(frame, ctx.segment, "hours")


METRICS: tuple[MetricRow, ...] = (
    MetricRow("new_users", "count", _row_new_users),
    MetricRow("acquisition_cost", "money", _row_acquisition_cost),
    MetricRow("activation_rate", "rate", _row_activation),
    MetricRow("d30_retention", "rate", _row_d30),
    MetricRow("payer_conversion", "rate", _row_payer_conversion),
    MetricRow("monthly_churn", "rate", _row_churn),
    MetricRow("arpu", "money", _row_arpu),
    MetricRow("arpa", "money", _from_summary("arpa")),
    MetricRow("nrr", "share", _from_summary("nrr")),
    MetricRow("grr", "share", _from_summary("grr")),
    MetricRow("ltv", "money", _from_summary("ltv")),
    MetricRow("ltv_to_cac", "multiple", _row_ltv_cac),
    MetricRow("tickets_per_100_users", "number", _row_ticket_load),
    MetricRow("csat", "rate", _row_csat),
    MetricRow("first_response_hours", "hours", _row_first_response),
)

"""The periodic operations review: which period is reviewed, and against which.

Used by ``templates/ops_review.ipynb`` (seed 002's review: goals against
actuals, key numbers, channels, problems, next steps).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from opskit import activity, consumer, growth, retention, saas, service
from opskit.dataset import Dataset

__all__ = ["ReviewWindow", "key_numbers", "review_window"]

_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*(?:/|:|\.\.|to)\s*(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class ReviewWindow:
    """The reviewed period ``[start, end)`` and the reference ``[ref_start, ref_end)``."""

    label: str
    start: pd.Timestamp
    end: pd.Timestamp
    ref_start: pd.Timestamp
    ref_end: pd.Timestamp
    compare_to: str

    @property
    def last_day(self) -> pd.Timestamp:
        return self.end - pd.Timedelta(days=1)


def _parse(period: str) -> tuple[pd.Timestamp, pd.Timestamp, str]:
    text = str(period).strip()
    if m := _QUARTER.match(text):
        start = pd.Timestamp(int(m[1]), 3 * int(m[2]) - 2, 1)
        return start, start + pd.DateOffset(months=3), "quarter"
    if m := _MONTH.match(text):
        start = pd.Timestamp(int(m[1]), int(m[2]), 1)
        return start, start + pd.DateOffset(months=1), "month"
    if m := _WEEK.match(text):
        start = pd.Timestamp.fromisocalendar(int(m[1]), int(m[2]), 1)
        return start, start + pd.Timedelta(weeks=1), "week"
    if m := _YEAR.match(text):
        start = pd.Timestamp(int(m[1]), 1, 1)
        return start, start + pd.DateOffset(years=1), "year"
    if m := _RANGE.match(text):
        start, last = pd.Timestamp(m[1]), pd.Timestamp(m[2])
        if last < start:
            raise ValueError(f"period {period!r} ends before it starts")
        return start, last + pd.Timedelta(days=1), "days"
    raise ValueError(
        f"period {period!r} is not a period opskit reads: write a quarter (2025-Q3), a month "
        "(2025-07), an ISO week (2025-W27), a year (2025) or a range of days "
        "(2025-07-01/2025-09-30, last day included)")


def review_window(period: str, /, *, compare_to: str = "previous") -> ReviewWindow:
    """The reviewed period and the one it is compared with.

    ``period`` is a quarter (``"2025-Q3"``), a month (``"2025-07"``), an ISO
    week (``"2025-W27"``), a year (``"2025"``) or a range of days with the
    last day included (``"2025-07-01/2025-09-30"``). ``compare_to`` is
    ``"previous"`` (the period of the same kind just before: the previous
    quarter, month or week; for a range of days, the same number of days
    before) or ``"year_ago"`` (the same dates one year earlier).

    Examples
    --------
    >>> w = review_window("2025-Q3")
    >>> [f"{t:%Y-%m-%d}" for t in (w.start, w.end, w.ref_start, w.ref_end)]
    ['2025-07-01', '2025-10-01', '2025-04-01', '2025-07-01']
    >>> w = review_window("2025-07-01/2025-07-10", compare_to="year_ago")
    >>> f"{w.ref_start:%Y-%m-%d}", f"{w.ref_end:%Y-%m-%d}"
    ('2024-07-01', '2024-07-11')
    """
    start, end, kind = _parse(period)
    if compare_to == "previous":
        offset = {"quarter": pd.DateOffset(months=3), "month": pd.DateOffset(months=1),
                  "year": pd.DateOffset(years=1)}.get(kind, end - start)
        ref_start, ref_end = start - offset, start
    elif compare_to == "year_ago":
        ref_start, ref_end = start - pd.DateOffset(years=1), end - pd.DateOffset(years=1)
    else:
        raise ValueError(f"compare_to must be 'previous' or 'year_ago', not {compare_to!r}")
    return ReviewWindow(str(period).strip(), start, end, pd.Timestamp(ref_start),
                        pd.Timestamp(ref_end), compare_to)


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")


def _within(frame: pd.DataFrame, lo: pd.Timestamp, hi: pd.Timestamp, column: str = "period") -> pd.DataFrame:
    return frame[(frame[column] >= lo) & (frame[column] < hi)]


def _numbers(ds: Dataset, lo: pd.Timestamp, hi: pd.Timestamp, activation_event: str | None
             ) -> dict[str, tuple[str, float]]:
    """Every key number of ``[lo, hi)`` that the dataset allows: ``{metric: (unit, value)}``."""
    out: dict[str, tuple[str, float]] = {}
    span = {"start": lo, "end": hi}
    regs = growth.registrations(ds, freq="day", **span)
    out["new_users"] = ("count", float(regs["registrations"].sum()))
    if activation_event:
        funnel = consumer.aarrr(ds, activation_event=activation_event, users=ds, **span).set_index("stage")
        out["activation_rate"] = ("rate", float(funnel.loc["activation", "rate"]))
    dau = _within(activity.active_users(ds, freq="day"), lo, hi)
    out["dau"] = ("number", float(dau["active_users"].mean()) if len(dau) else np.nan)
    sticky = activity.stickiness(ds, freq="month", **span)
    out["stickiness"] = ("rate", float(sticky["stickiness"].mean()) if len(sticky) else np.nan)
    d30 = retention.nday(ds, days=(30,), users=ds, **span)
    out["d30_retention"] = ("rate", float(d30["rate"].iloc[0]) if len(d30) else np.nan)
    nvr = retention.new_vs_returning(ds, days=30, period="month", users=ds, **span)
    nvr = nvr[nvr["complete"]].groupby("group")[["retained", "users"]].sum()
    for group in ("new", "returning"):
        if group in nvr.index:
            out[f"{group}_retention"] = ("rate", _ratio(nvr.loc[group, "retained"], nvr.loc[group, "users"]))
    if "revenue" in ds["events"].columns:
        money = consumer.revenue_metrics(ds, freq="month", **span)
        out["revenue"] = ("money", float(money["revenue"].sum()))
        out["arppu"] = ("money", _ratio(money["revenue"].sum(), money["paying_users"].sum()))
    if "subscriptions" in ds:
        churn = retention.subscriber_churn(ds, period="month", **span)
        churn = churn[churn["complete"]]
        out["churn"] = ("rate", _ratio(churn["churned"].sum(), churn["active_start"].sum()))
        moves = saas.mrr_movements(ds, **span)
        if len(moves):
            last = moves.iloc[-1]
            out["paying_accounts"] = ("count", float(last["customers_end"]))
            out["mrr"] = ("money", float(last["mrr_end"]))
    if "tickets" in ds:
        levels = service.service_levels(ds, freq="month", **span)
        out["tickets"] = ("count", float(levels["tickets"].sum()))
        happy = (levels["csat"].fillna(0) * levels["rated"]).sum()
        out["csat"] = ("rate", _ratio(happy, levels["rated"].sum()))
    return out


def key_numbers(dataset: Dataset, window: ReviewWindow, /, *,
                activation_event: str | None = "create_doc") -> pd.DataFrame:
    """The review's key numbers for the period and its reference, each from its KPI function.

    ``new_users`` (:func:`opskit.growth.registrations`), ``activation_rate``
    (:func:`opskit.consumer.aarrr`, within 7 days), ``dau`` (mean daily active
    users), ``stickiness`` (mean DAU/MAU of the months, :func:`opskit.activity.stickiness`),
    ``d30_retention`` (:func:`opskit.retention.nday`), ``new_retention`` and
    ``returning_retention`` (30-day, :func:`opskit.retention.new_vs_returning`
    pooled over complete months), ``revenue`` and ``arppu``
    (:func:`opskit.consumer.revenue_metrics`), ``churn`` (paying accounts per month,
    :func:`opskit.retention.subscriber_churn` pooled), ``paying_accounts`` and
    ``mrr`` at the end of the last month (:func:`opskit.saas.mrr_movements`),
    ``tickets`` and ``csat`` (:func:`opskit.service.service_levels`). A metric the
    dataset cannot give is left out. Monthly KPIs keep the months whose start lies
    in the window.

    Returns
    -------
    pandas.DataFrame
        ``metric``, ``unit`` (count, rate, money, number), ``current``,
        ``reference``, ``change`` (relative; for rates the difference).
    """
    cur = _numbers(dataset, window.start, window.end, activation_event)
    ref = _numbers(dataset, window.ref_start, window.ref_end, activation_event)
    rows = []
    for metric, (unit, value) in cur.items():
        before = ref.get(metric, (unit, np.nan))[1]
        change = value - before if unit == "rate" else _ratio(value - before, before)
        rows.append({"metric": metric, "unit": unit, "current": value, "reference": before,
                     "change": change})
    return pd.DataFrame(rows)

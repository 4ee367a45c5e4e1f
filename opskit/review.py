"""The periodic operations review: which period is reviewed, and against which.

Used by ``templates/ops_review.ipynb`` (seed 002's review: goals against
actuals, key numbers, channels, problems, next steps).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from opskit import activity, anomalies, consumer, growth, retention, saas, service
from opskit.dataset import Dataset

__all__ = ["ReviewWindow", "in_window", "key_numbers", "review_window", "signals", "weekly_anomalies"]

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
    kind: str = "days"  # quarter, month, week, year or days

    @property
    def freq(self) -> str:
        """The calendar frequency of the period, for KPIs by period (a year or days: months)."""
        return self.kind if self.kind in ("quarter", "month", "week") else "month"

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
                        pd.Timestamp(ref_end), compare_to, kind)


def in_window(frame: pd.DataFrame, window: ReviewWindow, /, *, column: str = "period") -> pd.DataFrame:
    """The rows of ``frame`` whose ``column`` lies in the reviewed period ``[start, end)``."""
    values = pd.to_datetime(frame[column])
    return frame[(values >= window.start) & (values < window.end)].reset_index(drop=True)


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
        # active again 30–59 days after signup: d30_retention as goals and diagnose measure it
        out["d30_retention"] = ("rate", float(funnel.loc["retention", "rate"]))
    dau = _within(activity.active_users(ds, freq="day"), lo, hi)
    out["dau"] = ("number", float(dau["active_users"].mean()) if len(dau) else np.nan)
    sticky = activity.stickiness(ds, freq="month", **span)
    out["stickiness"] = ("rate", float(sticky["stickiness"].mean()) if len(sticky) else np.nan)
    if "d30_retention" not in out:  # no key action given: active on day 30
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
    ``d30_retention`` (active again 30–59 days after signup, the retention stage of
    :func:`opskit.consumer.aarrr`, as goals and diagnose measure it; on day 30 by
    :func:`opskit.retention.nday` without ``activation_event``), ``new_retention`` and
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


def signals(*, numbers: pd.DataFrame | None = None, channels: pd.DataFrame | None = None,
            anomalies: pd.DataFrame | None = None, attainment: pd.DataFrame | None = None,
            diagnosis: pd.DataFrame | None = None) -> dict:
    """What the review's numbers say, as the facts :func:`opskit.narrative.next_steps` reads.

    ``weakest``: the stage :func:`opskit.diagnose` marks weakest; ``anomalies``:
    the flagged rows; ``missed_goals``: targets with status ``missed`` or
    ``behind``; ``best_converting_channel`` and ``costliest_channel``: of
    :func:`opskit.channels.acquisition`, the channel with the highest
    conversion rate and the one with the highest cost per conversion;
    ``new_retain_worse``: :func:`key_numbers`' new-user retention below the
    returning users'.
    """
    out: dict = {"weakest": None, "anomalies": anomalies, "missed_goals": 0,
                 "best_converting_channel": None, "costliest_channel": None,
                 "new_retain_worse": False}
    if diagnosis is not None and len(diagnosis) and diagnosis["weakest"].any():
        out["weakest"] = diagnosis.loc[diagnosis["weakest"], "stage"].iloc[0]
    if attainment is not None and len(attainment):
        out["missed_goals"] = int(attainment["status"].isin(["missed", "behind"]).sum())
    if channels is not None and len(channels):
        out["best_converting_channel"] = channels.loc[channels["conversion_rate"].idxmax(), "channel"]
        costs = channels["cost_per_conversion"]
        if costs.notna().any():
            out["costliest_channel"] = channels.loc[costs.idxmax(), "channel"]
    if numbers is not None:
        rates = numbers.set_index("metric")["current"]
        if {"new_retention", "returning_retention"} <= set(rates.index):
            out["new_retain_worse"] = bool(rates["new_retention"] < rates["returning_retention"])
    return out


def weekly_anomalies(dataset: Dataset, window: ReviewWindow, /, *, segment: str = "segment",
                     baseline_weeks: int = 8, threshold: float = 3.5,
                     flagged_only: bool = True) -> pd.DataFrame:
    """Weeks of the period whose numbers left their normal range (:func:`opskit.anomalies.flag`).

    The weekly series: paying-account churn per ``segment``
    (:func:`opskit.retention.subscriber_churn`, rises only), support tickets
    (:func:`opskit.service.service_levels`, rises only) and daily active users
    (weekly mean, falls only). Each point is judged against the median of its
    previous ``baseline_weeks`` weeks (modified z-score above ``threshold``), with a
    floor on the scale (``min_scale``) so that a flat history does not flag every
    wobble: half a percentage point of churn, three tickets, three daily users.

    Returns
    -------
    pandas.DataFrame
        The flagged weeks inside the period (every week of the period with
        ``flagged_only=False``, for a chart): ``series`` (e.g. ``"churn_rate b2c"``),
        ``metric``, ``group``, ``period``, ``value``, ``baseline``, ``expected_low``,
        ``expected_high``, ``robust_z``, ``anomaly``, ``rule``; flagged weeks by largest
        ``|robust_z|`` first, all weeks by series and time.
    """
    frames = []
    users = dataset if "users" in dataset else None
    has_segment = users is not None and segment in dataset["users"].columns

    def add(frame: pd.DataFrame, metric: str, by: str | None, direction: str, floor: float) -> None:
        if frame.empty:
            return
        flagged = anomalies.flag(frame, value=metric, time="period", by=by, window=baseline_weeks,
                                 threshold=threshold, direction=direction, min_scale=floor)
        flagged = (flagged[flagged["anomaly"]] if flagged_only else flagged).copy()
        flagged["metric"] = metric
        flagged["group"] = flagged[by].astype(str) if by else ""
        flagged["value"] = flagged[metric].astype(float)
        flagged["series"] = (flagged["metric"] + " " + flagged["group"]).str.strip()
        frames.append(flagged)

    if "subscriptions" in dataset:
        churn = retention.subscriber_churn(dataset, period="week", **(
            {"by": segment, "users": dataset} if has_segment else {}))
        add(churn[churn["complete"]], "churn_rate", segment if has_segment else None, "up", 0.005)
    if "tickets" in dataset:
        levels = service.service_levels(dataset, freq="week")
        add(levels[levels["complete"]], "tickets", None, "up", 3.0)
    daily = activity.active_users(dataset, freq="day")
    daily["period"] = daily["period"] - pd.to_timedelta(daily["period"].dt.weekday, unit="D")
    weekly = daily.groupby("period", as_index=False)["active_users"].mean()
    add(weekly, "active_users", None, "down", 3.0)
    columns = ["series", "metric", "group", "period", "value", "baseline", "expected_low",
               "expected_high", "robust_z", "anomaly", "rule"]
    if not frames:
        return pd.DataFrame(columns=columns)
    out = in_window(pd.concat(frames, ignore_index=True)[columns], window)
    # a one-sided rule has an open end: no bound rather than an infinite one
    out[["expected_low", "expected_high", "robust_z"]] = out[
        ["expected_low", "expected_high", "robust_z"]].replace([np.inf, -np.inf], np.nan)
    if not flagged_only:
        return out.sort_values(["series", "period"], ignore_index=True)
    order = out["robust_z"].abs().sort_values(ascending=False).index
    return out.loc[order].reset_index(drop=True)

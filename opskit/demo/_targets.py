"""Targets: monthly goals set a little above the actual values, some hit, some missed."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from opskit.demo._calendar import _DAY, _Calendar

__all__ = ["_targets"]


def _months(cal: _Calendar) -> list[tuple[int, int]]:
    """Full calendar months inside the data, as (start, end) seconds after start."""
    t0 = pd.Timestamp(cal.start)
    first = t0 if t0.day == 1 else (t0 + pd.offsets.MonthBegin(1))
    starts = pd.date_range(first, t0 + pd.Timedelta(seconds=cal.end), freq="MS")
    spans = [(int((a - t0).total_seconds()), int((b - t0).total_seconds()))
             for a, b in itertools.pairwise(starts)]
    return spans or [(0, cal.end)]


def _plan(actual: np.ndarray, ambition: float, margin: float = .03) -> np.ndarray:
    """A straight-line plan through ``actual`` (NaN = not measurable yet), raised
    by ``ambition``, kept ``margin`` away from every actual value, with at least
    one month hit and one missed (when the values allow it)."""
    known = np.flatnonzero(~np.isnan(actual))
    if len(known) < 2:
        return np.full(len(actual), actual[known].mean() * ambition if len(known) else 0.0)
    slope, level = np.polyfit(known, actual[known], 1)
    plan = np.maximum(level + slope * np.arange(len(actual)), actual[known].mean() / 2) * ambition
    fit = known[(actual[known] > 0) & (plan[known] > 0)]
    if len(fit) < 2:
        return plan
    ratio = actual[fit] / plan[fit]
    if (ratio >= 1).all():
        ratio[np.argmin(ratio)] = 1 - 2 * margin
    if (ratio < 1).all():
        ratio[np.argmax(ratio)] = 1 + 2 * margin
    ratio = np.where(ratio >= 1, np.maximum(ratio, 1 + margin), np.minimum(ratio, 1 - margin))
    plan[fit] = actual[fit] / ratio
    return plan


def _targets(rng: np.random.Generator, u: dict[str, np.ndarray], cal: _Calendar,
             seen: tuple[np.ndarray, np.ndarray], rows: dict[str, np.ndarray]) -> dict[str, list]:
    """Monthly goals: a straight-line plan a little above the actual values.

    ``seen`` is (user, instant) of every session start and charge, which
    stands in for the events when measuring DAU and retention.
    """
    months = _months(cal)
    n = len(u["b2b"])
    seg_rows = u["b2b"][rows["user"]]
    user, t = seen
    day_user = np.sort(t // _DAY * n + user)
    day_user = day_user[np.r_[True, day_user[1:] != day_user[:-1]]]
    dau = np.bincount(day_user // n, minlength=cal.days)
    since = t - u["signup"][user]
    back = np.zeros(n, bool)
    back[user[(since >= 30 * _DAY) & (since < 60 * _DAY)]] = True
    actual: dict[tuple[str, str | None], list[float]] = {}
    for m0, m1 in months:
        new = (u["signup"] >= m0) & (u["signup"] < m1)
        at = m1 - 1
        on = (rows["start"] <= at) & (rows["end"] > at)
        for name, flag in (("b2b", True), ("b2c", False)):
            actual.setdefault(("new_users", name), []).append(float((new & (u["b2b"] == flag)).sum()))
            mine = on & (seg_rows == flag)
            actual.setdefault(("paying_users", name), []).append(
                float(len(np.unique(rows["user"][mine]))))
            actual.setdefault(("mrr", name), []).append(float(rows["mrr"][mine].sum()))
        actual.setdefault(("dau", None), []).append(float(dau[m0 // _DAY: m1 // _DAY].mean()))
        ok = new.any() and m1 + 60 * _DAY <= cal.end
        actual.setdefault(("d30_retention", None), []).append(
            float(back[new].mean()) if ok else np.nan)
    out: dict[str, list] = {k: [] for k in ("metric", "segment", "start", "end", "target")}
    for (metric, segment), values in actual.items():
        plan = _plan(np.array(values), ambition=rng.uniform(1.0, 1.06))
        digits = 3 if metric == "d30_retention" else (-2 if metric == "mrr" else 0)
        plan = np.round(plan, digits)
        for (m0, m1), value in zip(months, plan, strict=True):
            out["metric"].append(metric)
            out["segment"].append(segment)
            out["start"].append(m0)
            out["end"].append(m1)
            out["target"].append(float(value))
    return out

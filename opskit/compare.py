"""Side by side: two segments (B2B and B2C, or any two) on the same page, and promotion cannibalisation.

Definitions: docs/metrics.md, "Side by side".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import ibis
import numpy as np
import pandas as pd

from opskit import engine
from opskit._inputs import table_arg
from opskit._segment_rows import METRICS as _ROWS
from opskit._segment_rows import Context
from opskit._shared import instant as _instant
from opskit.dataset import Dataset
from opskit.errors import DataError

__all__ = ["METRICS", "cannibalisation", "promotion_window", "segments", "two_proportion_test"]


#: The metrics :func:`segments` can put side by side, in their default order.
METRICS = tuple(row.key for row in _ROWS)


def segments(dataset: Dataset, /, *, segment: str = "segment", groups: Sequence[str] | None = None,
             metrics: Sequence[str] | None = None, start: Any = None, end: Any = None,
             gross_margin: float = 0.8, activation_event: str | None = None,
             alpha: float = 0.05) -> pd.DataFrame:
    """Two segments side by side on the headline metrics, each rate difference tested.

    Every metric comes from the KPI function that defines it (docs/metrics.md,
    "Side by side"): ``new_users`` (signed up in the window),
    ``acquisition_cost`` (spend in the window shared out to segments by their
    share of each channel's new users, per new user), ``activation_rate`` and
    ``payer_conversion`` (:func:`opskit.consumer.aarrr`'s activation and
    revenue stages; activation needs ``activation_event``),
    ``d30_retention`` (active again 30–59 days after signup, the aarrr
    retention stage, as :mod:`opskit.goals` and :func:`opskit.diagnose` measure
    it; active on day 30, :func:`opskit.retention.nday`, without
    ``activation_event``), ``monthly_churn``
    (paying accounts lost per month, :func:`opskit.retention.subscriber_churn`
    pooled over the window's complete months), ``arpu`` (revenue per monthly
    active user, :func:`opskit.consumer.revenue_metrics` pooled), ``arpa``,
    ``nrr``, ``grr`` and ``ltv`` (:func:`opskit.saas.summary` at ``end``),
    ``ltv_to_cac`` (LTV / (allocated spend / new users who paid)),
    ``tickets_per_100_users`` (tickets per 100 monthly active users),
    ``csat`` (share of rated tickets rated 4 or 5) and
    ``first_response_hours`` (median). A metric whose table is missing is
    left out.

    Rates are compared with a two-sided two-proportion z-test
    (:func:`two_proportion_test`) on the pooled counts; the other metrics are
    not tested (they are not proportions of one population) and say so.

    Parameters
    ----------
    dataset
        A Dataset with ``users`` (holding ``segment``) and ``events``;
        ``subscriptions``, ``spend``, ``tickets`` and ``conversions`` add rows.
    segment
        The users column that splits the business (``"segment"``: b2b/b2c).
    groups
        The two values to compare, in column order; None: the two most
        frequent values.
    metrics
        Metric keys (:data:`METRICS`) in the order wanted; None: all.
    start, end
        The window (default: the events' range).
    gross_margin
        For LTV.
    activation_event
        The key action for the activation rate (demo: ``"create_doc"``).
    alpha
        Significance level of ``significant``.

    Returns
    -------
    pandas.DataFrame
        One row per metric: ``metric``, ``unit`` (count, money, rate, share
        — a percent that is not a proportion of one population, such as NRR —,
        multiple, number or hours), one column per group, ``difference`` (first -
        second), ``ratio`` (first / second), and for rates ``ci_low``,
        ``ci_high`` (95 % CI of the difference), ``p_value``, ``test``,
        ``significant``. ``attrs["groups"]`` lists the groups,
        ``attrs["window"]`` the window.
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(f"segments needs an opskit.Dataset, not {type(dataset).__name__}")
    users = table_arg(dataset, "users", ("user_id", "signup_at"))
    if segment not in users.columns:
        raise DataError.single("users", segment, "missing_column", 0,
                               "is the segment column to compare, but users has no such column",
                               "add it to users (e.g. b2b/b2c), or pass segment=<a users column>")
    chosen = _groups(users, segment, groups)
    wanted = list(metrics) if metrics is not None else list(METRICS)
    unknown = [m for m in wanted if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {', '.join(METRICS)}")
    events = table_arg(dataset, "events", ("user_id", "event_at"))
    span = engine.to_pandas(events.aggregate(a=events.event_at.min(), b=events.event_at.max())).iloc[0]
    lo = _instant(start, "start") if start is not None else span["a"].normalize()
    hi = _instant(end, "end") if end is not None else span["b"].normalize() + pd.Timedelta(days=1)
    ctx = Context(dataset, segment, lo, hi, gross_margin, activation_event, {})
    rows = []
    by_key = {r.key: r for r in _ROWS}
    for key in wanted:
        values = by_key[key].compute(ctx)
        if values is None:
            continue
        rows.append(_compare_row(key, by_key[key].unit, values, chosen, alpha))
    out = pd.DataFrame(rows)
    out.attrs["groups"] = list(chosen)
    out.attrs["window"] = (lo, hi)
    return out


def _groups(users, segment: str, groups: Sequence[str] | None) -> list[str]:
    counts = engine.to_pandas(users.group_by(segment).aggregate(n=users.count()))
    counts = counts.dropna(subset=[segment]).sort_values(["n", segment], ascending=[False, True])
    if groups is None:
        if len(counts) < 2:
            raise DataError.single("users", segment, "one_segment", len(counts),
                                   f"has {len(counts)} value(s); comparing needs two",
                                   "pick another column with segment=, or pass groups=")
        return sorted(counts[segment].head(2).tolist())
    chosen = list(groups)
    present = set(counts[segment])
    missing = [g for g in chosen if g not in present]
    if len(chosen) != 2 or missing:
        raise ValueError(f"groups must be two values of users.{segment} "
                         f"(found: {', '.join(map(str, sorted(present)))}), not {groups!r}")
    return chosen


def _compare_row(key: str, unit: str, values: dict, groups: list, alpha: float) -> dict:
    nan = float("nan")
    (a, xa, na), (b, xb, nb) = (values.get(g, (nan, nan, nan)) for g in groups)
    row = {"metric": key, "unit": unit, groups[0]: a, groups[1]: b, "difference": a - b,
           "ratio": a / b if b else nan, "ci_low": nan, "ci_high": nan, "p_value": nan,
           "test": "", "significant": False}
    if unit == "rate" and na == na and nb == nb:
        test = two_proportion_test(xa, na, xb, nb)
        row.update(ci_low=test["ci_low"], ci_high=test["ci_high"], p_value=test["p_value"],
                   test="two-proportion z-test",
                   significant=bool(test["p_value"] < alpha) if test["p_value"] == test["p_value"]
                   else False)
    return row


def two_proportion_test(x1: float, n1: float, x2: float, n2: float) -> dict[str, float]:
    """Two-sided two-proportion z-test of ``x1/n1`` against ``x2/n2``, with a 95 % CI of the difference.

    z uses the pooled proportion; the interval is the unpooled (Wald)
    interval of ``p1 - p2``. Returns NaN where a group is empty or the
    pooled proportion is 0 or 1.

    Returns
    -------
    dict
        ``p1``, ``p2``, ``difference`` (p1 - p2), ``ci_low``, ``ci_high``,
        ``z``, ``p_value``.

    Examples
    --------
    >>> r = two_proportion_test(45, 574, 30, 600)
    >>> round(r["difference"], 4), round(r["z"], 2), round(r["p_value"], 3)
    (0.0284, 1.99, 0.047)
    """
    nan = float("nan")
    p1 = x1 / n1 if n1 else nan
    p2 = x2 / n2 if n2 else nan
    out = {"p1": p1, "p2": p2, "difference": p1 - p2, "ci_low": nan, "ci_high": nan,
           "z": nan, "p_value": nan}
    if not (n1 and n2):
        return out
    pooled = (x1 + x2) / (n1 + n2)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    out["ci_low"], out["ci_high"] = p1 - p2 - 1.959964 * se, p1 - p2 + 1.959964 * se
    if se_pooled > 0:
        out["z"] = (p1 - p2) / se_pooled
        out["p_value"] = math.erfc(abs(out["z"]) / math.sqrt(2))
    return out


def cannibalisation(data: Dataset, /, *, promo_start: Any, promo_end: Any,
                    discount: float | None = None, kinds: Sequence[str] | None = ("promotion",),
                    by: str | None = "segment") -> pd.DataFrame:
    """How much of a promotion's revenue came from customers who were already paying.

    A promotion *buyer* is the account (``users.account_id``; the user where
    there is none) of a conversion with ``promo_start <= converted_at <
    promo_end`` and ``kind`` in ``kinds`` (every conversion in the window if
    ``kinds`` is None or the table has no ``kind``). A buyer was **already
    paying** when one of its subscriptions was active at ``promo_start``
    (``started_at < promo_start`` and ``ended_at`` null or after it); without
    a ``subscriptions`` table, when it had a conversion with value > 0 before
    ``promo_start``. Money paid to already-paying buyers is, at best, revenue
    moved earlier at a discount; at worst a discount on revenue that would
    have come anyway.

    Parameters
    ----------
    data
        A Dataset with ``conversions`` and ``users`` (``subscriptions``
        recommended).
    promo_start, promo_end
        The promotion window, end exclusive.
    discount
        The promotion's discount rate (0.2 for 20 % off). The discount given
        on a purchase worth ``v`` is ``v x discount / (1 - discount)`` (the
        list price minus what was paid). None: discount columns are NaN.
    kinds
        Conversion kinds that are promotion purchases.
    by
        A users column to split by (each account takes the value of its
        first user by ``signup_at``), or None.

    Returns
    -------
    pandas.DataFrame
        One row per ``by`` value (and a final ``"all"`` row when ``by`` is
        given): ``buyers``, ``already_paying``, ``share_already_paying``,
        ``revenue``, ``revenue_already_paying``, ``revenue_share_already_paying``,
        ``discount_given``, ``discount_to_already_paying``.

    Examples
    --------
    >>> frames = dict(
    ...     users=pd.DataFrame({"user_id": ["a", "b", "c"], "signup_at": ["2025-01-01"] * 3,
    ...                         "account_id": ["A", "B", "C"], "segment": ["b2b"] * 3}),
    ...     subscriptions=pd.DataFrame({"account_id": ["A", "B"], "mrr": [100.0, 100.0],
    ...                                 "started_at": ["2025-02-01", "2025-10-01"],
    ...                                 "ended_at": [None, "2025-10-20"]}),
    ...     conversions=pd.DataFrame({"user_id": ["a", "b", "c"], "kind": ["promotion"] * 3,
    ...                               "converted_at": ["2025-11-02"] * 3, "value": [800.0] * 3}),
    ...     events=pd.DataFrame({"user_id": ["a"], "event_at": ["2025-01-01"], "event": ["x"]}))
    >>> ds = Dataset.from_frames(**frames)
    >>> out = cannibalisation(ds, promo_start="2025-11-01", promo_end="2025-11-12", discount=0.2)
    >>> out[["segment", "buyers", "already_paying", "share_already_paying", "discount_given"]]
      segment  buyers  already_paying  share_already_paying  discount_given
    0     b2b       3               1              0.333333           600.0
    1     all       3               1              0.333333           600.0
    """
    if not isinstance(data, Dataset):
        raise TypeError("cannibalisation needs an opskit.Dataset (conversions, users and, "
                        f"ideally, subscriptions), not {type(data).__name__}")
    lo, hi = _instant(promo_start, "promo_start"), _instant(promo_end, "promo_end")
    if not lo < hi:
        raise ValueError(f"promo_start ({lo}) must be before promo_end ({hi})")
    if discount is not None and not 0 <= discount < 1:
        raise ValueError(f"`discount` is a rate from 0 to 1 (0.2 for 20 % off), not {discount!r}")
    conv = table_arg(data, "conversions", ("user_id", "converted_at"))
    users = table_arg(data, "users", ("user_id", "signup_at"))
    if by is not None and by not in users.columns:
        raise DataError.single(
            "users", by, "missing_column", 0,
            f"is needed to split the promotion by {by!r}, but users has no such column",
            "add the column to users, or pass by=None")
    account = _accounts(users, by)
    value = conv.value.fill_null(0).cast("float64") if "value" in conv.columns else ibis.literal(0.0)
    every = conv.mutate(value=value)
    kept = every
    if kinds is not None and "kind" in conv.columns:
        kept = kept.filter(kept.kind.isin(list(kinds)))
    buys = kept.filter((kept.converted_at >= lo) & (kept.converted_at < hi))
    buys = buys.left_join(account, buys.user_id == account.uid)
    buys = buys.mutate(buyer=buys.account.fill_null(buys.user_id))
    paying = _paying_at(data, every, account, lo)  # a paid conversion of any kind counts
    buys = buys.left_join(paying, buys.buyer == paying.paying_account)
    per_buyer = buys.group_by(["buyer", *([by] if by else [])]).aggregate(
        revenue=buys.value.sum(), already=buys.paying_account.notnull().any())
    frame = engine.to_pandas(per_buyer)
    return _summarise(frame, by, discount)


def promotion_window(data: Dataset, /, *, kinds: Sequence[str] = ("promotion",)
                     ) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The promotion window found in the data: the days of the first and last promotion conversion.

    ``(start, end)`` with ``start`` the midnight of the first conversion of
    one of ``kinds`` and ``end`` the midnight after the last one (end
    exclusive); None when the data has no such conversion (or no ``kind``).

    Examples
    --------
    >>> conv = pd.DataFrame({"user_id": ["a", "b"], "kind": ["promotion", "promotion"],
    ...                      "converted_at": ["2025-11-01 10:00", "2025-11-11 23:00"]})
    >>> events = pd.DataFrame({"user_id": ["a"], "event_at": ["2025-11-01"], "event": ["x"]})
    >>> promotion_window(Dataset.from_frames(conversions=conv, events=events))
    (Timestamp('2025-11-01 00:00:00'), Timestamp('2025-11-12 00:00:00'))
    """
    if "conversions" not in data:
        return None
    conv = table_arg(data, "conversions", ("user_id", "converted_at"))
    if "kind" not in conv.columns:
        return None
    promo = conv.filter(conv.kind.isin(list(kinds)))
    span = engine.to_pandas(promo.aggregate(a=promo.converted_at.min(),
                                            b=promo.converted_at.max())).iloc[0]
    if pd.isna(span["a"]):
        return None
    return span["a"].normalize(), span["b"].normalize() + pd.Timedelta(days=1)


def _accounts(users, by: str | None):
    """user -> (account, by value of the account's first user)."""
    acct = users.account_id if "account_id" in users.columns else users.user_id
    u = users.mutate(uid=users.user_id, account=acct.fill_null(users.user_id))
    if by is None:
        return u.select("uid", "account")
    first = u.mutate(rank=ibis.row_number().over(
        group_by=u.account, order_by=[u.signup_at, u.user_id]))
    firsts = first.filter(first.rank == 0).select(acct_key="account", acct_by=by)
    joined = u.left_join(firsts, u.account == firsts.acct_key)
    return joined.select("uid", "account", **{by: joined.acct_by})


def _paying_at(data: Dataset, conv, account, at: pd.Timestamp):
    """Accounts paying at ``at``: an active subscription, or else an earlier paid conversion."""
    if "subscriptions" in data:
        subs = table_arg(data, "subscriptions", ("account_id", "started_at"))
        ended = subs.ended_at if "ended_at" in subs.columns else ibis.null("timestamp")
        active = subs.filter((subs.started_at < at) & (ended.isnull() | (ended > at)))
        return active.select(paying_account="account_id").distinct()
    before = conv.filter((conv.converted_at < at) & (conv.value > 0))
    before = before.left_join(account, before.user_id == account.uid)
    return before.select(paying_account=before.account.fill_null(before.user_id)).distinct()


def _summarise(frame: pd.DataFrame, by: str | None, discount: float | None) -> pd.DataFrame:
    factor = np.nan if discount is None else discount / (1 - discount)
    frame["already"] = frame["already"].fillna(False).astype(bool)
    frame["revenue_already"] = frame["revenue"].where(frame["already"], 0.0)
    groups = [by] if by else []

    def total(part: pd.DataFrame) -> dict[str, float]:
        buyers, already = len(part), int(part["already"].sum())
        revenue, rev_already = float(part["revenue"].sum()), float(part["revenue_already"].sum())
        return {"buyers": buyers, "already_paying": already,
                "share_already_paying": already / buyers if buyers else np.nan,
                "revenue": revenue, "revenue_already_paying": rev_already,
                "revenue_share_already_paying": rev_already / revenue if revenue else np.nan,
                "discount_given": revenue * factor,
                "discount_to_already_paying": rev_already * factor}

    rows = []
    if groups:
        for key, part in frame.groupby(by, dropna=False, sort=True):
            rows.append({by: key, **total(part)})
        rows.append({by: "all", **total(frame)})
    else:
        rows.append(total(frame))
    out = pd.DataFrame(rows)
    return out.astype({"buyers": "int64", "already_paying": "int64"})

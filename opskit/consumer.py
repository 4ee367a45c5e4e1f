"""Consumer (B2C) metrics: revenue per user, payer conversion, repurchase, AARRR, promotions.

What a consumer-operations review reports about money and the user funnel:
ARPU, ARPPU and the payer rate per period (:func:`revenue_metrics`), the
repurchase rate (:func:`repurchase`, seed 002's 复购率), the AARRR funnel of
new users (:func:`aarrr`; seed 004 calls AARRR the frame of C-side operations)
and the response to a promotion, with how many of its buyers were paying
anyway (:func:`promotion_response`; seed 004's warning that a B2B promotion
mostly discounts existing payers).

A *purchase* is an ``events`` row with ``revenue > 0`` (optionally only some
event names): a first order, a repeat order and a subscription renewal all
count. A *payer* in a period has at least one purchase in it. Every count
happens in the engine (Ibis); only small aggregates are shaped in pandas.
Definitions with worked examples: docs/metrics.md ("Consumer metrics").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from opskit import engine
from opskit._inputs import table_arg
from opskit._periods import FREQS, floor_period, period_range, period_start
from opskit._shared import as_list as _as_list
from opskit._shared import data_span as _observed
from opskit._shared import instant as _instant
from opskit._shared import ints as _ints
from opskit._shared import users_table as _users
from opskit.retention import wilson

__all__ = ["STAGES", "aarrr", "promotion_response", "repurchase", "revenue_metrics"]

#: The AARRR stages, in funnel order.
STAGES = ("acquisition", "activation", "retention", "revenue", "referral")

_DAY = pd.Timedelta(days=1)


# --- shared helpers ----------------------------------------------------------------------


def _check_freq(freq: str | None, *, optional: bool = False) -> None:
    if freq is None and optional:
        return
    if freq not in FREQS:
        allowed = ", ".join(map(repr, FREQS)) + (" or None" if optional else "")
        raise ValueError(f"freq must be one of {allowed}, not {freq!r}")


def _event_names(value: str | Sequence[str] | None, name: str) -> list[str] | None:
    """``None``, or a non-empty list of event names."""
    if value is None:
        return None
    names = [value] if isinstance(value, str) else list(value)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"{name} must be an event name or a non-empty list of event names, not {value!r}")
    return names


def _days(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """A number of days (fractions allowed), positive (or zero)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number of days, not {value!r}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'} days, not {value!r}")
    return float(value)


def _interval(days: float) -> ir.IntervalScalar:
    """``days`` as an engine interval (whole days when possible, else seconds)."""
    if float(days).is_integer():
        return ibis.interval(days=int(days))
    return ibis.interval(seconds=round(days * 86_400))


def _next_start(start: Any, freq: str) -> Any:
    """Start of the period after the one starting at ``start`` (a Timestamp or a Series)."""
    if freq == "month":
        return start + pd.offsets.MonthBegin(1)
    return start + pd.Timedelta(days=1 if freq == "day" else 7)


def _periods(first_day: pd.Timestamp, horizon: pd.Timestamp, freq: str, start: pd.Timestamp | None,
             end: pd.Timestamp | None) -> pd.DatetimeIndex:
    """The periods the data touch, from the first event's to the last event's, that start in
    ``[start, end)``."""
    periods = period_range(floor_period(first_day, freq), floor_period(horizon - _DAY, freq), freq)
    if start is not None:
        periods = periods[periods >= start]
    if end is not None:
        periods = periods[periods < end]
    return periods


def _with_dims(table: ir.Table, dims: ir.Table | None, by_cols: list[str]) -> ir.Table:
    """Add the users columns ``by_cols`` to a table keyed by ``user_id``."""
    if dims is None:
        return table
    return table.left_join(dims, "user_id").select(table, *[dims[c] for c in by_cols])


def _purchases(table: ir.Table, names: list[str] | None) -> ir.Table:
    """Purchases: rows with ``revenue > 0`` (of the event names given)."""
    paid = table.revenue > 0
    if names is not None:
        paid = paid & table.event.isin(names)
    return table.filter(paid)


def _grid(counts: pd.DataFrame, periods: pd.DatetimeIndex, by_cols: list[str]) -> pd.DataFrame:
    """Every period (for every ``by`` group seen) with its counts; missing cells are NaN."""
    grid = pd.DataFrame({"period": periods.astype("datetime64[ns]")})
    if by_cols:
        grid = grid.merge(counts[by_cols].drop_duplicates(), how="cross")
    return grid.merge(counts, on=["period", *by_cols], how="left")


def _rate(k: pd.Series, n: pd.Series) -> pd.Series:
    return (k / n).where(n > 0)


def _ci(out: pd.DataFrame, k: str, n: str, rate: str) -> pd.DataFrame:
    low, high = wilson(out[k], out[n])
    observed = out[rate].notna().to_numpy()
    out["ci_low"] = np.where(observed, low, np.nan)
    out["ci_high"] = np.where(observed, high, np.nan)
    return out


def _flag(cond: ir.BooleanValue) -> ir.IntegerValue:
    """1 when ``cond`` holds on some row of the group, else 0 (nulls count as false)."""
    return ibis.cases((cond, 1), else_=0).max()


# --- revenue per user ----------------------------------------------------------------------


def revenue_metrics(events: Any, /, *, freq: str = "month", event: str | Sequence[str] | None = None,
                    by: str | Sequence[str] | None = None, users: Any = None, start: Any = None,
                    end: Any = None) -> pd.DataFrame:
    """ARPU, ARPPU and the payer rate per calendar period.

    In each period: *active users* had at least one event of any kind (a purchase is an
    event, so every payer is active); *paying users* had at least one purchase (an event
    with ``revenue > 0``); *revenue* is the sum of ``revenue``. Then

    * ARPU = revenue / active users (平均每用户收入),
    * ARPPU = revenue / paying users (平均每付费用户收入),
    * payer rate = paying users / active users (付费率 / 付费转化率, seed 000 compares it
      across user groups), with a Wilson 95 % interval.

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``, ``revenue``; ``event`` with ``event=``): a
        Dataset, an Ibis table or a pandas frame.
    freq
        ``"day"``, ``"week"`` (ISO, Monday start) or ``"month"``.
    event
        Event name(s) whose revenue counts (purchases of other events are ignored, for
        revenue and payers alike); ``None``: every event with revenue.
    by, users
        ``users`` column(s) to break down by (``by="segment"``) and the ``users`` table.
    start, end
        Keep the periods whose start is in ``[start, end)`` (whole periods).

    Returns
    -------
    pandas.DataFrame
        One row per period (and ``by`` group) from the first event's period to the last
        event's: ``period``, ``active_users``, ``paying_users`` (int64), ``revenue``,
        ``arpu``, ``arppu``, ``payer_rate``, ``ci_low``, ``ci_high`` (float64; ratios are
        NaN when their denominator is 0), ``complete`` (the whole period lies inside the
        data: from midnight of the first event's day to midnight after the last event's
        day), then the ``by`` columns. Periods without activity show 0 users and revenue.

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["a", "a", "b", "c", "c", "b"],
    ...     "event": ["view", "purchase", "view", "purchase", "purchase", "view"],
    ...     "revenue": [None, 30, None, 39, 39, None],
    ...     "event_at": ["2025-01-03", "2025-01-05", "2025-01-10", "2025-01-20", "2025-02-02",
    ...                  "2025-02-10"]})
    >>> revenue_metrics(events)[["period", "active_users", "paying_users", "revenue", "arpu",
    ...                          "arppu", "payer_rate"]]
          period  active_users  paying_users  revenue  arpu  arppu  payer_rate
    0 2025-01-01             3             2     69.0  23.0   34.5    0.666667
    1 2025-02-01             2             1     39.0  19.5   39.0    0.500000
    """
    _check_freq(freq)
    by_cols = _as_list(by)
    names = _event_names(event, "event")
    needed = ("user_id", "event_at", "revenue") + (("event",) if names else ())
    table = table_arg(events, "events", needed)
    dims = _users(users, by_cols, "revenue_metrics") if by_cols else None
    first_day, horizon = _observed(table)
    columns = ["period", "active_users", "paying_users", "revenue", "arpu", "arppu", "payer_rate",
               "ci_low", "ci_high", "complete", *by_cols]
    periods = (pd.DatetimeIndex([]) if pd.isna(horizon) else
               _periods(first_day, horizon, freq, _instant(start, "start"), _instant(end, "end")))
    if periods.empty:
        return _empty(columns, ints=("active_users", "paying_users"), bools=("complete",))

    t = table.filter((table.event_at >= ibis.timestamp(periods[0]))
                     & (table.event_at < ibis.timestamp(_next_start(periods[-1], freq))))
    money = t.revenue if names is None else ibis.cases((t.event.isin(names), t.revenue), else_=None)
    t = t.mutate(period=period_start(t.event_at, freq), money=money.cast("float64"))
    per_user = t.group_by(["user_id", "period"]).aggregate(
        revenue=t.money.sum(), paid=_flag(t.money > 0))
    per_user = _with_dims(per_user, dims, by_cols)
    counts = engine.to_pandas(per_user.group_by(["period", *by_cols]).aggregate(
        active_users=per_user.count(), paying_users=per_user.paid.sum(),
        revenue=per_user.revenue.sum()))

    out = _ints(_grid(counts, periods, by_cols), ["active_users", "paying_users"])
    out["revenue"] = out["revenue"].astype("float64").fillna(0.0)
    out["arpu"] = _rate(out["revenue"], out["active_users"])
    out["arppu"] = _rate(out["revenue"], out["paying_users"])
    out["payer_rate"] = _rate(out["paying_users"], out["active_users"])
    out = _ci(out, "paying_users", "active_users", "payer_rate")
    out["complete"] = ((out["period"] >= first_day) & (_next_start(out["period"], freq) <= horizon))
    out = out.sort_values([*by_cols, "period"], kind="stable").reset_index(drop=True)
    return out[columns]


def _empty(columns: list[str], *, ints: Sequence[str] = (), bools: Sequence[str] = (),
           text: Sequence[str] = ()) -> pd.DataFrame:
    def dtype(c: str) -> str:
        if c in ("period", "start", "end"):
            return "datetime64[ns]"
        if c in ints:
            return "int64"
        if c in bools:
            return "bool"
        return "object" if c in text else "float64"
    return pd.DataFrame({c: pd.Series(dtype=dtype(c)) for c in columns})


# --- repurchase ------------------------------------------------------------------------------


def repurchase(events: Any, /, *, freq: str = "month", window: float | None = None,
               event: str | Sequence[str] | None = None, by: str | Sequence[str] | None = None,
               users: Any = None, start: Any = None, end: Any = None) -> pd.DataFrame:
    """Repurchase rate (复购率, seed 002): of the users who bought, the share who bought again.

    A *purchase* is an ``events`` row with ``revenue > 0`` (of the ``event`` names, if
    given); two purchases at the same instant are two (a frame's exact duplicate rows are
    dropped when it is validated, as :func:`opskit.load` does). The *buyers* of period P have
    at least one purchase in P.

    * ``window=None`` (the classic 复购率 of a period): a buyer *repurchased* when they
      have at least 2 purchases in P.
    * ``window=N`` days: a buyer repurchased when they have at least 2 purchases in
      ``[t1, t1 + N days)``, where t1 is their first purchase in P (the second purchase
      may fall after P). Use this for subscriptions: a monthly plan charges once per
      calendar month, so its in-month rate is near 0, while ``window=35`` measures renewal.

    Subscription renewals are purchases; pass ``event=`` to count only some event names
    (e.g. orders, not renewals) when the data tell them apart.

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``, ``revenue``; ``event`` with ``event=``).
    freq
        ``"day"``, ``"week"`` or ``"month"``.
    window
        Days after each buyer's first purchase in the period (fractions allowed), or None.
    event
        Event name(s) that are purchases; None: any event with revenue.
    by, users
        ``users`` column(s) to break down by and the ``users`` table.
    start, end
        Keep the periods whose start is in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``buyers``, ``repeat_buyers`` (int64), ``rate``, ``ci_low``,
        ``ci_high`` (Wilson 95 %), ``complete``, then the ``by`` columns; one row per period
        of the data. ``complete`` is True when the period, and with ``window`` the N days
        after it, lie inside the data; ``rate`` is NaN otherwise (a cut window undercounts
        repeat purchases) and when there are no buyers.

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["a", "a", "b", "c", "c", "c"], "event": "order",
    ...     "revenue": [10, 20, 15, 5, 5, 5],
    ...     "event_at": ["2025-01-01", "2025-01-20", "2025-01-09", "2025-01-30", "2025-02-04",
    ...                  "2025-02-28"]})
    >>> repurchase(events)[["period", "buyers", "repeat_buyers", "rate"]]
          period  buyers  repeat_buyers      rate
    0 2025-01-01       3              1  0.333333
    1 2025-02-01       1              1  1.000000
    >>> repurchase(events, window=7)[["period", "buyers", "repeat_buyers", "rate"]]
          period  buyers  repeat_buyers      rate
    0 2025-01-01       3              1  0.333333
    1 2025-02-01       1              0       NaN

    With a 7-day window a's orders (17 days apart) no longer count, c's 30 Jan and
    4 Feb do; February's 7 days after its end run past the end of the data (1 March), so
    it has no rate.
    """
    _check_freq(freq)
    by_cols = _as_list(by)
    names = _event_names(event, "event")
    days = None if window is None else _days(window, "window")
    needed = ("user_id", "event_at", "revenue") + (("event",) if names else ())
    table = table_arg(events, "events", needed)
    dims = _users(users, by_cols, "repurchase") if by_cols else None
    first_day, horizon = _observed(table)
    columns = ["period", "buyers", "repeat_buyers", "rate", "ci_low", "ci_high", "complete", *by_cols]
    periods = (pd.DatetimeIndex([]) if pd.isna(horizon) else
               _periods(first_day, horizon, freq, _instant(start, "start"), _instant(end, "end")))
    if periods.empty:
        return _empty(columns, ints=("buyers", "repeat_buyers"), bools=("complete",))

    bought = _purchases(table, names).select("user_id", "event_at")
    inside = bought.filter((bought.event_at >= ibis.timestamp(periods[0]))
                           & (bought.event_at < ibis.timestamp(_next_start(periods[-1], freq))))
    inside = inside.mutate(period=period_start(inside.event_at, freq))
    if days is None:
        per_buyer = inside.group_by(["user_id", "period"]).aggregate(n=inside.count())
    else:
        firsts = inside.group_by(["user_id", "period"]).aggregate(t1=inside.event_at.min())
        later = bought.select(r_user=bought.user_id, r_at=bought.event_at)
        joined = firsts.join(later, (firsts.user_id == later.r_user) & (later.r_at >= firsts.t1)
                             & (later.r_at < firsts.t1 + _interval(days)))
        per_buyer = joined.group_by(["user_id", "period"]).aggregate(n=joined.count())
    per_buyer = _with_dims(per_buyer, dims, by_cols)
    counts = engine.to_pandas(per_buyer.group_by(["period", *by_cols]).aggregate(
        buyers=per_buyer.count(), repeat_buyers=_count_if(per_buyer.n >= 2)))

    out = _ints(_grid(counts, periods, by_cols), ["buyers", "repeat_buyers"])
    observed_to = _next_start(out["period"], freq) + pd.Timedelta(days=days or 0)
    out["complete"] = (out["period"] >= first_day) & (observed_to <= horizon)
    out["rate"] = _rate(out["repeat_buyers"], out["buyers"]).where(out["complete"])
    out = _ci(out, "repeat_buyers", "buyers", "rate")
    out = out.sort_values([*by_cols, "period"], kind="stable").reset_index(drop=True)
    return out[columns]


def _count_if(cond: ir.BooleanValue) -> ir.IntegerValue:
    return ibis.cases((cond, 1), else_=0).sum()


# --- the AARRR funnel ---------------------------------------------------------------------


def aarrr(events: Any, /, *, activation_event: str | Sequence[str], users: Any = None,
          activation_days: float = 7, retention_days: tuple[float, float] = (30, 60),
          retention_event: str | Sequence[str] | None = None, revenue_days: float = 30,
          referral_event: str | Sequence[str] | None = None, referral_days: float = 30,
          nested: bool = False, freq: str | None = None, by: str | Sequence[str] | None = None,
          start: Any = None, end: Any = None) -> pd.DataFrame:
    """The AARRR funnel of new users: acquisition, activation, retention, revenue, referral.

    Each user's start t0 is ``users.signup_at`` (with ``users``), else their first event.
    Days are 24-hour periods from t0; every window is ``[t0 + a days, t0 + b days)``.

    * **acquisition**: signed up in the range (seed 003's 新用户注册数).
    * **activation**: did ``activation_event`` (the key action; seed 003's 新用户激活数,
      "completed a first use") within ``activation_days`` of t0.
    * **retention**: had an event (a ``retention_event`` if given) between day
      ``retention_days[0]`` and day ``retention_days[1]`` after t0: by default 30–59 days
      after signup, the demo's 30-day retention.
    * **revenue**: paid (an event with ``revenue > 0``) within ``revenue_days`` of t0.
    * **referral**: did ``referral_event`` (an invitation, a share) within
      ``referral_days`` of t0. Left out when ``referral_event`` is None.

    Only users whose window for a stage had ended by the end of the data (midnight after
    the last event's day) are *eligible* for it, so recent signups do not drag a rate
    down; users who signed up before the events begin are left out (their behaviour after
    signup cannot be seen). A stage's ``rate`` is users / eligible: a share of acquired
    users.

    The stages are counted independently by default (a user who paid but did not come
    back on days 30–59 counts in revenue). ``conversion_from_previous`` is then a real
    conditional rate: of the users who reached the previous stage (and are eligible for
    both), the share who reached this one. With ``nested=True`` a user reaches a stage
    only when they also reached every earlier one (a strict funnel: ``users`` never
    grows down the stages), and eligible means every window so far has ended.

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``, ``event``, ``revenue``).
    activation_event
        The key action's event name(s) (demo: ``"create_doc"``). Required: it is the
        product's own definition.
    users
        The ``users`` table (``user_id``, ``signup_at``, the ``by`` columns).
    activation_days, revenue_days, referral_days
        Window lengths in days (> 0).
    retention_days
        ``(first, end)``: the retention window, ``0 <= first < end``.
    retention_event
        Event name(s) that count as coming back; None: any event (a server-side renewal
        charge counts too).
    referral_event
        The referral action's event name(s) (demo: ``"invite_member"``).
    nested
        Count a stage only for users who reached every earlier stage.
    freq
        None for one funnel; ``"day"``, ``"week"`` or ``"month"`` for one per signup period.
    by
        ``users`` column(s) to break down by (needs ``users``).
    start, end
        Keep users whose t0 is in ``[start, end)`` (with ``freq``: whose signup period
        starts in it).

    Returns
    -------
    pandas.DataFrame
        One row per stage (and period, ``by`` group), in funnel order: ``period`` (with
        ``freq``), ``stage``, ``users`` (reached the stage), ``eligible`` (int64), ``rate``
        (users / eligible), ``ci_low``, ``ci_high`` (Wilson 95 %),
        ``conversion_from_previous`` (NaN for acquisition), ``definition`` (the rule in
        words), then the ``by`` columns.

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["a", "a", "a", "a", "b", "b", "c", "z"],
    ...     "event": ["signup", "create", "purchase", "view", "signup", "view", "signup", "view"],
    ...     "revenue": [None, None, 39, None, None, None, None, None],
    ...     "event_at": ["2025-01-01", "2025-01-03", "2025-01-10", "2025-02-05", "2025-01-02",
    ...                  "2025-01-05", "2025-01-04", "2025-03-31"]})
    >>> aarrr(events, activation_event="create", activation_days=7, retention_days=(30, 60),
    ...       revenue_days=30)[["stage", "users", "eligible", "rate", "conversion_from_previous"]]
             stage  users  eligible      rate  conversion_from_previous
    0  acquisition      4         4  1.000000                       NaN
    1   activation      1         3  0.333333                  0.333333
    2    retention      1         3  0.333333                  1.000000
    3      revenue      1         3  0.333333                  1.000000

    z's first event (31 March, the last day of the data) makes z a new user whose windows
    have not ended: eligible for acquisition only.
    """
    activation = _event_names(activation_event, "activation_event")
    if activation is None:
        raise TypeError("activation_event is required: the event name(s) of the key action")
    returning = _event_names(retention_event, "retention_event")
    referral = _event_names(referral_event, "referral_event")
    _check_freq(freq, optional=True)
    if not isinstance(nested, bool):
        raise TypeError(f"nested must be True or False, not {nested!r}")
    act_days = _days(activation_days, "activation_days")
    rev_days = _days(revenue_days, "revenue_days")
    ref_days = _days(referral_days, "referral_days")
    try:
        r_first, r_end = (_days(d, "retention_days", allow_zero=True) for d in retention_days)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"retention_days must be (first, end) days with 0 <= first < end, "
                         f"not {retention_days!r}") from exc
    if r_first >= r_end:
        raise ValueError(f"retention_days must be (first, end) with first < end, not {retention_days!r}")
    by_cols = _as_list(by)

    table = table_arg(events, "events", ("user_id", "event_at", "event", "revenue"))
    stages = [("acquisition", 0.0, None), ("activation", act_days, activation),
              ("retention", r_end, returning), ("revenue", rev_days, None)]
    if referral is not None:
        stages.append(("referral", ref_days, referral))
    definitions = _definitions(stages, users is not None, r_first, nested)
    first_day, horizon = _observed(table)
    keys = (["period"] if freq else []) + by_cols
    columns = [*(["period"] if freq else []), "stage", "users", "eligible", "rate", "ci_low", "ci_high",
               "conversion_from_previous", "definition", *by_cols]
    if pd.isna(horizon):
        return _empty(columns, ints=("users", "eligible"), text=("stage", "definition"))

    if users is not None:
        u = _users(users, ("signup_at", *by_cols), "aarrr")
        cohort = u.select("user_id", *by_cols, t0=u.signup_at)
    elif by_cols:
        raise ValueError("aarrr(by=...) breaks down by users columns: pass users=...")
    else:
        cohort = table.group_by("user_id").aggregate(t0=table.event_at.min())
    lo, hi = _instant(start, "start"), _instant(end, "end")
    if freq:  # whole signup periods
        lo = None if lo is None else _ceil_period(lo, freq)
        hi = None if hi is None else _ceil_period(hi, freq)
    grid = _periods(first_day, horizon, freq, lo, hi) if freq else None
    t_lo = first_day if lo is None else max(lo, first_day)
    t_hi = horizon if hi is None else min(hi, horizon)
    cohort = cohort.filter((cohort.t0 >= ibis.timestamp(t_lo)) & (cohort.t0 < ibis.timestamp(t_hi)))
    if freq:
        cohort = cohort.mutate(period=period_start(cohort.t0, freq))

    longest = max(days for _, days, _ in stages)
    starts = cohort.select(c_user=cohort.user_id, c_t0=cohort.t0)
    e = table.select("user_id", "event_at", "event", "revenue")
    j = starts.join(e, (starts.c_user == e.user_id) & (e.event_at >= starts.c_t0)
                    & (e.event_at < starts.c_t0 + _interval(longest)))

    def before(d: float) -> ir.BooleanValue:
        return j.event_at < j.c_t0 + _interval(d)

    came_back = (j.event_at >= j.c_t0 + _interval(r_first)) & before(r_end)
    if returning is not None:
        came_back = came_back & j.event.isin(returning)
    reached = {"activation": _flag(j.event.isin(activation) & before(act_days)),
               "retention": _flag(came_back),
               "revenue": _flag((j.revenue > 0) & before(rev_days))}
    if referral is not None:
        reached["referral"] = _flag(j.event.isin(referral) & before(ref_days))
    flags = j.group_by(user_id=j.c_user).aggregate(**reached)
    marked = cohort.left_join(flags, "user_id").select(
        cohort, **{f"r_{s}": flags[s].fill_null(0) for s in reached})
    marked = marked.mutate(**{f"e_{name}": (marked.t0 + _interval(days) <= ibis.timestamp(horizon))
                              .cast("int64") for name, days, _ in stages[1:]})
    flag_cols = [c for c in marked.columns if c[:2] in ("r_", "e_")]
    counts = engine.to_pandas(marked.group_by([*keys, *flag_cols]).aggregate(n=marked.count()))

    out = _funnel(counts, [s for s, _, _ in stages], keys, nested)
    if freq:
        out = _funnel_grid(out, grid, [s for s, _, _ in stages], by_cols)
    out["definition"] = out["stage"].map(definitions)
    out = _ci(out, "users", "eligible", "rate")
    order = out["stage"].map({s: i for i, s in enumerate(STAGES)})
    sort = [*by_cols, *(["period"] if freq else []), "_order"]
    out = out.assign(_order=order).sort_values(sort, kind="stable").reset_index(drop=True)
    return _ints(out, ["users", "eligible"])[columns]


def _ceil_period(ts: pd.Timestamp, freq: str) -> pd.Timestamp:
    floor = floor_period(ts, freq)
    return floor if floor == ts else _next_start(floor, freq)


def _definitions(stages: list, with_users: bool, r_first: float, nested: bool) -> dict[str, str]:
    def names(events: list[str] | None) -> str:
        return "any event" if events is None else "did " + " or ".join(events)

    def d(x: float) -> str:
        return f"{x:g}"

    start = "signup (users.signup_at)" if with_users else "the first event"
    out = {"acquisition": f"new user: {start} in the range, after the events begin"}
    for name, days, events in stages[1:]:
        if name == "retention":
            rule = (f"{names(events)} from day {d(r_first)} to before day {d(days)} after signup "
                    f"([t0 + {d(r_first)}d, t0 + {d(days)}d))")
        elif name == "revenue":
            rule = f"paid (an event with revenue > 0) within {d(days)} days of signup"
        else:
            rule = f"{names(events)} within {d(days)} days of signup"
        out[name] = rule + ("; and reached every earlier stage" if nested else "")
    return out


def _funnel(counts: pd.DataFrame, stages: list[str], keys: list[str], nested: bool) -> pd.DataFrame:
    """Per group of ``keys``: stage users, eligible and conversion from the previous stage.

    ``counts`` has one row per combination of the reach flags ``r_<stage>`` and the
    eligibility flags ``e_<stage>`` with its number of users ``n``.
    """
    def total(mask: pd.Series) -> pd.Series:
        weighted = counts["n"].where(mask, 0)
        if not keys:
            return pd.Series([weighted.sum()], index=pd.RangeIndex(1))
        return weighted.groupby([counts[k] for k in keys], dropna=False).sum()

    yes = pd.Series(True, index=counts.index)
    rows = []
    everyone = total(yes)
    rows.append(pd.DataFrame({"stage": "acquisition", "users": everyone, "eligible": everyone,
                              "conversion_from_previous": np.nan}))
    reach_before, ok_before = yes, yes
    for i, stage in enumerate(stages[1:], 1):
        reach, ok = counts[f"r_{stage}"] == 1, counts[f"e_{stage}"] == 1
        if nested:
            ok_all, reach_all = ok & ok_before, reach & reach_before
            users, eligible = total(ok_all & reach_all), total(ok_all)
            base = total(ok_all & reach_before)
            hits = users
            ok_before, reach_before = ok_all, reach_all
        else:
            users, eligible = total(ok & reach), total(ok)
            prev = stages[i - 1]
            if prev == "acquisition":
                base, hits = eligible, users
            else:
                both = ok & (counts[f"e_{prev}"] == 1) & (counts[f"r_{prev}"] == 1)
                base, hits = total(both), total(both & reach)
        rows.append(pd.DataFrame({"stage": stage, "users": users, "eligible": eligible,
                                  "conversion_from_previous": _rate(hits, base)}))
    out = pd.concat(rows)
    out["rate"] = _rate(out["users"], out["eligible"])
    return out.reset_index(drop=not keys)


def _funnel_grid(out: pd.DataFrame, periods: pd.DatetimeIndex, stages: list[str],
                 by_cols: list[str]) -> pd.DataFrame:
    """Every signup period (for every ``by`` group seen) and stage; no signups: 0 and NaN."""
    grid = pd.DataFrame({"period": periods.astype("datetime64[ns]")}).merge(
        pd.DataFrame({"stage": stages}), how="cross")
    if by_cols:
        grid = grid.merge(out[by_cols].drop_duplicates(), how="cross")
    return grid.merge(out, on=["period", "stage", *by_cols], how="left")


# --- promotions ---------------------------------------------------------------------------


def promotion_response(events: Any, /, *, promo_start: Any, promo_end: Any,
                       baseline_days: float | None = None, lookback_days: float | None = None,
                       event: str | Sequence[str] | None = None, subscriptions: Any = None,
                       users: Any = None, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Buyers and revenue during a promotion against the same length of time just before it.

    The *promotion* window is ``[promo_start, promo_end)``; the *baseline* window is
    ``[promo_start - L, promo_start)`` with L = ``baseline_days`` (default: the
    promotion's length). In each window: *active users* had any event, *buyers* had a
    purchase (an event with ``revenue > 0``, of the ``event`` names if given), and the
    *buyer rate* is buyers / active users.

    A buyer was **already paying** when, before the window started, they had

    * without ``subscriptions``: a purchase in the ``lookback_days`` before the window
      start (``lookback_days=None``: any purchase in the data before it);
    * with ``subscriptions`` (and ``users`` with ``account_id``): an account with a
      subscription row running just before the window start (``started_at < start`` and
      ``ended_at`` empty or ``>= start``). This sees annual plans whose last charge is
      older than the data.

    A high share among promotion buyers means the discount went mostly to customers who
    were paying anyway (seed 004: 促销的时候大部分付费用户都是原来的存量用户).

    The uplift is measured on the buyer rate: ratio and difference (promotion −
    baseline), a 95 % interval for the difference (Newcombe's hybrid score interval, from
    the two Wilson intervals), and a pooled two-proportion z-test (two-sided p-value). The
    test treats the windows as independent samples; the same users are often active in
    both, which makes the p-value approximate (usually conservative, as the windows are
    positively correlated).

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``, ``revenue``; ``event`` with ``event=``).
    promo_start, promo_end
        The promotion, end exclusive (``opskit.demo.key_dates()["promo_start"]``).
    baseline_days
        Length of the baseline window in days; None: as long as the promotion.
    lookback_days
        How far back a purchase makes a buyer "already paying" (events rule only).
    event
        Event name(s) that are purchases; None: any event with revenue.
    subscriptions
        The ``subscriptions`` table (``account_id``, ``started_at``, ``ended_at``), to
        define "already paying" by subscription instead of by earlier purchases.
    users, by
        The ``users`` table; ``users`` column(s) to break down by (``by="segment"``).

    Returns
    -------
    pandas.DataFrame
        Two rows per ``by`` group, ``window`` = ``"baseline"`` then ``"promotion"``:
        ``window``, ``start``, ``end``, ``complete`` (the window lies inside the data, from
        midnight of the first event's day to midnight after the last one's),
        ``active_users``, ``buyers`` (int64),
        ``buyer_rate``, ``ci_low``, ``ci_high`` (Wilson 95 %), ``revenue``, ``arppu``
        (revenue / buyers), ``already_paying`` (int64), ``already_paying_share`` (of the
        buyers), then on the promotion row only (NaN on the baseline row):
        ``rate_ratio``, ``rate_diff``, ``diff_ci_low``, ``diff_ci_high``, ``z``,
        ``p_value``, ``revenue_ratio``; then the ``by`` columns. ``attrs["already_paying"]``
        states the rule used.

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["a", "b", "c", "a", "b", "c", "d"],
    ...     "event": ["pay", "view", "view", "pay", "pay", "view", "pay"],
    ...     "revenue": [10, None, None, 8, 8, None, 8],
    ...     "event_at": ["2025-10-25", "2025-10-27", "2025-10-28", "2025-11-02", "2025-11-03",
    ...                  "2025-11-04", "2025-11-05"]})
    >>> promotion_response(events, promo_start="2025-11-01", promo_end="2025-11-08")[
    ...     ["window", "active_users", "buyers", "buyer_rate", "revenue", "already_paying"]]
          window  active_users  buyers  buyer_rate  revenue  already_paying
    0   baseline             3       1    0.333333     10.0               0
    1  promotion             4       3    0.750000     24.0               1
    """
    ps, pe = _instant(promo_start, "promo_start"), _instant(promo_end, "promo_end")
    if ps is None or pe is None or pe <= ps:
        raise ValueError(f"promo_end must be after promo_start, not {promo_start!r} to {promo_end!r}")
    length = (pe - ps) / _DAY if baseline_days is None else _days(baseline_days, "baseline_days")
    lookback = None if lookback_days is None else _days(lookback_days, "lookback_days")
    names = _event_names(event, "event")
    by_cols = _as_list(by)
    needed = ("user_id", "event_at", "revenue") + (("event",) if names else ())
    table = table_arg(events, "events", needed)
    bs = ps - pd.Timedelta(seconds=round(length * 86_400))
    windows = {"baseline": (bs, ps), "promotion": (ps, pe)}

    t = table.filter((table.event_at >= ibis.timestamp(bs)) & (table.event_at < ibis.timestamp(pe)))
    money = t.revenue if names is None else ibis.cases((t.event.isin(names), t.revenue), else_=None)
    t = t.mutate(window=ibis.cases((t.event_at < ibis.timestamp(ps), "baseline"), else_="promotion"),
                 money=money.cast("float64"))
    per_user = t.group_by(["window", "user_id"]).aggregate(revenue=t.money.sum(), paid=_flag(t.money > 0))

    if subscriptions is not None:
        rule, before = _paying_by_subscription(subscriptions, users, windows)
        per_user = per_user.left_join(before, ["window", "user_id"]).select(per_user, before.prior)
    else:
        rule, before = _paying_by_purchase(table, names, windows, lookback)
        per_user = per_user.left_join(before, ["window", "user_id"]).select(per_user, before.prior)
    dims = _users(users, by_cols, "promotion_response") if by_cols else None
    per_user = _with_dims(per_user, dims, by_cols)
    counts = engine.to_pandas(per_user.group_by(["window", *by_cols]).aggregate(
        active_users=per_user.count(), buyers=per_user.paid.sum(), revenue=per_user.revenue.sum(),
        already_paying=_count_if((per_user.paid == 1) & (per_user.prior.fill_null(0) == 1))))
    first_day, horizon = _observed(table)
    out = _promotion_table(counts, windows, by_cols)
    out.insert(3, "complete", (out["start"] >= first_day) & (out["end"] <= horizon))
    out.attrs["already_paying"] = rule
    return out


def _paying_by_purchase(table: ir.Table, names: list[str] | None, windows: dict, lookback: float | None
                        ) -> tuple[str, ir.Table]:
    """(window, user_id, prior=1) for users with a purchase before the window's start."""
    bought = _purchases(table, names).select("user_id", "event_at")
    parts = []
    for name, (ws, _) in windows.items():
        cond = bought.event_at < ibis.timestamp(ws)
        if lookback is not None:
            since = ws - pd.Timedelta(seconds=round(lookback * 86_400))
            cond = cond & (bought.event_at >= ibis.timestamp(since))
        parts.append(bought.filter(cond).select("user_id", window=ibis.literal(name)))
    prior = ibis.union(*parts).distinct().mutate(prior=ibis.literal(1))
    span = "any time in the data" if lookback is None else f"in the {lookback:g} days"
    return f"a purchase (revenue > 0) {span} before the window starts", prior


def _paying_by_subscription(subscriptions: Any, users: Any, windows: dict) -> tuple[str, ir.Table]:
    """(window, user_id, prior=1) for users whose account had a subscription running at the start."""
    if users is None:
        raise ValueError("promotion_response(subscriptions=...) ties buyers to accounts: pass users=... "
                         "with an account_id column")
    subs = table_arg(subscriptions, "subscriptions", ("account_id", "started_at"))
    if "ended_at" not in subs.columns:
        subs = subs.mutate(ended_at=ibis.null("timestamp"))
    accounts = _users(users, ("account_id",), "promotion_response")
    parts = []
    for name, (ws, _) in windows.items():
        w = ibis.timestamp(ws)
        running = subs.filter((subs.started_at < w) & (subs.ended_at.isnull() | (subs.ended_at >= w)))
        parts.append(running.select("account_id", window=ibis.literal(name)))
    covered = ibis.union(*parts).distinct()
    prior = accounts.join(covered, "account_id").select("user_id", "window", prior=ibis.literal(1)).distinct()
    return ("the user's account (users.account_id) had a subscription running just before the window "
            "starts (started_at < start, ended_at empty or >= start)"), prior


def _promotion_table(counts: pd.DataFrame, windows: dict, by_cols: list[str]) -> pd.DataFrame:
    grid = pd.DataFrame({"window": list(windows), "start": [w[0] for w in windows.values()],
                         "end": [w[1] for w in windows.values()]})
    if by_cols:
        grid = grid.merge(counts[by_cols].drop_duplicates(), how="cross")
    out = grid.merge(counts, on=["window", *by_cols], how="left")
    out = _ints(out, ["active_users", "buyers", "already_paying"])
    out["start"], out["end"] = out["start"].astype("datetime64[ns]"), out["end"].astype("datetime64[ns]")
    out["revenue"] = out["revenue"].astype("float64").fillna(0.0)
    out["buyer_rate"] = _rate(out["buyers"], out["active_users"])
    out = _ci(out, "buyers", "active_users", "buyer_rate")
    out["arppu"] = _rate(out["revenue"], out["buyers"])
    out["already_paying_share"] = _rate(out["already_paying"], out["buyers"])
    out = out.sort_values([*by_cols, "start"], kind="stable").reset_index(drop=True)

    promo_rows = (out["window"] == "promotion").to_numpy()
    p = out[promo_rows]
    base = out[~promo_rows]
    b = p[by_cols].merge(base, on=by_cols, how="left") if by_cols else base
    comparison = _uplift(b["buyers"].to_numpy(), b["active_users"].to_numpy(),
                         p["buyers"].to_numpy(), p["active_users"].to_numpy())
    comparison["revenue_ratio"] = _ratio(p["revenue"].to_numpy(), b["revenue"].to_numpy())
    for col, values in comparison.items():
        out[col] = np.nan
        out.loc[promo_rows, col] = values
    return out[["window", "start", "end", "active_users", "buyers", "buyer_rate", "ci_low", "ci_high",
                "revenue", "arppu", "already_paying", "already_paying_share", "rate_ratio", "rate_diff",
                "diff_ci_low", "diff_ci_high", "z", "p_value", "revenue_ratio", *by_cols]]


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / b, np.nan)


def _uplift(k1: np.ndarray, n1: np.ndarray, k2: np.ndarray, n2: np.ndarray) -> dict[str, np.ndarray]:
    """Rate ratio, difference p2 - p1 with Newcombe's hybrid score interval, pooled z-test."""
    k1, n1, k2, n2 = (np.asarray(x, dtype="float64") for x in (k1, n1, k2, n2))
    p1, p2 = _ratio(k1, n1), _ratio(k2, n2)
    l1, u1 = wilson(k1, n1)
    l2, u2 = wilson(k2, n2)
    diff = p2 - p1
    pooled = _ratio(k1 + k2, n1 + n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        z = np.where(se > 0, diff / se, np.nan)
    p_value = np.array([math.erfc(abs(v) / math.sqrt(2)) if np.isfinite(v) else np.nan for v in z])
    return {"rate_ratio": _ratio(p2, p1), "rate_diff": diff,
            "diff_ci_low": diff - np.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2),
            "diff_ci_high": diff + np.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2),
            "z": z, "p_value": p_value}

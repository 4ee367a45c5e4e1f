"""Growth: new registrations, new activations, growth rates and channel conversion.

Seed 003's user-growth indicators (用户增长指标): 新用户注册数 (new registrations,
:func:`registrations`), 新用户激活数 (new users who completed the key action,
:func:`activations`), 用户增长率 ((this period - previous) / previous,
:func:`growth_rate`) and 渠道转化率 (registrations a channel brought / the
channel's impressions, :func:`channel_conversion`). Counting happens in the
engine (Ibis); only per-period aggregates are shaped in pandas. Definitions
with worked examples: docs/metrics.md ("Growth").
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
from opskit._shared import data_span as _span
from opskit._shared import empty as _empty
from opskit._shared import grid as _grid
from opskit._shared import instant as _instant
from opskit._shared import ints as _ints
from opskit.retention import wilson

__all__ = ["activations", "channel_conversion", "growth_rate", "registrations"]

_DAY = pd.Timedelta(days=1)


# --- shared helpers ----------------------------------------------------------------------


def _check_freq(freq: Any, *, optional: bool = False) -> None:
    if freq is None and optional:
        return
    if freq not in FREQS:
        allowed = ", ".join(map(repr, FREQS)) + (" or None" if optional else "")
        raise ValueError(f"freq must be one of {allowed}, not {freq!r}")


def _event_names(value: Any, name: str) -> list[str]:
    names = [value] if isinstance(value, str) else list(value) if value is not None else []
    if not names or not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"{name} must be an event name or a non-empty list of event names, not {value!r}")
    return names


def _next_start(start: pd.Series | pd.Timestamp, freq: str) -> Any:
    """Start of the period after the one starting at ``start``."""
    if freq == "month":
        return start + pd.offsets.MonthBegin(1)
    return start + pd.Timedelta(days=1 if freq == "day" else 7)


def _keep(periods: pd.DatetimeIndex, start: pd.Timestamp | None,
          end: pd.Timestamp | None) -> pd.DatetimeIndex:
    if start is not None:
        periods = periods[periods >= start]
    if end is not None:
        periods = periods[periods < end]
    return periods


def _ratio(k: pd.Series, n: pd.Series) -> pd.Series:
    """k / n as float, NaN where n is 0 or missing."""
    k, n = k.astype("float64"), n.astype("float64")
    return (k / n.where(n > 0)).astype("float64")


def growth_rate(frame: pd.DataFrame, /, *, column: str, by: str | Sequence[str] | None = None,
                period: str = "period") -> pd.Series:
    """Period-over-period growth of ``column``: (this period - previous) / previous.

    Seed 003's 用户增长率 = (本期用户数 - 上期用户数) / 上期用户数 x 100 %. The
    *previous* value is the one of the row before in time (within the same
    ``by`` group), so the frame should hold one row per consecutive period (the
    KPI functions of opskit list idle periods with 0, so they do). The rate is
    NaN for the first period and wherever the previous value is 0 or missing.

    Parameters
    ----------
    frame
        A tidy frame with a ``period`` column, e.g. from :func:`registrations`
        or :func:`opskit.activity.active_users`.
    column
        The column whose growth is wanted.
    by
        Columns that split the frame into separate series.
    period
        The name of the time column.

    Returns
    -------
    pandas.Series
        float64, aligned with ``frame``'s index (assign it as a new column).

    Examples
    --------
    >>> mau = pd.DataFrame({"period": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"]),
    ...                     "active_users": [0, 40, 50]})
    >>> growth_rate(mau, column="active_users").tolist()
    [nan, nan, 0.25]
    """
    keys = _as_list(by)
    missing = [c for c in (period, column, *keys) if c not in frame.columns]
    if missing:
        raise ValueError(f"growth_rate needs column(s) {missing} (columns found: {list(frame.columns)})")
    ordered = frame.sort_values([*keys, period], kind="stable")
    values = ordered[column].astype("float64")
    previous = values.groupby([ordered[k] for k in keys], dropna=False).shift(1) if keys else values.shift(1)
    rate = (values - previous) / previous.where(previous != 0)
    return rate.reindex(frame.index).astype("float64").rename(None)


# --- registrations ------------------------------------------------------------------------


def registrations(users: Any, /, *, freq: str = "month", by: str | Sequence[str] | None = None,
                  start: Any = None, end: Any = None) -> pd.DataFrame:
    """New registrations per calendar period, with their growth rate (seed 003: 新用户注册数).

    A user *registers* in the period holding their ``users.signup_at``
    (calendar periods in UTC: days, ISO weeks from Monday, calendar months).
    Every period from the first signup's to the last signup's is listed (per
    ``by`` group), with 0 where nobody signed up.

    The *growth rate* is (registrations - previous period's) / previous period's
    (seed 003's 用户增长率); NaN for the first period, when the previous period had
    no registrations, and for a period that is not *complete*. The end of the
    data is midnight after the day of the last signup (exports are cut by day);
    a period is complete when it ended by then, so a month in progress is not
    compared with a full one. ``total_users`` is the number of users registered
    by the end of the period, all earlier signups included (the size of the
    base; its growth is ``growth_rate(frame, column="total_users")``).

    Parameters
    ----------
    users
        The ``users`` table (``user_id``, ``signup_at``): a Dataset, an Ibis table
        or a pandas frame.
    freq
        ``"day"``, ``"week"`` or ``"month"``.
    by
        ``users`` column(s) to break down by (``by="segment"``, ``by="channel"``);
        users with a null value form their own group.
    start, end
        Keep the periods that start in ``[start, end)``; the growth rate of the
        first period kept still compares with the period before it.

    Returns
    -------
    pandas.DataFrame
        ``period`` (datetime64[ns]), ``registrations`` (int64, distinct users),
        ``growth_rate`` (float64), ``total_users`` (int64), ``complete`` (bool),
        then the ``by`` columns; sorted by the ``by`` columns, then period.

    Examples
    --------
    >>> users = pd.DataFrame({"user_id": ["a", "b", "c", "d", "e"],
    ...     "signup_at": ["2025-01-05", "2025-01-20", "2025-02-02", "2025-02-10", "2025-03-31"]})
    >>> registrations(users)[["period", "registrations", "growth_rate", "total_users", "complete"]]
          period  registrations  growth_rate  total_users  complete
    0 2025-01-01              2          NaN            2      True
    1 2025-02-01              2          0.0            4      True
    2 2025-03-01              1         -0.5            5      True
    """
    _check_freq(freq)
    by_cols = _as_list(by)
    lo, hi = _instant(start, "start"), _instant(end, "end")
    table = table_arg(users, "users", ("user_id", "signup_at", *by_cols))
    table = table.filter(table.signup_at.notnull())
    counted = (table.mutate(period=period_start(table.signup_at, freq))
               .group_by(["period", *by_cols])
               .aggregate(registrations=table.user_id.nunique(), last=table.signup_at.max()))
    counts = engine.to_pandas(counted)
    columns = ["period", "registrations", "growth_rate", "total_users", "complete", *by_cols]
    if counts.empty:
        return _empty(columns, ints=("registrations", "total_users"), bools=("complete",), texts=by_cols)
    horizon = counts["last"].max().normalize() + _DAY
    periods = period_range(counts["period"].min(), counts["period"].max(), freq)
    out = _grid(counts.drop(columns="last"), periods, by_cols)
    out = _ints(out, ["registrations"])
    out = out.sort_values([*by_cols, "period"], kind="stable").reset_index(drop=True)
    groups = [out[c] for c in by_cols]
    out["total_users"] = out.groupby(groups, dropna=False)["registrations"].cumsum() if by_cols \
        else out["registrations"].cumsum()
    out["complete"] = (_next_start(out["period"], freq) <= horizon).to_numpy(dtype=bool)
    out["growth_rate"] = growth_rate(out, column="registrations", by=by_cols).where(out["complete"])
    out = out[out["period"].isin(_keep(periods, lo, hi))].reset_index(drop=True)
    return _ints(out, ["total_users"])[columns]


# --- activations --------------------------------------------------------------------------


def _days(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"days must be a number of days, not {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"days must be > 0, not {value!r}")
    return float(value)


def _interval(days: float) -> ir.IntervalScalar:
    if float(days).is_integer():
        return ibis.interval(days=int(days))
    return ibis.interval(seconds=round(days * 86_400))


def activations(events: Any, /, *, users: Any, activation_event: str | Sequence[str], days: float = 7,
                freq: str = "month", by: str | Sequence[str] | None = None, start: Any = None,
                end: Any = None) -> pd.DataFrame:
    """New users who did the key action within ``days`` of signing up (seed 003: 新用户激活数).

    A user who registered in period P (``users.signup_at``) is *activated* when
    they have an ``activation_event`` event in ``[signup_at, signup_at + days)``
    (``days`` x 24 hours; a key action before the signup instant does not count).
    The rate counts only users whose whole window can be seen in the events —
    the *eligible* ones: they signed up on or after midnight of the first
    event's day, and ``signup_at + days`` is at or before the end of the data
    (midnight after the last event's day). Recent signups are therefore
    neither in ``eligible`` nor in ``activations`` until their ``days`` are over,
    and do not drag the rate down.

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``, ``event``).
    users
        The ``users`` table (``user_id``, ``signup_at`` and the ``by`` columns);
        a Dataset works for both arguments.
    activation_event
        The key action: an event name or a list of names (any of them counts).
    days
        The activation window in days (fractions allowed).
    freq
        ``"day"``, ``"week"`` or ``"month"``: the signup period.
    by
        ``users`` column(s) to break down by.
    start, end
        Keep the signup periods that start in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``period`` (signup period), ``registrations`` (users who signed up in it),
        ``eligible``, ``activations`` (eligible users activated in time),
        ``activation_rate`` (activations / eligible; NaN when no user is eligible),
        ``ci_low``, ``ci_high`` (Wilson 95 %), then the ``by`` columns. Periods run
        from the one holding the first event to the one holding the last signup
        (signups before the events begin cannot be observed).

    Examples
    --------
    >>> users = pd.DataFrame({"user_id": ["a", "b", "c"],
    ...     "signup_at": ["2025-01-02 10:00", "2025-01-03 09:00", "2025-01-30 12:00"]})
    >>> events = pd.DataFrame({"user_id": ["a", "a", "b", "b", "c", "c"],
    ...     "event": ["signup", "create_doc"] * 3,
    ...     "event_at": ["2025-01-02 10:00", "2025-01-05 08:00", "2025-01-03 09:00",
    ...                  "2025-01-12 09:00", "2025-01-30 12:00", "2025-02-03 10:00"]})
    >>> activations(events, users=users, activation_event="create_doc")[
    ...     ["period", "registrations", "eligible", "activations", "activation_rate"]]
          period  registrations  eligible  activations  activation_rate
    0 2025-01-01              3          2            1              0.5

    b's key action came 9 days after signing up; c's 7 days end on 6 February,
    after the data (which end at midnight after 3 February): c is not eligible.
    """
    _check_freq(freq)
    by_cols = _as_list(by)
    names = _event_names(activation_event, "activation_event")
    window = _days(days)
    lo, hi = _instant(start, "start"), _instant(end, "end")
    table = table_arg(events, "events", ("user_id", "event_at", "event"))
    users_t = table_arg(users, "users", ("user_id", "signup_at", *by_cols))
    columns = ["period", "registrations", "eligible", "activations", "activation_rate", "ci_low",
               "ci_high", *by_cols]
    observed_from, horizon = _span(table)
    if pd.isna(horizon):
        return _empty(columns, ints=("registrations", "eligible", "activations"), texts=by_cols)
    signups = users_t.filter(users_t.signup_at.notnull())
    signups = signups.select("user_id", *by_cols, t0=signups.signup_at,
                             period=period_start(signups.signup_at, freq))
    signups = signups.filter(signups.period >= ibis.timestamp(floor_period(observed_from, freq)))
    if lo is not None:
        signups = signups.filter(signups.period >= ibis.timestamp(lo))
    if hi is not None:
        signups = signups.filter(signups.period < ibis.timestamp(hi))
    keys = table.filter(table.event.isin(names))
    keys = keys.select(k_user=keys.user_id, k_at=keys.event_at)
    hit = signups.semi_join(keys, (signups.user_id == keys.k_user) & (keys.k_at >= signups.t0)
                            & (keys.k_at < signups.t0 + _interval(window)))
    hit = hit.select("user_id", "t0", act=ibis.literal(1)).distinct()
    marked = signups.left_join(hit, ["user_id", "t0"]).select(signups, hit.act)
    eligible = ((marked.t0 >= ibis.timestamp(observed_from))
                & (marked.t0 + _interval(window) <= ibis.timestamp(horizon)))
    counts = engine.to_pandas(marked.group_by(["period", *by_cols]).aggregate(
        registrations=marked.user_id.nunique(),
        eligible=marked.user_id.nunique(where=eligible),
        activations=marked.user_id.nunique(where=eligible & (marked.act == 1))))
    if counts.empty:
        return _empty(columns, ints=("registrations", "eligible", "activations"), texts=by_cols)
    periods = period_range(counts["period"].min(), counts["period"].max(), freq)
    out = _ints(_grid(counts, periods, by_cols), ["registrations", "eligible", "activations"])
    out["activation_rate"] = _ratio(out["activations"], out["eligible"])
    low, high = wilson(out["activations"], out["eligible"])
    out["ci_low"], out["ci_high"] = low, high
    return out.sort_values([*by_cols, "period"], kind="stable").reset_index(drop=True)[columns]


# --- channel conversion -------------------------------------------------------------------


def channel_conversion(users: Any, spend: Any, /, *, freq: str | None = None, start: Any = None,
                       end: Any = None) -> pd.DataFrame:
    """Registrations each channel brought against its impressions (seed 003: 渠道转化率).

    Seed 003: 渠道转化率 = 各推广渠道带来的注册用户数 / 该渠道的曝光量 x 100 %. Per
    ``channel`` (and period, with ``freq``):

    * ``registrations``: users whose ``users.channel`` is the channel and whose
      ``signup_at`` is in the window (users without a channel are left out);
    * ``impressions``, ``clicks``, ``cost``: sums of the ``spend`` rows of the
      channel whose ``date`` is in the window;
    * ``conversion_rate`` = registrations / impressions (the seed's rate, a
      fraction: 0.0021 reads 0.21 %, or 2.1 registrations per 1,000 impressions);
    * ``registration_rate`` = registrations / clicks (registrations per click);
    * ``cost_per_registration`` = cost / registrations (拉新成本).

    A channel with no ``spend`` row in the window (organic, referral, direct) has
    ``impressions``, ``clicks`` and ``cost`` NaN (unknown, not zero) and NaN
    rates; a ratio with a zero denominator is NaN. ``users.channel`` records the
    channel that acquired the user, which may not be the impression that
    brought them: the rate compares two counts, it does not follow users.

    Parameters
    ----------
    users
        ``users`` (``user_id``, ``signup_at``, ``channel``).
    spend
        ``spend`` (``date``, ``channel``, ``cost``, ``impressions``; ``clicks`` if
        present, else NaN).
    freq
        ``None`` (default): one row per channel over the whole window; ``"day"``,
        ``"week"`` or ``"month"``: one row per channel and period.
    start, end
        The window ``[start, end)``; by default the days the ``spend`` table
        covers (first ``date`` to the day after the last), so that registrations
        and impressions are counted over the same days. With ``freq``, the
        periods touching the window are listed; edge periods hold only the
        window's days.

    Returns
    -------
    pandas.DataFrame
        ``channel`` (``period`` after it with ``freq``), ``impressions``, ``clicks``,
        ``cost`` (float64), ``registrations`` (int64), ``conversion_rate``,
        ``registration_rate``, ``cost_per_registration`` (float64). Rows by
        registrations (descending) then channel; with ``freq``, by period first.

    Examples
    --------
    >>> users = pd.DataFrame({"user_id": ["a", "b", "c", "d"],
    ...     "signup_at": ["2025-01-01", "2025-01-02", "2025-01-02", "2025-01-02"],
    ...     "channel": ["微信", "微信", "百度搜索", "organic_search"]})
    >>> spend = pd.DataFrame({"date": ["2025-01-01", "2025-01-02", "2025-01-02"],
    ...     "channel": ["微信", "微信", "百度搜索"], "cost": [30.0, 30.0, 20.0],
    ...     "impressions": [500, 500, 2000], "clicks": [10, 10, 40]})
    >>> channel_conversion(users, spend)[["channel", "registrations", "conversion_rate",
    ...                                   "cost_per_registration"]]
              channel  registrations  conversion_rate  cost_per_registration
    0              微信              2           0.0020                   30.0
    1  organic_search              1              NaN                    NaN
    2            百度搜索              1           0.0005                   20.0
    """
    _check_freq(freq, optional=True)
    lo, hi = _instant(start, "start"), _instant(end, "end")
    users_t = table_arg(users, "users", ("user_id", "signup_at", "channel"))
    spend_t = table_arg(spend, "spend", ("date", "channel", "cost", "impressions"))
    day = spend_t.date.cast("timestamp")
    clicks = spend_t.clicks if "clicks" in spend_t.columns else ibis.null("float64")
    spend_t = spend_t.select("channel", day=day, cost=spend_t.cost.cast("float64"),
                             impressions=spend_t.impressions.cast("float64"), clicks=clicks.cast("float64"))
    if lo is None or hi is None:
        bounds = engine.to_pandas(spend_t.aggregate(first=spend_t.day.min(), last=spend_t.day.max()))
        first, last = bounds["first"].iloc[0], bounds["last"].iloc[0]
        if pd.notna(last):
            lo = first.normalize() if lo is None else lo
            hi = last.normalize() + _DAY if hi is None else hi
    keys = ["channel"] if freq is None else ["channel", "period"]
    metrics = ["impressions", "clicks", "cost", "registrations", "conversion_rate", "registration_rate",
               "cost_per_registration"]
    if lo is None or hi is None:  # no spend rows and no window given
        return _empty([*keys, *metrics], ints=("registrations",), texts=("channel",))
    window_lo, window_hi = ibis.timestamp(lo), ibis.timestamp(hi)
    spent = spend_t.filter((spend_t.day >= window_lo) & (spend_t.day < window_hi))
    joined = users_t.filter(users_t.channel.notnull() & (users_t.signup_at >= window_lo)
                            & (users_t.signup_at < window_hi))
    if freq is not None:
        spent = spent.mutate(period=period_start(spent.day, freq))
        joined = joined.mutate(period=period_start(joined.signup_at, freq))
    paid = engine.to_pandas(spent.group_by(keys).aggregate(
        impressions=spent.impressions.sum(), clicks=spent.clicks.sum(), cost=spent.cost.sum(),
        rows=spent.count(), click_rows=spent.clicks.count()))
    came = engine.to_pandas(joined.group_by(keys).aggregate(registrations=joined.user_id.nunique()))
    paid["clicks"] = paid["clicks"].where(paid["click_rows"] > 0)
    out = paid.drop(columns=["rows", "click_rows"]).merge(came, on=keys, how="outer")
    if freq is not None:
        out = _channel_grid(out, lo, hi, freq)
    out["registrations"] = out["registrations"].fillna(0).astype("int64")
    for col in ("impressions", "clicks", "cost"):
        out[col] = out[col].astype("float64")
    out["conversion_rate"] = _ratio(out["registrations"], out["impressions"])
    out["registration_rate"] = _ratio(out["registrations"], out["clicks"])
    out["cost_per_registration"] = _ratio(out["cost"], out["registrations"])
    out["_order"] = -out["registrations"]
    order = ["period", "_order", "channel"] if freq is not None else ["_order", "channel"]
    out = out.sort_values(order, kind="stable").reset_index(drop=True)
    return out[[*keys, *metrics]]


def _channel_grid(out: pd.DataFrame, lo: pd.Timestamp, hi: pd.Timestamp, freq: str) -> pd.DataFrame:
    """Every channel in every period of the window; paid channels get 0 spend where idle."""
    periods = period_range(floor_period(lo, freq), floor_period(hi - pd.Timedelta(microseconds=1), freq),
                           freq)
    paid = set(out.loc[out["impressions"].notna() | out["cost"].notna(), "channel"])
    with_clicks = set(out.loc[out["clicks"].notna(), "channel"])
    grid = pd.DataFrame({"channel": out["channel"].drop_duplicates()}).merge(
        pd.DataFrame({"period": periods.astype("datetime64[ns]")}), how="cross")
    out = grid.merge(out.assign(period=out["period"].astype("datetime64[ns]")), on=["channel", "period"],
                     how="left")
    is_paid = out["channel"].isin(paid)
    for col in ("impressions", "cost"):
        out[col] = out[col].where(~is_paid, out[col].fillna(0.0))
    out["clicks"] = out["clicks"].where(~out["channel"].isin(with_clicks), out["clicks"].fillna(0.0))
    return out

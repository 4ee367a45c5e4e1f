"""Retention: cohorts, N-day retention, new versus returning users, churn.

Definitions follow Amplitude, Mixpanel and PostHog; docs/metrics.md
("Retention") states each one with a worked example. All counting happens in
the engine (Ibis); only the small result is shaped in pandas (filling cells
without returns, Wilson intervals).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from opskit import engine
from opskit._inputs import table_arg
from opskit._periods import FREQS, period_start
from opskit._shared import as_list as _as_list
from opskit._shared import check as _check

__all__ = [
    "churn",
    "churn_alerts",
    "cohort_table",
    "compact_events",
    "curve",
    "nday",
    "new_vs_returning",
    "subscriber_churn",
    "wilson",
]

_SECONDS = {"day": 86_400, "week": 7 * 86_400, "month": 30 * 86_400}
_MODES = ("on", "on_or_after")
_KINDS = ("first_time", "recurring")


def wilson(successes: Any, trials: Any, z: float = 1.959964) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (95 % by default) for ``successes`` out of ``trials``.

    Returns ``(low, high)`` arrays; NaN where ``trials`` is 0.

    Examples
    --------
    >>> low, high = wilson([8], [10])
    >>> round(float(low[0]), 4), round(float(high[0]), 4)
    (0.4902, 0.9433)
    """
    k = np.asarray(successes, dtype="float64")
    n = np.asarray(trials, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def _index(ts: ir.TimestampValue, period: str) -> ir.IntegerValue:
    """Calendar period number of ``ts``: consecutive periods differ by 1."""
    if period == "month":
        return ts.year() * 12 + ts.month()
    days = (ts.epoch_seconds() / 86_400).floor()
    if period == "day":
        return days.cast("int64")
    return ((days + 3) / 7).floor().cast("int64")  # 1970-01-01 was a Thursday: weeks start Monday


def _span(events: ir.Table) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First event, and the end of observation: midnight after the day of the last event
    (exports are cut by day). One query for both."""
    bounds = engine.to_pandas(events.aggregate(first=events.event_at.min(), last=events.event_at.max()))
    first, last = bounds["first"].iloc[0], bounds["last"].iloc[0]
    if pd.isna(last):
        return pd.NaT, pd.NaT
    return first, last.normalize() + pd.Timedelta(days=1)


def _horizon(events: ir.Table) -> pd.Timestamp:
    """End of observation (see :func:`_span`)."""
    return _span(events)[1]


def _period_grid(first: pd.Timestamp, last: pd.Timestamp, period: str, *, start: Any = None,
                 end: Any = None) -> ir.Table:
    """Period starts after ``first`` up to ``last`` (within ``[start, end)``) as a small table ``p``."""
    starts = pd.date_range(first.normalize(), last, freq=FREQS[period][1])
    starts = starts[starts > first]
    if start is not None:
        starts = starts[starts >= pd.Timestamp(start)]
    if end is not None:
        starts = starts[starts < pd.Timestamp(end)]
    return ibis.memtable(pd.DataFrame({"p": starts.astype("datetime64[us]")}))


def _period_end(start: pd.Series, period: str, n: pd.Series | int) -> pd.Series:
    """End (exclusive) of calendar period ``n`` counted from period starts ``start``."""
    if period == "month":
        months = start.dt.year * 12 + start.dt.month - 1 + n + 1
        return pd.to_datetime({"year": months // 12, "month": months % 12 + 1, "day": 1})
    step = pd.Timedelta(days=1 if period == "day" else 7)
    return start + step * (n + 1)


def _dimensions(table: ir.Table, by: list[str], users: Any) -> tuple[ir.Table | None, list[str], list[str]]:
    """Split ``by`` into users columns and events columns; return the users table if needed."""
    user_cols = [c for c in by if c not in table.columns]
    event_cols = [c for c in by if c in table.columns]
    if not user_cols:
        return None, [], event_cols
    if users is None:
        raise ValueError(
            f"by={user_cols!r} names columns that are not in events; pass users=... "
            "(the users table) to break down by a users column")
    users_t = table_arg(users, "users", ("user_id", *user_cols))
    return users_t.select("user_id", *user_cols), user_cols, event_cols


def _entries(events: ir.Table, *, period: str, kind: str, start_event: str | None,
             event_cols: list[str]) -> ir.Table:
    """One row per cohort entry: user_id, cohort (period start), t0 (first start event) [, event dims]."""
    starts = events if start_event is None else events.filter(events.event == start_event)
    starts = starts.mutate(cohort=period_start(starts.event_at, period))
    keys = ["user_id"] if kind == "first_time" else ["user_id", "cohort"]
    dims = {c: starts[c].argmin(starts.event_at) for c in event_cols}
    if kind == "first_time":
        entries = starts.group_by(keys).aggregate(t0=starts.event_at.min(), **dims)
        return entries.mutate(cohort=period_start(entries.t0, period))
    return starts.group_by(keys).aggregate(t0=starts.event_at.min(), **dims)


def _offsets(entries: ir.Table, returns: ir.Table, *, period: str, calendar: bool,
             periods: int, cap: bool = True) -> ir.Table:
    """Per entry, the period offsets n in which it returned (distinct and <= periods if ``cap``)."""
    r = returns.select(r_user=returns.user_id, r_at=returns.event_at)
    joined = entries.join(r, (entries.user_id == r.r_user) & (r.r_at >= entries.t0))
    if calendar:
        n = _index(joined.r_at, period) - _index(joined.cohort, period)
    else:
        n = ((joined.r_at.epoch_seconds() - joined.t0.epoch_seconds()) / _SECONDS[period]).floor()
    keys = [c for c in entries.columns if c not in ("t0",)]
    offsets = joined.select(*keys, n=n.cast("int64"))
    return offsets.filter(offsets.n <= periods).distinct() if cap else offsets


def _fill(sizes: pd.DataFrame, counts: pd.DataFrame, keys: list[str], periods: int) -> pd.DataFrame:
    if counts.empty:  # no return at all: typed like the sizes, so the merge keeps its dtypes
        counts = pd.DataFrame({**{k: pd.Series(dtype=sizes[k].dtype) for k in keys},
                               "period": pd.Series(dtype="int64"), "retained": pd.Series(dtype="int64")})
    grid = sizes.merge(pd.DataFrame({"period": np.arange(periods + 1, dtype="int64")}), how="cross")
    out = grid.merge(counts, on=[*keys, "period"], how="left")
    out["retained"] = out["retained"].fillna(0).astype("int64")
    return out


def cohort_table(events: Any, /, *, period: str = "week", mode: str = "on", kind: str = "first_time",
                 start_event: str | None = None, return_event: str | None = None, periods: int = 12,
                 calendar: bool = True, by: str | Sequence[str] | None = None, users: Any = None,
                 start: Any = None, end: Any = None) -> pd.DataFrame:
    """Cohort retention table: of the users who started in a period, how many came back later.

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``, ``event``): a Dataset, an Ibis table or a pandas frame.
    period
        ``"day"``, ``"week"`` (ISO weeks, Monday start) or ``"month"``.
    mode
        ``"on"``: retained in period n = did a return event in period n.
        ``"on_or_after"`` (unbounded): did one in period n or any later period.
    kind
        ``"first_time"``: a user's cohort is the period of their first start event.
        ``"recurring"``: a user enters a cohort in every period in which they do the start event.
    start_event, return_event
        Event names; ``None`` means any event.
    periods
        The last period index computed: rows for periods 0 to ``periods``.
    calendar
        ``True``: calendar periods (period n = the n-th calendar period after the cohort's).
        ``False``: rolling windows from each user's own start time (day 1 = 24 to 48 hours
        after; weeks are 7 days, months 30 days), as Amplitude and Mixpanel do by default.
    by
        Column(s) to break down by: a ``users`` column (pass ``users``) or an ``events``
        column (its value at the user's cohort-entering start event).
    users
        The ``users`` table, needed when ``by`` names users columns.
    start, end
        Keep cohorts whose period starts in ``[start, end)`` (return events are never cut).

    Returns
    -------
    pandas.DataFrame
        One row per cohort (and ``by`` value) and period 0..``periods``:
        ``cohort`` (period start), ``period`` (int), ``cohort_size``, ``retained``, ``rate``,
        ``complete`` (False where the cell's period has not fully elapsed by the end of the
        data), ``ci_low``, ``ci_high`` (Wilson 95 %), then the ``by`` columns. Cells whose
        period had not begun by the end of the data have ``rate`` NaN.

    Notes
    -----
    Return events count from the start event on (``event_at >= t0``), so with
    ``mode="on"`` and no distinct return event, period 0 is 100 % by construction (the
    start event itself); with a distinct ``return_event`` period 0 is the share that did it
    in the cohort's own period after starting. The end of the data is midnight after
    the day of the last event.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"user_id": ["a", "a", "b", "c"], "event": "x",
    ...     "event_at": ["2025-01-06", "2025-01-14", "2025-01-07", "2025-01-15"]})
    >>> cohort_table(events, periods=1)[["cohort", "period", "cohort_size", "retained", "rate"]]
          cohort  period  cohort_size  retained  rate
    0 2025-01-06       0            2         2   1.0
    1 2025-01-06       1            2         1   0.5
    2 2025-01-13       0            1         1   1.0
    3 2025-01-13       1            1         0   NaN
    """
    _check("period", period, tuple(FREQS))
    _check("mode", mode, _MODES)
    _check("kind", kind, _KINDS)
    if int(periods) < 0:
        raise ValueError(f"periods must be >= 0, not {periods}")
    by_cols = _as_list(by)
    table = table_arg(events, "events", ("user_id", "event_at", "event"))
    users_t, user_cols, event_cols = _dimensions(table, by_cols, users)
    horizon = _horizon(table)

    entries = _entries(table, period=period, kind=kind, start_event=start_event, event_cols=event_cols)
    if start is not None:
        entries = entries.filter(entries.cohort >= ibis.timestamp(pd.Timestamp(start)))
    if end is not None:
        entries = entries.filter(entries.cohort < ibis.timestamp(pd.Timestamp(end)))
    if users_t is not None:
        entries = entries.left_join(users_t, "user_id").select(entries, *[users_t[c] for c in user_cols])
    keys = ["cohort", *by_cols]
    # the entries (a group-by over every event) feed two queries: compute them once
    with engine.cached(entries) as entries:
        sizes = engine.to_pandas(entries.group_by(keys).aggregate(
            cohort_size=entries.count(), last_t0=entries.t0.max()))
        returns = table if return_event is None else table.filter(table.event == return_event)
        counts = _counts(entries, returns, keys, period=period, mode=mode, calendar=calendar,
                         periods=int(periods))

    out = _fill(sizes, counts, keys, int(periods))
    out = _complete(out, period=period, calendar=calendar, horizon=horizon)
    return _finish(out, ["cohort", "period", "cohort_size", "retained", "rate", "complete",
                         "ci_low", "ci_high", *by_cols], sort=[*by_cols, "cohort", "period"])


def _counts(entries: ir.Table, returns: ir.Table, keys: list[str], *, period: str, mode: str,
            calendar: bool, periods: int) -> pd.DataFrame:
    """Retained entries per cohort (and ``by`` value) and period offset."""
    offsets = _offsets(entries, returns, period=period, calendar=calendar, periods=periods,
                       cap=mode == "on")
    if mode == "on":
        counts = engine.to_pandas(offsets.group_by([*keys, "n"]).aggregate(retained=offsets.count()))
        return counts.rename(columns={"n": "period"})
    entry_keys = [c for c in offsets.columns if c != "n"]
    furthest = offsets.group_by(entry_keys).aggregate(n=offsets.n.max())
    furthest = furthest.mutate(n=ibis.least(furthest.n, periods))  # later returns count at n
    by_max = engine.to_pandas(furthest.group_by([*keys, "n"]).aggregate(k=furthest.count()))
    return _suffix_sums(by_max, keys, periods)


def _suffix_sums(by_max: pd.DataFrame, keys: list[str], periods: int) -> pd.DataFrame:
    """retained(n) = entries whose furthest return period is >= n."""
    if by_max.empty:
        return pd.DataFrame(columns=[*keys, "period", "retained"])
    wide = by_max.pivot_table(index=keys, columns="n", values="k", aggfunc="sum", fill_value=0)
    wide = wide.reindex(columns=range(periods + 1), fill_value=0)
    cumulative = wide.iloc[:, ::-1].cumsum(axis=1).iloc[:, ::-1]
    long = cumulative.stack().rename("retained").reset_index().rename(columns={"n": "period"})
    long["period"] = long["period"].astype("int64")
    return long


def _complete(out: pd.DataFrame, *, period: str, calendar: bool, horizon: pd.Timestamp) -> pd.DataFrame:
    n = out["period"]
    if calendar:
        cell_start = _period_end(out["cohort"], period, n - 1)
        cell_end = _period_end(out["cohort"], period, n)
    else:  # the cohort's last member opens the last window
        step = pd.to_timedelta(_SECONDS[period], unit="s")
        cell_start = out["cohort"] + step * n
        cell_end = out["last_t0"] + step * (n + 1)
    out["complete"] = (cell_end <= horizon).to_numpy()
    out["rate"] = (out["retained"] / out["cohort_size"]).where(cell_start < horizon)
    return out


def _finish(out: pd.DataFrame, columns: list[str], sort: list[str],
            k: str = "retained", n: str = "cohort_size") -> pd.DataFrame:
    low, high = wilson(out[k], out[n])
    observed = out["rate"].notna().to_numpy()
    out["ci_low"], out["ci_high"] = np.where(observed, low, np.nan), np.where(observed, high, np.nan)
    out = out.sort_values(sort, kind="stable").reset_index(drop=True)
    for col in ("cohort_size", "retained", "eligible", "users", "active_start", "churned"):
        if col in out:
            out[col] = out[col].astype("int64")
    return out[columns]


def compact_events(events: Any, /, *, period: str = "day", keep_events: bool = True) -> ir.Table:
    """A smaller events table on which :func:`cohort_table` gives exactly the same answers.

    For every user, event name (when ``keep_events``) and calendar ``period``, keep only
    the first and the last event (two rows; one when they coincide). The result is an Ibis
    expression (not yet computed): materialise it once (``opskit.engine.materialise``) and
    pass it to :func:`cohort_table` many times, as the retention explorer does.

    Why nothing changes, for calendar periods of the compaction's ``period`` (and, for a
    daily compaction, for weeks, months and rolling windows too, since those periods are
    unions of days):

    * a cohort entry's ``t0`` is the minimum time of a start event (per user, or per user
      and period for ``kind="recurring"``): a minimum over a union of days is the minimum
      of the days' minima, which are kept;
    * a return in calendar period n counts when *some* return event of that period is at
      or after ``t0``. Only in ``t0``'s own period can returns fall before ``t0``; there,
      one does at or after ``t0`` exactly when the period's last one does, which is kept;
      in later periods every return is after ``t0`` and the first one is kept;
    * ``mode="on_or_after"`` needs the furthest return period, which holds the kept last
      event; ``cohort_size`` counts entries, not rows; the end of the data (the last event)
      is kept;
    * rolling windows (``calendar=False``, daily compaction): within one day after ``t0``'s,
      the window index ``floor((t - t0) / window)`` of the day's returns is non-decreasing
      in ``t`` and, a day being no longer than a window, takes at most two consecutive
      values: those of the day's first and last events, which are kept. On ``t0``'s own
      day every return at or after ``t0`` is in window 0, and the day's last event is one
      of them when any is.

    Not kept: other events columns, so ``by=`` may name users columns only.

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``, ``event``): a Dataset, an Ibis table or a pandas frame.
    period
        ``"day"`` (exact for every calendar and rolling period), ``"week"`` or ``"month"``
        (exact for that calendar period only).
    keep_events
        Keep event names (needed for ``start_event``/``return_event``). ``False`` compacts
        across events, for tables with ``start_event=None`` and ``return_event=None``
        only; ``event`` is then NULL.

    Returns
    -------
    ibis.Table
        ``user_id``, ``event_at``, ``event``; at most two rows per user, event and period.

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["a", "a", "a", "a", "b"], "event": "x",
    ...     "event_at": ["2025-01-06 09:00", "2025-01-06 12:00", "2025-01-06 18:00",
    ...                  "2025-01-14 08:00", "2025-01-07 10:00"]})
    >>> small = compact_events(events)
    >>> int(small.count().execute())
    4
    >>> cohort_table(small, periods=1).equals(cohort_table(events, periods=1))
    True
    """
    _check("period", period, tuple(FREQS))
    table = table_arg(events, "events", ("user_id", "event_at", "event"))
    keys = ["user_id", "event"] if keep_events else ["user_id"]
    days = table.group_by(*keys, p=period_start(table.event_at, period)).aggregate(
        lo=table.event_at.min(), hi=table.event_at.max())
    event = days.event if keep_events else ibis.null("string")
    first = days.select("user_id", event_at=days.lo, event=event)
    later = days.filter(days.hi > days.lo)
    last = later.select("user_id", event_at=later.hi, event=later.event if keep_events else event)
    return first.union(last, distinct=False)


def curve(cohorts: pd.DataFrame, /) -> pd.DataFrame:
    """Average retention curve across cohorts, cohort-size weighted, complete cells only.

    Parameters
    ----------
    cohorts
        A frame from :func:`cohort_table`.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``rate`` (= sum retained / sum cohort size over the complete cells of
        that period), ``ci_low``, ``ci_high`` (Wilson 95 % on the pooled counts),
        ``cohort_size`` (pooled), ``cohorts`` (how many cohorts contribute), then the ``by``
        columns of the cohort table. Periods with no complete cell are left out.

    Examples
    --------
    >>> table = pd.DataFrame({"cohort": pd.to_datetime(["2025-01-06"] * 2 + ["2025-01-13"] * 2),
    ...     "period": [0, 1, 0, 1], "cohort_size": [10, 10, 30, 30], "retained": [10, 5, 30, 9],
    ...     "rate": [1, .5, 1, .3], "complete": True, "ci_low": 0.0, "ci_high": 1.0})
    >>> curve(table)[["period", "rate", "cohort_size", "cohorts"]]
       period  rate  cohort_size  cohorts
    0       0  1.00           40        2
    1       1  0.35           40        2
    """
    base = ["cohort", "period", "cohort_size", "retained", "rate", "complete", "ci_low", "ci_high"]
    dims = [c for c in cohorts.columns if c not in base]
    done = cohorts[cohorts["complete"]]
    pooled = (done.groupby([*dims, "period"], dropna=False)
              .agg(retained=("retained", "sum"), cohort_size=("cohort_size", "sum"),
                   cohorts=("cohort", "nunique"))
              .reset_index())
    pooled["rate"] = pooled["retained"] / pooled["cohort_size"]
    return _finish(pooled, ["period", "rate", "ci_low", "ci_high", "cohort_size", "cohorts", *dims],
                   sort=[*dims, "period"])


def nday(events: Any, /, *, days: Sequence[int] = (1, 7, 30), users: Any = None,
         start_event: str | None = None, return_event: str | None = None,
         by: str | Sequence[str] | None = None, start: Any = None, end: Any = None,
         calendar: bool = False) -> pd.DataFrame:
    """Classic N-day retention (D1, D7, D30): active on day N after signing up / new users.

    A user's start is ``users.signup_at`` when ``users`` is given, else their first
    ``start_event`` (any event if None). The user is retained on day N when they have a
    ``return_event`` (any event if None) in ``[start + N days, start + N+1 days)`` — a
    rolling 24-hour window as in Amplitude; with ``calendar=True``, on the N-th UTC
    calendar day after the start day. Only users whose day N had fully elapsed by the end of
    the data (midnight after the last event's day) are counted (``eligible``), so recent
    signups do not drag the rate down (seed 003's 次日/7日/30日留存); users who signed up
    before the events begin (midnight of the first event's day) are left out, since their
    day N cannot be seen.

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``, ``event``).
    days
        The N's.
    users
        The ``users`` table (``user_id``, ``signup_at``), for signup times and ``by``.
    start_event, return_event
        Event names; None means any.
    by
        Users columns to break down by (needs ``users``).
    start, end
        Keep users who started in ``[start, end)``.
    calendar
        Count calendar days instead of 24-hour windows.

    Returns
    -------
    pandas.DataFrame
        ``day``, ``eligible``, ``retained``, ``rate``, ``ci_low``, ``ci_high`` (Wilson 95 %),
        then the ``by`` columns; one row per N (and ``by`` value).

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["a", "a", "b", "b"], "event": "x",
    ...     "event_at": ["2025-01-01 10:00", "2025-01-02 11:00", "2025-01-01 12:00", "2025-01-03 13:00"]})
    >>> nday(events, days=(1,))[["day", "eligible", "retained", "rate"]]
       day  eligible  retained  rate
    0    1         2         1   0.5
    """
    by_cols = _as_list(by)
    table = table_arg(events, "events", ("user_id", "event_at", "event"))
    observed_from, horizon = _span(table)
    if users is not None:
        users_t = table_arg(users, "users", ("user_id", "signup_at", *by_cols))
        starts = users_t.select("user_id", *by_cols, t0=users_t.signup_at)
    elif by_cols:
        raise ValueError("nday(by=...) breaks down by users columns: pass users=...")
    else:
        first = table if start_event is None else table.filter(table.event == start_event)
        starts = first.group_by("user_id").aggregate(t0=first.event_at.min())
    starts = starts.filter(starts.t0 >= ibis.timestamp(pd.Timestamp(observed_from).normalize()))
    if start is not None:
        starts = starts.filter(starts.t0 >= ibis.timestamp(pd.Timestamp(start)))
    if end is not None:
        starts = starts.filter(starts.t0 < ibis.timestamp(pd.Timestamp(end)))
    returns = table if return_event is None else table.filter(table.event == return_event)
    r = returns.select(r_user=returns.user_id, r_at=returns.event_at)
    joined = starts.join(r, (starts.user_id == r.r_user) & (r.r_at >= starts.t0))
    if calendar:
        n = _index(joined.r_at, "day") - _index(joined.t0, "day")
    else:
        n = ((joined.r_at.epoch_seconds() - joined.t0.epoch_seconds()) / 86_400).floor().cast("int64")
    wanted = [int(d) for d in days]
    day_start = starts.t0.truncate("D") if calendar else starts.t0
    elig = starts.select(*by_cols, **{f"e{d}": (day_start + ibis.interval(days=d + 1))
                                      <= ibis.timestamp(horizon) for d in wanted})
    eligible = engine.to_pandas(elig.group_by(by_cols).aggregate(
        **{f"e{d}": elig[f"e{d}"].cast("int64").sum() for d in wanted}) if by_cols else
        elig.aggregate(**{f"e{d}": elig[f"e{d}"].cast("int64").sum() for d in wanted}))
    # a retained user whose day N is not yet over is not counted (not eligible)
    counted = joined.select("user_id", *by_cols, n=n, t0=day_start).filter(
        lambda t: t.n.isin(wanted)).distinct()
    counted = counted.filter(counted.t0 + (counted.n + 1).as_interval("D") <= ibis.timestamp(horizon))
    counts = engine.to_pandas(counted.group_by([*by_cols, "n"]).aggregate(retained=counted.count()))
    long = eligible.melt(id_vars=by_cols, var_name="day", value_name="eligible")
    long["day"] = long["day"].str[1:].astype("int64")
    # an empty window sums to NULL: 0 users, as numbers (not Python objects, which divide by zero)
    long["eligible"] = pd.to_numeric(long["eligible"]).fillna(0).astype("int64")
    out = long.merge(counts.rename(columns={"n": "day"}), on=[*by_cols, "day"], how="left")
    out["retained"] = pd.to_numeric(out["retained"]).fillna(0).astype("int64")
    out["rate"] = (out["retained"] / out["eligible"].where(out["eligible"] > 0)).astype("float64")
    return _finish(out, ["day", "eligible", "retained", "rate", "ci_low", "ci_high", *by_cols],
                   sort=[*by_cols, "day"], n="eligible")


def _next_period(p: ir.TimestampValue, period: str) -> ir.TimestampValue:
    """Start of the period after the one starting at ``p``."""
    return period_start(p + ibis.interval(days={"day": 1, "week": 7, "month": 31}[period]), period)


def _first_seen(table: ir.Table, users: Any) -> ir.Table:
    if users is not None:
        users_t = table_arg(users, "users", ("user_id", "signup_at"))
        return users_t.select("user_id", first=users_t.signup_at)
    return table.group_by("user_id").aggregate(first=table.event_at.min())


def new_vs_returning(events: Any, /, *, days: int = 30, period: str = "month", users: Any = None,
                     start: Any = None, end: Any = None) -> pd.DataFrame:
    """N-day retention of the users active in a period, new users against returning ones.

    For each calendar period P: the *active* users had an event in P; *new* ones signed up
    in P (``users.signup_at``, else their first event is in P); *returning* ones signed up
    before P. A user is *retained* when they have an event in the ``days`` days after P
    ends, ``[end of P, end of P + days)`` (seed 002: 30-day retention of new vs returning
    users).

    Returns
    -------
    pandas.DataFrame
        ``period``, ``group`` ("new" / "returning"), ``users``, ``retained``, ``rate``,
        ``complete`` (the ``days`` after the period are inside the data; ``rate`` is NaN
        otherwise), ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["old", "old", "old", "new", "new"], "event": "x",
    ...     "event_at": ["2024-12-20", "2025-01-10", "2025-02-05", "2025-01-15", "2025-03-20"]})
    >>> new_vs_returning(events, days=30, start="2025-01-01", end="2025-02-01")[
    ...     ["period", "group", "users", "retained", "rate"]]
          period      group  users  retained  rate
    0 2025-01-01        new      1         0   0.0
    1 2025-01-01  returning      1         1   1.0
    """
    _check("period", period, tuple(FREQS))
    table = table_arg(events, "events", ("user_id", "event_at"))
    horizon = _horizon(table)
    active = table.select("user_id", p=period_start(table.event_at, period)).distinct()
    if start is not None:
        active = active.filter(active.p >= ibis.timestamp(pd.Timestamp(start)))
    if end is not None:
        active = active.filter(active.p < ibis.timestamp(pd.Timestamp(end)))
    first = _first_seen(table, users)
    active = active.join(first, "user_id")
    active = active.mutate(
        group=ibis.cases((active.first >= active.p, "new"), else_="returning"),
        p_end=_next_period(active.p, period))
    r = table.select(r_user=table.user_id, r_at=table.event_at)
    back = active.join(r, (active.user_id == r.r_user) & (r.r_at >= active.p_end)
                       & (r.r_at < active.p_end + ibis.interval(days=int(days))))
    back = back.select("user_id", "p", hit=ibis.literal(1)).distinct()
    marked = active.left_join(back, ["user_id", "p"]).select(active, back.hit)
    out = engine.to_pandas(marked.group_by(["p", "group", "p_end"]).aggregate(
        users=marked.count(), retained=marked.hit.fill_null(0).sum()))
    out = out.rename(columns={"p": "period"})
    out["retained"] = out["retained"].fillna(0)
    out["complete"] = out["p_end"] + pd.Timedelta(days=int(days)) <= horizon
    out["rate"] = (out["retained"] / out["users"]).where(out["complete"])
    return _finish(out, ["period", "group", "users", "retained", "rate", "complete", "ci_low", "ci_high"],
                   sort=["period", "group"], n="users")


def churn(events: Any, /, *, period: str = "month", inactive_after: int | None = None,
          by: str | Sequence[str] | None = None, users: Any = None) -> pd.DataFrame:
    """Churn rate per period: users lost / users active at the period's start.

    * ``inactive_after=None`` (period over period): the users *active at the start* of
      period P are those active in the previous period; they are *lost* in P when they
      have no event in P. This is PostHog's "dormant" count over the previous actives.
    * ``inactive_after=N`` (days): active at the start of P = an event in the N days before
      P starts; lost = no event in the first N days of P (the user has then been inactive
      for at least N days).

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``).
    period
        ``"day"``, ``"week"`` or ``"month"``.
    inactive_after
        Days of inactivity that make a user lost; None for period over period.
    by, users
        Users columns to break down by (``by="segment"``), and the ``users`` table.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``active_start``, ``churned``, ``churn_rate``, ``complete`` (the
        observation window of the period ended inside the data; ``churn_rate`` is NaN
        otherwise), then the ``by`` columns. The first period (no previous activity) is
        left out.

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["a", "b", "c", "a", "c", "a"], "event": "x",
    ...     "event_at": ["2025-01-05", "2025-01-09", "2025-01-20", "2025-02-02", "2025-02-10",
    ...                  "2025-03-31"]})
    >>> churn(events)[["period", "active_start", "churned", "churn_rate"]]
          period  active_start  churned  churn_rate
    0 2025-02-01             3        1    0.333333
    1 2025-03-01             2        1    0.500000
    """
    _check("period", period, tuple(FREQS))
    by_cols = _as_list(by)
    table = table_arg(events, "events", ("user_id", "event_at"))
    first, horizon = _span(table)
    if by_cols:
        if users is None:
            raise ValueError("churn(by=...) breaks down by users columns: pass users=...")
        users_t = table_arg(users, "users", ("user_id", *by_cols)).select("user_id", *by_cols)
    if inactive_after is None:
        active = table.select("user_id", p=period_start(table.event_at, period)).distinct()
        base = active.select("user_id", p=_next_period(active.p, period))
        lost = base.anti_join(active, ["user_id", "p"]).mutate(lost=ibis.literal(1))
        marked = base.left_join(lost, ["user_id", "p"]).select(base, lost.lost)
        window_end = None
    else:
        n_days = int(inactive_after)
        grid = _period_grid(first, horizon + pd.Timedelta(days=n_days), period)
        lo = grid.p - ibis.interval(days=n_days)
        hi = grid.p + ibis.interval(days=n_days)
        near = table.join(grid, (table.event_at >= lo) & (table.event_at < hi))
        flags = near.group_by(["user_id", "p"]).aggregate(
            before=(near.event_at < near.p).any(), after=(near.event_at >= near.p).any())
        marked = flags.filter(flags.before).select(
            "user_id", "p", lost=ibis.cases((flags.after, 0), else_=1))
        window_end = pd.Timedelta(days=n_days)
    if by_cols:
        marked = marked.left_join(users_t, "user_id").select(marked, *[users_t[c] for c in by_cols])
    out = _churn_counts(marked, by_cols)
    if window_end is None:
        complete = _period_end(out["period"], period, 0) <= horizon
    else:
        complete = out["period"] + window_end <= horizon
    out = _churn_finish(out, by_cols, complete)
    return out[out["period"] < horizon].reset_index(drop=True)


def subscriber_churn(subscriptions: Any, /, *, period: str = "month", by: str | Sequence[str] | None = None,
                     users: Any = None, start: Any = None, end: Any = None) -> pd.DataFrame:
    """Logo churn of paying accounts per period: accounts lost / accounts paying at the start.

    An account is *paying* at an instant when one of its ``subscriptions`` rows covers it
    (``started_at <= t < ended_at``, or ``ended_at`` empty). It is *at risk* in period P
    when paying at P's start, and *churned* in P when its coverage ends inside P: a row's
    ``ended_at`` falls in ``(P's start, P's end]`` (a row ending exactly at midnight on the
    1st was paid through the previous month, which loses it) and no other row of the
    account covers that instant (so a plan
    change, which ends one row and starts the next at the same instant, is not churn, and
    neither is the end of one of two parallel subscriptions). An account that comes back
    later still counts as churned in P.

    Parameters
    ----------
    subscriptions
        ``subscriptions`` (``account_id``, ``started_at``, ``mrr``, ``ended_at``).
    period
        ``"day"``, ``"week"`` or ``"month"``.
    by, users
        Users columns to break down by (``by="segment"``) and the ``users`` table; an
        account takes the value of its users (the smallest one if they disagree).
    start, end
        Keep periods starting in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`churn`: ``period``, ``active_start`` (accounts at risk),
        ``churned``, ``churn_rate``, ``complete``, then the ``by`` columns; periods from the
        first subscription start to the last event of the table.

    Examples
    --------
    >>> subs = pd.DataFrame({"account_id": ["a", "a", "b", "c"], "mrr": [10, 20, 10, 10],
    ...     "started_at": ["2025-01-01", "2025-02-10", "2025-01-05", "2025-01-05"],
    ...     "ended_at": ["2025-02-10", None, "2025-02-20", "2025-03-05"]})
    >>> subscriber_churn(subs)[["period", "active_start", "churned", "churn_rate"]]
          period  active_start  churned  churn_rate
    0 2025-02-01             3        1    0.333333
    1 2025-03-01             2        1         NaN

    March has not ended in the data (the last date is 5 March), so its rate is not given.
    """
    _check("period", period, tuple(FREQS))
    by_cols = _as_list(by)
    subs = table_arg(subscriptions, "subscriptions", ("account_id", "started_at", "mrr"))
    if "ended_at" not in subs.columns:
        subs = subs.mutate(ended_at=ibis.null("timestamp"))
    bounds = engine.to_pandas(subs.aggregate(
        first=subs.started_at.min(), last_start=subs.started_at.max(), last_end=subs.ended_at.max()))
    last = max(t for t in (bounds["last_start"].iloc[0], bounds["last_end"].iloc[0]) if pd.notna(t))
    horizon = last.normalize() + pd.Timedelta(days=1)
    grid = _period_grid(bounds["first"].iloc[0], last, period, start=start, end=end)
    grid = grid.mutate(p_end=_next_period(grid.p, period))
    rows = subs.select("account_id", "started_at", "ended_at")
    covering = rows.join(grid, (rows.started_at <= grid.p)
                         & (rows.ended_at.isnull() | (rows.ended_at > grid.p)))
    at_risk = covering.select("account_id", "p").distinct()
    ends = rows.filter(rows.ended_at.notnull()).select("account_id", end=rows.ended_at)
    other = rows.view()
    covered = ends.join(other, (ends.account_id == other.account_id) & (other.started_at <= ends.end)
                        & (other.ended_at.isnull() | (other.ended_at > ends.end)))
    lapses = ends.anti_join(covered.select(account_id=ends.account_id, end=ends.end), ["account_id", "end"])
    # (p, p_end]: coverage ending exactly at P's end was at risk in P and is lost in P
    lost = lapses.join(grid, (lapses.end > grid.p) & (lapses.end <= grid.p_end))
    lost = lost.select("account_id", "p", lost=ibis.literal(1)).distinct()
    marked = at_risk.left_join(lost, ["account_id", "p"]).select(at_risk, lost.lost)
    if by_cols:
        if users is None:
            raise ValueError("subscriber_churn(by=...) breaks down by users columns: pass users=...")
        users_t = table_arg(users, "users", ("user_id", "account_id", *by_cols))
        accounts = users_t.group_by("account_id").aggregate(**{c: users_t[c].min() for c in by_cols})
        marked = marked.left_join(accounts, "account_id").select(marked, *[accounts[c] for c in by_cols])
    out = _churn_counts(marked, by_cols)
    return _churn_finish(out, by_cols, _period_end(out["period"], period, 0) <= horizon)


def _churn_counts(marked: ir.Table, by_cols: list[str]) -> pd.DataFrame:
    """Per period (and ``by`` value): rows at risk, and rows marked ``lost``."""
    out = engine.to_pandas(marked.group_by(["p", *by_cols]).aggregate(
        active_start=marked.count(), churned=marked.lost.fill_null(0).sum()))
    return out.rename(columns={"p": "period"})


def _churn_finish(out: pd.DataFrame, by_cols: list[str], complete: pd.Series) -> pd.DataFrame:
    out["complete"] = complete.to_numpy(dtype=bool) if len(out) else complete.astype(bool)
    out["churn_rate"] = (out["churned"] / out["active_start"]).where(out["complete"])
    out = out.sort_values([*by_cols, "period"], kind="stable").reset_index(drop=True)
    for col in ("active_start", "churned"):
        out[col] = out[col].fillna(0).astype("int64")
    return out[["period", "active_start", "churned", "churn_rate", "complete", *by_cols]]


def churn_alerts(churn_frame: pd.DataFrame, /, *, window: int = 8, min_ratio: float = 1.3,
                 z: float = 3.0) -> pd.DataFrame:
    """Flag periods whose churn is abnormal against a trailing baseline.

    The *baseline* of a period is the median churn rate of the previous ``window``
    complete periods (of the same ``by`` group; at least 3 are needed). A complete period
    is an *alert* when both hold: its rate is at least ``min_ratio`` times the baseline,
    and the excess is significant, ``(rate - baseline) / sqrt(baseline * (1 - baseline) /
    active_start) >= z`` (a one-sided binomial z-score; the baseline in the variance is at
    least ``1 / active_start``, so a baseline of 0 does not make one loss an alert).
    Seed 002's week at 8 % against a normal 5 % with 600 users at risk gives ratio 1.6
    and z = 3.4: an alert.

    Returns
    -------
    pandas.DataFrame
        The input columns plus ``baseline``, ``z_score``, ``alert`` (bool) and ``rule``
        (the rule in words, the same on every row).

    Examples
    --------
    >>> frame = pd.DataFrame({"period": pd.date_range("2025-01-06", periods=6, freq="W-MON"),
    ...     "active_start": 600, "churned": [30, 29, 31, 30, 48, 30]})
    >>> frame["churn_rate"] = frame["churned"] / frame["active_start"]
    >>> frame["complete"] = True
    >>> churn_alerts(frame)[["period", "churn_rate", "baseline", "alert"]].tail(2)
          period  churn_rate  baseline  alert
    4 2025-02-03        0.08      0.05   True
    5 2025-02-10        0.05      0.05  False
    """
    base_cols = {"period", "active_start", "churned", "churn_rate", "complete"}
    dims = [c for c in churn_frame.columns if c not in base_cols]
    out = churn_frame.sort_values([*dims, "period"], kind="stable").reset_index(drop=True)
    rates = out["churn_rate"].where(out["complete"])
    groups = [out[d] for d in dims] if dims else [np.zeros(len(out))]
    out["baseline"] = rates.groupby(groups, dropna=False).transform(
        lambda s: s.shift(1).rolling(window, min_periods=3).median())
    # a baseline of 0 (no churn seen yet) would make any single loss infinitely significant:
    # the variance uses at least one loss in the period's base
    floor = np.maximum(out["baseline"], 1 / out["active_start"].where(out["active_start"] > 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.sqrt(floor * (1 - floor) / out["active_start"])
        out["z_score"] = (out["churn_rate"] - out["baseline"]) / sd
    out["alert"] = (out["complete"] & (out["churn_rate"] >= min_ratio * out["baseline"])
                    & (out["z_score"] >= z)).fillna(False).astype(bool)
    out["rule"] = (f"churn rate >= {min_ratio:g} x the median of the previous {window} complete "
                   f"periods, and z >= {z:g} (binomial, one-sided)")
    return out

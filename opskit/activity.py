"""Activity: active users, stickiness, usage time, participation and page content metrics.

Seed 003's activity indicators (用户活跃指标): DAU and MAU (:func:`active_users`),
how sticky the product is (DAU/MAU, :func:`stickiness`; the days-active
distribution, :func:`active_days_distribution`), 用户平均使用时长
(:func:`usage_time`) and 用户参与度 (:func:`participation`); seed 004's content
numbers: PV, UV, bounce and exit rates per page (:func:`page_metrics`).
Counting happens in the engine (Ibis); only per-period aggregates are shaped
in pandas. Definitions are in docs/metrics.md ("Activity").
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
from opskit._periods import FREQS, period_range, period_start
from opskit._shared import as_list as _as_list
from opskit._shared import data_span as _span
from opskit._shared import empty as _empty
from opskit._shared import grid as _grid
from opskit._shared import instant as _instant
from opskit._shared import ints as _ints
from opskit.retention import wilson

__all__ = ["active_days_distribution", "active_users", "page_metrics", "participation", "stickiness",
           "usage_time"]

_DAY = pd.Timedelta(days=1)
_METHODS = ("auto", "duration", "sessions")


def active_users(events: Any, /, *, freq: str = "day") -> pd.DataFrame:
    """Distinct active users per calendar period (DAU, WAU, MAU).

    A user is *active* in a period when they have at least one event of any
    kind whose ``event_at`` falls in it. Periods are calendar periods in UTC:
    days, ISO weeks (Monday start) or calendar months. Every period from the
    first event's to the last event's appears, with 0 where nobody was
    active.

    Parameters
    ----------
    events
        The ``events`` table (columns ``user_id``, ``event_at``): an
        :class:`opskit.Dataset`, an Ibis table or a pandas DataFrame.
    freq
        ``"day"`` (DAU), ``"week"`` (WAU) or ``"month"`` (MAU).

    Returns
    -------
    pandas.DataFrame
        ``period`` (datetime64[ns], start of the period) and
        ``active_users`` (int64), one row per period, in time order.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({
    ...     "user_id": ["a", "a", "b", "a"],
    ...     "event": ["login"] * 4,
    ...     "event_at": ["2025-01-01 09:00", "2025-01-01 18:00",
    ...                  "2025-01-01 10:00", "2025-01-03 08:00"]})
    >>> active_users(events)
          period  active_users
    0 2025-01-01             2
    1 2025-01-02             0
    2 2025-01-03             1
    """
    table = table_arg(events, "events", ("user_id", "event_at"))
    counted = (
        table.mutate(period=period_start(table.event_at, freq))
        .group_by("period")
        .aggregate(active_users=table.user_id.nunique())
    )
    frame = engine.to_pandas(counted)
    if frame.empty:
        return pd.DataFrame({"period": pd.Series(dtype="datetime64[ns]"),
                             "active_users": pd.Series(dtype="int64")})
    periods = period_range(frame["period"].min(), frame["period"].max(), freq)
    out = frame.set_index("period")["active_users"].reindex(periods, fill_value=0)
    return out.astype("int64").reset_index()


# --- shared helpers ----------------------------------------------------------------------


def _check_freq(freq: Any, allowed: Sequence[str] = tuple(FREQS), *, optional: bool = False) -> None:
    if freq is None and optional:
        return
    if freq not in allowed:
        names = ", ".join(map(repr, allowed)) + (" or None" if optional else "")
        raise ValueError(f"freq must be one of {names}, not {freq!r}")


def _event_names(value: Any, name: str, *, optional: bool = False) -> list[str] | None:
    if value is None and optional:
        return None
    names = [value] if isinstance(value, str) else list(value) if value is not None else []
    if not names or not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"{name} must be an event name or a non-empty list of event names, not {value!r}")
    return names


def _only(table: ir.Table, names: list[str] | None) -> ir.Table:
    return table if names is None else table.filter(table.event.isin(names))


def _in_window(table: ir.Table, period: ir.TimestampValue, start: Any, end: Any) -> ir.Table:
    """Rows whose period starts in ``[start, end)``."""
    lo, hi = _instant(start, "start"), _instant(end, "end")
    if lo is not None:
        table = table.filter(period >= ibis.timestamp(lo))
    if hi is not None:
        table = table.filter(period < ibis.timestamp(hi))
    return table


def _next_start(start: pd.Series, freq: str) -> pd.Series:
    if freq == "month":
        return start + pd.offsets.MonthBegin(1)
    return start + pd.Timedelta(days=1 if freq == "day" else 7)


def _with_users(table: ir.Table, by_cols: list[str], users: Any, fn: str) -> ir.Table:
    """Add the ``users`` columns ``by_cols`` (one value per user: the smallest if rows disagree)."""
    if not by_cols:
        return table
    if users is None:
        raise ValueError(f"{fn}(by=...) breaks down by users columns: pass users=... (the users table)")
    users_t = table_arg(users, "users", ("user_id", *by_cols))
    dims = users_t.group_by("user_id").aggregate(**{c: users_t[c].min() for c in by_cols})
    return table.left_join(dims, "user_id").select(table, *[dims[c] for c in by_cols])


def _periods(counts: pd.DataFrame, freq: str) -> pd.DatetimeIndex:
    return period_range(counts["period"].min(), counts["period"].max(), freq)


def _ratio(k: pd.Series, n: pd.Series) -> pd.Series:
    k, n = k.astype("float64"), n.astype("float64")
    return (k / n.where(n > 0)).astype("float64")


def _floor_days(days: pd.DatetimeIndex, freq: str) -> pd.DatetimeIndex:
    """The start of each day's week (Monday) or month: :func:`floor_period` for many days."""
    if freq == "week":
        return days - pd.to_timedelta(days.day_of_week, unit="D")
    return days.to_period("M").to_timestamp().astype("datetime64[ns]")


def _complete(periods: pd.Series, freq: str, first_day: pd.Timestamp, horizon: pd.Timestamp) -> np.ndarray:
    """The whole period lies inside the data: ``[first event's day, end of the data)``."""
    return ((periods >= first_day) & (_next_start(periods, freq) <= horizon)).to_numpy(dtype=bool)


# --- stickiness ---------------------------------------------------------------------------


def stickiness(events: Any, /, *, freq: str = "month", event: str | Sequence[str] | None = None,
               start: Any = None, end: Any = None) -> pd.DataFrame:
    """DAU/MAU (or DAU/WAU) stickiness: how many of a period's users come on an average day.

    For each calendar month (or ISO week): ``mean_dau`` is the mean, over the
    period's days that lie inside the data (from the first event's day to the
    last event's day), of the distinct users active that day — days with
    nobody active count as 0; ``active_users`` is the period's distinct active
    users (MAU or WAU); ``stickiness = mean_dau / active_users``. It runs from
    1 / days (everyone came on one day) to 1 (everyone came every day); 0.2 is
    read "the average user comes 6 days a month". ``mean_dau`` is also the
    monthly "dau" that targets are usually set on.

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``; ``event`` when ``event`` is given).
    freq
        ``"month"`` (DAU/MAU) or ``"week"`` (DAU/WAU).
    event
        Count only these event names as activity (e.g. the key action); None
        for any event.
    start, end
        Keep the periods that start in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``days`` (int64, days averaged), ``mean_dau`` (float64),
        ``active_users`` (int64), ``stickiness`` (float64; NaN when nobody was
        active), ``complete`` (bool: the whole period lies inside the data).

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["a", "a", "a", "b"], "event": "x",
    ...     "event_at": ["2025-01-06", "2025-01-07", "2025-01-08", "2025-01-06"]})
    >>> stickiness(events, freq="week")
          period  days  mean_dau  active_users  stickiness  complete
    0 2025-01-06     3  1.333333             2    0.666667     False

    The data cover 6 to 8 January: DAU 2, 1, 1, mean 4/3 over 3 days; WAU 2.
    """
    _check_freq(freq, ("week", "month"))
    names = _event_names(event, "event", optional=True)
    table = table_arg(events, "events", ("user_id", "event_at", *(("event",) if names else ())))
    first_day, horizon = _span(table)
    columns = ["period", "days", "mean_dau", "active_users", "stickiness", "complete"]
    acts = _only(table, names)
    acts = _in_window(acts, period_start(acts.event_at, freq), start, end)
    daily = engine.to_pandas(acts.group_by(day=acts.event_at.truncate("D")).aggregate(
        dau=acts.user_id.nunique()))
    periodic = engine.to_pandas(acts.group_by(period=period_start(acts.event_at, freq)).aggregate(
        active_users=acts.user_id.nunique()))
    if periodic.empty:
        return _empty(columns, ints=("days", "active_users"), bools=("complete",))
    periods = _periods(periodic, freq)
    days = pd.date_range(max(first_day, periods[0]), min(horizon, _next_start(pd.Series(periods[-1:]),
                                                                               freq).iloc[0]) - _DAY,
                         freq="D")
    dau = daily.set_index("day")["dau"].reindex(days, fill_value=0)
    per = dau.groupby(_floor_days(days, freq)).agg(["mean", "size"])
    out = pd.DataFrame({"period": periods.astype("datetime64[ns]")})
    out = out.merge(per.rename(columns={"mean": "mean_dau", "size": "days"}), left_on="period",
                    right_index=True, how="left").merge(periodic, on="period", how="left")
    out = _ints(out, ["days", "active_users"])
    out["mean_dau"] = out["mean_dau"].fillna(0.0).astype("float64")
    out["stickiness"] = _ratio(out["mean_dau"], out["active_users"])
    out["complete"] = _complete(out["period"], freq, first_day, horizon)
    return out[columns]


def active_days_distribution(events: Any, /, *, freq: str = "week", event: str | Sequence[str] | None = None,
                             start: Any = None, end: Any = None) -> pd.DataFrame:
    """How many of a period's days its users were active: 1 day, 2 days, ... all n days.

    The *stickiness* chart of Amplitude and PostHog. For each calendar week (7
    days) or month (28 to 31 days) and each k from 1 to n: ``users`` had events
    on exactly k distinct days (UTC) of the period; ``share`` = users /
    ``active_users`` (the period's active users, so the shares sum to 1);
    ``users_at_least`` and ``share_at_least`` count the users active on k days
    or more (the cumulative view: ``share_at_least`` is 1 at k = 1 and falls).

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``; ``event`` when ``event`` is given).
    freq
        ``"week"`` or ``"month"``.
    event
        Count only these event names (e.g. the key action); None for any event.
    start, end
        Keep the periods that start in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``days_in_period``, ``days_active`` (k), ``users``, ``share``,
        ``users_at_least``, ``share_at_least``, ``active_users``, ``complete``
        (the whole period lies inside the data; the first and last periods often
        do not, and then few users can reach the top k). One row per period and
        k, every k from 1 to ``days_in_period``; shares are NaN for a period
        with no active user.

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["a", "a", "a", "b", "b", "c"], "event": "x",
    ...     "event_at": ["2025-01-06 09:00", "2025-01-06 18:00", "2025-01-08", "2025-01-07",
    ...                  "2025-01-12", "2025-01-10"]})
    >>> dist = active_days_distribution(events)
    >>> dist[["days_active", "users", "share", "users_at_least", "share_at_least"]].head(3)
       days_active  users     share  users_at_least  share_at_least
    0            1      1  0.333333               3        1.000000
    1            2      2  0.666667               2        0.666667
    2            3      0  0.000000               0        0.000000
    """
    _check_freq(freq, ("week", "month"))
    names = _event_names(event, "event", optional=True)
    table = table_arg(events, "events", ("user_id", "event_at", *(("event",) if names else ())))
    first_day, horizon = _span(table)
    columns = ["period", "days_in_period", "days_active", "users", "share", "users_at_least",
               "share_at_least", "active_users", "complete"]
    acts = _only(table, names)
    days = acts.select("user_id", day=acts.event_at.truncate("D")).distinct()
    days = _in_window(days, period_start(days.day, freq), start, end)
    per_user = days.group_by(["user_id", period_start(days.day, freq).name("period")]).aggregate(
        k=days.count())
    counts = engine.to_pandas(per_user.group_by(["period", "k"]).aggregate(users=per_user.count()))
    if counts.empty:
        return _empty(columns, ints=("days_in_period", "days_active", "users", "users_at_least",
                                     "active_users"), bools=("complete",))
    periods = pd.Series(_periods(counts, freq).astype("datetime64[ns]"), name="period")
    n_days = ((_next_start(periods, freq) - periods) / _DAY).astype("int64")
    grid = pd.DataFrame({"period": periods.repeat(n_days).to_numpy(),
                         "days_active": np.concatenate([np.arange(1, n + 1) for n in n_days])})
    grid["days_in_period"] = grid["period"].map(dict(zip(periods, n_days, strict=True))).astype("int64")
    out = grid.merge(counts.rename(columns={"k": "days_active"}), on=["period", "days_active"], how="left")
    out = _ints(out, ["users"])
    by_period = out.groupby("period")["users"]
    out["active_users"] = by_period.transform("sum").astype("int64")
    out["users_at_least"] = (by_period.transform("sum") - by_period.cumsum() + out["users"]).astype("int64")
    out["share"] = _ratio(out["users"], out["active_users"])
    out["share_at_least"] = _ratio(out["users_at_least"], out["active_users"])
    out["complete"] = _complete(out["period"], freq, first_day, horizon)
    return out[columns]


# --- usage time ---------------------------------------------------------------------------


def _sessions(table: ir.Table, gap_minutes: float) -> ir.Table:
    """``table`` with a session key ``_session`` (text), on rows that belong to a session.

    With a ``session_id`` column, a row's session is its ``session_id`` (per user);
    rows whose ``session_id`` is null belong to no session and are dropped. Without
    the column, a user's session ends after ``gap_minutes`` without an event.
    """
    if "session_id" in table.columns:
        rows = table.filter(table.session_id.notnull())
        key = rows.user_id.cast("string").concat("\x1f", rows.session_id.cast("string"))
        return rows.mutate(_session=key)
    by_user = ibis.window(group_by="user_id", order_by="event_at")
    previous = table.event_at.lag().over(by_user)
    gap = table.event_at.epoch_seconds() - previous.epoch_seconds()
    new = ibis.cases((previous.isnull(), 1), (gap > float(gap_minutes) * 60, 1), else_=0)
    marked = table.mutate(_new=new)
    # a RANGE frame gives rows at the same instant the same number, whatever their order
    running = ibis.window(group_by="user_id", order_by="event_at", range=(None, 0))
    numbered = marked.mutate(_seq=marked._new.sum().over(running))
    return numbered.mutate(_session=numbered.user_id.cast("string").concat(
        "\x1f", numbered._seq.cast("string"))).drop("_new", "_seq")


def _gap(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value <= 0:
        raise ValueError(f"session_gap_minutes must be a positive number of minutes, not {value!r}")
    return float(value)


def usage_time(events: Any, /, *, freq: str = "day", method: str = "auto",
               by: str | Sequence[str] | None = None, users: Any = None, start: Any = None, end: Any = None,
               session_gap_minutes: float = 30) -> pd.DataFrame:
    """Average usage time per active user (seed 003: 用户平均使用时长 = 总时长 / 用户数).

    Time comes from one of two sources:

    * ``method="duration"``: the sum of ``events.duration_s`` (seconds spent on
      each event), counted in the period of the event;
    * ``method="sessions"``: the length of each session, last event - first
      event, counted in the period of its first event. A session is a
      ``session_id`` (rows without one belong to no session); without a
      ``session_id`` column, a user's events up to ``session_gap_minutes`` apart.
      A one-event session lasts 0 s, and the time on the last page is never
      seen, so this is lower than ``duration_s`` on the same data.
    * ``method="auto"`` (default): ``duration`` when the events have a
      ``duration_s`` column with at least one value, else ``sessions`` —
      duration wins, because it includes the time on each session's last event.

    Only *timed* rows count (rows with ``duration_s``; rows in a session): a
    user whose only events in the period carry no time (a server-side
    ``purchase``) is not a user of the product in it. ``users`` are the distinct
    users with timed rows, ``user_days`` the distinct (user, UTC day) pairs.

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``, and ``duration_s`` or ``session_id``).
    freq
        ``"day"``, ``"week"`` or ``"month"``.
    method
        ``"auto"``, ``"duration"`` or ``"sessions"``.
    by, users
        ``users`` column(s) to break down by, and the ``users`` table.
    start, end
        Keep the periods that start in ``[start, end)``.
    session_gap_minutes
        Inactivity that ends a session when there is no ``session_id`` column.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``users``, ``user_days`` (int64), ``total_seconds``,
        ``seconds_per_user`` (total / users: the seed's average usage time),
        ``seconds_per_user_day`` (total / user_days: the average day of an
        active user; equal to the former with ``freq="day"``), then the ``by``
        columns. Every period from the first timed row's to the last's, with 0
        users (and NaN averages) where nobody was timed.

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["a", "a", "b", "a"], "event": "x",
    ...     "event_at": ["2025-01-06 09:00", "2025-01-06 09:05", "2025-01-06 10:00", "2025-01-07 09:00"],
    ...     "duration_s": [300, 60, 120, 90]})
    >>> usage_time(events, freq="week")[["users", "user_days", "total_seconds",
    ...                                  "seconds_per_user", "seconds_per_user_day"]]
       users  user_days  total_seconds  seconds_per_user  seconds_per_user_day
    0      2          3          570.0             285.0                 190.0

    Week of 6 January: a 300 + 60 + 90 s over 2 days, b 120 s on 1 day.
    """
    _check_freq(freq)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, _METHODS))}, not {method!r}")
    by_cols = _as_list(by)
    gap = _gap(session_gap_minutes)
    table = table_arg(events, "events", ("user_id", "event_at"))
    if method == "auto":
        timed = "duration_s" in table.columns and bool(
            engine.to_pandas(table.aggregate(n=table.duration_s.count()))["n"].iloc[0])
        method = "duration" if timed else "sessions"
    if method == "duration":
        table = table_arg(table, "events", ("user_id", "event_at", "duration_s"))
        rows = table.filter(table.duration_s.notnull())
        rows = rows.select("user_id", at=rows.event_at, seconds=rows.duration_s.cast("float64"))
    else:
        sessions = _sessions(table, gap)
        spans = sessions.group_by(["user_id", "_session"]).aggregate(
            at=sessions.event_at.min(), last=sessions.event_at.max())
        rows = spans.select("user_id", "at", seconds=(spans["last"].epoch_seconds()
                                                     - spans["at"].epoch_seconds()).cast("float64"))
    rows = rows.mutate(day=rows.at.truncate("D"), period=period_start(rows.at, freq))
    rows = _in_window(rows, rows.period, start, end)
    rows = _with_users(rows, by_cols, users, "usage_time")
    per_day = rows.group_by(["user_id", "day", "period", *by_cols]).aggregate(seconds=rows.seconds.sum())
    counts = engine.to_pandas(per_day.group_by(["period", *by_cols]).aggregate(
        users=per_day.user_id.nunique(), user_days=per_day.count(), total_seconds=per_day.seconds.sum()))
    columns = ["period", "users", "user_days", "total_seconds", "seconds_per_user", "seconds_per_user_day",
               *by_cols]
    if counts.empty:
        return _empty(columns, ints=("users", "user_days"), texts=by_cols)
    out = _ints(_grid(counts, _periods(counts, freq), by_cols), ["users", "user_days"])
    out["total_seconds"] = out["total_seconds"].fillna(0.0).astype("float64")
    out["seconds_per_user"] = _ratio(out["total_seconds"], out["users"])
    out["seconds_per_user_day"] = _ratio(out["total_seconds"], out["user_days"])
    return out.sort_values([*by_cols, "period"], kind="stable").reset_index(drop=True)[columns]


# --- participation ------------------------------------------------------------------------


def participation(events: Any, /, *, event: str | Sequence[str], freq: str = "month",
                  by: str | Sequence[str] | None = None, users: Any = None, start: Any = None,
                  end: Any = None) -> pd.DataFrame:
    """Share of active users who took part in a feature or campaign (seed 003: 用户参与度).

    Seed 003: 用户参与度 = 参与特定活动或功能的用户数 / 总用户数 x 100 %. Here, per
    calendar period: ``participants`` are the distinct users with an ``event``
    event in the period; ``active_users`` are the distinct users with any event
    in it (the base a feature can reach: using the whole registered base would
    make the rate fall as the base grows, whatever the feature does);
    ``participation_rate = participants / active_users``.

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``, ``event``).
    event
        The event name (or names: any of them) that marks taking part, e.g.
        ``"share_doc"`` or a campaign's ``"join_campaign"``.
    freq
        ``"day"``, ``"week"`` or ``"month"``.
    by, users
        ``users`` column(s) to break down by, and the ``users`` table.
    start, end
        Keep the periods that start in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``active_users``, ``participants`` (int64),
        ``participation_rate``, ``ci_low``, ``ci_high`` (Wilson 95 %), then the
        ``by`` columns; every period from the first event's to the last's.

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["a", "a", "b", "c", "c"],
    ...     "event": ["login", "share_doc", "login", "share_doc", "share_doc"],
    ...     "event_at": ["2025-01-02", "2025-01-03", "2025-01-05", "2025-01-09", "2025-01-20"]})
    >>> participation(events, event="share_doc")[
    ...     ["period", "active_users", "participants", "participation_rate"]]
          period  active_users  participants  participation_rate
    0 2025-01-01             3             2            0.666667
    """
    _check_freq(freq)
    names = _event_names(event, "event")
    by_cols = _as_list(by)
    table = table_arg(events, "events", ("user_id", "event_at", "event"))
    rows = table.select("user_id", "event", period=period_start(table.event_at, freq))
    rows = _with_users(_in_window(rows, rows.period, start, end), by_cols, users, "participation")
    counts = engine.to_pandas(rows.group_by(["period", *by_cols]).aggregate(
        active_users=rows.user_id.nunique(), participants=rows.user_id.nunique(where=rows.event.isin(names))))
    columns = ["period", "active_users", "participants", "participation_rate", "ci_low", "ci_high", *by_cols]
    if counts.empty:
        return _empty(columns, ints=("active_users", "participants"), texts=by_cols)
    out = _ints(_grid(counts, _periods(counts, freq), by_cols), ["active_users", "participants"])
    out["participation_rate"] = _ratio(out["participants"], out["active_users"])
    out["ci_low"], out["ci_high"] = wilson(out["participants"], out["active_users"])
    return out.sort_values([*by_cols, "period"], kind="stable").reset_index(drop=True)[columns]


# --- content: pages -----------------------------------------------------------------------


def page_metrics(events: Any, /, *, freq: str | None = None, by_page: bool = True,
                 event: str | Sequence[str] | None = None, start: Any = None, end: Any = None,
                 session_gap_minutes: float = 30) -> pd.DataFrame:
    """PV, UV, entries, bounce rate and exit rate per page (seed 004's content numbers).

    * A *page view* (PV) is an ``events`` row with a ``page`` — every event
      carries the page it happened on, so an action on ``/editor`` is a view of
      it; pass ``event="page_view"`` to count only those events.
    * A *session* is a ``session_id`` (rows without one are in no session: they
      count in PV and UV, not in entries, exits or bounces); without a
      ``session_id`` column, a user's page views up to ``session_gap_minutes``
      (30) apart. Inside a session, views are ordered by time, then page.
    * ``uv``: distinct users who viewed the page. ``entries``: sessions whose
      first view is on the page. ``exits``: sessions whose last view is on it.
      ``bounces``: sessions with a single page view, on the page.
    * ``bounce_rate = bounces / entries`` (single-page sessions / sessions that
      start on the page); ``exit_rate = exits / pv`` (the share of the page's
      views that ended a session).

    Each count is placed by the time of the view it counts (an entry by the
    first view, an exit by the last), both in periods and in ``[start, end)``.
    With ``by_page=False``: the whole site, where ``entries`` = sessions and
    ``bounce_rate`` is the site's bounce rate.

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``, ``page``; ``session_id`` if any;
        ``event`` when ``event`` is given).
    freq
        None (default) for the whole range, or ``"day"``, ``"week"``, ``"month"``.
    by_page
        One row per page (True) or for the whole site (False).
    event
        Count only these event names as page views; None for every row with a page.
    start, end
        Count views with ``start <= event_at < end`` (sessions are cut from all
        the data first, so a session that began before ``start`` has no entry).
    session_gap_minutes
        Inactivity that ends a session when there is no ``session_id`` column.

    Returns
    -------
    pandas.DataFrame
        ``page`` (with ``by_page``), ``period`` (with ``freq``), then ``pv``,
        ``uv``, ``entries``, ``bounces``, ``exits`` (int64), ``bounce_rate``,
        ``exit_rate`` (float64; NaN when the denominator is 0). Rows by period,
        then PV descending, then page; with ``freq``, every page in every period.

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["a", "a", "a", "b", "c", "c"], "event": "page_view",
    ...     "session_id": ["s1", "s1", "s1", "s2", "s3", "s3"],
    ...     "page": ["/home", "/docs", "/home", "/home", "/docs", "/help"],
    ...     "event_at": pd.to_datetime(["2025-01-06 09:00", "2025-01-06 09:01", "2025-01-06 09:02",
    ...                                 "2025-01-06 10:00", "2025-01-06 11:00", "2025-01-06 11:01"])})
    >>> page_metrics(events)
        page  pv  uv  entries  bounces  exits  bounce_rate  exit_rate
    0  /home   3   2        2        1      2          0.5   0.666667
    1  /docs   2   2        1        0      0          0.0   0.000000
    2  /help   1   1        0        0      1          NaN   1.000000
    """
    _check_freq(freq, optional=True)
    names = _event_names(event, "event", optional=True)
    gap = _gap(session_gap_minutes)
    lo, hi = _instant(start, "start"), _instant(end, "end")
    table = table_arg(events, "events", ("user_id", "event_at", "page", *(("event",) if names else ())))
    views = _only(table, names)
    views = views.filter(views.page.notnull())
    cols = ["user_id", "event_at", "page", *(["session_id"] if "session_id" in views.columns else [])]
    views = views.select(*cols)
    sessions = _sessions(views, gap)
    first = ibis.window(group_by="_session", order_by=[sessions.event_at, sessions.page])
    last = ibis.window(group_by="_session", order_by=[sessions.event_at.desc(), sessions.page.desc()])
    whole = ibis.window(group_by="_session")
    marked = sessions.select("user_id", "event_at", "page",
                             entry=ibis.row_number().over(first) == 0,
                             exit=ibis.row_number().over(last) == 0,
                             single=sessions.count().over(whole) == 1)
    if "session_id" in views.columns:  # views outside any session still count in PV and UV
        loose = views.filter(views.session_id.isnull())
        no = ibis.literal(False)
        marked = marked.union(loose.select("user_id", "event_at", "page", entry=no, exit=no, single=no))
    if lo is not None:
        marked = marked.filter(marked.event_at >= ibis.timestamp(lo))
    if hi is not None:
        marked = marked.filter(marked.event_at < ibis.timestamp(hi))
    keys = (["page"] if by_page else []) + (["period"] if freq else [])
    if freq:
        marked = marked.mutate(period=period_start(marked.event_at, freq))
    sums = {"pv": marked.count(), "uv": marked.user_id.nunique(),
            "entries": marked.entry.cast("int64").sum(),
            "bounces": (marked.entry & marked.single).cast("int64").sum(),
            "exits": marked.exit.cast("int64").sum()}
    counts = engine.to_pandas(marked.group_by(keys).aggregate(**sums) if keys else marked.aggregate(**sums))
    ints = ["pv", "uv", "entries", "bounces", "exits"]
    columns = [*keys, *ints, "bounce_rate", "exit_rate"]
    counts = counts[counts["pv"] > 0]
    if counts.empty:
        return _empty(columns, ints=ints, texts=("page",))
    if freq:
        counts = _grid(counts, _periods(counts, freq), ["page"] if by_page else [])
    out = _ints(counts, ints)
    out["bounce_rate"] = _ratio(out["bounces"], out["entries"])
    out["exit_rate"] = _ratio(out["exits"], out["pv"])
    out["_order"] = -out["pv"]
    order = (["period"] if freq else []) + ["_order"] + (["page"] if by_page else [])
    return out.sort_values(order, kind="stable").reset_index(drop=True)[columns]

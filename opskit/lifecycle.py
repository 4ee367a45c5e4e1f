"""Lifecycle: who is new, returning, resurrecting or dormant in each period.

The growth-accounting view of the active base that PostHog and Amplitude call
*lifecycle*: every period's active users split by where they came from, and
the users lost since the previous period shown as a negative bar. Seed 003's
churn rate (用户流失率 = 流失的用户数 / 期初用户数) is ``-dormant`` over the
previous period's active users; :func:`pulse` gives the ratio of users gained
to users lost. Everything is counted in the engine (one pass of window
functions over the distinct user-period pairs); only the small table of
counts is shaped in pandas. Definitions: docs/metrics.md ("Lifecycle").
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
from opskit._periods import FREQS
from opskit._shared import as_list as _as_list
from opskit._shared import check as _check
from opskit._shared import refuse_duplicates

__all__ = ["STATUSES", "lifecycle", "pulse"]

#: The lifecycle statuses, in the order rows are returned.
STATUSES = ("new", "returning", "resurrecting", "dormant")

_NEW_BY = ("first_event", "signup")
#: Column holding the counted unit (a user or an account) inside the queries.
_UNIT = "__opskit_unit"


def _event_names(value: str | Sequence[str] | None, name: str) -> list[str] | None:
    if value is None:
        return None
    names = [value] if isinstance(value, str) else list(value)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"{name} must be an event name or a non-empty list of event names, not {value!r}")
    return names


def _index(ts: ir.TimestampValue, freq: str) -> ir.IntegerValue:
    """Calendar period number of ``ts``: consecutive periods differ by exactly 1."""
    if freq == "month":
        return (ts.year() * 12 + ts.month() - 1).cast("int64")
    days = (ts.epoch_seconds() / 86_400).floor()
    if freq == "day":
        return days.cast("int64")
    return ((days + 3) / 7).floor().cast("int64")  # 1970-01-01 was a Thursday: weeks start Monday


def _period_of(index: pd.Series, freq: str) -> pd.Series:
    """The period start of each period number of :func:`_index` (datetime64[ns])."""
    i = index.astype("int64")
    if freq == "month":
        return pd.to_datetime({"year": i // 12, "month": i % 12 + 1, "day": 1}).astype("datetime64[ns]")
    days = i if freq == "day" else i * 7 - 3
    return (pd.Timestamp("1970-01-01") + pd.to_timedelta(days, unit="D")).astype("datetime64[ns]")


def _units(users: Any, *, by_account: bool, columns: list[str], signup: bool, fn: str) -> ir.Table:
    """``user_id`` -> counted unit, its ``columns`` and its ``signup_at`` (one row per user).

    With ``by_account`` the unit is ``users.account_id`` (a user without one is an account
    of their own) and the unit's columns are the smallest value among the account's users,
    its signup the earliest one.
    """
    wanted = ["user_id", *(["account_id"] if by_account else []), *columns,
              *(["signup_at"] if signup else [])]
    table = table_arg(users, "users", tuple(dict.fromkeys(wanted)))
    sizes = engine.to_pandas(table.aggregate(rows=table.count(), ids=table.user_id.nunique()))
    refuse_duplicates(table, "users", "user_id", int(sizes["rows"].iloc[0]), int(sizes["ids"].iloc[0]),
                      "so a user would belong to two rows (and perhaps two accounts)",
                      f"keep one row per user before passing users to {fn}")
    extra = [*columns, *(["signup_at"] if signup else [])]
    if not by_account:
        return table.select("user_id", *extra, **{_UNIT: table.user_id})
    mapped = table.mutate(**{_UNIT: table.account_id.fill_null(table.user_id)})
    per_unit = mapped.group_by(_UNIT).aggregate(**{c: mapped[c].min() for c in extra})
    return mapped.select("user_id", _UNIT).join(per_unit, _UNIT)


def _with_units(table: ir.Table, units: ir.Table | None, columns: list[str]) -> ir.Table:
    """``table`` with the counted unit and the unit's ``columns``; users not in ``users``
    count as units of their own (with null columns)."""
    if units is None:
        return table.mutate(**{_UNIT: table.user_id})
    joined = table.left_join(units, table.user_id == units.user_id)
    return joined.select(table, **{_UNIT: joined[_UNIT].fill_null(table.user_id)},
                         **{c: joined[c] for c in columns})


def lifecycle(events: Any, /, *, freq: str = "week", by_account: bool = False, users: Any = None,
              event: str | Sequence[str] | None = None, new_by: str = "first_event",
              by: str | Sequence[str] | None = None, start: Any = None, end: Any = None) -> pd.DataFrame:
    """New, returning, resurrecting and dormant users (or accounts) per calendar period.

    A unit (a user, or an account with ``by_account=True``) is *active* in a period when it
    has an event in it. Each period P's active units are split in three, and the units lost
    since the previous period are the fourth status:

    * ``new``: active in P, and P holds its first event ever (the earliest one in
      ``events``; with ``new_by="signup"``, its ``users.signup_at`` instead);
    * ``returning``: active in P and in the calendar period just before P;
    * ``resurrecting``: active in P, not in the period before, and not new;
    * ``dormant``: active in the period before P but not in P, counted **negative**.

    So ``new + returning + resurrecting`` is the number of active units in P, and
    ``-dormant`` in P is the active units of the previous period less the returning ones
    of P (PostHog's and Amplitude's lifecycle). Seed 003's churn rate of P (流失率) is
    ``-dormant / active(P - 1)``.

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``; ``event`` with ``event=``): a Dataset, an Ibis
        table or a pandas frame.
    freq
        ``"day"``, ``"week"`` (ISO weeks, Monday start) or ``"month"``.
    by_account
        Count accounts (``users.account_id``; pass ``users``) instead of users: an account is
        active when any of its users is. A user without an account (not in ``users``, or an
        empty ``account_id``) counts as an account of their own.
    users
        The ``users`` table; needed for ``by_account``, ``new_by="signup"`` and ``by``.
    event
        Event name(s) that make a unit active; ``None`` means any event.
    new_by
        ``"first_event"``: new in the period of the unit's first (qualifying) event.
        ``"signup"``: new in the period of ``users.signup_at`` (an account's earliest
        signup), as PostHog does with the profile's creation date; a unit first seen after
        its signup period is then resurrecting, and a unit with no signup is never new.
    by
        ``users`` column(s) to break down by; an account takes the smallest value of its
        users.
    start, end
        Report the periods that start in ``[start, end)``. Statuses always look at the whole
        history, so earlier periods still decide who is new, returning or resurrecting.

    Returns
    -------
    pandas.DataFrame
        Long format, one row per period and status (and ``by`` value): ``period``
        (datetime64[ns], the period start), ``status`` (one of :data:`STATUSES`, in that
        order), ``users`` (int64; accounts with ``by_account``; negative for ``dormant``),
        then the ``by`` columns. Every period from the first to the last with activity is
        listed with all four statuses, 0 where none.

    Notes
    -----
    With ``new_by="first_event"`` the first period of an export counts everyone active in
    it as new (nothing earlier is known), and the next periods count returning users who
    were only quiet as resurrecting; start the report later (``start=``) or use
    ``new_by="signup"``. The last period may be incomplete (the data end mid-week), which
    inflates its dormant count. Returning is decided before new, so a unit active in the
    period before its signup period is returning, not new: the identities above then hold
    for both ``new_by`` rules.

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["a", "a", "b", "a", "b", "c"], "event": "x",
    ...     "event_at": ["2025-01-06", "2025-01-14", "2025-01-15", "2025-01-21", "2025-02-04",
    ...                  "2025-02-04"]})
    >>> out = lifecycle(events)
    >>> out.pivot(index="period", columns="status", values="users")[list(STATUSES)]
    status      new  returning  resurrecting  dormant
    period
    2025-01-06    1          0             0        0
    2025-01-13    1          1             0        0
    2025-01-20    0          1             0       -1
    2025-01-27    0          0             0       -1
    2025-02-03    1          0             1        0
    """
    _check("freq", freq, tuple(FREQS))
    _check("new_by", new_by, _NEW_BY)
    if not isinstance(by_account, bool):
        raise TypeError(f"by_account must be True or False, not {by_account!r}")
    names = _event_names(event, "event")
    by_cols = _as_list(by)
    signup = new_by == "signup"
    table = table_arg(events, "events", ("user_id", "event_at", *(["event"] if names else [])))
    if names:
        table = table.filter(table.event.isin(names))
    units = None
    if by_account or by_cols or signup:
        if users is None:
            needs = "by_account=True" if by_account else ("by=..." if by_cols else 'new_by="signup"')
            raise ValueError(f"lifecycle({needs}) needs the users table: pass users=...")
        units = _units(users, by_account=by_account, columns=by_cols, signup=signup, fn="lifecycle")
    extra = [*by_cols, *(["signup_at"] if signup else [])]
    rows = _with_units(table.select("user_id", "event_at"), units, extra)
    active = rows.select(_UNIT, *by_cols, i=_index(rows.event_at, freq),
                         **({"s": _index(rows.signup_at, freq)} if signup else {})).distinct()
    counts = engine.to_pandas(_status_counts(active, by_cols, signup))
    return _shape(counts, by_cols, freq, start, end)


def _status_counts(active: ir.Table, by_cols: list[str], signup: bool) -> ir.Table:
    """Per period number ``i`` and status (and ``by`` value): how many units.

    ``prev``/``nxt`` are the unit's previous and next *active* period numbers: the unit was
    active in the calendar period before ``i`` exactly when ``prev == i - 1``, and is
    dormant in ``i + 1`` when ``nxt`` is not ``i + 1``.
    """
    w = ibis.window(group_by=_UNIT, order_by="i")
    marked = active.mutate(prev=active.i.lag().over(w), nxt=active.i.lead().over(w))
    is_new = (marked.s == marked.i).fill_null(False) if signup else marked.prev.isnull()
    status = ibis.cases((marked.prev == marked.i - 1, "returning"), (is_new, "new"),
                        else_="resurrecting")
    here = marked.select("i", *by_cols, status=status)
    lost = marked.filter(marked.nxt.isnull() | (marked.nxt != marked.i + 1))
    gone = lost.select((lost.i + 1).name("i"), *by_cols, status=ibis.literal("dormant"))
    both = here.union(gone, distinct=False)
    return both.group_by(["i", "status", *by_cols]).aggregate(users=both.count())


def _shape(counts: pd.DataFrame, by_cols: list[str], freq: str, start: Any, end: Any) -> pd.DataFrame:
    """Every period from the first to the last active one, with all four statuses."""
    columns = ["period", "status", "users", *by_cols]
    activity = counts[counts["status"] != "dormant"]
    if activity.empty:
        out = pd.DataFrame({"period": pd.Series(dtype="datetime64[ns]"),
                            "status": pd.Series(dtype=object), "users": pd.Series(dtype="int64")})
        for col in by_cols:
            out[col] = pd.Series(dtype=object)
        return out[columns]
    lo, hi = int(activity["i"].min()), int(activity["i"].max())
    grid = pd.DataFrame({"i": np.arange(lo, hi + 1, dtype="int64")}).merge(
        pd.DataFrame({"status": list(STATUSES)}), how="cross")
    if by_cols:
        grid = grid.merge(counts[by_cols].drop_duplicates(), how="cross")
    counts = counts.assign(i=counts["i"].astype("int64"))
    out = grid.merge(counts, on=["i", "status", *by_cols], how="left")
    users = out["users"].fillna(0).astype("int64")
    out["users"] = np.where(out["status"] == "dormant", -users, users).astype("int64")
    out["period"] = _period_of(out["i"], freq).to_numpy()
    if start is not None:
        out = out[out["period"] >= pd.Timestamp(start)]
    if end is not None:
        out = out[out["period"] < pd.Timestamp(end)]
    rank = out["status"].map({s: k for k, s in enumerate(STATUSES)})
    out = out.assign(_rank=rank).sort_values([*by_cols, "period", "_rank"], kind="stable")
    return out[columns].reset_index(drop=True)


def pulse(lifecycle_frame: pd.DataFrame, /) -> pd.DataFrame:
    """Growth pulse per period: units gained over units lost, ``(new + resurrecting) / dormant``.

    Also known as the (user) *quick ratio*. Above 1 the active base grows from the previous
    period (more units arrive or come back than go quiet); below 1 it shrinks; NaN when
    nobody went dormant (the first period, for one).

    Parameters
    ----------
    lifecycle_frame
        A frame from :func:`lifecycle`.

    Returns
    -------
    pandas.DataFrame
        One row per period (and ``by`` value): ``period``, ``new``, ``returning``,
        ``resurrecting``, ``dormant`` (negative, as in :func:`lifecycle`), ``active``
        (``new + returning + resurrecting``), ``pulse`` (``(new + resurrecting) /
        -dormant``), then the ``by`` columns.

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["a", "a", "b", "a", "b", "c"], "event": "x",
    ...     "event_at": ["2025-01-06", "2025-01-14", "2025-01-15", "2025-01-21", "2025-02-04",
    ...                  "2025-02-04"]})
    >>> pulse(lifecycle(events))[["period", "active", "dormant", "pulse"]]
          period  active  dormant  pulse
    0 2025-01-06       1        0    NaN
    1 2025-01-13       2        0    NaN
    2 2025-01-20       1       -1    0.0
    3 2025-01-27       0       -1    0.0
    4 2025-02-03       2        0    NaN
    """
    missing = {"period", "status", "users"} - set(lifecycle_frame.columns)
    if missing:
        raise ValueError(f"pulse() takes a frame from lifecycle(); it lacks {sorted(missing)}")
    by_cols = [c for c in lifecycle_frame.columns if c not in ("period", "status", "users")]
    wide = lifecycle_frame.pivot_table(index=[*by_cols, "period"], columns="status", values="users",
                                       aggfunc="sum", fill_value=0, dropna=False)
    wide = wide.reindex(columns=list(STATUSES), fill_value=0).astype("int64")
    wide.columns.name = None
    wide["active"] = wide["new"] + wide["returning"] + wide["resurrecting"]
    lost = -wide["dormant"]
    wide["pulse"] = ((wide["new"] + wide["resurrecting"]) / lost.where(lost > 0)).astype("float64")
    out = wide.reset_index()
    return out[["period", *STATUSES, "active", "pulse", *by_cols]]

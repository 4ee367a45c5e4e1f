"""Funnels: how many users (or accounts) go through a sequence of events, and how fast.

Ordered funnels with a conversion window, as Amplitude, Mixpanel and PostHog
define them: :func:`funnel` counts the units that reach each step, with the
conversion from the first and from the previous step, the drop-off and the
median time from the previous step; :func:`time_to_convert` gives the
distribution of the time between two steps. Seed 003's 新用户激活数 (new users
who complete a first use) and 注册转化率 are two-step funnels; seed 001's
acquisition-activation-retention bottleneck is read off the step with the
largest drop-off.

Each unit's path is computed in the engine with joins (one per step) over its
events; only the counts and medians come back to pandas. Definitions with a
worked example: docs/metrics.md ("Funnels").
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from opskit import engine
from opskit._inputs import table_arg
from opskit._shared import check as _check
from opskit.lifecycle import _UNIT, _units, _with_units
from opskit.retention import wilson

__all__ = ["BUCKETS", "ORDERS", "funnel", "time_to_convert"]

#: The ways steps may be ordered.
ORDERS = ("sequential", "strict", "any")
_COUNT_BY = ("user", "account")
#: Default bucket edges of :func:`time_to_convert`.
BUCKETS = ("1min", "10min", "1h", "6h", "1D", "3D", "7D", "14D")
DEADLINE = "__opskit_deadline"


def _t(k: int) -> str:
    """Name of the column holding the time a unit completed step ``k`` (1-based)."""
    return f"__opskit_t{k}"


def _steps(steps: Any, order: str) -> list[str]:
    if isinstance(steps, str) or not isinstance(steps, Sequence):
        raise TypeError(f"steps must be a list of event names, not {steps!r}")
    names = list(steps)
    if len(names) < 2 or not all(isinstance(s, str) and s for s in names):
        raise ValueError(f"steps must hold at least two non-empty event names, not {steps!r}")
    if order == "any" and len(set(names)) < len(names):
        raise ValueError(f'order="any" needs distinct step events; {names!r} repeats one '
                         '(use order="sequential" to count a repeated event)')
    return names


def _window(window_days: Any) -> ir.IntervalScalar:
    if isinstance(window_days, bool) or not isinstance(window_days, (int, float, np.integer, np.floating)):
        raise TypeError(f"window_days must be a number of days, not {window_days!r}")
    if not math.isfinite(window_days) or window_days <= 0:
        raise ValueError(f"window_days must be > 0, not {window_days!r}")
    if float(window_days).is_integer():
        return ibis.interval(days=int(window_days))
    return ibis.interval(seconds=round(float(window_days) * 86_400))


def _paths(events: Any, *, steps: list[str], window_days: Any, order: str, by: Any, users: Any,
           count_by: str, start: Any, end: Any, fn: str) -> tuple[ir.Table, list[str]]:
    """One row per unit that entered the funnel: the ``by`` columns and the time it completed
    each step (``_t(k)``; null when it did not).

    The time of step k is the earliest instant at which steps 1..k can all be done under the
    ``order`` rules: a greedy chain of earliest events for ``"sequential"``, the earliest path
    through the unit's distinct event instants for ``"strict"``, and the latest of the first
    occurrences of steps 2..k for ``"any"``.
    """
    _check("order", order, ORDERS)
    _check("count_by", count_by, _COUNT_BY)
    names = _steps(steps, order)
    width = _window(window_days)
    by_cols = [by] if isinstance(by, str) else list(by or [])
    events_t = table_arg(events, "events", ("user_id", "event_at", "event"))
    event_cols = [c for c in by_cols if c in events_t.columns]
    user_cols = [c for c in by_cols if c not in events_t.columns]
    units = None
    if count_by == "account" or user_cols:
        if users is None:
            needs = 'count_by="account"' if count_by == "account" else f"by={user_cols!r}"
            raise ValueError(f"{fn}({needs}) needs the users table (user_id, account_id, ...): "
                             "pass users=...")
        units = _units(users, by_account=count_by == "account", columns=user_cols, signup=False, fn=fn)
    rows = _with_units(events_t.select("user_id", "event_at", "event", *event_cols), units, user_cols)

    firsts = rows.filter(rows.event == names[0])
    if start is not None:
        firsts = firsts.filter(firsts.event_at >= ibis.timestamp(pd.Timestamp(start)))
    if end is not None:
        firsts = firsts.filter(firsts.event_at < ibis.timestamp(pd.Timestamp(end)))
    entries = firsts.group_by(_UNIT).aggregate(
        **{_t(1): firsts.event_at.min()}, **{c: firsts[c].min() for c in user_cols})
    if event_cols:  # the value on the entering event (the smallest one if several tie)
        at = firsts.join(entries, (firsts[_UNIT] == entries[_UNIT]) & (firsts.event_at == entries[_t(1)]))
        values = at.group_by(at[_UNIT]).aggregate(**{c: at[c].min() for c in event_cols})
        entries = entries.join(values, _UNIT)
    entries = entries.mutate(**{DEADLINE: entries[_t(1)] + width})
    stream = rows.select(_UNIT, "event_at", "event")
    build = {"sequential": _sequential, "strict": _strict, "any": _any_order}[order]
    paths = build(entries, stream, names)
    return paths.select(_UNIT, *by_cols, *[_t(k) for k in range(1, len(names) + 1)]), by_cols


def _sequential(entries: ir.Table, stream: ir.Table, names: list[str]) -> ir.Table:
    """Greedy chain: step k's time is the unit's earliest step-k event at or after step k-1's
    (strictly after when the event name is an earlier step's too) and before the deadline.
    Taking the earliest event at every step is optimal: it leaves the most room for the next."""
    # each step's frontier (_UNIT, tp, dl) feeds only the next step and the final join, so
    # the SQL grows linearly with the number of steps
    prev = entries.select(_UNIT, tp=entries[_t(1)], dl=entries[DEADLINE])
    paths = entries
    for k in range(2, len(names) + 1):
        cand = stream.filter(stream.event == names[k - 1]).select(cu=stream[_UNIT], ct=stream.event_at)
        after = cand.ct > prev.tp if names[k - 1] in names[: k - 1] else cand.ct >= prev.tp
        hit = prev.join(cand, (prev[_UNIT] == cand.cu) & after & (cand.ct < prev.dl))
        prev = hit.group_by([hit[_UNIT], hit.dl]).aggregate(tp=hit.ct.min())
        done = prev.select(_UNIT, **{_t(k): prev.tp})
        paths = paths.left_join(done, _UNIT).select(paths, done[_t(k)])
    return paths


def _strict(entries: ir.Table, stream: ir.Table, names: list[str]) -> ir.Table:
    """No event of the unit strictly between two consecutive steps.

    Number the distinct instants of the unit's events from the entry (offset 0) within the
    window. Step k+1 is at the offset of step k (simultaneous events, allowed unless the
    event name is an earlier step's) or at the next one, so the offsets reachable by step k
    are a set within 0..k-1, carried from step to step as rows.
    """
    n = len(names)
    joined = stream.join(entries, (stream[_UNIT] == entries[_UNIT])
                         & (stream.event_at >= entries[_t(1)])
                         & (stream.event_at < entries[DEADLINE]))
    near = joined.select(stream[_UNIT], stream.event_at, stream.event)
    ranked = near.mutate(d=ibis.dense_rank().over(ibis.window(group_by=_UNIT, order_by="event_at")))
    ranked = ranked.filter(ranked.d < n)
    present = ranked.select(_UNIT, "d", "event").distinct()
    instants = ranked.group_by([_UNIT, "d"]).aggregate(at=ranked.event_at.min())
    reach = entries.select(_UNIT, d=ibis.literal(0, "int64"))
    paths = entries
    for k in range(2, n + 1):
        step = names[k - 1]
        moves = reach.select(_UNIT, d=(reach.d + 1).cast("int64"))
        if step not in names[: k - 1]:
            moves = moves.union(reach.select(_UNIT, d=reach.d.cast("int64")), distinct=False)
        has = present.filter(present.event == step).select(_UNIT, d=present.d.cast("int64"))
        reach = moves.join(has, [_UNIT, "d"]).select(moves[_UNIT], moves.d).distinct()
        first = reach.group_by(_UNIT).aggregate(d=reach.d.min())
        at = first.join(instants.mutate(d=instants.d.cast("int64")), [_UNIT, "d"])
        done = at.select(at[_UNIT], **{_t(k): at.at})
        paths = paths.left_join(done, _UNIT).select(paths, done[_t(k)])
    return paths


def _any_order(entries: ir.Table, stream: ir.Table, names: list[str]) -> ir.Table:
    """Steps 2..n in any order after the entry: each one's first occurrence in the window;
    step k is done when steps 2..k all occurred, at the latest of those first occurrences."""
    later = stream.filter(stream.event.isin(names[1:]))
    joined = later.join(entries, (later[_UNIT] == entries[_UNIT])
                        & (later.event_at >= entries[_t(1)])
                        & (later.event_at < entries[DEADLINE]))
    firsts = joined.group_by(later[_UNIT]).aggregate(
        **{f"f{k}": joined.event_at.min(where=joined.event == names[k - 1])
           for k in range(2, len(names) + 1)})
    paths = entries.left_join(firsts, _UNIT).select(
        entries, *[firsts[f"f{k}"] for k in range(2, len(names) + 1)])
    done = {}
    for k in range(2, len(names) + 1):
        seen = [paths[f"f{j}"] for j in range(2, k + 1)]
        all_seen = ibis.and_(*[s.notnull() for s in seen])
        latest = seen[0] if len(seen) == 1 else ibis.greatest(*seen)
        done[_t(k)] = ibis.cases((all_seen, latest), else_=ibis.null("timestamp"))
    return paths.mutate(**done)


def _seconds(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.IntegerValue:
    return (later.epoch_seconds() - earlier.epoch_seconds()).cast("int64")


def _medians(paths: ir.Table, by_cols: list[str], n: int) -> ir.Table:
    """Exact median (the mean of the two middle values for an even count) of the seconds
    from step k-1 to step k, per step and ``by`` value, with window functions: the same
    number on every engine (Spark's median is approximate)."""
    parts = []
    for k in range(2, n + 1):
        done = paths.filter(paths[_t(k)].notnull())
        parts.append(done.select(*by_cols, step=ibis.literal(k, "int64"),
                                 seconds=_seconds(done[_t(k)], done[_t(k - 1)])))
    long = parts[0].union(*parts[1:], distinct=False) if len(parts) > 1 else parts[0]
    group = [*by_cols, "step"]
    ranked = long.mutate(rn=ibis.row_number().over(ibis.window(group_by=group, order_by="seconds")),
                         cnt=long.count().over(ibis.window(group_by=group)))
    half = (ranked.cnt - 1) / 2
    middle = ranked.filter((ranked.rn == half.floor()) | (ranked.rn == half.ceil()))
    return middle.group_by(group).aggregate(median_seconds_to_convert=middle.seconds.mean())


def funnel(events: Any, /, *, steps: Sequence[str], window_days: float = 14, order: str = "sequential",
           by: str | Sequence[str] | None = None, users: Any = None, count_by: str = "user",
           start: Any = None, end: Any = None) -> pd.DataFrame:
    """Units (users or accounts) reaching each step of a funnel within a conversion window.

    * **Entry.** A unit enters at its first ``steps[0]`` event in ``[start, end)`` (once:
      later step-1 events do not start new attempts); the window is
      ``[entry, entry + window_days)``. Every later step must happen in the window.
    * ``order="sequential"``: step k+1 happens at or after step k; other events may come in
      between (Amplitude's "this order", Mixpanel's and PostHog's default). When step k+1's
      event is also an earlier step's, it must come strictly after step k, so one event
      never fills two steps.
    * ``order="strict"``: as sequential, and the unit has no event of any kind strictly
      between two consecutive steps (PostHog's "strict order"). Simultaneous events have no
      order among them, so an event at the same instant does not break the sequence.
    * ``order="any"``: steps 2..n in any order after the entry (step 1 comes first);
      step k is reached when steps 2..k were all done in the window.

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``, ``event``).
    steps
        Event names, at least two; distinct for ``order="any"``.
    window_days
        Conversion window from the entry, in days (fractions allowed).
    order
        ``"sequential"``, ``"strict"`` or ``"any"``.
    by
        Column(s) to break down by: an ``events`` column (its value on the entering
        event) or a ``users`` column (pass ``users``; an account takes the smallest value
        of its users).
    users
        The ``users`` table, for ``users`` columns in ``by`` and for ``count_by="account"``.
    count_by
        ``"user"``, or ``"account"`` (``users.account_id``): the events of all the account's
        users form one path, entered at the account's first step-1 event. A user without
        an account counts as an account of their own.
    start, end
        Bound the entering event: ``start <= entry < end``.

    Returns
    -------
    pandas.DataFrame
        One row per step (and ``by`` value): ``step`` (int64, 1 for the first), ``event``,
        ``users`` (int64: units that reached the step, accounts with
        ``count_by="account"``), ``conversion`` (``users / users of step 1``), ``ci_low``,
        ``ci_high`` (Wilson 95 % for ``conversion``), ``step_conversion`` (``users / users
        of the previous step``), ``drop_off`` (int64: units of the previous step that did
        not reach this one), ``drop_off_rate`` (``1 - step_conversion``),
        ``median_seconds_to_convert`` (median seconds from the previous step to this one
        among the units that reached it), then the ``by`` columns. Step 1 has NaN
        ``step_conversion``, ``drop_off_rate`` and median, and ``drop_off`` 0. ``users``
        never grows from one step to the next.

    Notes
    -----
    A step's time is the earliest instant at which the unit can have completed steps 1..k
    (for "any": the latest of the first occurrences of steps 2..k); the time from the
    previous step is measured between those instants, in whole seconds. Entries close to
    the end of the data have had less than the full window: set ``end`` to the end of the
    data minus ``window_days`` to count only complete windows.

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["a", "a", "a", "b", "b", "c"],
    ...     "event": ["signup", "create_doc", "share_doc", "signup", "share_doc", "signup"],
    ...     "event_at": ["2025-01-01 10:00", "2025-01-01 10:30", "2025-01-03 10:30",
    ...                  "2025-01-02 09:00", "2025-01-02 09:05", "2025-01-05 12:00"]})
    >>> funnel(events, steps=["signup", "create_doc", "share_doc"])[
    ...     ["event", "users", "conversion", "step_conversion", "median_seconds_to_convert"]]
            event  users  conversion  step_conversion  median_seconds_to_convert
    0      signup      3    1.000000              NaN                        NaN
    1  create_doc      1    0.333333         0.333333                     1800.0
    2   share_doc      1    0.333333         1.000000                   172800.0

    a converts in 30 minutes, then 2 days; b shares without creating a document first; c
    only signs up.
    """
    paths, by_cols = _paths(events, steps=steps, window_days=window_days, order=order, by=by,
                            users=users, count_by=count_by, start=start, end=end, fn="funnel")
    names = list(steps)
    n = len(names)
    with engine.cached(paths) as paths:
        counts = paths.group_by(by_cols).aggregate(
            **{f"n{k}": paths[_t(k)].count() for k in range(1, n + 1)}) if by_cols else \
            paths.aggregate(**{f"n{k}": paths[_t(k)].count() for k in range(1, n + 1)})
        wide = engine.to_pandas(counts)
        medians = engine.to_pandas(_medians(paths, by_cols, n))
    return _shape(wide, medians, names, by_cols)


def _shape(wide: pd.DataFrame, medians: pd.DataFrame, names: list[str], by_cols: list[str]) -> pd.DataFrame:
    n = len(names)
    if wide.empty:
        wide = pd.DataFrame({f"n{k}": [0] for k in range(1, n + 1)}) if not by_cols else wide
    long = wide.melt(id_vars=by_cols, value_vars=[f"n{k}" for k in range(1, n + 1)],
                     var_name="step", value_name="users")
    long["step"] = long["step"].str[1:].astype("int64")
    long["users"] = long["users"].fillna(0).astype("int64")
    long = long.sort_values([*by_cols, "step"], kind="stable").reset_index(drop=True)
    long["event"] = pd.Series([names[k - 1] for k in long["step"]], index=long.index, dtype=object)
    groups = [long[c] for c in by_cols] if by_cols else [np.zeros(len(long))]
    first = long.groupby(groups, dropna=False)["users"].transform("first")
    prev = long.groupby(groups, dropna=False)["users"].shift(1)
    long["conversion"] = (long["users"] / first.where(first > 0)).astype("float64")
    low, high = wilson(long["users"], first)
    long["ci_low"], long["ci_high"] = low, high
    long["step_conversion"] = (long["users"] / prev.where(prev > 0)).astype("float64")
    long["drop_off"] = (prev.fillna(long["users"]) - long["users"]).astype("int64")
    long["drop_off_rate"] = 1 - long["step_conversion"]
    medians = medians.astype({"step": "int64"})
    long = long.merge(medians, on=[*by_cols, "step"], how="left")
    long["median_seconds_to_convert"] = long["median_seconds_to_convert"].astype("float64")
    return long[["step", "event", "users", "conversion", "ci_low", "ci_high", "step_conversion",
                 "drop_off", "drop_off_rate", "median_seconds_to_convert", *by_cols]]


def _edges(buckets: Sequence[Any]) -> list[int]:
    try:
        edges = [int(pd.Timedelta(b).total_seconds()) for b in buckets]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"buckets must be durations such as '1h' or '3D', not {buckets!r}") from exc
    if not edges or edges != sorted(set(edges)) or edges[0] <= 0:
        raise ValueError(f"buckets must be increasing positive durations, not {buckets!r}")
    return edges


def _label(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def time_to_convert(events: Any, /, *, steps: Sequence[str], window_days: float = 14,
                    order: str = "sequential", from_step: int = 1, to_step: int | None = None,
                    buckets: Sequence[Any] = BUCKETS, by: str | Sequence[str] | None = None,
                    users: Any = None, count_by: str = "user", start: Any = None,
                    end: Any = None) -> pd.DataFrame:
    """Distribution of the time from one funnel step to a later one.

    The funnel is :func:`funnel`'s (same options and step times). Among the units that
    reached ``to_step``, the seconds from their time of ``from_step`` to their time of
    ``to_step`` are counted in buckets closed on the left, ``[0, b1)``, ``[b1, b2)``, ...,
    ``[bk, inf)``.

    Parameters
    ----------
    events, steps, window_days, order, by, users, count_by, start, end
        As in :func:`funnel`.
    from_step, to_step
        1-based step numbers, ``from_step < to_step``; ``to_step=None`` is the last step.
    buckets
        Increasing bucket edges as durations (``"1h"``, ``"3D"``, ``pd.Timedelta``).

    Returns
    -------
    pandas.DataFrame
        One row per bucket (and ``by`` value), every bucket listed: ``bucket`` (a label such
        as ``"1h-6h"``, ``"<1min"``, ``">=14d"``), ``from_seconds``, ``to_seconds`` (float;
        ``inf`` for the last), ``users`` (int64), ``share`` (of the converted units; 0 when
        none), ``cumulative_share``, then the ``by`` columns.

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["a", "a", "b", "b", "c", "c"],
    ...     "event": ["signup", "create_doc"] * 3,
    ...     "event_at": ["2025-01-01 10:00", "2025-01-01 10:05", "2025-01-02 09:00",
    ...                  "2025-01-02 12:00", "2025-01-03 08:00", "2025-01-05 08:00"]})
    >>> time_to_convert(events, steps=["signup", "create_doc"], buckets=["1h", "1D"])
      bucket  from_seconds  to_seconds  users     share  cumulative_share
    0   <1h           0.0      3600.0      1  0.333333          0.333333
    1  1h-1d        3600.0     86400.0      1  0.333333          0.666667
    2  >=1d        86400.0         inf      1  0.333333          1.000000
    """
    _check("order", order, ORDERS)
    n = len(_steps(steps, order))
    last = n if to_step is None else to_step
    for name, value in (("from_step", from_step), ("to_step", last)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be a step number, not {value!r}")
    if not 1 <= from_step < last <= n:
        raise ValueError(f"need 1 <= from_step < to_step <= {n} (the number of steps), "
                         f"not from_step={from_step}, to_step={last}")
    edges = _edges(buckets)
    paths, by_cols = _paths(events, steps=steps, window_days=window_days, order=order, by=by,
                            users=users, count_by=count_by, start=start, end=end, fn="time_to_convert")
    done = paths.filter(paths[_t(last)].notnull())
    seconds = _seconds(done[_t(last)], done[_t(from_step)])
    index = ibis.cases(*[(seconds < e, i) for i, e in enumerate(edges)], else_=len(edges))
    binned = done.select(*by_cols, b=index)
    counts = engine.to_pandas(binned.group_by([*by_cols, "b"]).aggregate(users=binned.count()))
    lows = [0, *edges]
    highs = [*edges, math.inf]
    labels = [f"<{_label(edges[0])}",
              *[f"{_label(a)}-{_label(b)}" for a, b in itertools.pairwise(edges)],
              f">={_label(edges[-1])}"]
    grid = pd.DataFrame({"b": range(len(lows)), "bucket": labels,
                         "from_seconds": np.asarray(lows, float), "to_seconds": np.asarray(highs, float)})
    if by_cols:
        grid = grid.merge(counts[by_cols].drop_duplicates(), how="cross")
    out = grid.merge(counts.astype({"b": "int64"}), on=["b", *by_cols], how="left")
    out["users"] = out["users"].fillna(0).astype("int64")
    out = out.sort_values([*by_cols, "b"], kind="stable").reset_index(drop=True)
    groups = [out[c] for c in by_cols] if by_cols else [np.zeros(len(out))]
    total = out.groupby(groups, dropna=False)["users"].transform("sum")
    out["share"] = (out["users"] / total.where(total > 0)).fillna(0.0)
    out["cumulative_share"] = out.groupby(groups, dropna=False)["share"].cumsum()
    return out[["bucket", "from_seconds", "to_seconds", "users", "share", "cumulative_share", *by_cols]]

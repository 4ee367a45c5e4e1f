"""Customer service: first-response time, resolution rate and time, satisfaction (CSAT).

Seed 003 lists the service metrics a user-operations team reports on:
客服响应时间 (the mean time from a user's question to the first reply), 问题解决率
(solved problems / all problems) and 用户满意度 (the users' rating of the service).
:func:`service_levels` gives them per calendar period, from the ``tickets`` table,
with medians and the 90th percentile next to the seed's mean, since response times
are skewed.

Every count, mean and quantile is computed in the engine (Ibis); quantiles are exact
(DuckDB ``quantile_cont``, Spark ``percentile``: both interpolate linearly between the
two nearest values). Only the small per-period table is shaped in pandas. Definitions
with a worked example: docs/metrics.md ("Service").
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
from opskit._periods import FREQS, floor_period, period_range, period_start
from opskit._shared import instant, refuse_duplicates, users_table
from opskit.retention import wilson

__all__ = ["SATISFIED", "service_levels"]

#: A rating at or above this value is a satisfied one (CSAT: ratings 4 and 5 on a 1-5 scale).
SATISFIED = 4

_OPTIONAL = ("first_response_at", "resolved_at", "satisfaction")
_COUNTS = ("tickets", "answered", "resolved", "rated")
_COLUMNS = ("period", "tickets", "answered", "first_response_mean_h", "first_response_median_h",
            "first_response_p90_h", "resolved", "resolution_rate", "resolution_median_h", "rated",
            "csat", "csat_ci_low", "csat_ci_high", "satisfaction_mean", "complete")


def service_levels(tickets: Any, /, *, freq: str = "week", by: str | Sequence[str] | None = None,
                   users: Any = None, start: Any = None, end: Any = None) -> pd.DataFrame:
    """Service levels per calendar period: response, resolution and satisfaction.

    A ticket belongs to the period holding its ``created_at``. In each period:

    * **first response time** = ``first_response_at - created_at`` in hours, over the
      *answered* tickets (``first_response_at`` present): mean (seed 003's 客服响应时间),
      median and 90th percentile. Unanswered tickets have no response time and are left
      out of these three figures (``tickets - answered`` of them).
    * **resolution rate** = resolved / tickets (seed 003's 问题解决率): *resolved* tickets
      have a ``resolved_at``; unresolved ones count in the denominator. The rate counts
      resolutions up to the end of the data, so the latest periods read low until their
      tickets are closed.
    * **resolution time** = ``resolved_at - created_at`` in hours, median over the resolved
      tickets; unresolved tickets are left out (their time is not known yet).
    * **satisfaction** over the *rated* tickets (``satisfaction`` present, 1-5): ``csat`` =
      share of ratings >= 4 (:data:`SATISFIED`), with a Wilson 95 % interval, and
      ``satisfaction_mean`` = the mean rating (seed 003's 用户满意度).

    Quantiles are exact, interpolated linearly between the two nearest values (numpy's
    default; DuckDB ``quantile_cont``, Spark ``percentile``). Times count whole seconds.

    Parameters
    ----------
    tickets
        ``tickets`` (``ticket_id``, ``user_id``, ``created_at``, and as far as known
        ``first_response_at``, ``resolved_at``, ``satisfaction``; a missing optional
        column reads as all empty): a Dataset, an Ibis table or a pandas frame.
    freq
        ``"day"``, ``"week"`` (ISO, Monday start) or ``"month"``.
    by
        Column(s) to break down by: ``tickets`` columns (a queue, a priority) or ``users``
        columns (``by="segment"``; pass ``users``). Tickets of users missing from ``users``
        fall in a group whose value is empty.
    users
        The ``users`` table (one row per ``user_id``), needed for users columns in ``by``.
    start, end
        Keep the periods whose start is in ``[start, end)`` (whole periods).

    Returns
    -------
    pandas.DataFrame
        One row per period (and ``by`` group) from the first ticket's period to the last
        one's: ``period``, ``tickets``, ``answered`` (int64), ``first_response_mean_h``,
        ``first_response_median_h``, ``first_response_p90_h`` (float64 hours),
        ``resolved`` (int64), ``resolution_rate``, ``resolution_median_h``, ``rated``
        (int64), ``csat``, ``csat_ci_low``, ``csat_ci_high``, ``satisfaction_mean``
        (float64; NaN without tickets to average), ``complete`` (the whole period lies in
        the data: from midnight of the first ticket's day to midnight after the day of the
        latest timestamp in ``tickets``), then the ``by`` columns. Periods without tickets
        show 0 and NaN.

    Examples
    --------
    >>> tickets = pd.DataFrame({"ticket_id": ["t1", "t2", "t3", "t4"], "user_id": "u1",
    ...     "created_at": ["2025-01-06 09:00", "2025-01-06 10:00", "2025-01-07 09:00",
    ...                    "2025-01-08 12:00"],
    ...     "first_response_at": ["2025-01-06 10:00", "2025-01-06 13:00", "2025-01-07 17:00", None],
    ...     "resolved_at": ["2025-01-06 15:00", "2025-01-07 10:00", None, None],
    ...     "satisfaction": [5, 3, None, None]})
    >>> levels = service_levels(tickets)
    >>> levels.iloc[0]
    period                     2025-01-06 00:00:00
    tickets                                      4
    answered                                     3
    first_response_mean_h                      4.0
    first_response_median_h                    3.0
    first_response_p90_h                       7.0
    resolved                                     2
    resolution_rate                            0.5
    resolution_median_h                       15.0
    rated                                        2
    csat                                       0.5
    csat_ci_low                           0.094531
    csat_ci_high                          0.905469
    satisfaction_mean                          4.0
    complete                                 False
    Name: 0, dtype: object

    Response times are 1, 3 and 8 hours (t4 is unanswered): mean 4 h, median 3 h; the
    90th percentile lies 0.9 x 2 = 1.8 steps up the sorted list: 3 + 0.8 x (8 - 3) = 7 h.
    Resolution times are 6 and 24 hours: median 15 h; t3 and t4 are open, so 2 of 4
    tickets are resolved. One of the two ratings is 4 or 5: CSAT 50 %. The data end at
    midnight after 8 January, before the week ends: ``complete`` is False.
    """
    if freq not in FREQS:
        raise ValueError(f"freq must be one of {', '.join(map(repr, FREQS))}, not {freq!r}")
    by_cols = [by] if isinstance(by, str) else list(by or [])
    table = table_arg(tickets, "tickets", ("ticket_id", "user_id", "created_at"))
    present = [c for c in _OPTIONAL if c in table.columns]
    table = table_arg(table, "tickets", ("ticket_id", "user_id", "created_at", *present))
    table = table.mutate(**{c: ibis.null("float64" if c == "satisfaction" else "timestamp")
                            for c in _OPTIONAL if c not in present})
    bounds = engine.to_pandas(table.aggregate(
        rows=table.count(), ids=table.ticket_id.nunique(),
        first=table.created_at.min(), last=table.created_at.max(),
        latest=ibis.greatest(table.created_at.max(), table.first_response_at.max(),
                             table.resolved_at.max())))
    refuse_duplicates(table, "tickets", "ticket_id", int(bounds["rows"].iloc[0]), int(bounds["ids"].iloc[0]),
                      "so those tickets would be counted more than once",
                      "keep one row per ticket (its latest state) before passing tickets")
    table = _with_dimensions(table, by_cols, users)
    first, last, latest = (bounds[c].iloc[0] for c in ("first", "last", "latest"))
    columns = [*_COLUMNS, *by_cols]
    if pd.isna(first):
        return _frame(pd.DataFrame(columns=columns), by_cols)[columns]
    periods = period_range(floor_period(first, freq), floor_period(last, freq), freq)
    if start is not None:
        periods = periods[periods >= instant(start, "start")]
    if end is not None:
        periods = periods[periods < instant(end, "end")]

    hours = {c: _hours(table.created_at, table[c]) for c in ("first_response_at", "resolved_at")}
    t = table.mutate(period=period_start(table.created_at, freq), fr_h=hours["first_response_at"],
                     res_h=hours["resolved_at"], rating=table.satisfaction.cast("float64"))
    if len(periods):
        t = t.filter((t.period >= ibis.timestamp(periods[0])) & (t.period <= ibis.timestamp(periods[-1])))
    counts = engine.to_pandas(t.group_by(["period", *by_cols]).aggregate(
        tickets=t.count(),
        answered=t.fr_h.count(),
        first_response_mean_h=t.fr_h.mean(),
        first_response_median_h=t.fr_h.median(),
        first_response_p90_h=t.fr_h.quantile(0.9),
        resolved=t.res_h.count(),
        resolution_median_h=t.res_h.median(),
        rated=t.rating.count(),
        satisfied=ibis.cases((t.rating >= SATISFIED, 1), else_=0).sum(),
        satisfaction_mean=t.rating.mean()))

    grid = pd.DataFrame({"period": periods.astype("datetime64[ns]")})
    if by_cols:
        grid = grid.merge(counts[by_cols].drop_duplicates(), how="cross")
    out = grid.merge(counts, on=["period", *by_cols], how="left")
    out = _frame(out, by_cols)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["resolution_rate"] = (out["resolved"] / out["tickets"]).where(out["tickets"] > 0)
        out["csat"] = (out["satisfied"] / out["rated"]).where(out["rated"] > 0)
    out["csat_ci_low"], out["csat_ci_high"] = wilson(out["satisfied"], out["rated"])
    horizon = pd.Timestamp(latest).normalize() + pd.Timedelta(days=1)
    step = pd.offsets.MonthBegin(1) if freq == "month" else pd.Timedelta(days=1 if freq == "day" else 7)
    out["complete"] = (out["period"] >= pd.Timestamp(first).normalize()) & (out["period"] + step <= horizon)
    out = out.sort_values([*by_cols, "period"], kind="stable").reset_index(drop=True)
    return out[columns]


def _hours(start: ir.TimestampValue, stop: ir.TimestampValue) -> ir.FloatingValue:
    """Hours from ``start`` to ``stop`` (NULL when ``stop`` is)."""
    return (stop.epoch_seconds() - start.epoch_seconds()).cast("float64") / 3600


def _frame(out: pd.DataFrame, by_cols: list[str]) -> pd.DataFrame:
    """Stable dtypes: counts int64 (0 for periods without tickets), figures float64."""
    out["period"] = out["period"].astype("datetime64[ns]")
    for col in (*_COUNTS, "satisfied"):
        out[col] = out.get(col, pd.Series(dtype="float64")).fillna(0).astype("int64")
    for col in _COLUMNS:
        if col not in out:
            out[col] = pd.Series(dtype="float64")
        elif col not in (*_COUNTS, "period", "complete"):
            out[col] = out[col].astype("float64")
    out["complete"] = out["complete"].astype("bool") if "complete" in out else False
    return out


def _with_dimensions(table: ir.Table, by_cols: list[str], users: Any) -> ir.Table:
    """Add the ``users`` columns of ``by`` to the tickets (``tickets`` columns need nothing)."""
    user_cols = [c for c in by_cols if c not in table.columns]
    if not user_cols:
        return table
    if users is None:
        raise ValueError(
            f"by={user_cols!r} names columns that are not in tickets; pass users=... "
            "(the users table) to break down by a users column")
    dims = users_table(users, user_cols, "service_levels")  # one row per user, or a DataError
    return table.left_join(dims, "user_id").select(table, *[dims[c] for c in user_cols])

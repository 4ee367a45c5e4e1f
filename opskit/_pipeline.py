"""B2B sales pipeline: opportunities by stage, win rate, contract value, sales-cycle length.

Every function reads the ``opportunities`` table (``opportunity_id``, ``account_id``,
``created_at``, ``stage``, and the optional ``closed_at``, ``won``, ``amount``) and counts
in the engine; only the small result (one row per period, group or bucket) is shaped in
pandas. docs/metrics.md ("Sales pipeline") states each definition with a worked example.

**Outcome of a deal** (the same rule in every function):

* *won*: ``won`` is true; where ``won`` is null (or the column is absent), ``stage`` is
  ``"won"``;
* *lost*: ``won`` is false; where ``won`` is null, ``stage`` is ``"lost"`` or
  ``closed_at`` is set (a deal closed without a win);
* *open*: neither.

A row whose ``won`` contradicts its ``stage`` (true at ``"lost"``, false at ``"won"``) is
refused with a :class:`opskit.DataError`.

**Breakdowns** (``by=``): a column of ``opportunities`` is used as it is; any other name
is a ``users`` column, joined on ``account_id``. An account takes the smallest value of
its users (they normally agree: ``company_size`` is a property of the account), and an
account with no users row gets a null group.
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
from opskit.errors import DataError
from opskit.retention import wilson

__all__ = ["pipeline", "sales_cycle", "sales_cycle_distribution", "stage_funnel"]

#: The demo's (and a typical CRM's) ordered path to a win.
STAGES: tuple[str, ...] = ("lead", "qualified", "proposal", "negotiation", "won")
#: Upper edges (days) of the sales-cycle buckets.
CYCLE_BUCKETS: tuple[float, ...] = (7, 14, 30, 60, 90, 180)
OUTCOMES = ("won", "lost", "closed")

_WON, _LOST = "won", "lost"
_DAY_SECONDS = 86_400
# derived columns carry a prefix no export uses, so `by` may name any real column
_OUT, _REACH, _DAYS, _BAD_OUTCOME, _BAD_STAGE = ("__outcome", "__reached", "__days",
                                                  "__bad_outcome", "__bad_stage")


# --- inputs ---------------------------------------------------------------------------


def _as_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    cols = [by] if isinstance(by, str) else list(by)
    if not all(isinstance(c, str) for c in cols):
        raise TypeError(f"by must be a column name or a list of column names, not {by!r}")
    return cols


def _stage_list(stages: Sequence[str]) -> list[str]:
    if isinstance(stages, str) or not all(isinstance(s, str) for s in stages):
        raise TypeError(f"stages must be a sequence of stage names, e.g. {STAGES!r}; got {stages!r}")
    out = list(stages)
    if not out:
        raise ValueError(f"stages must list at least one stage, e.g. {STAGES!r}")
    if len(set(out)) != len(out):
        raise ValueError(f"stages must not repeat a stage: {stages!r}")
    if _LOST in out:
        raise ValueError(f"stages is the ordered path to a win; leave {_LOST!r} out of it: {stages!r}")
    return out


def _opportunities(opportunities: Any, by_cols: list[str], users: Any) -> ir.Table:
    """The opportunities with the optional columns filled in and the ``by`` columns joined."""
    t = table_arg(opportunities, "opportunities", ("account_id", "created_at", "stage"))
    fill = {"won": ibis.null("boolean"), "closed_at": ibis.null("timestamp"),
            "amount": ibis.null("float64")}
    t = t.mutate(**{c: v for c, v in fill.items() if c not in t.columns})
    user_cols = [c for c in by_cols if c not in t.columns]
    if not user_cols:
        return t
    if users is None:
        raise ValueError(
            f"by={user_cols!r} names columns that are not in opportunities; pass users=... "
            "(the users table, joined on account_id) to break down by a users column")
    users_t = table_arg(users, "users", ("account_id", *user_cols))
    accounts = users_t.filter(users_t.account_id.notnull()).group_by("account_id").aggregate(
        **{c: users_t[c].min() for c in user_cols})
    return t.left_join(accounts, "account_id").select(t, *[accounts[c] for c in user_cols])


def _classified(t: ir.Table) -> ir.Table:
    """Add the outcome (``"won"``, ``"lost"``, ``"open"``) and the contradiction flag."""
    is_won = ibis.coalesce(t.won, t.stage == _WON, False)
    is_lost = ~is_won & ibis.coalesce(~t.won, (t.stage == _LOST) | t.closed_at.notnull(), False)
    contradiction = ((t.won & (t.stage == _LOST)) | (~t.won & (t.stage == _WON))).fill_null(False)
    return t.mutate(**{
        _OUT: ibis.cases((is_won, _WON), (is_lost, _LOST), else_="open"),
        _BAD_OUTCOME: contradiction.cast("int64"),
    })


def _raise_for_problems(t: ir.Table, counts: pd.DataFrame, stages: list[str] | None = None) -> None:
    """Raise a DataError for contradicting outcomes or open deals at an unknown stage.

    ``counts`` holds per-group sums of the problem flags (computed with the result, so a
    clean table costs no extra query); examples are fetched only when there is a problem.
    """
    for flag in (_BAD_OUTCOME, _BAD_STAGE):
        rows = int(counts[flag].fillna(0).sum()) if flag in counts else 0
        if not rows:
            continue
        total = int(engine.to_pandas(t.count()).iloc[0, 0])
        bad = t.filter(t[flag] == 1)
        if flag == _BAD_OUTCOME:
            who = bad.opportunity_id.cast("string") + ": " if "opportunity_id" in t.columns else ""
            shown = bad.select(value=who + "won=" + bad.won.cast("string") + ", stage=" + bad.stage)
            examples = engine.to_pandas(shown.order_by("value").limit(3))["value"]
            raise DataError.single(
                "opportunities", "won", "won_contradicts_stage", rows,
                f"have won true while stage is {_LOST!r}, or won false while stage is {_WON!r}",
                "correct `won` or `stage` so that they agree", total=total,
                examples=tuple((None, str(v)) for v in examples))
        examples = engine.to_pandas(bad.select("stage").distinct().order_by("stage").limit(3))["stage"]
        raise DataError.single(
            "opportunities", "stage", "unknown_stage", rows,
            f"are open at a stage that is not in stages={tuple(stages or ())!r}, so their place "
            "in the funnel is unknown",
            "pass stages=(...) listing every stage of your pipeline in order, from the first to "
            "the one that means won", total=total, examples=tuple((None, str(v)) for v in examples))


def _periods_in(t: ir.Table, freq: str, start: Any, end: Any) -> ir.Table:
    t = t.mutate(period=period_start(t.created_at, freq))
    if start is not None:
        t = t.filter(t.period >= ibis.timestamp(pd.Timestamp(start)))
    if end is not None:
        t = t.filter(t.period < ibis.timestamp(pd.Timestamp(end)))
    return t


# --- pipeline ---------------------------------------------------------------------------


def pipeline(opportunities: Any, /, *, freq: str = "month", by: str | Sequence[str] | None = None,
             users: Any = None, stages: Sequence[str] = STAGES, start: Any = None,
             end: Any = None) -> pd.DataFrame:
    """Opportunities created per period: how far they got, how many were won, at what value.

    An opportunity belongs to the period of its ``created_at`` (a cohort view: a deal
    created in March and won in May counts for March). Its outcome is won, lost or open
    (see :mod:`opskit._pipeline`). It has *reached* a stage of ``stages`` when:

    * it was won: every stage;
    * otherwise its ``stage`` is in ``stages``: that stage and every earlier one;
    * it was lost and its ``stage`` is not in ``stages`` (``"lost"``, with no record of
      where it was lost): only the first stage.

    An open opportunity at a stage not in ``stages`` cannot be placed and is refused with
    a :class:`opskit.DataError`.

    Parameters
    ----------
    opportunities
        ``opportunities`` (``account_id``, ``created_at``, ``stage``; ``closed_at``,
        ``won`` and ``amount`` are used when present): a Dataset, an Ibis table or a
        pandas frame.
    freq
        ``"day"``, ``"week"`` (ISO weeks, Monday start) or ``"month"``.
    by
        Column(s) to break down by: ``opportunities`` columns, or ``users`` columns
        joined on ``account_id`` (``by="company_size"``; pass ``users``).
    users
        The ``users`` table, needed when ``by`` names users columns.
    stages
        The ordered path to a win, first stage first; ``"lost"`` may not be one.
    start, end
        Keep periods starting in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        One row per period (and ``by`` value), every period from the first to the last
        one holding an opportunity: ``period`` (period start), ``created``, one
        ``reached_<stage>`` per stage (``reached_lead`` ... ``reached_won``), ``won``,
        ``lost``, ``open`` (int64 counts), ``win_rate`` (won / (won + lost), NaN when none
        closed), ``ci_low``, ``ci_high`` (Wilson 95 %), ``acv`` (mean ``amount`` of the
        won deals), ``pipeline_value`` (sum of ``amount`` of the open deals; NaN when
        open deals have no amount), then the ``by`` columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from opskit._pipeline import pipeline
    >>> opps = pd.DataFrame({"opportunity_id": ["o1", "o2", "o3", "o4"],
    ...     "account_id": ["a", "b", "c", "d"],
    ...     "created_at": ["2025-01-03", "2025-01-10", "2025-01-20", "2025-02-02"],
    ...     "stage": ["won", "lost", "proposal", "won"],
    ...     "closed_at": ["2025-01-25", "2025-02-01", None, "2025-03-01"],
    ...     "won": [True, False, None, True], "amount": [1200.0, 800.0, 500.0, 3000.0]})
    >>> out = pipeline(opps)
    >>> out[["period", "created", "reached_qualified", "reached_proposal", "won", "lost", "open"]]
          period  created  reached_qualified  reached_proposal  won  lost  open
    0 2025-01-01        3                  2                 2    1     1     1
    1 2025-02-01        1                  1                 1    1     0     0
    >>> out[["win_rate", "acv", "pipeline_value"]]
       win_rate     acv  pipeline_value
    0       0.5  1200.0           500.0
    1       1.0  3000.0             0.0
    """
    if freq not in FREQS:
        raise ValueError(f"freq must be one of {', '.join(map(repr, FREQS))}, not {freq!r}")
    path = _stage_list(stages)
    by_cols = _as_list(by)
    t = _classified(_opportunities(opportunities, by_cols, users))
    t = _periods_in(t, freq, start, end)
    position = ibis.cases(*[(t.stage == s, i + 1) for i, s in enumerate(path)], else_=0)
    t = t.mutate(**{
        _REACH: ibis.cases((t[_OUT] == _WON, len(path)), (position > 0, position),
                           (t[_OUT] == _LOST, 1), else_=0),
        _BAD_STAGE: ((t[_OUT] == "open") & (position == 0)).cast("int64"),
    })
    is_ = {o: t[_OUT] == o for o in (_WON, _LOST, "open")}
    counts = engine.to_pandas(t.group_by(["period", *by_cols]).aggregate(
        created=t.count(),
        **{f"__r{i}": (t[_REACH] > i).cast("int64").sum() for i in range(len(path))},
        won=is_[_WON].cast("int64").sum(), lost=is_[_LOST].cast("int64").sum(),
        open=is_["open"].cast("int64").sum(),
        acv=ibis.cases((is_[_WON], t.amount.cast("float64"))).mean(),
        pipeline_value=ibis.cases((is_["open"], t.amount.cast("float64"))).sum(),
        **{_BAD_OUTCOME: t[_BAD_OUTCOME].sum(), _BAD_STAGE: t[_BAD_STAGE].sum()}))
    _raise_for_problems(t, counts, path)
    counts = counts.rename(columns={f"__r{i}": f"reached_{s}" for i, s in enumerate(path)})
    ints = ["created", *[f"reached_{s}" for s in path], "won", "lost", "open"]
    out = _fill_periods(counts, by_cols, freq, ints)
    value = out["pipeline_value"].astype("float64")
    out["pipeline_value"] = value.where(value.notna() | (out["open"] > 0), 0.0)
    closed = out["won"] + out["lost"]
    out["win_rate"] = (out["won"] / closed).where(closed > 0)
    out["ci_low"], out["ci_high"] = wilson(out["won"], closed)
    out["acv"] = out["acv"].astype("float64")
    columns = ["period", *ints, "win_rate", "ci_low", "ci_high", "acv", "pipeline_value", *by_cols]
    return out.sort_values([*by_cols, "period"], kind="stable").reset_index(drop=True)[columns]


def _fill_periods(counts: pd.DataFrame, by_cols: list[str], freq: str, ints: list[str]) -> pd.DataFrame:
    """Every period from the first to the last, for every ``by`` value seen; empty ones at 0."""
    if counts.empty:
        frame = pd.DataFrame({c: pd.Series(dtype="int64") for c in ints})
        frame.insert(0, "period", pd.Series(dtype="datetime64[ns]"))
        for c in ("acv", "pipeline_value"):
            frame[c] = pd.Series(dtype="float64")
        for c in by_cols:
            frame[c] = pd.Series(dtype=counts[c].dtype if c in counts else object)
        return frame
    periods = period_range(counts["period"].min(), counts["period"].max(), freq).to_frame(index=False)
    grid = periods.merge(counts[by_cols].drop_duplicates(), how="cross") if by_cols else periods
    out = grid.merge(counts, on=["period", *by_cols], how="left")
    for c in ints:
        out[c] = out[c].fillna(0).astype("int64")
    return out


# --- stage funnel -----------------------------------------------------------------------


def stage_funnel(opportunities: Any, /, *, by: str | Sequence[str] | None = None, users: Any = None,
                 stages: Sequence[str] = STAGES, start: Any = None, end: Any = None) -> pd.DataFrame:
    """The stage funnel in long format: how many opportunities reached each stage.

    The counts are :func:`pipeline`'s ``reached_<stage>`` summed over the periods (all
    opportunities created in ``[start, end)``, by the month of ``created_at``), with the
    same rule for where a deal got to.

    Parameters
    ----------
    opportunities, by, users, stages, start, end
        As in :func:`pipeline`.

    Returns
    -------
    pandas.DataFrame
        One row per stage (and ``by`` value), in the order of ``stages``: ``stage``,
        ``opportunities`` (int64: reached it), ``share_of_first`` (of those that reached
        the first stage), ``conversion_from_previous`` (of those that reached the
        previous stage; NaN for the first), then the ``by`` columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from opskit._pipeline import stage_funnel
    >>> opps = pd.DataFrame({"opportunity_id": ["o1", "o2", "o3", "o4"],
    ...     "account_id": ["a", "b", "c", "d"],
    ...     "created_at": ["2025-01-03", "2025-01-10", "2025-01-20", "2025-02-02"],
    ...     "stage": ["won", "lost", "proposal", "qualified"],
    ...     "won": [True, False, None, None]})
    >>> stage_funnel(opps)
             stage  opportunities  share_of_first  conversion_from_previous
    0         lead              4            1.00                       NaN
    1    qualified              3            0.75                  0.750000
    2     proposal              2            0.50                  0.666667
    3  negotiation              1            0.25                  0.500000
    4          won              1            0.25                  1.000000
    """
    path = _stage_list(stages)
    by_cols = _as_list(by)
    wide = pipeline(opportunities, freq="month", by=by_cols or None, users=users, stages=path,
                    start=start, end=end)
    reached = [f"reached_{s}" for s in path]
    if by_cols:
        totals = wide.groupby(by_cols, dropna=False, sort=True)[reached].sum().reset_index()
    else:
        totals = wide[reached].sum().to_frame().T
    long = totals.melt(id_vars=by_cols, value_vars=reached, var_name="stage", value_name="opportunities")
    long["stage"] = long["stage"].str.slice(len("reached_"))
    long["__order"] = long["stage"].map({s: i for i, s in enumerate(path)})
    long = long.sort_values([*by_cols, "__order"], kind="stable").reset_index(drop=True)
    long["opportunities"] = long["opportunities"].astype("int64")
    keys = [long[c] for c in by_cols] if by_cols else [np.zeros(len(long))]
    counts = long["opportunities"].astype("float64")
    first = counts.groupby(keys, dropna=False).transform("first")
    previous = counts.groupby(keys, dropna=False).shift(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        long["share_of_first"] = (counts / first).where(first > 0)
        long["conversion_from_previous"] = (counts / previous).where(previous > 0)
    return long[["stage", "opportunities", "share_of_first", "conversion_from_previous", *by_cols]]


# --- sales cycle ------------------------------------------------------------------------


def _cycle_table(opportunities: Any, by_cols: list[str], users: Any, outcome: str) -> ir.Table:
    """Opportunities with ``__days`` (closing time in days) for the selected closed deals, else null."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(map(repr, OUTCOMES))}, not {outcome!r}")
    t = _opportunities(opportunities, by_cols, users)
    t = _classified(t)
    wanted = (t[_OUT] != "open") if outcome == "closed" else (t[_OUT] == outcome)
    # whole seconds on every engine (Spark's unix_timestamp drops fractions)
    seconds = t.closed_at.epoch_seconds().floor() - t.created_at.epoch_seconds().floor()
    return t.mutate(**{_DAYS: ibis.cases((wanted & t.closed_at.notnull(),
                                          seconds.cast("float64") / _DAY_SECONDS))})


def sales_cycle(opportunities: Any, /, *, by: str | Sequence[str] | None = None, users: Any = None,
                outcome: str = "won") -> pd.DataFrame:
    """How long closing takes: days from ``created_at`` to ``closed_at`` of the closed deals.

    A deal's *cycle* is ``closed_at - created_at`` in days (fractional, whole seconds).
    Only deals with the chosen outcome (see :mod:`opskit._pipeline`) and a ``closed_at``
    count. Quantiles are exact and interpolate linearly between the two nearest deals
    (numpy's default, ``quantile_cont`` in DuckDB, ``percentile`` in Spark), computed in
    the engine.

    Parameters
    ----------
    opportunities
        ``opportunities`` (``account_id``, ``created_at``, ``stage``, ``closed_at``;
        ``won`` when present).
    by, users
        Column(s) to break down by, as in :func:`pipeline` (``by="company_size"``,
        ``users=...``).
    outcome
        ``"won"``, ``"lost"`` or ``"closed"`` (both).

    Returns
    -------
    pandas.DataFrame
        One row per ``by`` value among all opportunities (one row without ``by``):
        ``deals`` (int64; 0 where none closed with that outcome), ``median_days``,
        ``p25_days``, ``p75_days``, ``mean_days`` (float64, NaN without deals), then the
        ``by`` columns. :func:`sales_cycle_distribution` gives the histogram.

    Examples
    --------
    >>> import pandas as pd
    >>> from opskit._pipeline import sales_cycle
    >>> opps = pd.DataFrame({"opportunity_id": ["o1", "o2", "o3", "o4"],
    ...     "account_id": ["a", "b", "c", "d"], "stage": ["won", "won", "won", "lost"],
    ...     "created_at": ["2025-01-01", "2025-01-01", "2025-01-01", "2025-01-01"],
    ...     "closed_at": ["2025-01-11", "2025-01-21", "2025-03-02", "2025-01-05"]})
    >>> sales_cycle(opps)
       deals  median_days  p25_days  p75_days  mean_days
    0      3         20.0      15.0      40.0       30.0
    """
    by_cols = _as_list(by)
    t = _cycle_table(opportunities, by_cols, users, outcome)
    days = t[_DAYS]
    stats = dict(deals=days.count(), median_days=days.median(), p25_days=days.quantile(0.25),
                 p75_days=days.quantile(0.75), mean_days=days.mean(),
                 **{_BAD_OUTCOME: t[_BAD_OUTCOME].sum()})
    out = engine.to_pandas(t.group_by(by_cols).aggregate(**stats) if by_cols else t.aggregate(**stats))
    _raise_for_problems(t, out)
    out["deals"] = out["deals"].fillna(0).astype("int64")
    for c in ("median_days", "p25_days", "p75_days", "mean_days"):
        out[c] = out[c].astype("float64")
    out = out.sort_values(by_cols, kind="stable").reset_index(drop=True) if by_cols else out
    return out[["deals", "median_days", "p25_days", "p75_days", "mean_days", *by_cols]]


def sales_cycle_distribution(opportunities: Any, /, *, by: str | Sequence[str] | None = None,
                             users: Any = None, outcome: str = "won",
                             buckets: Sequence[float] = CYCLE_BUCKETS) -> pd.DataFrame:
    """Closed deals by the length of their sales cycle, in day buckets.

    The cycle is :func:`sales_cycle`'s (days from ``created_at`` to ``closed_at``). A deal
    falls in the bucket ``[from_days, to_days)`` holding its cycle; the default edges give
    ``[0, 7)``, ``[7, 14)``, ... ``[180, inf)``.

    Parameters
    ----------
    opportunities, by, users, outcome
        As in :func:`sales_cycle`.
    buckets
        Increasing positive bucket edges in days.

    Returns
    -------
    pandas.DataFrame
        One row per bucket (and ``by`` value among all opportunities), every bucket
        listed: ``from_days``, ``to_days`` (float64; ``inf`` for the last), ``deals``
        (int64), ``share`` (of the group's deals; 0.0 when the group has none), then the
        ``by`` columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from opskit._pipeline import sales_cycle_distribution
    >>> opps = pd.DataFrame({"opportunity_id": ["o1", "o2", "o3", "o4"],
    ...     "account_id": ["a", "b", "c", "d"], "stage": ["won", "won", "won", "lost"],
    ...     "created_at": ["2025-01-01", "2025-01-01", "2025-01-01", "2025-01-01"],
    ...     "closed_at": ["2025-01-11", "2025-01-21", "2025-03-02", "2025-01-05"]})
    >>> sales_cycle_distribution(opps, buckets=(14, 30))
       from_days  to_days  deals     share
    0        0.0     14.0      1  0.333333
    1       14.0     30.0      1  0.333333
    2       30.0      inf      1  0.333333
    """
    edges = [float(b) for b in buckets]
    if not edges or sorted(set(edges)) != edges or edges[0] <= 0:
        raise ValueError(f"buckets must be increasing positive day counts, e.g. {CYCLE_BUCKETS}; "
                         f"got {buckets!r}")
    by_cols = _as_list(by)
    t = _cycle_table(opportunities, by_cols, users, outcome)
    days = t[_DAYS]
    index = ibis.cases((days.notnull(), sum((days >= e).cast("int64") for e in edges)))
    t = t.mutate(__bucket=index)
    counts = engine.to_pandas(t.group_by([*by_cols, "__bucket"]).aggregate(
        deals=t[_DAYS].count(), **{_BAD_OUTCOME: t[_BAD_OUTCOME].sum()}))
    _raise_for_problems(t, counts)
    lows, highs = [0.0, *edges], [*edges, float("inf")]
    frame = pd.DataFrame({"__bucket": np.arange(len(lows), dtype="int64"), "from_days": lows,
                          "to_days": highs})
    groups = counts[by_cols].drop_duplicates() if by_cols else pd.DataFrame(index=[0])
    grid = groups.merge(frame, how="cross")
    hits = counts[counts["__bucket"].notna()].astype({"__bucket": "int64"})
    out = grid.merge(hits[[*by_cols, "__bucket", "deals"]], on=[*by_cols, "__bucket"], how="left")
    out["deals"] = out["deals"].fillna(0).astype("int64")
    keys = [out[c] for c in by_cols] if by_cols else [np.zeros(len(out))]
    total = out["deals"].groupby(keys, dropna=False).transform("sum")
    out["share"] = (out["deals"] / total.where(total > 0)).fillna(0.0)
    out = out.sort_values([*by_cols, "__bucket"], kind="stable").reset_index(drop=True)
    return out[["from_days", "to_days", "deals", "share", *by_cols]]

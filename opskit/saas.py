"""SaaS revenue metrics: the MRR bridge, headline SaaS KPIs, NRR cohorts, renewals and the B2B pipeline.

The pipeline functions (:func:`pipeline`, :func:`stage_funnel`, :func:`sales_cycle`,
:func:`sales_cycle_distribution`) live in ``opskit._pipeline`` and are exported here.

Definitions follow ChartMogul and Baremetrics; docs/metrics.md ("SaaS revenue")
states each one with a worked example. The building block is an account's **MRR at
an instant** t: the sum of ``mrr`` over its ``subscriptions`` rows with
``started_at <= t < ended_at`` (an empty ``ended_at`` is still running). Every
function measures it in the engine (period boundaries joined with subscription
rows, summed per account and boundary) and shapes only the small aggregate in
pandas. Amounts are summed as decimals with 9 places, so the MRR bridge adds up to
the cent whatever the engine; they come back as float64.

The **end of the data** is midnight after the latest ``started_at`` or ``ended_at``
in ``subscriptions`` (as in :func:`opskit.retention.subscriber_churn`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from opskit import engine
from opskit._inputs import table_arg
from opskit._periods import FREQS, floor_period, period_range, period_start
from opskit._pipeline import pipeline, sales_cycle, sales_cycle_distribution, stage_funnel
from opskit._shared import as_list as _as_list
from opskit.retention import wilson

__all__ = [
    "mrr_movements",
    "nrr_cohorts",
    "pipeline",
    "renewals",
    "sales_cycle",
    "sales_cycle_distribution",
    "stage_funnel",
    "summary",
]

_DEC = dt.Decimal(38, 9)
#: ``ended_at`` of running rows in join conditions (``until``): an OR there keeps engines
#: from hashing the join (DuckDB falls back to a nested loop, 60 x slower at 30k rows)
_OPEN = ibis.timestamp("9999-12-31 00:00:00")
_USED = ("account_id", "started_at", "ended_at", "mrr")
_MOVES = ("new", "expansion", "contraction", "churned", "reactivation")


# --- inputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Subs:
    rows: ir.Table  # rows with MRR > 0: account_id, started_at, ended_at, until, mrr (decimal), by columns
    by: list[str]
    first: pd.Timestamp  # earliest started_at (NaT when there are no rows)
    horizon: pd.Timestamp  # end of the data


def _check_freq(freq: str) -> None:
    if freq not in FREQS:
        raise ValueError(f"freq must be one of {', '.join(map(repr, FREQS))}, not {freq!r}")


def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, not {value!r}")
    return int(value)


def _load(subscriptions: Any, by: Any, users: Any, *, caller: str, keep: tuple[str, ...] = ()) -> _Subs:
    """The subscriptions as rows of positive MRR, with the ``by`` columns attached."""
    by_cols = _as_list(by)
    clash = [c for c in by_cols if c in _USED]
    if clash:
        raise ValueError(f"{caller}(by={clash[0]!r}): by names a label column such as 'plan' or "
                         f"'segment', not one of {', '.join(_USED)}")
    subs = table_arg(subscriptions, "subscriptions", ("account_id", "started_at", "mrr", *keep))
    if "ended_at" not in subs.columns:
        subs = subs.mutate(ended_at=ibis.null("timestamp"))
    sub_cols = [c for c in by_cols if c in subs.columns]
    user_cols = [c for c in by_cols if c not in subs.columns]
    bounds = engine.to_pandas(subs.aggregate(
        first=subs.started_at.min(), last_start=subs.started_at.max(), last_end=subs.ended_at.max()))
    first = bounds["first"].iloc[0]
    last = bounds[["last_start", "last_end"]].iloc[0].max()
    horizon = last.normalize() + pd.Timedelta(days=1) if pd.notna(last) else pd.NaT
    live = subs.filter((subs.mrr > 0) & (subs.ended_at.isnull() | (subs.ended_at > subs.started_at)))
    extra = [c for c in keep if c not in sub_cols]
    rows = live.select("account_id", "started_at", "ended_at", *sub_cols, *extra,
                       mrr=live.mrr.cast(_DEC), until=live.ended_at.fill_null(_OPEN))
    if user_cols:
        if users is None:
            raise ValueError(f"{caller}(by={user_cols!r}): not columns of subscriptions; pass "
                             "users=... (the users table, with account_id) to break down by a users column")
        values = _account_values(users, user_cols)
        rows = rows.left_join(values, "account_id").select(rows, *[values[c] for c in user_cols])
    return _Subs(rows, by_cols, first, horizon)


def _account_values(users: Any, cols: list[str]) -> ir.Table:
    """One row per account: the smallest value of each of ``cols`` among its users (as
    :func:`opskit.retention.subscriber_churn` and the pipeline functions do)."""
    u = table_arg(users, "users", ("account_id", *cols))
    u = u.filter(u.account_id.notnull())
    return u.group_by("account_id").aggregate(**{c: u[c].min() for c in cols})


# --- MRR at boundaries ------------------------------------------------------------------


def _zero() -> ir.Value:
    return ibis.literal(0).cast(_DEC)


def _grid(bounds: Sequence[pd.Timestamp]) -> ir.Table:
    """Boundaries ``b`` numbered ``i`` = 0, 1, ... as a small engine table."""
    return ibis.memtable(pd.DataFrame({
        "i": np.arange(len(bounds), dtype="int64"),
        "b": pd.DatetimeIndex(bounds).astype("datetime64[us]")}))


def _snapshot(rows: ir.Table, keys: list[str], grid: ir.Table, *carry: str) -> ir.Table:
    """MRR of every unit (``keys``) at every boundary where it is positive: keys, i, m."""
    cover = rows.join(grid, (rows.started_at <= grid.b) & (rows.until > grid.b))
    return cover.group_by([*keys, "i"]).aggregate(
        m=cover.mrr.sum().cast(_DEC), **{c: cover[c].min() for c in carry})


def _pairs(rows: ir.Table, keys: list[str], grid: ir.Table) -> ir.Table:
    """Per unit and period i: ``s`` = MRR at boundary i, ``e`` = at boundary i + 1, ``first``
    = the unit's first positive-MRR instant. Units at 0 at both boundaries are absent."""
    rows = rows.mutate(first=rows.started_at.min().over(ibis.window(group_by=keys)))
    snap = _snapshot(rows, keys, grid, "first")
    zero = _zero()
    both = ibis.union(snap.select(*keys, "first", i=snap.i, s=snap.m, e=zero),
                      snap.select(*keys, "first", i=snap.i - 1, s=zero, e=snap.m), distinct=False)
    return both.group_by([*keys, "i"]).aggregate(
        s=both.s.sum().cast(_DEC), e=both.e.sum().cast(_DEC), first=both.first.min())


def _bridge(pairs: ir.Table, starts: ir.Table, group_cols: list[str]) -> ir.Table:
    """Movements per period i (``starts``: i, b = the period's start) and group."""
    p = pairs.join(starts, "i")
    s, e, zero = p.s, p.e, _zero()
    was, now = s > 0, e > 0
    kinds = {
        "new": (~was & now & (p.first >= p.b), e),
        "expansion": (was & (e > s), e - s),
        "contraction": (now & (e < s), s - e),
        "churned": (was & ~now, s),
        "reactivation": (~was & now & (p.first < p.b), e),
    }
    amounts = {k: ibis.cases((cond, value.cast(_DEC)), else_=zero).sum().cast(_DEC)
               for k, (cond, value) in kinds.items()}
    return p.group_by(["i", *group_cols]).aggregate(
        mrr_start=s.sum().cast(_DEC), mrr_end=e.sum().cast(_DEC), **amounts,
        customers_start=was.cast("int64").sum(), customers_end=now.cast("int64").sum())


def _periods(first: pd.Timestamp, horizon: pd.Timestamp, freq: str, start: Any = None,
             end: Any = None) -> pd.DataFrame:
    """Periods from ``first``'s to the one holding the end of the data, within [start, end):
    ``i``, ``period``, ``stop`` (the boundary ending it: the next period's start, or the end of
    the data for an unfinished period), ``complete``."""
    starts = period_range(floor_period(first, freq), horizon, freq)
    starts = starts[starts < horizon]
    if start is not None:
        starts = starts[starts >= pd.Timestamp(start)]
    if end is not None:
        starts = starts[starts < pd.Timestamp(end)]
    nxt = starts + to_offset(FREQS[freq][1])
    return pd.DataFrame({"i": np.arange(len(starts), dtype="int64"), "period": starts,
                         "stop": nxt.where(nxt < horizon, horizon), "complete": nxt <= horizon})


def _floats(frame: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    for c in cols:
        frame[c] = frame[c].astype("float64").fillna(0.0)
    return frame


def _ints(frame: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    for c in cols:
        frame[c] = frame[c].fillna(0).astype("int64")
    return frame


def _ratio(num: Any, den: Any) -> Any:
    num, den = np.asarray(num, dtype="float64"), np.asarray(den, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _add_months(month: pd.Series, n: pd.Series) -> pd.Series:
    """The month start ``n`` calendar months after month start ``month``."""
    index = month.dt.year * 12 + month.dt.month - 1 + n
    return pd.to_datetime({"year": index // 12, "month": index % 12 + 1, "day": 1})


_DTYPES = {"period": "datetime64[ns]", "cohort": "datetime64[ns]", "as_of": "datetime64[ns]",
           "window_start": "datetime64[ns]", "window_end": "datetime64[ns]", "complete": "bool",
           "customers": "int64", "customers_start": "int64", "customers_end": "int64", "offset": "int64",
           "cohort_size": "int64", "accounts": "int64", "due": "int64", "renewed": "int64"}


def _empty(columns: list[str], by_cols: list[str]) -> pd.DataFrame:
    """No data: the columns with the dtypes they have when there is some."""
    return pd.DataFrame({c: pd.Series(dtype="object" if c in by_cols else _DTYPES.get(c, "float64"))
                         for c in columns})


# --- public functions -------------------------------------------------------------------

_BRIDGE = ["mrr_start", *_MOVES, "mrr_end"]


def mrr_movements(subscriptions: Any, /, *, freq: str = "month", by: str | Sequence[str] | None = None,
                  users: Any = None, start: Any = None, end: Any = None) -> pd.DataFrame:
    """The MRR bridge: per period, MRR at the start, its five movements, MRR at the end.

    Each account's MRR is measured at the period's start instant (*s*) and at the next
    period's start (*e*; for the last, unfinished period: at the end of the data), and
    the change is classified:

    * ``new``: 0 = s < e and the account never had MRR before the period's start (its
      first row with ``mrr > 0`` starts at or after it);
    * ``reactivation``: 0 = s < e and it had MRR at some instant before (it had churned);
    * ``expansion``: 0 < s < e, the amount e - s;
    * ``contraction``: 0 < e < s, the amount s - e;
    * ``churned``: s > 0 = e, the whole of s.

    So ``mrr_end = mrr_start + new + expansion + reactivation - contraction - churned``
    exactly (amounts are summed as decimals). Movements are summed per account, so an
    account that ends one of two parallel subscriptions contracts rather than churns,
    and a plan change (one row ends, the next starts at the same instant) is an
    expansion or a contraction. Only the two boundary values count: an account that
    churns and returns inside one period moves by the difference, and one that pays only
    between two boundaries is not seen (though it has "had MRR" when it comes back). A
    change at exactly a boundary belongs to the period that ends there. Rows with
    ``mrr`` 0 (free plans, trials) are ignored.

    Parameters
    ----------
    subscriptions
        ``subscriptions`` (``account_id``, ``started_at``, ``mrr``, ``ended_at``): a
        Dataset, an Ibis table or a pandas frame.
    freq
        ``"day"``, ``"week"`` (ISO, Monday start) or ``"month"``.
    by
        Column(s) to break down by. A ``subscriptions`` column (``"plan"``) is read per
        row: the unit is then the account *within* a value, so an account moving from
        Basic to Pro churns (or contracts) in Basic and is new (or reactivated, if it had
        Pro before) in Pro; the groups' MRR adds up to the total, their movements do not.
        A ``users`` column (``"segment"``; pass ``users``) is joined on ``account_id``;
        an account takes the smallest value among its users (as
        :func:`opskit.retention.subscriber_churn` does), and one without users a null
        value. A name in both tables is read from ``subscriptions``.
    users
        The ``users`` table (``account_id`` and the ``by`` columns).
    start, end
        Keep the periods that start in ``[start, end)``; earlier history still decides
        new against reactivation.

    Returns
    -------
    pandas.DataFrame
        One row per period (and ``by`` value), from the period of the first
        ``started_at`` to the one holding the end of the data: the ``by`` columns, then
        ``period``, ``mrr_start``, ``new``, ``expansion``, ``contraction``, ``churned``,
        ``reactivation``, ``mrr_end`` (float64), ``customers_start``, ``customers_end``
        (accounts with MRR > 0 at the boundary, int64), ``complete`` (False for the
        period still running at the end of the data).

    Examples
    --------
    >>> subs = pd.DataFrame({"account_id": ["a", "a", "b", "c"], "mrr": [100, 150, 50, 80],
    ...     "started_at": ["2025-01-10", "2025-02-15", "2025-01-20", "2025-02-05"],
    ...     "ended_at": ["2025-02-15", None, "2025-02-20", None]})
    >>> mrr_movements(subs)[["period", "mrr_start", "new", "expansion", "churned", "mrr_end",
    ...                      "complete"]]
          period  mrr_start    new  expansion  churned  mrr_end  complete
    0 2025-01-01        0.0  150.0        0.0      0.0    150.0      True
    1 2025-02-01      150.0   80.0       50.0     50.0    230.0     False

    The data end on 21 February (midnight after the last date), where February's MRR
    is measured.
    """
    _check_freq(freq)
    subs = _load(subscriptions, by, users, caller="mrr_movements")
    columns = [*subs.by, "period", *_BRIDGE, "customers_start", "customers_end", "complete"]
    if pd.isna(subs.first):
        return _empty(columns, subs.by)
    periods = _periods(subs.first, subs.horizon, freq, start, end)
    if periods.empty:
        return _empty(columns, subs.by)
    grid = _grid([*periods["period"], periods["stop"].iloc[-1]])
    keys = ["account_id", *subs.by]
    moves = engine.to_pandas(_bridge(_pairs(subs.rows, keys, grid), grid.filter(grid.i < len(periods)),
                                     subs.by))
    groups = moves[subs.by].drop_duplicates() if subs.by else pd.DataFrame(index=[0])
    out = groups.merge(periods, how="cross").merge(moves, on=["i", *subs.by], how="left")
    out = _ints(_floats(out, _BRIDGE), ["customers_start", "customers_end"])
    out["complete"] = out["complete"].astype(bool)
    out = out.sort_values([*subs.by, "period"], kind="stable").reset_index(drop=True)
    return out[columns]


def summary(subscriptions: Any, /, *, as_of: Any = None, months: int = 12, gross_margin: float = 0.8,
            spend: Any = None, by: str | Sequence[str] | None = None, users: Any = None) -> pd.DataFrame:
    """Headline SaaS metrics: MRR, ARR, ARPA, churn rates, GRR/NRR, quick ratio, LTV, CAC.

    Three time frames:

    * **at** ``as_of`` (default: the end of the data): ``mrr``, ``arr`` = 12 x MRR,
      ``customers`` (accounts with MRR > 0), ``arpa`` = MRR / customers;
    * **the window**: the ``months`` full calendar months before the month holding
      ``as_of`` (``as_of`` itself when it is the 1st at midnight), with the monthly
      movements of :func:`mrr_movements` pooled over them:
      ``logo_churn`` = accounts lost / accounts paying at the months' starts, where an
      account paying at a month's start is lost when its cover lapses before the month
      ends (a row ends and no other row of the account covers that instant), even if it
      comes back later in the month: the churn of
      :func:`opskit.retention.subscriber_churn` (and of ChartMogul, which records the
      churn and the reactivation), not only the month-end balance that
      :func:`mrr_movements` sees;
      ``gross_mrr_churn`` = (contraction + churned) / MRR at the months' starts;
      ``net_mrr_churn`` = (contraction + churned - expansion - reactivation) / the same;
      ``quick_ratio`` = (new + expansion + reactivation) / (contraction + churned);
      ``ltv`` = ARPA x ``gross_margin`` / ``logo_churn``;
      ``cac`` = ``spend.cost`` with ``date`` in the window / accounts whose first MRR
      starts in the window;
      ``cac_payback_months`` = CAC / (ARPA x ``gross_margin``);
    * **trailing** ``months`` (12 by default: the usual annual form): the accounts paying
      at ``as_of`` minus ``months`` calendar months; ``nrr`` = their MRR at ``as_of`` /
      their MRR then; ``grr`` the same with each account's MRR at ``as_of`` capped at its
      MRR then (so expansion does not count).

    A ratio whose denominator is 0 is NaN (no customers, no churn for LTV, no losses for
    the quick ratio, no new accounts for CAC); ``cac`` and ``cac_payback_months`` are NaN
    without ``spend``, and per ``by`` group unless ``spend`` has the ``by`` column(s)
    (e.g. ``by="channel"``).

    Parameters
    ----------
    subscriptions
        ``subscriptions`` (``account_id``, ``started_at``, ``mrr``, ``ended_at``).
    as_of
        The instant of the point-in-time values; at most the end of the data.
    months
        Length of the window and of the GRR/NRR horizon, in months.
    gross_margin
        Share of revenue kept after cost of service, in (0, 1].
    spend
        The ``spend`` table (``date``, ``cost``), for CAC.
    by, users
        As in :func:`mrr_movements`.

    Returns
    -------
    pandas.DataFrame
        One row per ``by`` group (one row without ``by``): the ``by`` columns, ``mrr``,
        ``arr``, ``customers`` (int64), ``arpa``, ``logo_churn``, ``gross_mrr_churn``,
        ``net_mrr_churn``, ``grr``, ``nrr``, ``quick_ratio``, ``ltv``, ``cac``,
        ``cac_payback_months``, then ``as_of``, ``window_start``, ``window_end`` (the
        window is ``[window_start, window_end)``).

    Examples
    --------
    >>> subs = pd.DataFrame({"account_id": ["a", "b", "c", "d", "d"], "mrr": [100, 50, 80, 40, 60],
    ...     "started_at": ["2024-12-01", "2024-12-01", "2025-01-10", "2024-12-01", "2025-02-10"],
    ...     "ended_at": [None, "2025-01-20", "2025-03-10", "2025-02-10", None]})
    >>> summary(subs, as_of="2025-03-01", months=2)[
    ...     ["mrr", "customers", "arpa", "logo_churn", "grr", "nrr", "quick_ratio"]].round(3)
         mrr  customers  arpa  logo_churn    grr    nrr  quick_ratio
    0  240.0          3  80.0       0.167  0.737  0.842          2.0

    Window January and February: b churns (1 of 3 + 3 accounts at the months' starts, 50),
    c is new (80), d expands (20): quick ratio (80 + 20) / 50. On 1 January a, b and d
    paid 190; on 1 March they pay 100 + 0 + 60 (NRR 160 / 190), capped 100 + 0 + 40
    (GRR 140 / 190).
    """
    months = _positive_int("months", months)
    if not 0 < float(gross_margin) <= 1:
        raise ValueError(f"gross_margin must be in (0, 1], not {gross_margin!r}")
    subs = _load(subscriptions, by, users, caller="summary")
    metrics = ["mrr", "arr", "customers", "arpa", "logo_churn", "gross_mrr_churn", "net_mrr_churn",
               "grr", "nrr", "quick_ratio", "ltv", "cac", "cac_payback_months"]
    columns = [*subs.by, *metrics, "as_of", "window_start", "window_end"]
    if pd.isna(subs.first):
        return _empty(columns, subs.by)
    as_of = subs.horizon if as_of is None else pd.Timestamp(as_of)
    if as_of > subs.horizon:
        raise ValueError(f"as_of ({as_of}) is after the end of the data ({subs.horizon}): "
                         "pass an instant on or before it")
    w_end = floor_period(as_of, "month")
    w_start = w_end - pd.DateOffset(months=months)
    keys = ["account_id", *subs.by]

    bounds = pd.date_range(w_start, w_end, freq="MS")
    grid = _grid(bounds)
    periods = ibis.memtable(pd.DataFrame({
        "i": np.arange(months, dtype="int64"), "b": bounds[:-1].astype("datetime64[us]"),
        "b_next": bounds[1:].astype("datetime64[us]")}))
    # four queries read the rows (with the users join): compute them once
    with engine.cached(subs.rows) as rows:
        flows = engine.to_pandas(_bridge(_pairs(rows, keys, grid), grid.filter(grid.i < months), subs.by))
        lost = engine.to_pandas(_lost(rows, keys, subs.by, periods))
        acquired = engine.to_pandas(_acquired(rows, keys, subs.by, w_start, w_end))
        stock = engine.to_pandas(_stock(rows, keys, subs.by, as_of - pd.DateOffset(months=months), as_of))
    flows = _floats(flows, _BRIDGE)
    if subs.by:
        flows = flows.groupby(subs.by, dropna=False).sum(numeric_only=True).reset_index()
        out = stock
        for part in (flows, lost, acquired):
            out = out.merge(part, on=subs.by, how="outer")
    else:
        out = pd.concat([stock, flows.sum(numeric_only=True).to_frame().T, lost, acquired], axis=1)
        out = out.loc[:, ~out.columns.duplicated()].iloc[:1]
    out = _ints(_floats(out, [*_BRIDGE, "mrr", "base", "kept", "held"]),
                ["customers", "customers_start", "n_lost", "n_acquired"])
    out["cost"] = _spend(spend, subs.by, out, w_start, w_end)

    gm = float(gross_margin)
    losses = out["contraction"] + out["churned"]
    gains = out["new"] + out["expansion"] + out["reactivation"]
    out["arr"] = 12 * out["mrr"]
    out["arpa"] = _ratio(out["mrr"], out["customers"])
    out["logo_churn"] = _ratio(out["n_lost"], out["customers_start"])
    out["gross_mrr_churn"] = _ratio(losses, out["mrr_start"])
    out["net_mrr_churn"] = _ratio(losses - out["expansion"] - out["reactivation"], out["mrr_start"])
    out["grr"] = _ratio(out["kept"], out["base"])
    out["nrr"] = _ratio(out["held"], out["base"])
    out["quick_ratio"] = _ratio(gains, losses)
    out["ltv"] = _ratio(out["arpa"] * gm, out["logo_churn"])
    out["cac"] = _ratio(out["cost"], out["n_acquired"])
    out["cac_payback_months"] = _ratio(out["cac"], out["arpa"] * gm)
    out["as_of"], out["window_start"], out["window_end"] = as_of, w_start, w_end
    for c in ("as_of", "window_start", "window_end"):
        out[c] = out[c].astype("datetime64[ns]")
    return out.sort_values(subs.by, kind="stable").reset_index(drop=True)[columns] if subs.by \
        else out[columns]


def _stock(rows: ir.Table, keys: list[str], by_cols: list[str], then: pd.Timestamp,
           now: pd.Timestamp) -> ir.Table:
    """Per group: MRR and customers ``now``; MRR ``then`` of the accounts paying then
    (``base``), their MRR now (``held``) and capped at their MRR then (``kept``)."""
    snap = _snapshot(rows, keys, _grid([then, now]))
    zero = _zero()
    unit = snap.group_by(keys).aggregate(
        m0=ibis.cases((snap.i == 0, snap.m), else_=zero).sum().cast(_DEC),
        m1=ibis.cases((snap.i == 1, snap.m), else_=zero).sum().cast(_DEC))
    paying = unit.m0 > 0
    metrics = dict(
        mrr=unit.m1.sum().cast(_DEC), customers=(unit.m1 > 0).cast("int64").sum(),
        base=unit.m0.sum().cast(_DEC),
        held=ibis.cases((paying, unit.m1), else_=zero).sum().cast(_DEC),
        kept=ibis.least(unit.m0, unit.m1).sum().cast(_DEC))
    return unit.group_by(by_cols).aggregate(**metrics) if by_cols else unit.aggregate(**metrics)


def _same(left: ir.Table, right: ir.Table, keys: list[str], prefix: str) -> list[ir.BooleanValue]:
    """Equality of ``keys`` between ``left`` and ``right`` (columns ``prefix + key``): plain for
    ``account_id`` (never null, and hashable by the engines), null-safe for the ``by`` values."""
    return [left[k] == right[prefix + k] if k == "account_id" else left[k].identical_to(right[prefix + k])
            for k in keys]


def _lost(rows: ir.Table, keys: list[str], by_cols: list[str], periods: ir.Table) -> ir.Table:
    """Per group, summed over ``periods`` (i, b, b_next): units paying at ``b`` whose cover
    lapses in ``(b, b_next]`` -- a row ends and no other row of the unit covers that instant
    (:func:`opskit.retention.subscriber_churn`'s churn, on the same side of the boundary as
    :func:`mrr_movements`). An account that comes back within the period still counts."""
    ends = rows.filter(rows.ended_at.notnull()).select(*keys, at=rows.ended_at)
    other = rows.select(**{f"o_{k}": rows[k] for k in keys}, o_start=rows.started_at, o_end=rows.until)
    lapses = ends.anti_join(other, [*_same(ends, other, keys, "o_"), other.o_start <= ends.at,
                                    other.o_end > ends.at])
    hits = lapses.join(periods, (lapses.at > periods.b) & (lapses.at <= periods.b_next))
    hits = hits.select(**{f"h_{k}": hits[k] for k in keys}, h_i=hits.i).distinct()
    at_risk = _snapshot(rows, keys, periods.select("i", "b"))
    lost = at_risk.semi_join(hits, [*_same(at_risk, hits, keys, "h_"), at_risk.i == hits.h_i])
    return (lost.group_by(by_cols).aggregate(n_lost=lost.count()) if by_cols
            else lost.aggregate(n_lost=lost.count()))


def _acquired(rows: ir.Table, keys: list[str], by_cols: list[str], since: pd.Timestamp,
              until: pd.Timestamp) -> ir.Table:
    """Per group: units whose first MRR starts in ``[since, until)``."""
    first = rows.group_by(keys).aggregate(first=rows.started_at.min())
    new = first.filter((first.first >= ibis.timestamp(since)) & (first.first < ibis.timestamp(until)))
    return (new.group_by(by_cols).aggregate(n_acquired=new.count()) if by_cols
            else new.aggregate(n_acquired=new.count()))


def _spend(spend: Any, by_cols: list[str], out: pd.DataFrame, w_start: pd.Timestamp,
           w_end: pd.Timestamp) -> pd.Series:
    """Spend in the window per row of ``out`` (NaN when it cannot be split by the groups)."""
    nan = pd.Series(np.nan, index=out.index)
    if spend is None:
        return nan
    table = table_arg(spend, "spend", ("date", "cost"))
    if any(c not in table.columns for c in by_cols):
        return nan
    day = table.date.cast("timestamp")
    table = table.filter((day >= ibis.timestamp(w_start)) & (day < ibis.timestamp(w_end)))
    if not by_cols:
        total = engine.to_pandas(table.aggregate(cost=table.cost.sum()))["cost"].iloc[0]
        return pd.Series(0.0 if pd.isna(total) else float(total), index=out.index)
    cost = engine.to_pandas(table.group_by(by_cols).aggregate(cost=table.cost.sum()))
    return out[by_cols].merge(cost, on=by_cols, how="left")["cost"].fillna(0.0).set_axis(out.index)


def nrr_cohorts(subscriptions: Any, /, *, months: int = 12, by: str | Sequence[str] | None = None,
                users: Any = None) -> pd.DataFrame:
    """Cohort net and gross revenue retention: each cohort's MRR month by month.

    An account's cohort is the calendar month of its first MRR (its earliest
    ``started_at`` with ``mrr > 0``). Its MRR at offset n is its MRR at the end of the
    n-th month after the cohort's (offset 0: the end of the cohort month itself; for the
    month running at the end of the data: at the end of the data). Per cohort and offset:
    ``nrr`` = the cohort's MRR at n / its MRR at 0; ``grr`` the same with each account's
    MRR capped at its MRR at offset 0 (so an account gone by the end of its first month
    counts 0 in GRR, but its later MRR counts in NRR).

    Parameters
    ----------
    subscriptions
        ``subscriptions`` (``account_id``, ``started_at``, ``mrr``, ``ended_at``).
    months
        The last offset.
    by, users
        A ``subscriptions`` column is read on the account's first row (its starting
        plan: the smallest value among rows starting at its first instant), a ``users``
        column as in :func:`mrr_movements`; the account's whole MRR is followed.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``cohort`` (month start), ``offset`` (0..``months``),
        ``cohort_size`` (accounts in the cohort), ``accounts`` (of them, with MRR > 0 at
        the offset), ``mrr``, ``nrr``, ``grr``, ``complete`` (the offset's month ended by
        the end of the data). Offsets whose month had not begun are left out; ``nrr`` and
        ``grr`` are NaN when the cohort's MRR at offset 0 is 0.

    Examples
    --------
    >>> subs = pd.DataFrame({"account_id": ["a", "a", "b"], "mrr": [100, 150, 100],
    ...     "started_at": ["2025-01-05", "2025-02-10", "2025-01-20"],
    ...     "ended_at": ["2025-02-10", None, "2025-03-01"]})
    >>> nrr_cohorts(subs, months=1)[["cohort", "offset", "accounts", "mrr", "nrr", "grr"]]
          cohort  offset  accounts    mrr   nrr  grr
    0 2025-01-01       0         2  200.0  1.00  1.0
    1 2025-01-01       1         1  150.0  0.75  0.5

    On 1 February a and b pay 100 each; on 1 March a pays 150 (capped at 100 for GRR)
    and b has left.
    """
    months = _positive_int("months", months, minimum=0)
    subs = _load(subscriptions, by, users, caller="nrr_cohorts")
    columns = [*subs.by, "cohort", "offset", "cohort_size", "accounts", "mrr", "nrr", "grr", "complete"]
    if pd.isna(subs.first):
        return _empty(columns, subs.by)
    rows = subs.rows.mutate(first=subs.rows.started_at.min().over(group_by="account_id"))
    firsts = rows.filter(rows.started_at == rows.first)
    acc = firsts.group_by("account_id").aggregate(
        first=firsts.first.min(), **{c: firsts[c].min() for c in subs.by})
    acc = acc.mutate(cohort=period_start(acc.first, "month"),
                     ci=acc.first.year() * 12 + acc.first.month())
    ends = pd.date_range(floor_period(subs.first, "month"), subs.horizon, freq="MS")[1:]
    mi = list(ends.year * 12 + ends.month - 1)
    if subs.horizon != floor_period(subs.horizon, "month"):
        ends = ends.append(pd.DatetimeIndex([subs.horizon]))
        mi.append(subs.horizon.year * 12 + subs.horizon.month)
    grid = ibis.memtable(pd.DataFrame({"i": np.arange(len(ends), dtype="int64"),
                                       "b": ends.astype("datetime64[us]"),
                                       "mi": np.asarray(mi, dtype="int64")}))
    snap = _snapshot(rows, ["account_id"], grid.select("i", "b"))
    cells = snap.join(grid.select("i", "mi"), "i").join(acc, "account_id")
    cells = cells.mutate(k=cells.mi - cells.ci)
    cells = cells.filter((cells.k >= 0) & (cells.k <= months))
    m0 = ibis.cases((cells.k == 0, cells.m), else_=_zero()).max().over(group_by="account_id")
    cells = cells.mutate(capped=ibis.least(cells.m, m0).cast(_DEC))
    keys = ["cohort", *subs.by]
    got = engine.to_pandas(cells.group_by([*keys, "k"]).aggregate(
        accounts=cells.count(), mrr=cells.m.sum().cast(_DEC), capped=cells.capped.sum().cast(_DEC)))
    sizes = engine.to_pandas(acc.group_by(keys).aggregate(cohort_size=acc.count()))
    grid_k = pd.DataFrame({"offset": np.arange(months + 1, dtype="int64")})
    out = sizes.merge(grid_k, how="cross")
    out = out[_add_months(out["cohort"], out["offset"]) < subs.horizon]
    out = out.merge(got.rename(columns={"k": "offset"}), on=[*keys, "offset"], how="left")
    out = _ints(_floats(out, ["mrr", "capped"]), ["cohort_size", "accounts"])
    base = out["mrr"].where(out["offset"] == 0).groupby([out[c] for c in keys], dropna=False) \
        .transform("max")
    out["nrr"], out["grr"] = _ratio(out["mrr"], base), _ratio(out["capped"], base)
    out["complete"] = (_add_months(out["cohort"], out["offset"] + 1) <= subs.horizon).to_numpy(dtype=bool)
    out["cohort"] = out["cohort"].astype("datetime64[ns]")
    out = out.sort_values([*subs.by, "cohort", "offset"], kind="stable").reset_index(drop=True)
    return out[columns]


def renewals(subscriptions: Any, /, *, term_months: int = 12, freq: str = "month", grace_days: int = 30,
             plans: Sequence[str] | None = None, by: str | Sequence[str] | None = None, users: Any = None,
             start: Any = None, end: Any = None) -> pd.DataFrame:
    """Renewal rate of term contracts (annual by default) falling due in each period.

    There is no billing-interval column, so the contracts are named: the rows whose
    ``plan`` is in ``plans`` (all rows if None), each a contract renewing every
    ``term_months`` months from its ``started_at``. A row spanning several terms (a
    renewal without change keeps the row) falls due at ``started_at + k x term`` for
    every term k it began. A term is **due** unless it was replaced early: the row ended
    more than ``grace_days`` before the due date while the account kept paying (an
    upgrade or early renewal starts a new row and a new term). It is **renewed** when the
    account still has MRR > 0 ``grace_days`` after the due date (any row, any plan).

    Parameters
    ----------
    subscriptions
        ``subscriptions`` (``account_id``, ``started_at``, ``mrr``, ``ended_at``, ``plan``
        when ``plans`` is given).
    term_months
        Contract length in months.
    freq
        Period of the due date: ``"day"``, ``"week"`` or ``"month"``.
    grace_days
        Days after the due date at which the account must still pay; also how early a
        replacement row may start and still count as the renewal at the due date.
    plans
        The plans sold as term contracts (the demo's ``["Basic", "Pro", "Enterprise"]``).
    by, users
        A ``subscriptions`` column is read on the contract row, a ``users`` column as in
        :func:`mrr_movements`.
    start, end
        Keep the periods that start in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        One row per period with a due date (and ``by`` value): the ``by`` columns,
        ``period``, ``due``, ``renewed`` (int64), ``rate`` = renewed / due, ``ci_low``,
        ``ci_high`` (Wilson 95 %), ``complete`` (every due date of the period plus
        ``grace_days`` is inside the data; otherwise ``rate`` is NaN and ``renewed``
        counts only the outcomes already known).

    Examples
    --------
    >>> subs = pd.DataFrame({"account_id": ["a", "b", "b", "c"], "mrr": [300, 250, 200, 400],
    ...     "plan": "Pro", "started_at": ["2024-01-15", "2024-01-20", "2025-01-20", "2024-01-25"],
    ...     "ended_at": ["2025-01-15", "2025-01-20", None, "2025-06-30"]})
    >>> renewals(subs, plans=["Pro"])[["period", "due", "renewed", "rate", "complete"]]
          period  due  renewed      rate  complete
    0 2025-01-01    3        2  0.666667      True

    a ends at its due date (not renewed); b renews on a cheaper row; c renews in place.
    """
    term_months = _positive_int("term_months", term_months)
    grace_days = _positive_int("grace_days", grace_days, minimum=0)
    _check_freq(freq)
    subs = _load(subscriptions, by, users, caller="renewals", keep=("plan",) if plans is not None else ())
    columns = [*subs.by, "period", "due", "renewed", "rate", "ci_low", "ci_high", "complete"]
    if pd.isna(subs.first):
        return _empty(columns, subs.by)
    rows, horizon = subs.rows, subs.horizon
    contracts = rows if plans is None else rows.filter(rows.plan.isin(list(plans)))
    span = (horizon.year - subs.first.year) * 12 + horizon.month - subs.first.month + 1
    terms = []
    for k in range(1, span // term_months + 2):
        begun = contracts.started_at + ibis.interval(months=(k - 1) * term_months) if k > 1 \
            else contracts.started_at
        due_at = contracts.started_at + ibis.interval(months=k * term_months)
        terms.append(contracts.filter((contracts.until > begun)
                                      & (due_at < ibis.timestamp(horizon)))
                     .select("account_id", *subs.by, row_end=contracts.ended_at, due_at=due_at))
    terms = ibis.union(*terms, distinct=False)
    grace = ibis.interval(days=grace_days)
    paying = rows.select(p_account=rows.account_id, p_start=rows.started_at, p_end=rows.until)

    def covers(t: ir.Table, at: ir.Value) -> list[ir.BooleanValue]:
        return [t.account_id == paying.p_account, paying.p_start <= at, paying.p_end > at]

    early = terms.row_end.notnull() & (terms.row_end < terms.due_at - grace)
    replaced = terms.filter(early)
    due = ibis.union(terms.filter(~early), replaced.anti_join(paying, covers(replaced, replaced.row_end)),
                     distinct=False)
    due = due.mutate(period=period_start(due.due_at, freq), check=due.due_at + grace)
    known = due.filter(due.check <= ibis.timestamp(horizon))
    renewed = known.semi_join(paying, covers(known, known.check))
    one, none = ibis.literal(1).cast("int64"), ibis.literal(0).cast("int64")
    tally = ibis.union(due.select("period", *subs.by, d=one, r=none),
                       renewed.select("period", *subs.by, d=none, r=one), distinct=False)
    out = engine.to_pandas(tally.group_by(["period", *subs.by]).aggregate(
        due=tally.d.sum(), renewed=tally.r.sum()))
    if start is not None:
        out = out[out["period"] >= pd.Timestamp(start)]
    if end is not None:
        out = out[out["period"] < pd.Timestamp(end)]
    out = _ints(out.copy(), ["due", "renewed"])
    stop = pd.DatetimeIndex(out["period"]) + to_offset(FREQS[freq][1])
    out["complete"] = np.asarray(stop + pd.Timedelta(days=grace_days) <= horizon, dtype=bool)
    out["rate"] = _ratio(out["renewed"], out["due"])
    out["rate"] = out["rate"].where(out["complete"])
    low, high = wilson(out["renewed"], out["due"])
    out["ci_low"] = np.where(out["complete"], low, np.nan)
    out["ci_high"] = np.where(out["complete"], high, np.nan)
    out = out.sort_values([*subs.by, "period"], kind="stable").reset_index(drop=True)
    return out[columns]

"""Goals: targets against actuals — attainment, gap, status and pace.

Seed 002 opens its review with 目标达成情况 (goal attainment) and 核心指标完成率
(completion rate of the core metrics): "new registrations 82,000 against a
target of 75,000, 9 % above". :func:`attainment` is that table for every row of
``targets``; :func:`actuals` measures the actual value of each known metric with
opskit's KPI functions. Definitions: docs/metrics.md ("Goals").

A target period runs from ``period_start`` (midnight) to the end of
``period_end`` (the inclusive last day), i.e. ``[period_start, period_end + 1 day)``,
as the ``targets`` table of docs/demo.md defines it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from opskit import activity, engine, retention, saas
from opskit._inputs import table_arg
from opskit._periods import floor_period
from opskit.dataset import Dataset
from opskit.errors import DataError

__all__ = ["KINDS", "METRICS", "STATUSES", "Metric", "actuals", "attainment"]

_DAY = pd.Timedelta(days=1)

#: How a metric accrues over its period (see :class:`Metric`).
KINDS = ("additive", "level", "average")

#: The values of ``status`` in :func:`attainment`.
STATUSES = ("hit", "missed", "on track", "behind", "not started", "no data")


@dataclass(frozen=True)
class Metric:
    """A metric that targets can name, and how its pace is judged.

    Attributes
    ----------
    name
        The value of ``targets.metric``.
    kind
        ``"additive"``: the period's value is a sum over its days (new users,
        revenue); part-way through, the actual so far is compared with the
        elapsed share of the target. ``"level"``: the value at the period's end
        (MRR, paying users); part-way through, the current level is compared
        with the target. ``"average"``: a mean or a rate over the period (DAU,
        a retention rate); part-way through, the value so far is compared with
        the target.
    higher_is_better
        False for a metric to keep under its target (churn, cost, response time).
    definition
        The actual value, in words (what :func:`actuals` measures).
    """

    name: str
    kind: str
    higher_is_better: bool = True
    definition: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Metric.kind must be one of {', '.join(map(repr, KINDS))}, "
                             f"not {self.kind!r}")


#: The metrics :func:`actuals` can measure, by ``targets.metric`` value.
METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("new_users", "additive", True,
           "users whose users.signup_at falls in the period"),
    Metric("paying_users", "level", True,
           "accounts with MRR > 0 at the end of the period (opskit.saas.mrr_movements customers_end)"),
    Metric("mrr", "level", True,
           "MRR at the end of the period (opskit.saas.mrr_movements mrr_end)"),
    Metric("dau", "average", True,
           "mean over the period's days of the users with an event that UTC day "
           "(opskit.activity.active_users, freq='day')"),
    Metric("d30_retention", "average", True,
           "share of the period's new users (users.signup_at) with an event 30 to 59 days after "
           "signing up (opskit.retention.cohort_table, rolling 30-day months, period 1)"),
)}


# --- inputs -------------------------------------------------------------------------------


def _targets_frame(targets: Any) -> pd.DataFrame:
    """The targets as a small pandas frame: metric, segment, period_start, period_end, target."""
    table = table_arg(targets, "targets", ("metric", "period_start", "period_end", "target"))
    if "segment" not in table.columns:
        table = table.mutate(segment=ibis.null("string"))
    frame = engine.to_pandas(table.select("metric", "segment", "period_start", "period_end", "target"))
    for col in ("period_start", "period_end"):
        frame[col] = frame[col].dt.normalize()
    frame["target"] = frame["target"].astype("float64")
    frame["segment"] = frame["segment"].astype(object).where(frame["segment"].notna(), None)
    _no_duplicates(frame, "targets", "the same metric, segment and period_start appear on several rows",
                   "keep one target per metric, segment and period", numbered=False)
    return frame


def _no_duplicates(frame: pd.DataFrame, table: str, problem: str, fix: str, *, numbered: bool) -> None:
    """``numbered``: the frame's order is the source's (a pandas frame), so rows can be named."""
    keys = frame[["metric", "segment", "period_start"]].apply(
        lambda col: col.map(lambda v: "overall" if v is None or v != v else str(v)))
    dup = keys.duplicated(keep=False)
    if dup.any():
        shown = [(i + 1 if numbered else None, " / ".join(keys.iloc[i]))
                 for i in np.flatnonzero(dup.to_numpy())[:3]]
        raise DataError.single(table, "period_start", "duplicate_key", int(dup.sum()), problem, fix,
                               total=len(frame), examples=tuple(shown))


def _actuals_frame(actuals: Any) -> pd.DataFrame:
    if not isinstance(actuals, pd.DataFrame):
        raise TypeError("`actuals` must be a pandas DataFrame with columns metric, period_start, "
                        f"segment and actual (e.g. from opskit.goals.actuals), not {type(actuals).__name__}")
    missing = [c for c in ("metric", "period_start", "actual") if c not in actuals.columns]
    if missing:
        raise DataError.single(
            "actuals", missing[0], "missing_column", 0,
            f"attainment needs columns metric, period_start, segment (optional) and actual; "
            f"found {', '.join(map(str, actuals.columns))}",
            "build the frame with opskit.goals.actuals(dataset), or rename your columns")
    keep = ["metric", "segment", "period_start", "actual"]
    frame = actuals.assign(**({} if "segment" in actuals.columns else {"segment": None}))
    if "observed_until" in frame.columns:
        keep.append("observed_until")
    frame = frame[keep].copy()
    frame["period_start"] = pd.to_datetime(frame["period_start"]).dt.normalize().astype("datetime64[ns]")
    frame["actual"] = pd.to_numeric(frame["actual"]).astype("float64")
    frame["segment"] = frame["segment"].astype(object).where(frame["segment"].notna(), None)
    _no_duplicates(frame, "actuals", "hold several actual values for one metric, segment and "
                   "period_start", "keep one actual per target period", numbered=True)
    return frame


def _registry(metrics: Mapping[str, Metric] | None) -> dict[str, Metric]:
    registry = dict(METRICS)
    for name, metric in (metrics or {}).items():
        if not isinstance(metric, Metric):
            raise TypeError(f"metrics[{name!r}] must be an opskit.goals.Metric, e.g. "
                            f"Metric({name!r}, 'level'), not {type(metric).__name__}")
        registry[name] = metric
    return registry


# --- attainment ---------------------------------------------------------------------------


def attainment(targets: Any, actuals: pd.DataFrame, /, *, as_of: Any = None,
               metrics: Mapping[str, Metric] | None = None) -> pd.DataFrame:
    """Every target against its actual: attainment, gap, status and, part-way through, pace.

    For each row of ``targets`` (a period ``[period_start, period_end + 1 day)``):

    * ``attainment`` = actual / target (seed 002's 完成率: 8.2万 / 7.5万 = 109 %, "9 %
      above"); ``gap`` = actual - target;
    * ``elapsed_share`` = the share of the period elapsed at ``as_of``, clipped to [0, 1];
    * ``projected``: the expected value at the period's end — the actual for a finished
      period; for one in progress, actual / elapsed_share for an ``"additive"`` metric
      (a straight-line run rate) and the actual itself for a ``"level"`` or
      ``"average"`` metric (the current level, or the mean so far);
    * ``pace`` (periods in progress only) = projected / target, i.e. actual /
      (target x elapsed_share) for an additive metric and actual / target otherwise;
    * ``status``: ``"not started"`` (``as_of`` at or before the period's start);
      ``"no data"`` (no actual: not measurable yet, such as the 30-day retention of a
      month whose 60 days have not elapsed, or missing from ``actuals``);
      ``"hit"`` / ``"missed"`` for a finished period (actual >= target, or <= for a
      lower-is-better metric); ``"on track"`` / ``"behind"`` for one in progress
      (pace >= 1, or <= 1 for a lower-is-better metric).

    Parameters
    ----------
    targets
        The ``targets`` table (``metric``, ``period_start``, ``period_end``, ``target``,
        ``segment``): a Dataset, an Ibis table or a pandas frame.
    actuals
        A pandas frame with ``metric``, ``period_start``, ``segment`` (optional; null
        for an overall target) and ``actual``, one row per target period, such as
        :func:`actuals` returns. An ``observed_until`` column (the instant the actual
        was measured to) serves as each row's ``as_of`` when ``as_of`` is None.
    as_of
        The instant of the review. None: each row's ``observed_until`` when
        ``actuals`` has it (the end of the data behind that actual), else today
        (midnight UTC).
    metrics
        Extra or replacement :class:`Metric` entries by name (kind and direction). A
        metric in neither :data:`METRICS` nor ``metrics`` is taken as a
        higher-is-better ``"level"``.

    Returns
    -------
    pandas.DataFrame
        One row per target, sorted by metric, segment (overall first) and period:
        ``metric``, ``segment`` (None for overall), ``period_start``, ``period_end``,
        ``kind``, ``target``, ``actual``, ``attainment``, ``gap``, ``status``,
        ``elapsed_share``, ``pace`` (NaN unless in progress), ``projected``.

    Examples
    --------
    >>> targets = pd.DataFrame({"metric": ["new_users", "new_users", "mrr"],
    ...     "period_start": ["2025-01-01", "2025-02-01", "2025-02-01"],
    ...     "period_end": ["2025-01-31", "2025-02-28", "2025-02-28"],
    ...     "target": [100.0, 140.0, 5000.0]})
    >>> acts = pd.DataFrame({"metric": ["new_users", "new_users", "mrr"],
    ...     "period_start": ["2025-01-01", "2025-02-01", "2025-02-01"],
    ...     "actual": [108.0, 77.0, 4900.0]})
    >>> attainment(targets, acts, as_of="2025-02-15")[
    ...     ["metric", "period_start", "attainment", "status", "elapsed_share", "pace"]]
          metric period_start  attainment    status  elapsed_share  pace
    0        mrr   2025-02-01        0.98    behind            0.5  0.98
    1  new_users   2025-01-01        1.08       hit            1.0   NaN
    2  new_users   2025-02-01        0.55  on track            0.5  1.10

    On 15 February (midnight) 14 of February's 28 days have passed: 77 new users
    against 140 x 0.5 = 70 expected so far is pace 1.10, on track; MRR is a level,
    so its current 4,900 is compared with the month-end target of 5,000.
    """
    registry = _registry(metrics)
    goals = _targets_frame(targets)
    acts = _actuals_frame(actuals)
    out = _merge(goals, acts)
    now = _as_of(out, as_of)

    kind = out["metric"].map(lambda m: registry.get(m, Metric(m, "level")).kind)
    higher = out["metric"].map(lambda m: registry.get(m, Metric(m, "level")).higher_is_better)
    higher = higher.astype(bool).to_numpy()
    start, stop = out["period_start"], out["period_end"] + _DAY
    share = ((now - start) / (stop - start)).clip(0, 1).astype("float64")
    actual, target = out["actual"], out["target"]
    running = (share > 0) & (share < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        projected = np.where(running & (kind == "additive"), actual / share, actual)
        projected = np.where(share > 0, projected, np.nan)
        ratio = np.where(target != 0, projected / target, np.nan)
        out["attainment"] = np.where(target != 0, actual / target, np.nan)
    out["gap"] = actual - target
    good_end = np.where(higher, actual >= target, actual <= target)
    good_pace = np.where(higher, ratio >= 1, ratio <= 1) | np.where(target == 0, good_end, False)
    out["status"] = np.select(
        [share <= 0, actual.isna(), share >= 1, good_pace],
        ["not started", "no data", np.where(good_end, "hit", "missed"), "on track"],
        default="behind")
    out["kind"] = kind
    out["elapsed_share"] = share
    out["pace"] = np.where(running & actual.notna(), ratio, np.nan)
    out["projected"] = projected
    out = out.sort_values(["metric", "segment", "period_start"], na_position="first", kind="stable")
    columns = ["metric", "segment", "period_start", "period_end", "kind", "target", "actual",
               "attainment", "gap", "status", "elapsed_share", "pace", "projected"]
    out = out.reset_index(drop=True)[columns]
    for col in ("attainment", "gap", "pace", "projected", "actual"):
        out[col] = out[col].astype("float64")
    return out


_ALL = "\x00overall"  # stands for a null segment in merges


def _merge(goals: pd.DataFrame, acts: pd.DataFrame) -> pd.DataFrame:
    left = goals.assign(_seg=goals["segment"].fillna(_ALL))
    right = acts.drop(columns="segment").assign(_seg=acts["segment"].fillna(_ALL))
    out = left.merge(right, on=["metric", "_seg", "period_start"], how="left")
    return out.drop(columns="_seg")


def _as_of(out: pd.DataFrame, as_of: Any) -> pd.Series:
    if as_of is not None:
        try:
            moment = pd.Timestamp(as_of)
        except (TypeError, ValueError):
            raise ValueError(f"`as_of` must be a date or timestamp such as '2025-11-15', "
                             f"not {as_of!r}") from None
        if moment.tz is not None:
            moment = moment.tz_convert("UTC").tz_localize(None)
        return pd.Series(moment, index=out.index).astype("datetime64[ns]")
    if "observed_until" in out.columns and out["observed_until"].notna().any():
        seen = pd.to_datetime(out["observed_until"])
        return seen.fillna(seen.max()).astype("datetime64[ns]")
    today = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
    return pd.Series(today, index=out.index).astype("datetime64[ns]")


# --- actuals ------------------------------------------------------------------------------


def actuals(dataset: Dataset, /, *, metrics: Sequence[str] | None = None, targets: Any = None,
            segment: str = "segment") -> pd.DataFrame:
    """The actual value of each known metric for every target period, from the dataset.

    Each metric of :data:`METRICS` is measured with the KPI function that defines it
    (docs/metrics.md, "Goals"), over ``[period_start, period_end + 1 day)`` and, for a
    target with a ``segment``, over the users (or accounts) whose ``users`` column
    ``segment`` has that value:

    * ``new_users``: users whose ``signup_at`` falls in the period;
    * ``paying_users`` / ``mrr``: accounts with MRR > 0, and their MRR, at the period's
      end (midnight after ``period_end``), as :func:`opskit.saas.mrr_movements`
      measures them (``customers_end``, ``mrr_end``): an account pays at instant t when
      one of its rows has ``started_at <= t < ended_at``; it takes its users' segment
      (the smallest if they differ); 0 before the first subscription;
    * ``dau``: the mean over the period's days of :func:`opskit.activity.active_users`
      per day (days with no activity count as 0);
    * ``d30_retention``: of the users who signed up in the period, the share with any
      event 30 to 59 days after signing up — period 1 of
      :func:`opskit.retention.cohort_table` with rolling 30-day months
      (``calendar=False``), each user starting at ``signup_at``. Measured for periods
      made of whole calendar months, once every member's 60 days have elapsed.

    For a period still running at the end of the data the actual is the value so far
    (additive and average metrics) or the current level (MRR, paying users). The end of
    the data is midnight after the last event (as in :mod:`opskit.retention`); without an
    ``events`` table, midnight after the last subscription change (``paying_users``,
    ``mrr``) or the last signup. MRR after the last subscription change is the MRR at
    that change, so a level is known up to the end of the data.

    Parameters
    ----------
    dataset
        A Dataset with ``users`` and, as the metrics need them, ``events`` and
        ``subscriptions``.
    metrics
        Metric names to measure (default: every metric of :data:`METRICS` that the
        targets name and the dataset has the tables for).
    targets
        The targets (default: the dataset's ``targets`` table).
    segment
        The ``users`` column whose values ``targets.segment`` holds.

    Returns
    -------
    pandas.DataFrame
        One row per target of a measured metric: ``metric``, ``segment``,
        ``period_start``, ``period_end``, ``actual`` (NaN where not measurable),
        ``observed_until`` (the end of the data, at most the period's end). Feed it to
        :func:`attainment`.

    Examples
    --------
    >>> import opskit
    >>> frames = opskit.demo.generate_frames(users=300, seed=1)
    >>> ds = opskit.Dataset.from_frames(**frames)
    >>> acts = actuals(ds, metrics=["new_users", "mrr"])
    >>> acts.head(2)
          metric segment period_start period_end  actual observed_until
    0  new_users     b2b   2025-01-01 2025-01-31     2.0     2025-02-01
    1  new_users     b2b   2025-02-01 2025-02-28     0.0     2025-03-01
    >>> table = attainment(ds, acts)
    >>> table[table["metric"] == "mrr"][["segment", "period_start", "target", "actual", "status"]].head(2)
       segment period_start  target  actual  status
    24     b2b   2025-01-01   700.0  583.17  missed
    25     b2b   2025-02-01   800.0  916.42     hit
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(f"actuals needs an opskit.Dataset, not {type(dataset).__name__}")
    goals = _targets_frame(dataset if targets is None else targets)
    wanted = list(metrics) if metrics is not None else [m for m in METRICS if m in set(goals["metric"])]
    unknown = [m for m in wanted if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; actuals measures {', '.join(METRICS)}")
    parts, memo = [], {"goals": goals[goals["metric"].isin(wanted)]}
    for name in wanted:
        rows = goals[goals["metric"] == name].reset_index(drop=True)
        if rows.empty or not _has_tables(dataset, name, explicit=metrics is not None):
            continue
        if rows["segment"].notna().any():
            _require_segment(dataset, segment)
        values = _MEASURE[name](dataset, rows, segment, memo)
        key = "end of events" if "events" in dataset else f"end for {name}"
        horizon = memo[key] if key in memo else memo.setdefault(key, _data_end(dataset, name))
        rows["actual"] = np.asarray(values, dtype="float64")
        ends = rows["period_end"] + _DAY
        rows["observed_until"] = ends.clip(upper=horizon) if pd.notna(horizon) else pd.NaT
        parts.append(rows)
    columns = ["metric", "segment", "period_start", "period_end", "actual", "observed_until"]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c in ("period_start", "period_end",
                                                                         "observed_until")
                                          else "float64" if c == "actual" else object)
                             for c in columns})
    out = pd.concat(parts, ignore_index=True)[columns]
    out["observed_until"] = pd.to_datetime(out["observed_until"]).astype("datetime64[ns]")
    return out


_TABLES = {"new_users": ("users",), "paying_users": ("subscriptions",), "mrr": ("subscriptions",),
           "dau": ("events",), "d30_retention": ("users", "events")}


def _has_tables(dataset: Dataset, name: str, *, explicit: bool) -> bool:
    missing = [t for t in _TABLES[name] if t not in dataset]
    if missing and explicit:
        dataset[missing[0]]  # raises the DataError naming the missing table
    return not missing


def _require_segment(dataset: Dataset, segment: str) -> None:
    users = table_arg(dataset, "users", ("user_id",))
    if segment not in users.columns:
        raise DataError.single(
            "users", segment, "missing_column", 0,
            f"is needed because targets.segment has values, but users has no `{segment}` column",
            "add the column to users, or pass segment=<the users column targets.segment refers to>")


def _segments(rows: pd.DataFrame) -> list[str | None]:
    return list(dict.fromkeys(rows["segment"].tolist()))


def _span(events: ir.Table) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First event, and the end of the data: midnight after the last event's day (as in
    opskit.retention: exports are cut by day)."""
    bounds = engine.to_pandas(events.aggregate(a=events.event_at.min(), b=events.event_at.max())).iloc[0]
    if pd.isna(bounds["b"]):
        return pd.NaT, pd.NaT
    return bounds["a"], bounds["b"].normalize() + _DAY


def _data_end(dataset: Dataset, name: str) -> pd.Timestamp:
    """The end of the data: midnight after the last event; without events, midnight after
    the last subscription change (``paying_users``, ``mrr``) or the last signup."""
    if "events" in dataset:
        return _span(table_arg(dataset, "events", ("user_id", "event_at")))[1]
    if name in ("paying_users", "mrr"):
        subs = table_arg(dataset, "subscriptions", ("account_id", "started_at"))
        ended = subs.ended_at if "ended_at" in subs.columns else subs.started_at
        bounds = engine.to_pandas(subs.aggregate(a=subs.started_at.max(), b=ended.max())).iloc[0]
        last = max((t for t in (bounds["a"], bounds["b"]) if pd.notna(t)), default=pd.NaT)
    else:
        users = table_arg(dataset, "users", ("user_id", "signup_at"))
        last = engine.to_pandas(users.aggregate(last=users.signup_at.max()))["last"].iloc[0]
    return last.normalize() + _DAY if pd.notna(last) else pd.NaT


def _new_users(dataset: Dataset, rows: pd.DataFrame, segment: str, memo: dict) -> list[float]:
    by = [segment] if rows["segment"].notna().any() else []
    users = table_arg(dataset, "users", ("user_id", "signup_at", *by))
    lo, hi = rows["period_start"].min(), rows["period_end"].max() + _DAY
    kept = users.filter((users.signup_at >= lo) & (users.signup_at < hi))
    kept = kept.mutate(day=kept.signup_at.truncate("D"))
    daily = engine.to_pandas(kept.group_by([*by, "day"]).aggregate(n=kept.count()))
    values = []
    for row in rows.itertuples():
        inside = daily[(daily["day"] >= row.period_start) & (daily["day"] <= row.period_end)]
        if row.segment is not None:
            inside = inside[inside[segment] == row.segment]
        values.append(float(inside["n"].sum()))
    return values


def _dau(dataset: Dataset, rows: pd.DataFrame, segment: str, memo: dict) -> list[float]:
    events = table_arg(dataset, "events", ("user_id", "event_at"))
    first, end = _span(events)
    if pd.isna(first):
        return [np.nan] * len(rows)
    days = pd.date_range(first.normalize(), end - _DAY, freq="D", name="period")
    series = {}
    for seg in _segments(rows):
        table = events
        if seg is not None:
            users = table_arg(dataset, "users", ("user_id", segment))
            table = events.semi_join(users.filter(users[segment] == seg), "user_id")
        daily = activity.active_users(table, freq="day")
        series[seg] = daily.set_index("period")["active_users"].reindex(days, fill_value=0)
    values = []
    for row in rows.itertuples():
        s = series[row.segment]
        inside = s[(s.index >= row.period_start) & (s.index <= row.period_end)]
        values.append(float(inside.mean()) if len(inside) else np.nan)
    return values


def _level_freq(rows: pd.DataFrame) -> str:
    """The coarsest period grid of mrr_movements whose boundaries include every period end."""
    stop = rows["period_end"] + _DAY
    if (stop.dt.day == 1).all() and (rows["period_start"].dt.day == 1).all():
        return "month"
    if (stop.dt.weekday == 0).all() and (rows["period_start"].dt.weekday == 0).all():
        return "week"
    return "day"


def _subscription_level(dataset: Dataset, rows: pd.DataFrame, segment: str, column: str,
                        memo: dict) -> list[float]:
    if "levels" not in memo:  # paying_users and mrr read the same MRR movements: compute them once
        level_rows = memo["goals"][memo["goals"]["metric"].isin(["paying_users", "mrr"])]
        memo["levels"] = _level_frames(dataset, level_rows, segment)
    frames = memo["levels"]
    if frames is None:
        return [0.0] * len(rows)
    values = []
    for row in rows.itertuples():
        frame = frames[row.segment]
        # the last period starting by the target's last day ends at the target's end, or
        # at the end of the subscriptions if that comes first (the level holds after it)
        before = frame[frame["period"] <= row.period_end].sort_values("period")
        values.append(float(before[column].iloc[-1]) if len(before) else 0.0)
    return values


def _level_frames(dataset: Dataset, rows: pd.DataFrame, segment: str) -> dict | None:
    """mrr_movements per segment of ``rows`` (None: overall) on a grid holding every period end."""
    subs = table_arg(dataset, "subscriptions", ("account_id", "started_at", "mrr"))
    ended = subs.ended_at if "ended_at" in subs.columns else subs.started_at
    bounds = engine.to_pandas(subs.aggregate(first=subs.started_at.min(), a=subs.started_at.max(),
                                             b=ended.max())).iloc[0]
    if pd.isna(bounds["first"]):
        return None
    last = max(t for t in (bounds["a"], bounds["b"]) if pd.notna(t))
    freq = _level_freq(rows)
    # MRR stays at its last value after the last change: keep the period holding it
    lo = min(rows["period_start"].min(), floor_period(last, freq))
    hi = rows["period_end"].max() + _DAY
    frames = {}
    if rows["segment"].isna().any():
        frames[None] = saas.mrr_movements(subs, freq=freq, start=lo, end=hi)
    if rows["segment"].notna().any():
        users = table_arg(dataset, "users", ("user_id", "account_id", segment))
        by_seg = saas.mrr_movements(subs, freq=freq, by=segment, users=users, start=lo, end=hi)
        for seg in rows["segment"].dropna().unique():
            frames[seg] = by_seg[by_seg[segment] == seg]
    return frames


def _paying_users(dataset: Dataset, rows: pd.DataFrame, segment: str, memo: dict) -> list[float]:
    return _subscription_level(dataset, rows, segment, "customers_end", memo)


def _mrr(dataset: Dataset, rows: pd.DataFrame, segment: str, memo: dict) -> list[float]:
    return _subscription_level(dataset, rows, segment, "mrr_end", memo)


_SIGNUP = "__opskit_signup__"


def _d30_retention(dataset: Dataset, rows: pd.DataFrame, segment: str, memo: dict) -> list[float]:
    by = [segment] if rows["segment"].notna().any() else []
    users = table_arg(dataset, "users", ("user_id", "signup_at", *by))
    events = table_arg(dataset, "events", ("user_id", "event_at", "event"))
    # every user starts at signup_at: a synthetic start event joins the events
    starts = users.select(user_id=users.user_id, event_at=users.signup_at,
                          event=ibis.literal(_SIGNUP, type="string"))
    both = ibis.union(events.select("user_id", "event_at", event=events.event.cast("string")), starts,
                      distinct=False)
    lo, hi = rows["period_start"].min(), rows["period_end"].max() + _DAY
    cohorts = retention.cohort_table(both, period="month", calendar=False, start_event=_SIGNUP, periods=1,
                                     start=lo, end=hi, by=by or None, users=users if by else None)
    cells = cohorts[cohorts["period"] == 1]
    values = []
    for row in rows.itertuples():
        stop = row.period_end + _DAY
        if row.period_start.day != 1 or stop.day != 1:
            values.append(np.nan)  # cohorts are calendar months
            continue
        inside = cells[(cells["cohort"] >= row.period_start) & (cells["cohort"] < stop)]
        if row.segment is not None:
            inside = inside[inside[segment] == row.segment]
        done = len(inside) and inside["complete"].all() and inside["cohort_size"].sum() > 0
        values.append(float(inside["retained"].sum() / inside["cohort_size"].sum()) if done else np.nan)
    return values


_MEASURE = {"new_users": _new_users, "paying_users": _paying_users, "mrr": _mrr, "dau": _dau,
            "d30_retention": _d30_retention}

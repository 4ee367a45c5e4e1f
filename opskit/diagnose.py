"""Diagnosis: which stage of the funnel is the principal bottleneck right now.

Seed 001 (a startup operations retrospective) asks the team to find the
product's *principal contradiction* (主要矛盾) — acquisition (推广), activation
(活跃) or retention (留存) — and to concentrate on it. :func:`diagnose` puts
the four stages of one signup cohort (acquisition, activation, retention,
revenue) side by side against their own history and against the targets the
data hold, and names the weakest one with the numbers behind it.

The numbers come from the KPI functions that define them
(:func:`opskit.consumer.aarrr` for the stages, :func:`opskit.anomalies.flag`
for the history score), so the diagnosis never disagrees with the rest of a
report. Definitions and a worked example: docs/metrics.md ("Diagnosis").
"""

from __future__ import annotations

import re
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from opskit import engine
from opskit._inputs import table_arg
from opskit.anomalies import flag
from opskit.consumer import aarrr
from opskit.dataset import Dataset
from opskit.errors import DataError

__all__ = ["diagnose"]

#: The stages diagnosed, in funnel order, with their metric (and target metric) name.
STAGES = (("acquisition", "new_users"), ("activation", "activation_rate"),
          ("retention", "d30_retention"), ("revenue", "payer_conversion"))
_COUNTS = {"new_users"}           # additive across segments and sub-periods
_FREQS = ("day", "week", "month", "quarter")
_COMPARE = ("previous", "year_ago", "trailing")
#: Shortfalls closer than this (relative) are a tie; the earlier stage wins.
TIE = 0.001
_DAY = pd.Timedelta(days=1)
_COLUMNS = ["stage", "metric", "period", "value", "users", "eligible", "complete", "reference",
            "reference_period", "change", "z", "anomaly", "expected_low", "target", "attainment",
            "shortfall", "weakest", "evidence", "definition"]


# --- periods ----------------------------------------------------------------------------------


def _floor(ts: pd.Timestamp, freq: str) -> pd.Timestamp:
    ts = pd.Timestamp(ts).normalize()
    if freq == "quarter":
        return ts.replace(month=(ts.month - 1) // 3 * 3 + 1, day=1)
    if freq == "month":
        return ts.replace(day=1)
    if freq == "week":
        return ts - pd.Timedelta(days=ts.weekday())
    return ts


def _shift(start: pd.Timestamp, freq: str, n: int) -> pd.Timestamp:
    """The start of the period ``n`` periods after (before, if negative) the one at ``start``."""
    if freq == "quarter":
        return start + pd.DateOffset(months=3 * n)
    if freq == "month":
        return start + pd.DateOffset(months=n)
    return start + pd.Timedelta(days=n * (7 if freq == "week" else 1))


def _year_ago(start: pd.Timestamp, freq: str) -> pd.Timestamp:
    """Same period a year earlier: 12 months, 4 quarters, 52 weeks or 364 days (same weekday)."""
    if freq in ("month", "quarter"):
        return start - pd.DateOffset(years=1)
    return start - pd.Timedelta(days=364)


def _label(start: pd.Timestamp, freq: str) -> str:
    if pd.isna(start):
        return "?"
    if freq == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if freq == "month":
        return start.strftime("%Y-%m")
    return ("week of " if freq == "week" else "") + start.strftime("%Y-%m-%d")


def _parse_period(period: Any, freq: str) -> pd.Timestamp | None:
    if period is None:
        return None
    text = str(period).strip() if isinstance(period, str) else None
    quarter = re.fullmatch(r"(\d{4})\s*-?\s*[Qq]([1-4])", text) if text else None
    if quarter:
        if freq != "quarter":
            raise ValueError(f"period {period!r} is a quarter: pass freq='quarter' to diagnose quarters")
        return pd.Timestamp(int(quarter[1]), 3 * int(quarter[2]) - 2, 1)
    try:
        ts = pd.Timestamp(period)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"period must be a date inside the period (e.g. '2025-10' or '2025-10-01'), "
                         f"or a quarter such as '2025-Q3', not {period!r}") from exc
    if pd.isna(ts):
        raise ValueError(f"period must be a date, not {period!r}")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return _floor(ts, freq)


# --- the stages per signup period --------------------------------------------------------------


def _bounds(events: ir.Table) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Midnight of the first event's day and midnight after the last event's day."""
    b = engine.to_pandas(events.aggregate(first=events.event_at.min(), last=events.event_at.max()))
    first, last = b["first"].iloc[0], b["last"].iloc[0]
    if pd.isna(last):
        raise DataError.single("events", "event_at", "empty", 0, "has no events",
                               "pass a dataset whose events table has rows")
    return first.normalize(), last.normalize() + _DAY


def _stage_table(dataset: Dataset, activation_event: str, freq: str) -> tuple[pd.DataFrame, dict]:
    """Per signup period and stage: users, eligible, value, complete; and the definitions."""
    users = dataset.get("users")
    base = "month" if freq == "quarter" else freq
    funnel = aarrr(dataset, activation_event=activation_event, users=users, freq=base)
    definitions = funnel.drop_duplicates("stage").set_index("stage")["definition"].to_dict()
    funnel = funnel[funnel["stage"].isin([s for s, _ in STAGES])]
    if freq == "quarter":
        funnel = funnel.assign(period=funnel["period"].map(lambda p: _floor(p, "quarter")))
        funnel = funnel.groupby(["period", "stage"], as_index=False, sort=False)[["users", "eligible"]].sum()
    first, horizon = _bounds(table_arg(dataset, "events", ("user_id", "event_at")))
    wide = funnel.pivot_table(index="period", columns="stage", values=["users", "eligible"],
                              aggfunc="sum", fill_value=0)
    acquired = wide[("users", "acquisition")]
    ends = pd.Series([_shift(p, freq, 1) for p in wide.index], index=wide.index)
    inside = (wide.index >= first) & (ends <= horizon).to_numpy()
    rows = []
    for stage, metric in STAGES:
        k, n = wide[("users", stage)].astype("int64"), wide[("eligible", stage)].astype("int64")
        value = acquired.astype("float64") if stage == "acquisition" else (k / n).where(n > 0)
        complete = inside & (acquired > 0).to_numpy() & (n == acquired).to_numpy()
        rows.append(pd.DataFrame({"period": wide.index, "stage": stage, "metric": metric,
                                  "value": value.to_numpy(dtype="float64"), "users": k.to_numpy(),
                                  "eligible": n.to_numpy(), "complete": complete}))
    table = pd.concat(rows, ignore_index=True)
    table["period"] = table["period"].astype("datetime64[ns]")
    return table, definitions


def _choose(table: pd.DataFrame, period: pd.Timestamp | None, freq: str) -> pd.Timestamp:
    periods = table["period"].drop_duplicates().sort_values()
    if period is not None:
        signups = table.loc[(table["stage"] == "acquisition") & (table["period"] == period), "users"]
        if signups.empty or signups.iloc[0] == 0:
            raise ValueError(
                f"period {_label(period, freq)} has no signups in the data: the data's {freq}s run "
                f"from {_label(periods.iloc[0], freq)} to {_label(periods.iloc[-1], freq)}")
        return period
    whole = table.groupby("period")["complete"].all()
    whole = whole[whole]
    if whole.empty:
        raise DataError.single(
            "events", "event_at", "too_short", 0,
            f"does not yet cover any whole signup {freq} together with the 60 days after it that "
            "retention needs",
            "pass a longer export, or name a partial period with period=...")
    return whole.index.max()


# --- targets ----------------------------------------------------------------------------------------


def _target_frame(dataset: Dataset, targets: Any) -> pd.DataFrame | None:
    if targets is False or targets is None:
        return None
    if targets is True:
        if "targets" not in dataset:
            return None
        targets = dataset["targets"]
    table = table_arg(targets, "targets", ("metric", "period_start", "period_end", "target"))
    wanted = [m for _, m in STAGES]
    cols = ["metric", "period_start", "period_end", "target"] + (
        ["segment"] if "segment" in table.columns else [])
    frame = engine.to_pandas(table.filter(table.metric.isin(wanted)).select(*cols))
    if "segment" not in frame:
        frame["segment"] = None
    return frame


def _tiles(rows: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> bool:
    """Do the target rows' periods cover ``[start, end)`` exactly, without overlap?"""
    spans = rows[["period_start", "period_end"]].drop_duplicates().sort_values("period_start")
    edge = start
    for s, e in spans.itertuples(index=False):
        if pd.Timestamp(s) != edge:
            return False
        edge = pd.Timestamp(e) + _DAY     # period_end is inclusive (the last day)
    return edge == end


def _target(frame: pd.DataFrame | None, metric: str, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """The target of ``metric`` for ``[start, end)``, or NaN when the targets do not cover it.

    Target periods must lie inside the period and tile it. Overall rows (no segment) are
    used when present; otherwise, for a count, the segments' targets are added.
    Several sub-periods: counts add up, rates are averaged weighted by their length in days.
    """
    if frame is None:
        return np.nan
    ends = pd.to_datetime(frame["period_end"]) + _DAY
    rows = frame[(frame["metric"] == metric) & (pd.to_datetime(frame["period_start"]) >= start)
                 & (ends <= end)]
    overall = rows[rows["segment"].isna()]
    if not overall.empty:
        groups = [overall]
    elif metric in _COUNTS and not rows.empty:
        groups = [g for _, g in rows.groupby("segment")]
    else:
        return np.nan
    total = 0.0
    for g in groups:
        if g.duplicated(["period_start", "period_end"]).any() or not _tiles(g, start, end):
            return np.nan
        if metric in _COUNTS:
            total += float(g["target"].sum())
        else:
            days = ((pd.to_datetime(g["period_end"]) + _DAY - pd.to_datetime(g["period_start"]))
                    / _DAY).to_numpy(dtype="float64")
            total += float(np.average(g["target"].to_numpy(dtype="float64"), weights=days))
    return total


# --- the diagnosis ---------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _num(metric: str, x: float) -> str:
    if pd.isna(x):
        return "n/a"
    return f"{x:,.0f}" if metric in _COUNTS else _pct(x)


def _evidence(row: pd.Series, label: str, ref_text: str, window: int) -> str:
    """One sentence of numbers: value, change on the reference, attainment, z, verdict."""
    metric, stage = row["metric"], row["stage"]
    if pd.isna(row["value"]):
        return (f"{stage}: {metric} of the users who signed up in {label} is not measurable yet "
                "(no user's window has ended).")
    if metric in _COUNTS:
        parts = [f"{stage}: {row['users']:,} new users signed up in {label}"]
    else:
        parts = [f"{stage}: {metric} {_pct(row['value'])} ({row['users']:,} of the "
                 f"{row['eligible']:,} users who signed up in {label}"
                 + ("; partial, not every user's window has ended)" if not row["complete"] else ")")]
    if pd.isna(row["change"]):
        parts.append("too little history to compare with" if ref_text.startswith("(")
                     else f"no value {ref_text} to compare with")
    else:
        way = "down" if row["change"] < 0 else "up"
        points = ("" if metric in _COUNTS else
                  f" ({100 * (row['value'] - row['reference']):+.1f} points)")
        parts.append(f"{way} {_pct(abs(row['change']))}{points} from "
                     f"{_num(metric, row['reference'])} {ref_text}")
    if not pd.isna(row["target"]):
        parts.append(f"{_pct(row['attainment'])} of its target of {_num(metric, row['target'])}")
    if not pd.isna(row["z"]):
        z = f"modified z {row['z']:+.1f} against the median of the previous {window} periods"
        if row["anomaly"]:
            z += f", below its expected range (at least {_num(metric, row['expected_low'])})"
        parts.append(z)
    text = "; ".join(parts) + "."
    if row["weakest"]:
        against = "its target" if row["_worst"] == "target" else "its reference"
        text += f" Weakest stage: the largest shortfall, {_pct(row['shortfall'])} below {against}."
    return text


def diagnose(dataset: Dataset, /, *, period: Any = None, compare_to: str = "previous",
             activation_event: str = "create_doc", freq: str = "month", targets: Any = True,
             window: int = 8) -> pd.DataFrame:
    """Name the weakest funnel stage of a signup cohort, against its history and targets.

    Seed 001: find the principal bottleneck (主要矛盾) among acquisition, activation and
    retention, and concentrate on it. For the users who signed up in ``period`` (a signup
    cohort, so every stage describes the same people), four stages of
    :func:`opskit.consumer.aarrr` (defaults: activation within 7 days, retention on days
    30–59, revenue within 30 days of signup):

    =========== ==================== ===============================================
    stage       metric               value
    =========== ==================== ===============================================
    acquisition ``new_users``        users who signed up in the period
    activation  ``activation_rate``  share who did ``activation_event`` within 7 days
    retention   ``d30_retention``    share with an event 30–59 days after signup
    revenue     ``payer_conversion`` share who paid within 30 days
    =========== ==================== ===============================================

    Each stage's value is compared with

    * its **reference** (``compare_to``): the previous period's value (``"previous"``), the
      same period a year earlier (``"year_ago"``: 12 months, 4 quarters, 52 weeks or 364
      days) or the median of the previous ``window`` periods (``"trailing"``); ``change`` =
      value / reference − 1;
    * its history's spread: ``z`` is the modified z-score of :func:`opskit.anomalies.flag`
      against the previous ``window`` periods (at least 4), and ``anomaly`` is True when
      it is below −3.5 (only falls are a problem here);
    * its **target**, when ``targets`` holds the metric name for the period: ``attainment``
      = value / target. Target rows must lie inside the period and cover it exactly;
      rows without a segment are used when there are some, otherwise a count's segment
      targets are added up (rates are not: their segments' weights are unknown). Several
      sub-periods (months of a quarter): counts add up, rates are averaged weighted by
      days.

    The **shortfall** of a stage is the larger of ``-change`` and ``1 - attainment`` (those
    available): how far, relatively, it fell below its reference or its target. Relative
    shortfalls are comparable across stages because the funnel multiplies: 5 % fewer
    sign-ups and a 5 % lower activation rate both cost 5 % of the activated users. The
    **weakest** stage has the largest shortfall among the stages measured on every user of
    the cohort (``complete``); shortfalls within 0.1 % of each other are a tie, won by the
    earlier stage, as seed 001 fixes the earlier bottleneck first. When every stage
    improved, the weakest is the one that improved least. History periods whose stage
    was not complete are left out of the reference and of ``z``.

    Parameters
    ----------
    dataset
        A Dataset with ``events`` (``user_id``, ``event_at``, ``event``, ``revenue``), and
        ``users`` (``signup_at``; without it a user's start is their first event).
    period
        A date inside the signup period to diagnose (``"2025-10"``; with
        ``freq="quarter"`` also ``"2025-Q3"``). None: the latest period whose every stage
        is complete (retention needs 60 days after the period's end).
    compare_to
        ``"previous"``, ``"year_ago"`` or ``"trailing"``.
    activation_event
        The key action's event name (demo: ``"create_doc"``).
    freq
        ``"day"``, ``"week"``, ``"month"`` or ``"quarter"`` (months added up).
    targets
        True: the dataset's ``targets`` table if it has one; False: none; or a targets
        table (``metric``, ``period_start``, ``period_end``, ``target``, ``segment``).
    window
        Periods of history for ``z`` and for ``compare_to="trailing"``.

    Returns
    -------
    pandas.DataFrame
        One row per stage in funnel order: ``stage``, ``metric``, ``period`` (start of the
        signup period), ``value`` (float64), ``users`` (reached the stage), ``eligible``
        (int64), ``complete`` (bool), ``reference``, ``reference_period`` (NaT for
        ``"trailing"``), ``change``, ``z``, ``anomaly`` (bool), ``expected_low`` (the
        lowest value :func:`~opskit.anomalies.flag` would not have flagged), ``target``,
        ``attainment``, ``shortfall`` (float64, NaN when not available), ``weakest``
        (bool, at most one True), ``evidence`` (a sentence in English) and
        ``definition`` (the stage's rule in words). ``attrs`` holds ``rule`` (the
        weakest-stage rule), ``compare_to``, ``freq`` and ``label`` (the period as text).

    Examples
    --------
    >>> import opskit
    >>> ds = opskit.demo.generate(users=2_000, seed=7)
    >>> out = diagnose(ds)
    >>> out.attrs["label"]
    '2025-10'
    >>> out[["stage", "value", "reference", "change", "target", "shortfall", "weakest"]].round(3)
             stage    value  reference  change   target  shortfall  weakest
    0  acquisition  118.000    133.000  -0.113  136.000      0.132    False
    1   activation    0.551      0.594  -0.073      NaN      0.073    False
    2    retention    0.407      0.444  -0.083    0.424      0.083    False
    3      revenue    0.068      0.098  -0.306      NaN      0.306     True

    October is the latest signup month whose days 30–59 lie inside the data. Its payer
    conversion fell from 13 of 133 September sign-ups to 8 of 118: the largest relative
    shortfall. The rule weighs no sampling noise; with a cohort this small, read it with
    the ``users`` and ``eligible`` counts (at 20,000 demo users the weakest stage is
    retention, 7.1 % below its target).
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be an opskit.Dataset (opskit.load(...)), not {type(dataset).__name__}")
    if freq not in _FREQS:
        raise ValueError(f"freq must be one of {', '.join(map(repr, _FREQS))}, not {freq!r}")
    if compare_to not in _COMPARE:
        raise ValueError(f"compare_to must be one of {', '.join(map(repr, _COMPARE))}, not {compare_to!r}")
    if not isinstance(activation_event, str) or not activation_event:
        raise TypeError(f"activation_event must be an event name, not {activation_event!r}")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be a whole number >= 1, not {window!r}")
    if not (isinstance(targets, bool) or targets is None
            or isinstance(targets, (pd.DataFrame, ir.Table, Dataset))):
        raise TypeError(f"targets must be True, False or a targets table, not {type(targets).__name__}")
    wanted = _parse_period(period, freq)

    table, definitions = _stage_table(dataset, activation_event, freq)
    chosen = _choose(table, wanted, freq)
    history = table[table["period"] <= chosen].copy()
    history["value"] = history["value"].where(history["complete"] | (history["period"] == chosen))
    scored = flag(history[["stage", "period", "value"]], by="stage", window=int(window),
                  min_periods=min(4, int(window)), direction="down")
    out = table[table["period"] == chosen].merge(
        scored.loc[scored["period"] == chosen, ["stage", "baseline", "robust_z", "expected_low", "anomaly"]],
        on="stage", how="left")

    if compare_to == "trailing":
        out["reference"], out["reference_period"] = out["baseline"], pd.NaT
        ref_text = f"(the median of the previous {window} periods)"
    else:
        ref_start = _shift(chosen, freq, -1) if compare_to == "previous" else _year_ago(chosen, freq)
        past = history[history["period"] == ref_start].set_index("stage")["value"]
        out["reference"] = out["stage"].map(past).astype("float64")
        out["reference_period"] = ref_start
        ref_text = f"in {_label(ref_start, freq)}" + (" (a year earlier)" if compare_to == "year_ago" else "")
    out["reference_period"] = out["reference_period"].astype("datetime64[ns]")
    with np.errstate(divide="ignore", invalid="ignore"):
        ref = out["reference"].to_numpy(dtype="float64")
        out["change"] = np.where(ref > 0, out["value"].to_numpy() / ref - 1, np.nan)
    out["z"] = out["robust_z"].astype("float64")
    out["anomaly"] = out["anomaly"].fillna(False).astype(bool)

    frame = _target_frame(dataset, targets)
    end = _shift(chosen, freq, 1)
    out["target"] = [_target(frame, m, chosen, end) for m in out["metric"]]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = out["target"].to_numpy(dtype="float64")
        out["attainment"] = np.where(t > 0, out["value"].to_numpy() / t, np.nan)
    from_ref, from_target = -out["change"], 1 - out["attainment"]
    out["shortfall"] = pd.concat([from_ref, from_target], axis=1).max(axis=1, skipna=True)
    out["_worst"] = np.where(from_target.fillna(-np.inf) > from_ref.fillna(-np.inf), "target", "reference")

    judged = out["shortfall"].where(out["complete"])
    out["weakest"] = False
    if judged.notna().any():
        best = judged.max()
        out.loc[judged[judged >= best - TIE].index[0], "weakest"] = True   # funnel order: earlier wins

    label = _label(chosen, freq)
    out["evidence"] = [_evidence(row, label, ref_text, int(window)) for _, row in out.iterrows()]
    out["definition"] = out["stage"].map(definitions)
    out["complete"] = out["complete"].astype(bool)
    out = out[_COLUMNS].reset_index(drop=True)
    out.attrs.update(
        rule=("weakest = the stage with the largest relative shortfall, the larger of "
              "(1 - value / reference) and (1 - value / target), among the stages measured on "
              f"every user of the cohort; shortfalls within {TIE:.1%} tie and the earlier stage "
              "wins"),
        compare_to=compare_to, freq=freq, label=label)
    return out

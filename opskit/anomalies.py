"""Anomalies: flag points of any KPI series against a trailing robust baseline.

A KPI series (new users per day, weekly churn, monthly activation rate) is
compared, point by point, with its own recent past: the median of the
previous points and their median absolute deviation (MAD). A point far from
that median, in units of the robust spread, is flagged with the rule that
flagged it and the range it would have had to stay in. Definitions and a
worked example: docs/metrics.md ("Anomalies").

The input is a small tidy KPI frame (the output of a KPI function), so the
computation is plain vectorised pandas/NumPy: the trailing windows are lagged
columns, never a Python loop over rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from opskit._shared import as_list as _as_list
from opskit.errors import DataError

__all__ = ["DIRECTIONS", "flag"]

#: Allowed values of ``direction``.
DIRECTIONS = ("both", "up", "down")

#: The normal quantile Φ⁻¹(0.75): MAD = 0.6745 σ for normal data (Iglewicz and Hoaglin).
MAD_TO_Z = 0.6745
#: sqrt(π / 2): σ = 1.253314 × mean absolute deviation for normal data.
MEANAD_TO_SIGMA = 1.253314

_TABLE = "series_frame"
_ADDED = ("baseline", "mad", "scale", "robust_z", "expected_low", "expected_high", "anomaly", "rule")


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a whole number, not {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, not {value!r}")
    return int(value)


def _number(value: Any, name: str, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, not {value!r}")
    if not np.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'} and finite, not {value!r}")
    return float(value)


def _check_frame(frame: pd.DataFrame, value: str, time: str, by: list[str]) -> None:
    """The named columns exist, ``value`` is numeric, ``time`` has no nulls and (by, time) is unique."""
    for col in (value, time, *by):
        if col not in frame.columns:
            raise DataError.single(
                _TABLE, col, "missing_column", 0,
                f"is not a column of the frame (its columns: {', '.join(map(str, frame.columns))})",
                "name the value column with value=..., the time column with time=... and the "
                "series' key columns with by=...")
    if value == time or {value, time} & set(by):
        raise ValueError(f"value, time and by must name different columns, not value={value!r}, "
                         f"time={time!r}, by={by!r}")
    series = frame[value]
    if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
        examples = tuple((i + 1, str(v)) for i, v in enumerate(series.head(3)))
        raise DataError.single(
            _TABLE, value, "wrong_type", len(frame),
            f"is {series.dtype}, but a KPI series must be numeric",
            "pass the numeric column (a count, a rate, an amount) as value=..., or convert it "
            "with pd.to_numeric", total=len(frame), examples=examples)
    missing = frame[time].isna()
    if missing.any():
        rows = np.flatnonzero(missing.to_numpy())
        raise DataError.single(
            _TABLE, time, "null_time", int(missing.sum()),
            "have no time, so they cannot be put in order",
            "drop those rows or fill their period", total=len(frame),
            examples=tuple((int(r) + 1, None) for r in rows[:3]))
    dup = frame.duplicated([*by, time], keep=False)
    if dup.any():
        rows = np.flatnonzero(dup.to_numpy())
        others = [c for c in frame.columns if c not in (value, time, *by)
                  and not pd.api.types.is_numeric_dtype(frame[c])
                  and not pd.api.types.is_datetime64_any_dtype(frame[c])]
        hint = f" (candidates: {', '.join(map(str, others))})" if others else ""
        raise DataError.single(
            _TABLE, time, "duplicate_period", int(dup.sum()),
            f"repeat a {time} within one series, so the frame holds several series",
            f"pass by=[...] naming the columns that tell the series apart{hint}, or keep one "
            "row per period", total=len(frame),
            examples=tuple((int(r) + 1, str(frame[time].iloc[r])) for r in rows[:3]))


def _rule(window: int, threshold: float, min_periods: int, direction: str) -> str:
    test = {"both": f"|modified z| > {threshold:g}",
            "up": f"modified z > {threshold:g} (rises only)",
            "down": f"modified z < -{threshold:g} (falls only)"}[direction]
    return (f"{test} against the median of the previous {window} points (at least {min_periods}); "
            "modified z = 0.6745 (x - median) / MAD")


def flag(series_frame: pd.DataFrame, /, *, value: str = "value", time: str = "period",
         by: str | Sequence[str] | None = None, window: int = 8, threshold: float = 3.5,
         min_periods: int = 4, direction: str = "both", min_scale: float = 0.0) -> pd.DataFrame:
    """Flag the points of a KPI series that stray from the median of their previous points.

    For each point x of a series (the rows of one ``by`` group, in ``time`` order):

    * the **baseline** is the median of the previous ``window`` rows' values (the
      current one excluded; missing values in the window are skipped, and at least
      ``min_periods`` present ones are needed, else the point is not judged);
    * **MAD** is the median of their absolute deviations from the baseline;
    * the **scale** (a robust standard deviation) is MAD / 0.6745. When MAD is 0 (more
      than half of the window sits on the median, as in a count that is mostly 0) it is
      1.253314 × the mean absolute deviation from the baseline, as IBM SPSS Modeler and
      Iglewicz and Hoaglin's guide do; when that is 0 too (a constant window) it is 0.
      It is never below ``min_scale``;
    * the **modified z-score** (Iglewicz and Hoaglin 1993) is
      ``robust_z = (x - baseline) / scale``, i.e. 0.6745 (x - median) / MAD when MAD > 0.
      With scale 0 it is 0 when x equals the baseline and ±inf otherwise: a series that
      never moved and then moves is flagged (raise ``min_scale`` to tolerate that);
    * the point is an **anomaly** when ``|robust_z| > threshold`` (``direction="both"``),
      ``robust_z > threshold`` (``"up"``) or ``robust_z < -threshold`` (``"down"``);
    * ``[expected_low, expected_high]`` is the range in which it would not have been
      flagged: ``baseline ± threshold × scale`` (unbounded on the side that
      ``direction`` does not test).

    The 3.5 cut-off is Iglewicz and Hoaglin's recommendation. Unlike
    :func:`opskit.retention.churn_alerts`, which tests a rate against a binomial
    variance from its denominator, this rule knows nothing about sample sizes: it
    judges a point only by how much the series itself usually moves, so it fits any
    KPI (counts, amounts, rates) at the cost of ignoring how many users a rate rests on.

    Parameters
    ----------
    series_frame
        A tidy KPI frame: one row per period (and ``by`` group), e.g. the output of
        :func:`opskit.activity.active_users` or :func:`opskit.retention.subscriber_churn`.
        Rows whose value is missing (an incomplete period's rate) are neither judged nor
        part of a baseline.
    value
        The numeric column to judge.
    time
        The column that orders each series (timestamps or numbers).
    by
        Column(s) that tell the series apart (``by="segment"``); each is judged alone.
    window
        How many previous rows form the baseline.
    threshold
        The modified z-score beyond which a point is flagged (> 0).
    min_periods
        How many present values the window needs (1 to ``window``).
    direction
        ``"both"``, ``"up"`` (only rises are flagged, e.g. churn) or ``"down"`` (only
        falls, e.g. sign-ups).
    min_scale
        Lower bound of the scale, in the value's unit (e.g. 0.005 for a rate that should
        not be flagged for moving half a point off a constant history).

    Returns
    -------
    pandas.DataFrame
        The input rows sorted by ``by`` and ``time`` (index reset), every input column
        kept, plus ``baseline``, ``mad``, ``scale``, ``robust_z``, ``expected_low``,
        ``expected_high`` (float64; NaN where the point is not judged), ``anomaly``
        (bool) and ``rule`` (the rule in words, the same on every row).

    Examples
    --------
    >>> frame = pd.DataFrame({"period": pd.date_range("2025-01-06", periods=6, freq="W-MON"),
    ...                       "value": [100, 104, 96, 102, 98, 130]})
    >>> out = flag(frame, window=5, min_periods=3)
    >>> out[["period", "value", "baseline", "mad", "robust_z", "expected_high", "anomaly"]].round(
    ...     {"robust_z": 2, "expected_high": 2})
          period  value  baseline  mad  robust_z  expected_high  anomaly
    0 2025-01-06    100       NaN  NaN       NaN            NaN    False
    1 2025-01-13    104       NaN  NaN       NaN            NaN    False
    2 2025-01-20     96       NaN  NaN       NaN            NaN    False
    3 2025-01-27    102     100.0  4.0      0.34         120.76    False
    4 2025-02-03     98     101.0  2.0     -1.01         111.38    False
    5 2025-02-10    130     100.0  2.0     10.12         110.38     True

    The last week: the previous five values 100, 104, 96, 102, 98 have median 100 and
    absolute deviations 0, 4, 4, 2, 2, so MAD = 2, z = 0.6745 × (130 − 100) / 2 = 10.12
    and the point would have passed up to 100 + 3.5 × 2 / 0.6745 = 110.38. The first
    three weeks have fewer than 3 previous values and are not judged.
    """
    if not isinstance(series_frame, pd.DataFrame):
        raise TypeError(f"series_frame must be a pandas DataFrame (a KPI function's output), "
                        f"not {type(series_frame).__name__}")
    by_cols = _as_list(by)
    window = _positive_int(window, "window")
    min_periods = _positive_int(min_periods, "min_periods")
    if min_periods > window:
        raise ValueError(f"min_periods must be at most window ({window}), not {min_periods}")
    threshold = _number(threshold, "threshold", positive=True)
    min_scale = _number(min_scale, "min_scale", positive=False)
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(map(repr, DIRECTIONS))}, not {direction!r}")
    clash = [c for c in _ADDED if c in series_frame.columns]
    if clash:
        raise ValueError(f"series_frame already has column(s) {clash}, which flag() adds; "
                         "drop or rename them first")
    _check_frame(series_frame, value, time, by_cols)

    out = series_frame.sort_values([*by_cols, time], kind="stable").reset_index(drop=True)
    x = out[value].astype("float64")
    keys = [out[c] for c in by_cols] if by_cols else [np.zeros(len(out))]
    grouped = x.groupby(keys, dropna=False, sort=False)
    n = len(out)
    # lags[i, k] = the value k + 1 rows earlier in the same series (NaN before its start)
    lags = (np.column_stack([grouped.shift(k).to_numpy(dtype="float64") for k in range(1, window + 1)])
            if n else np.empty((0, window)))
    present = (~np.isnan(lags)).sum(axis=1)
    judged = present >= min_periods
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: NaN, as intended
        median = np.nanmedian(lags, axis=1) if n else np.empty(0)
        deviation = np.abs(lags - median[:, None])
        mad = np.nanmedian(deviation, axis=1) if n else np.empty(0)
        mean_ad = np.nanmean(deviation, axis=1) if n else np.empty(0)
        scale = np.where(mad > 0, mad / MAD_TO_Z, MEANAD_TO_SIGMA * mean_ad)
        scale = np.maximum(scale, min_scale)
        diff = x.to_numpy() - median
        z = np.where(scale > 0, diff / scale, np.where(diff == 0, 0.0, np.sign(diff) * np.inf))
        z = np.where(np.isnan(diff), np.nan, z)
    nan = np.full(n, np.nan)
    median, mad, scale, z = (np.where(judged, a, nan) for a in (median, mad, scale, z))
    low = -np.inf * np.ones(n) if direction == "up" else median - threshold * scale
    high = np.inf * np.ones(n) if direction == "down" else median + threshold * scale
    hit = {"both": np.abs(z) > threshold, "up": z > threshold, "down": z < -threshold}[direction]

    out["baseline"] = median
    out["mad"] = mad
    out["scale"] = scale
    out["robust_z"] = z
    out["expected_low"] = np.where(judged, low, nan)
    out["expected_high"] = np.where(judged, high, nan)
    out["anomaly"] = (hit & judged & ~np.isnan(z)).astype(bool)
    out["rule"] = _rule(window, threshold, min_periods, direction)
    return out

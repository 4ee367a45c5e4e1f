"""Experiments: A/B readouts for conversion rates and means, sample sizes, sample-ratio checks.

Seed 001 asks to test an idea on a small scale before building it (小范围人工试错);
seed 002 validates its models with A/B tests (A/B测试验证模型效果); seed 000 reports
a click-through lift of 42 % and a payment-rate lift of 8.3 %. This module reads such
tests: each variant against the control, with a test, a confidence interval of the
difference and of the relative lift, the sample size a test needs, and the
sample-ratio-mismatch (SRM) check that should come before any readout.
Definitions: docs/metrics.md ("Experiments").

Per-user data are aggregated in the engine (one row per variant comes back); the
statistics run on those few numbers with scipy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import stats

from opskit import engine
from opskit.compare import two_proportion_test
from opskit.errors import DataError
from opskit.retention import wilson

__all__ = ["conversion_readout", "conversion_test", "mean_readout", "mean_test", "sample_size", "srm_check"]

_Z95 = 1.959964  # the normal quantile opskit.compare.two_proportion_test uses for its 95 % interval


# --- inputs -------------------------------------------------------------------------------


def _table(obj: Any, name: str, columns: Sequence[str]) -> ir.Table:
    if isinstance(obj, pd.DataFrame):
        table = engine.as_table(obj)
    elif isinstance(obj, ir.Table):
        table = obj
    else:
        raise TypeError(f"`{name}` must be a pandas DataFrame or an Ibis table with one row per "
                        f"user, not {type(obj).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError.single(
            name, missing[0], "missing_column", 0,
            f"is needed (columns found: {', '.join(table.columns)})",
            f"pass the column names, e.g. variant=..., or rename the column to `{missing[0]}`")
    return table


def _check_alpha(alpha: float, name: str = "alpha") -> float:
    if not 0 < float(alpha) < 1:
        raise ValueError(f"{name} must be between 0 and 1 (0.05 for 95 % confidence), not {alpha!r}")
    return float(alpha)


def _pick_control(variants: list, control: Any) -> Any:
    if control is None:
        return "control" if "control" in variants else sorted(variants, key=str)[0]
    if control not in variants:
        raise ValueError(f"control {control!r} is not a variant; the variants are "
                         f"{', '.join(map(repr, sorted(variants, key=str)))}")
    return control


def _no_null_variants(table: ir.Table, name: str, variant: str) -> None:
    nulls = int(engine.to_pandas(table.aggregate(n=table[variant].isnull().sum()))["n"].iloc[0] or 0)
    if nulls:
        raise DataError.single(name, variant, "null_variant", nulls, "have no variant",
                               "drop the users who were not assigned, or fill the variant")


def _order(frame: pd.DataFrame, control: Any) -> pd.DataFrame:
    """Control first, then the other variants in sorted order."""
    key = frame["variant"].map(lambda v: (v != control, str(v)))
    return frame.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


# --- conversion rates ---------------------------------------------------------------------


def conversion_test(assignments: Any, /, *, variant: str = "variant", converted: str = "converted",
                    control: Any = None, alpha: float = 0.05) -> pd.DataFrame:
    """A/B readout of a conversion rate: each variant against the control.

    ``assignments`` holds one row per user (the unit that was randomised): the
    ``variant`` they saw and whether they ``converted`` (bool or 0/1; null counts as not
    converted). Users and conversions are counted per variant in the engine; the readout
    is :func:`conversion_readout` on those counts.

    Parameters
    ----------
    assignments
        A pandas DataFrame or an Ibis table, one row per user.
    variant, converted
        Column names.
    control
        The control variant (default: ``"control"`` if there is one, else the first
        variant in sorted order).
    alpha
        Significance level: ``significant`` is ``p_value < alpha`` and the intervals
        have confidence 1 - ``alpha``.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`conversion_readout`.

    Examples
    --------
    >>> users = pd.DataFrame({"variant": ["A"] * 1000 + ["B"] * 1000,
    ...                       "converted": [1] * 100 + [0] * 900 + [1] * 130 + [0] * 870})
    >>> conversion_test(users, control="A")[["variant", "users", "rate", "difference",
    ...                                      "relative_lift", "p_value"]].round(4)
      variant  users  rate  difference  relative_lift  p_value
    0       A   1000  0.10         NaN            NaN      NaN
    1       B   1000  0.13        0.03            0.3   0.0355
    """
    table = _table(assignments, "assignments", (variant, converted))
    _no_null_variants(table, "assignments", variant)
    flag = table[converted]
    flag = flag.cast("int64") if flag.type().is_boolean() else flag.cast("float64")
    counted = table.group_by(table[variant].name("variant")).aggregate(
        users=table.count(), conversions=flag.fill_null(0).sum(),
        bad=((flag != 0) & (flag != 1)).fill_null(False).cast("int64").sum())
    counts = engine.to_pandas(counted)
    bad = int(counts["bad"].sum())
    if bad:
        raise DataError.single("assignments", converted, "not_binary", bad,
                               "are neither 0 nor 1 (true/false)",
                               f"make `{converted}` a flag per user, e.g. conversions > 0")
    return conversion_readout(counts[["variant", "users", "conversions"]], control=control, alpha=alpha)


def conversion_readout(counts: Any, /, *, control: Any = None, alpha: float = 0.05) -> pd.DataFrame:
    """A/B readout of a conversion rate from counts per variant.

    For each variant *t* against the control *c* (rates p = conversions / users):

    * ``difference`` = p_t - p_c, with the unpooled (Wald) interval
      difference ± z(1 - alpha/2) x sqrt(p_t(1-p_t)/n_t + p_c(1-p_c)/n_c);
    * ``z`` and ``p_value``: the two-sided two-proportion z-test with the pooled rate,
      :func:`opskit.compare.two_proportion_test` (z² is Pearson's chi-square of the
      2 x 2 table without continuity correction);
    * ``relative_lift`` = p_t / p_c - 1, with the interval of the log of the rate ratio
      by the delta method (Katz et al. 1978): exp(ln(p_t/p_c) ± z x sqrt((1-p_t)/x_t +
      (1-p_c)/x_c)) - 1, NaN when a group has no conversion;
    * ``rate_ci_low``, ``rate_ci_high``: Wilson interval of each rate.

    Each variant is tested against the control separately, with no correction for
    testing several variants.

    Parameters
    ----------
    counts
        A DataFrame with columns ``variant``, ``users``, ``conversions`` (one row per
        variant), or a mapping ``{variant: (conversions, users)}``.
    control, alpha
        As in :func:`conversion_test`.

    Returns
    -------
    pandas.DataFrame
        One row per variant, control first: ``variant``, ``is_control``, ``users``,
        ``conversions`` (int64), ``rate``, ``rate_ci_low``, ``rate_ci_high``,
        ``difference``, ``ci_low``, ``ci_high``, ``relative_lift``, ``lift_ci_low``,
        ``lift_ci_high``, ``z``, ``p_value``, ``significant`` (bool). The comparison
        columns are NaN (and ``significant`` False) on the control row.

    Examples
    --------
    Seed 002's churn spike, 45 of 574 accounts against 30 of 600 in a normal week:

    >>> out = conversion_readout({"normal": (30, 600), "spike": (45, 574)}, control="normal")
    >>> out[["variant", "rate", "difference", "ci_low", "ci_high", "p_value"]].round(4)
      variant    rate  difference  ci_low  ci_high  p_value
    0  normal  0.0500         NaN     NaN      NaN      NaN
    1   spike  0.0784      0.0284  0.0003   0.0565   0.0467
    """
    alpha = _check_alpha(alpha)
    frame = _counts_frame(counts)
    chosen = _pick_control(frame["variant"].tolist(), control)
    frame = _order(frame, chosen)
    z_crit = float(stats.norm.ppf(1 - alpha / 2))
    base = frame.iloc[0]
    xc, nc = float(base["conversions"]), float(base["users"])
    rows = []
    for row in frame.itertuples():
        x, n = float(row.conversions), float(row.users)
        out = dict.fromkeys(("difference", "ci_low", "ci_high", "relative_lift", "lift_ci_low",
                             "lift_ci_high", "z", "p_value"), math.nan)
        if row.variant != chosen:
            test = two_proportion_test(x, n, xc, nc)
            # compare's interval is the 95 % Wald interval: its half-width / 1.959964 is the
            # standard error, rescaled here to the requested confidence
            se = (test["ci_high"] - test["ci_low"]) / (2 * _Z95)
            out.update(difference=test["difference"], ci_low=test["difference"] - z_crit * se,
                       ci_high=test["difference"] + z_crit * se, z=test["z"], p_value=test["p_value"])
            out.update(_lift(x, n, xc, nc, z_crit))
        rows.append(out)
    stats_frame = pd.DataFrame(rows, index=frame.index, dtype="float64")
    low, high = wilson(frame["conversions"], frame["users"], z=z_crit)
    result = frame.assign(is_control=frame["variant"] == chosen,
                          rate=_rate(frame["conversions"], frame["users"]),
                          rate_ci_low=low, rate_ci_high=high).join(stats_frame)
    result["significant"] = (result["p_value"] < alpha).fillna(False).astype(bool)
    return result[["variant", "is_control", "users", "conversions", "rate", "rate_ci_low", "rate_ci_high",
                   "difference", "ci_low", "ci_high", "relative_lift", "lift_ci_low", "lift_ci_high",
                   "z", "p_value", "significant"]]


def _rate(k: pd.Series, n: pd.Series) -> np.ndarray:
    k, n = k.to_numpy(dtype="float64"), n.to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, k / n, np.nan)


def _lift(x: float, n: float, xc: float, nc: float, z_crit: float) -> dict[str, float]:
    """Relative lift p/pc - 1 and its Katz (log rate ratio, delta method) interval."""
    if not (n and nc and xc):
        return {}
    lift = (x / n) / (xc / nc) - 1
    if not x:
        return {"relative_lift": lift}
    se = math.sqrt(1 / x - 1 / n + 1 / xc - 1 / nc)
    log_ratio = math.log1p(lift)
    return {"relative_lift": lift, "lift_ci_low": math.expm1(log_ratio - z_crit * se),
            "lift_ci_high": math.expm1(log_ratio + z_crit * se)}


def _counts_frame(counts: Any) -> pd.DataFrame:
    if isinstance(counts, Mapping):
        frame = pd.DataFrame([(v, c[1], c[0]) for v, c in counts.items()],
                             columns=["variant", "users", "conversions"])
    elif isinstance(counts, pd.DataFrame):
        missing = [c for c in ("variant", "users", "conversions") if c not in counts.columns]
        if missing:
            raise DataError.single("counts", missing[0], "missing_column", 0,
                                   f"is needed (columns found: {', '.join(map(str, counts.columns))})",
                                   "pass one row per variant with variant, users and conversions")
        frame = counts[["variant", "users", "conversions"]].copy()
    else:
        raise TypeError("`counts` must be a DataFrame (variant, users, conversions) or a mapping "
                        f"{{variant: (conversions, users)}}, not {type(counts).__name__}")
    for col in ("users", "conversions"):
        frame[col] = pd.to_numeric(frame[col]).fillna(0)
    bad = (frame["conversions"] < 0) | (frame["conversions"] > frame["users"]) \
        | (frame["users"] != frame["users"].round()) | (frame["conversions"] != frame["conversions"].round())
    if bad.any():
        shown = tuple((None, f"{r.variant}: {r.conversions} of {r.users}")
                      for r in frame[bad].head(3).itertuples())
        raise DataError.single("counts", "conversions", "bad_counts", int(bad.sum()),
                               "are not whole numbers with 0 <= conversions <= users",
                               "count users and converted users per variant", total=len(frame),
                               examples=shown)
    if frame["variant"].duplicated().any() or len(frame) < 2:
        raise DataError.single("counts", "variant", "variants", len(frame),
                               "must hold two or more distinct variants, one row each",
                               "aggregate the counts per variant")
    return frame.astype({"users": "int64", "conversions": "int64"})


# --- means --------------------------------------------------------------------------------


def mean_test(observations: Any, /, *, variant: str = "variant", value: str = "value",
              control: Any = None, alpha: float = 0.05) -> pd.DataFrame:
    """A/B readout of a mean (revenue per user, time spent): Welch's t-test per variant.

    ``observations`` holds one row per user with their ``variant`` and ``value``; rows
    whose value is null are left out (fill them with 0 first if a missing value means
    none, as for revenue per user). The count, mean and sample standard deviation per
    variant are computed in the engine; the readout is :func:`mean_readout`.

    Parameters
    ----------
    observations
        A pandas DataFrame or an Ibis table, one row per user.
    variant, value
        Column names.
    control, alpha
        As in :func:`conversion_test`.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`mean_readout`.

    Examples
    --------
    >>> obs = pd.DataFrame({"variant": ["A"] * 4 + ["B"] * 4,
    ...                     "value": [10.0, 12.0, 11.0, 13.0, 14.0, 15.0, 13.0, 18.0]})
    >>> mean_test(obs, control="A")[["variant", "users", "mean", "difference", "df", "p_value"]].round(3)
      variant  users  mean  difference   df  p_value
    0       A      4  11.5         NaN  NaN      NaN
    1       B      4  15.0         3.5  4.9     0.04
    """
    table = _table(observations, "observations", (variant, value))
    _no_null_variants(table, "observations", variant)
    if not table[value].type().is_numeric():
        raise DataError.single("observations", value, "wrong_type", 0,
                               f"is {table[value].type()}, but a mean needs numbers",
                               f"pass value=<a numeric column>, or cast `{value}`")
    x = table[value].cast("float64")
    kept = table.filter(x.notnull())
    xs = kept[value].cast("float64")
    summary = engine.to_pandas(kept.group_by(kept[variant].name("variant")).aggregate(
        users=kept.count(), mean=xs.mean(), std=xs.std(how="sample")))
    return mean_readout(summary, control=control, alpha=alpha)


def mean_readout(summary: pd.DataFrame, /, *, control: Any = None, alpha: float = 0.05) -> pd.DataFrame:
    """Welch's t-test of each variant's mean against the control's, from summary statistics.

    For a variant *t* against the control *c* (n users, mean m, sample standard
    deviation s):

    * ``difference`` = m_t - m_c; its standard error se = sqrt(s_t²/n_t + s_c²/n_c);
    * ``t`` = difference / se, with the Welch–Satterthwaite degrees of freedom
      ``df`` = se⁴ / ((s_t²/n_t)²/(n_t-1) + (s_c²/n_c)²/(n_c-1)); ``p_value`` two-sided
      (:func:`scipy.stats.ttest_ind_from_stats` with ``equal_var=False``);
    * ``ci_low``, ``ci_high`` = difference ± t(1 - alpha/2, df) x se;
    * ``relative_lift`` = m_t / m_c - 1, with the delta-method interval of the log of the
      ratio of means: exp(ln(m_t/m_c) ± z(1 - alpha/2) x sqrt(s_t²/(n_t m_t²) +
      s_c²/(n_c m_c²))) - 1 (NaN unless both means are positive).

    Parameters
    ----------
    summary
        One row per variant: ``variant``, ``users`` (n), ``mean``, ``std`` (sample
        standard deviation, ddof 1).
    control, alpha
        As in :func:`conversion_test`.

    Returns
    -------
    pandas.DataFrame
        One row per variant, control first: ``variant``, ``is_control``, ``users``
        (int64), ``mean``, ``std``, ``difference``, ``ci_low``, ``ci_high``,
        ``relative_lift``, ``lift_ci_low``, ``lift_ci_high``, ``t``, ``df``,
        ``p_value``, ``significant`` (bool); comparison columns are NaN on the control
        row, and where a group has fewer than 2 users.

    Examples
    --------
    The car-mileage data of the NIST/SEMATECH e-Handbook (section 1.3.5.3), US against
    Japanese cars: Welch gives t = -12.946 on 136.87 degrees of freedom.

    >>> cars = pd.DataFrame({"variant": ["japan", "us"], "users": [79, 249],
    ...                      "mean": [30.48101, 20.14458], "std": [6.10771, 6.41470]})
    >>> mean_readout(cars, control="japan")[["variant", "difference", "t", "df"]].round(3)
      variant  difference       t       df
    0   japan         NaN     NaN      NaN
    1      us     -10.336 -12.946  136.875
    """
    alpha = _check_alpha(alpha)
    frame = _summary_frame(summary)
    chosen = _pick_control(frame["variant"].tolist(), control)
    frame = _order(frame, chosen)
    base = frame.iloc[0]
    z_crit = float(stats.norm.ppf(1 - alpha / 2))
    rows = []
    for row in frame.itertuples():
        out = dict.fromkeys(("difference", "ci_low", "ci_high", "relative_lift", "lift_ci_low",
                             "lift_ci_high", "t", "df", "p_value"), math.nan)
        if row.variant != chosen and row.users >= 2 and base["users"] >= 2:
            out.update(_welch(row.mean, row.std, row.users, base["mean"], base["std"], base["users"],
                              alpha, z_crit))
        rows.append(out)
    result = frame.assign(is_control=frame["variant"] == chosen).join(
        pd.DataFrame(rows, index=frame.index, dtype="float64"))
    result["significant"] = (result["p_value"] < alpha).fillna(False).astype(bool)
    return result[["variant", "is_control", "users", "mean", "std", "difference", "ci_low", "ci_high",
                   "relative_lift", "lift_ci_low", "lift_ci_high", "t", "df", "p_value", "significant"]]


def _welch(m: float, s: float, n: float, mc: float, sc: float, nc: float, alpha: float,
           z_crit: float) -> dict[str, float]:
    v, vc = s * s / n, sc * sc / nc
    se = math.sqrt(v + vc)
    diff = m - mc
    out = {"difference": diff, "relative_lift": (m / mc - 1) if mc else math.nan}
    if se == 0:
        return out
    df = (v + vc) ** 2 / (v * v / (n - 1) + vc * vc / (nc - 1))
    result = stats.ttest_ind_from_stats(m, s, n, mc, sc, nc, equal_var=False)
    half = float(stats.t.ppf(1 - alpha / 2, df)) * se
    out.update(t=float(result.statistic), df=df, p_value=float(result.pvalue),
               ci_low=diff - half, ci_high=diff + half)
    if m > 0 and mc > 0:
        se_log = math.sqrt(v / (m * m) + vc / (mc * mc))
        log_ratio = math.log(m / mc)
        out.update(lift_ci_low=math.expm1(log_ratio - z_crit * se_log),
                   lift_ci_high=math.expm1(log_ratio + z_crit * se_log))
    return out


def _summary_frame(summary: Any) -> pd.DataFrame:
    if not isinstance(summary, pd.DataFrame):
        raise TypeError("`summary` must be a DataFrame with variant, users, mean and std, "
                        f"not {type(summary).__name__}")
    missing = [c for c in ("variant", "users", "mean", "std") if c not in summary.columns]
    if missing:
        raise DataError.single("summary", missing[0], "missing_column", 0,
                               f"is needed (columns found: {', '.join(map(str, summary.columns))})",
                               "pass one row per variant with variant, users, mean and std")
    frame = summary[["variant", "users", "mean", "std"]].copy()
    frame["users"] = pd.to_numeric(frame["users"]).fillna(0).astype("int64")
    for col in ("mean", "std"):
        frame[col] = pd.to_numeric(frame[col]).astype("float64")
    if frame["variant"].duplicated().any() or len(frame) < 2:
        raise DataError.single("summary", "variant", "variants", len(frame),
                               "must hold two or more distinct variants, one row each",
                               "aggregate the observations per variant")
    return frame


# --- planning -----------------------------------------------------------------------------


def sample_size(baseline_rate: float | Sequence[float], mde: float | Sequence[float], *,
                relative: bool = True, alpha: float = 0.05, power: float = 0.8) -> pd.DataFrame:
    """Users needed per group to detect a change of a conversion rate (two-sided z-test).

    With baseline rate p, target rate p2 = p x (1 + mde) (``relative``) or p + mde,
    and δ = p2 - p, the users per group (Evan Miller's sample-size calculator, the
    formula given in stats.stackexchange.com/q/392979) are

        n = (z(1 - alpha/2) x sqrt(2p(1-p)) + z(power) x sqrt(p(1-p) + p2(1-p2)))² / δ²

    rounded up: the first term is the spread of the difference when there is no effect,
    the second when the effect is δ. Evan Miller's calculator shows 1,030 users per
    variation for a 20 % baseline and a 5-point absolute effect (the formula gives
    1,030.2); opskit rounds up, to 1,031.

    Parameters
    ----------
    baseline_rate
        The control's expected conversion rate, in (0, 1); one value or several.
    mde
        The minimum detectable effect: relative (0.1 = +10 %) or absolute (0.01 = one
        point); one value or several. Negative values plan for a decrease.
    relative
        Whether ``mde`` is relative to the baseline.
    alpha
        Two-sided significance level.
    power
        Probability of detecting an effect of exactly ``mde``.

    Returns
    -------
    pandas.DataFrame
        One row per (baseline_rate, mde) pair: ``baseline_rate``, ``mde``, ``relative``,
        ``target_rate``, ``alpha``, ``power``, ``users_per_group`` and ``total_users``
        (two groups; int64).

    Examples
    --------
    Seed 000 wants the dormant-user reactivation rate from 12 % to 20 %:

    >>> sample_size(0.12, [0.08, 0.02], relative=False)[["mde", "target_rate", "users_per_group"]]
        mde  target_rate  users_per_group
    0  0.08         0.20              279
    1  0.02         0.14             4231
    """
    alpha = _check_alpha(alpha)
    power = _check_alpha(power, "power")
    rows = []
    for p in np.atleast_1d(np.asarray(baseline_rate, dtype="float64")):
        for effect in np.atleast_1d(np.asarray(mde, dtype="float64")):
            p2 = p * (1 + effect) if relative else p + effect
            if not (0 < p < 1 and 0 < p2 < 1 and effect != 0):
                raise ValueError(
                    f"baseline_rate must be in (0, 1) and the target rate "
                    f"({'baseline x (1 + mde)' if relative else 'baseline + mde'}) in (0, 1) and "
                    f"different from it; got baseline_rate={p:g}, mde={effect:g} "
                    f"(relative={relative})")
            n = math.ceil(_n_per_group(float(p), float(p2), alpha, power) - 1e-9)
            rows.append({"baseline_rate": float(p), "mde": float(effect), "relative": bool(relative),
                         "target_rate": float(p2), "alpha": alpha, "power": power,
                         "users_per_group": n, "total_users": 2 * n})
    return pd.DataFrame(rows).astype({"users_per_group": "int64", "total_users": "int64"})


def _n_per_group(p: float, p2: float, alpha: float, power: float) -> float:
    z_a, z_b = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    spread = z_a * math.sqrt(2 * p * (1 - p)) + z_b * math.sqrt(p * (1 - p) + p2 * (1 - p2))
    return spread * spread / (p2 - p) ** 2


# --- sample-ratio mismatch ----------------------------------------------------------------


def srm_check(counts: Any, /, expected_shares: Mapping[Any, float] | None = None, *,
              variant: str = "variant", threshold: float = 0.001) -> pd.DataFrame:
    """Sample-ratio mismatch: do the users per variant match the planned split?

    Pearson's chi-square goodness-of-fit test of the users per variant against the
    planned shares (``scipy.stats.chisquare``, k - 1 degrees of freedom). A mismatch
    (``srm``) is flagged when p < ``threshold``, 0.001 by the common rule (Kohavi, Tang
    and Xu, *Trustworthy Online Controlled Experiments*, 2020): the assignment or the
    logging is broken, and the readout should not be trusted until it is explained.

    Parameters
    ----------
    counts
        Users per variant: a mapping ``{variant: users}``, a Series indexed by variant, a
        DataFrame with ``variant`` and ``users`` columns (the output of
        :func:`conversion_test` will do), or per-user assignments (a DataFrame without a
        ``users`` column, or an Ibis table; counted in the engine).
    expected_shares
        The planned share of each variant (weights, normalised to sum to 1; a variant
        planned but absent counts 0 users). None: an equal split over the variants seen.
    variant
        The variant column of per-user assignments.
    threshold
        The p-value below which a mismatch is flagged.

    Returns
    -------
    pandas.DataFrame
        One row per variant: ``variant``, ``users`` (int64), ``observed_share``,
        ``expected_share``, ``expected_users``, then the test, the same on every row:
        ``chi2``, ``df``, ``p_value``, ``srm`` (bool).

    Examples
    --------
    A 50/50 test with 50,000 users in A and 51,000 in B: chi² = 1000² / 50,500 x 2 =
    9.9, p = 0.0017, not yet a mismatch by the 0.001 rule.

    >>> srm_check({"A": 50_000, "B": 51_000}, {"A": 0.5, "B": 0.5})[
    ...     ["variant", "users", "expected_users", "chi2", "p_value", "srm"]].round(4)
      variant  users  expected_users   chi2  p_value    srm
    0       A  50000         50500.0  9.901   0.0017  False
    1       B  51000         50500.0  9.901   0.0017  False
    """
    threshold = _check_alpha(threshold, "threshold")
    observed = _users_per_variant(counts, variant)
    if expected_shares is None:
        shares = pd.Series(1.0, index=observed.index)
    else:
        shares = pd.Series(dict(expected_shares), dtype="float64")
        if (shares < 0).any() or not shares.sum() > 0:
            raise ValueError(f"expected_shares must be non-negative weights, not {dict(expected_shares)}")
        unplanned = [v for v in observed.index if v not in shares.index and observed[v] > 0]
        if unplanned:
            raise DataError.single(
                "counts", "variant", "unplanned_variant", int(observed[unplanned].sum()),
                f"are in variants the plan does not name ({', '.join(map(str, unplanned))})",
                "add them to expected_shares, or fix the assignment")
        observed = observed.reindex(shares.index, fill_value=0)
    shares = shares / shares.sum()
    if len(observed) < 2:
        raise ValueError("an SRM check needs two or more variants")
    total = float(observed.sum())
    expected = shares.reindex(observed.index).to_numpy() * total
    test = stats.chisquare(observed.to_numpy(dtype="float64"), expected)
    out = pd.DataFrame({"variant": observed.index, "users": observed.to_numpy(dtype="int64"),
                        "observed_share": observed.to_numpy(dtype="float64") / total if total else np.nan,
                        "expected_share": shares.reindex(observed.index).to_numpy(),
                        "expected_users": expected})
    out["chi2"], out["df"] = float(test.statistic), len(observed) - 1
    out["p_value"] = float(test.pvalue)
    out["srm"] = bool(test.pvalue < threshold)
    return out.astype({"df": "int64"})


def _users_per_variant(counts: Any, variant: str) -> pd.Series:
    if isinstance(counts, Mapping):
        observed = pd.Series(dict(counts))
    elif isinstance(counts, pd.Series):
        observed = counts
    elif isinstance(counts, pd.DataFrame) and "users" in counts.columns:
        col = variant if variant in counts.columns else "variant"
        observed = counts.set_index(col)["users"]
    elif isinstance(counts, (pd.DataFrame, ir.Table)):
        table = _table(counts, "assignments", (variant,))
        _no_null_variants(table, "assignments", variant)
        per_variant = table.group_by(table[variant].name("variant")).aggregate(users=table.count())
        frame = engine.to_pandas(per_variant)
        observed = frame.set_index("variant")["users"]
    else:
        raise TypeError("`counts` must be a mapping {variant: users}, a Series, a DataFrame or an "
                        f"Ibis table, not {type(counts).__name__}")
    observed = pd.to_numeric(observed).astype("float64")
    if (observed < 0).any() or (observed != observed.round()).any():
        raise DataError.single("counts", "users", "bad_counts", int(((observed < 0)
                               | (observed != observed.round())).sum()),
                               "are not whole numbers of users", "count users per variant")
    observed.index = list(observed.index)
    return observed.sort_index(key=lambda i: i.map(str)) if not isinstance(counts, Mapping) else observed




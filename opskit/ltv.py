"""Customer lifetime value: the simple formula, and the BG/NBD and Gamma-Gamma models.

Two ways to put a number on what a customer is worth, as seed 000 reasons about LTV
(生命周期价值):

* :func:`simple_ltv`, the back-of-the-envelope formula: ARPU x gross margin x expected
  lifetime, with the expected lifetime 1 / churn periods (optionally discounted).
* the "buy till you die" models of Fader, Hardie and Lee (2005) for non-contractual
  purchases: :func:`rfm_summary` turns a transaction log into each customer's
  ``frequency``, ``recency``, ``T`` and ``monetary_value`` (aggregated in the engine);
  :func:`fit_bgnbd` fits the BG/NBD model of repeat purchases and :func:`fit_gamma_gamma`
  the Gamma-Gamma model of spend per purchase (maximum likelihood with scipy); then
  :func:`predict_purchases`, :func:`prob_alive`, :func:`expected_value` and
  :func:`customer_ltv` score each customer.

The fits reproduce the parameters published for the CDNOW sample (tests/test_ltv_models.py).
Definitions with worked examples: docs/metrics.md, "Customer lifetime value".
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from opskit import _bgnbd, _gamma_gamma, engine
from opskit.errors import DataError

__all__ = [
    "BGNBD",
    "GammaGamma",
    "customer_ltv",
    "expected_value",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "predict_purchases",
    "prob_alive",
    "rfm_summary",
    "simple_ltv",
]


# --- simple LTV -------------------------------------------------------------------------


def simple_ltv(arpu: Any, churn_rate: Any, /, *, gross_margin: float = 1.0,
               discount_rate: float = 0.0) -> Any:
    """Simple lifetime value: ARPU x gross margin x expected lifetime.

    A customer pays ``arpu`` in every period they are still a customer, the current one
    included, and leaves at the end of each period with probability ``churn_rate``; the
    expected lifetime is then ``1 / churn_rate`` periods, and

    ``LTV = arpu x gross_margin / churn_rate``.

    With a ``discount_rate`` d per period (the period-k payment is worth ``1 / (1 + d)^k``
    today), ``LTV = arpu x gross_margin x (1 + d) / (churn_rate + d)``.

    Parameters
    ----------
    arpu
        Revenue per customer per period (ARPU, or ARPA for accounts): a number, an array
        or a pandas Series (for instance a column of
        :func:`opskit.consumer.revenue_metrics` or :func:`opskit.saas.summary`).
    churn_rate
        Share of customers lost per period, in [0, 1], in the same period as ``arpu``
        (:func:`opskit.retention.churn`, :func:`opskit.retention.subscriber_churn`,
        ``saas.summary``'s ``logo_churn``).
    gross_margin
        Share of revenue kept, in [0, 1]; 1 gives a revenue LTV.
    discount_rate
        Discount rate per period, >= 0.

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        The LTV in the currency of ``arpu``: a float for numbers, a Series named ``ltv``
        when an input is a Series. NaN where ``churn_rate + discount_rate`` is 0 (nobody
        ever leaves and money is not discounted: no finite value) or an input is NaN.

    Examples
    --------
    ARPU ¥50 a month, 5 % monthly churn (expected lifetime 20 months), 80 % margin:

    >>> simple_ltv(50, 0.05, gross_margin=0.8)
    800.0
    >>> round(simple_ltv(50, 0.05, gross_margin=0.8, discount_rate=0.01), 2)
    673.33
    >>> arpu = pd.Series([50.0, 300.0], index=["b2c", "b2b"])
    >>> simple_ltv(arpu, pd.Series([0.2, 0.02], index=["b2c", "b2b"]))
    b2c      250.0
    b2b    15000.0
    Name: ltv, dtype: float64
    """
    _fraction("gross_margin", gross_margin)
    if not np.isfinite(discount_rate) or discount_rate < 0:
        raise ValueError(f"discount_rate must be a number >= 0, not {discount_rate!r}")
    churn = np.asarray(churn_rate, dtype="float64")
    if np.any((churn < 0) | (churn > 1)):
        bad = churn[(churn < 0) | (churn > 1)].ravel()[:3].tolist()
        raise ValueError(f"churn_rate must lie in [0, 1] (a share per period), got {bad}")
    if not isinstance(arpu, pd.Series) and not isinstance(churn_rate, pd.Series):
        arpu, churn_rate = np.asarray(arpu, dtype="float64"), churn
    denominator = churn_rate + discount_rate
    with np.errstate(divide="ignore", invalid="ignore"):
        ltv = arpu * gross_margin * (1 + discount_rate) / denominator
    if isinstance(ltv, pd.Series):
        return ltv.where(np.isfinite(ltv.to_numpy(dtype="float64"))).astype("float64").rename("ltv")
    ltv = np.asarray(ltv, dtype="float64")
    ltv = np.where(np.isfinite(ltv), ltv, np.nan)
    return float(ltv) if ltv.ndim == 0 else ltv


def _fraction(name: str, value: float) -> None:
    if not (isinstance(value, (int, float, np.number)) and 0 <= value <= 1):
        raise ValueError(f"{name} must be a number in [0, 1], not {value!r}")


# --- RFM summary ------------------------------------------------------------------------

_FREQ = {"D": "day", "W": "week", "M": "month", "day": "day", "week": "week", "month": "month"}
_DAYS = {"day": 1, "week": 7}
_OUT = ["frequency", "recency", "T"]


def _freq(name: str, value: str, allowed: tuple[str, ...] = tuple(_FREQ)) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, not {value!r}")
    return _FREQ[value]


def _index(ts: ir.TimestampValue, freq: str) -> ir.IntegerValue:
    """Period number of ``ts``: days since 1970-01-01, ISO weeks (Monday start) or months."""
    if freq == "month":
        return (ts.year() * 12 + ts.month() - 1).cast("int64")
    days = (ts.epoch_seconds() / 86_400).floor()
    if freq == "day":
        return days.cast("int64")
    return ((days + 3) / 7).floor().cast("int64")  # 1970-01-01 was a Thursday


def _index_of(ts: pd.Timestamp, freq: str) -> int:
    """The pandas twin of :func:`_index` for one instant."""
    if freq == "month":
        return ts.year * 12 + ts.month - 1
    days = (ts - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1)
    return int(days) if freq == "day" else int((days + 3) // 7)


def _start_day(index: np.ndarray, freq: str) -> np.ndarray:
    """Days since 1970-01-01 of the first day of periods ``index``."""
    if freq == "day":
        return index.astype("float64")
    if freq == "week":
        return index * 7.0 - 3.0
    starts = pd.to_datetime(pd.DataFrame({"year": index // 12, "month": index % 12 + 1, "day": 1}))
    return ((starts - pd.Timestamp("1970-01-01")).dt.days).to_numpy(dtype="float64")


def rfm_summary(transactions: Any, /, *, customer: str = "user_id", time: str = "event_at",
                value: str | None = None, freq: str = "W", observation_end: Any = None,
                unit: str | None = None) -> pd.DataFrame:
    """Per-customer frequency, recency, age and mean repeat value, as BG/NBD models need.

    Each row of ``transactions`` is one purchase of ``customer`` at ``time``. Time is cut
    into calendar periods of ``freq`` (UTC days; ISO weeks, which start on Monday;
    calendar months) and purchases are grouped by period: several purchases in one period
    count once, with their values added up. Then, for each customer (the definitions of
    the ``lifetimes`` package and of Fader, Hardie and Lee 2005):

    * ``frequency`` = number of *repeat* purchase periods = distinct periods with a
      purchase - 1;
    * ``recency`` = age at the last purchase = last purchase period - first purchase
      period (0 when ``frequency`` is 0);
    * ``T`` = age at the end of observation = period of ``observation_end`` - first
      purchase period;
    * ``monetary_value`` (with ``value``) = mean value of the repeat purchase periods, the
      first period left out; 0 when ``frequency`` is 0.

    Parameters
    ----------
    transactions
        A pandas DataFrame or an Ibis table with one row per purchase: an ``events``
        table filtered to purchases, an orders export... Column names are free (see
        ``customer``, ``time``, ``value``); text times in a pandas frame are parsed.
    customer, time
        The customer-id column and the purchase-time column (timestamp or date; tz-naive
        times are UTC).
    value
        The purchase-value column; gives ``monetary_value``. Every row must have one.
    freq
        Period: ``"D"`` (day), ``"W"`` (week, the default) or ``"M"`` (month); ``"day"``,
        ``"week"``, ``"month"`` are accepted too.
    observation_end
        The last day observed (inclusive): purchases after that day are left out, and
        ``T`` runs to the period holding it. Default: the day of the last purchase.
    unit
        Unit of ``recency`` and ``T`` when it differs from ``freq``: ``"D"`` or ``"W"``
        (7 days). Ages are then the exact time between the first days of the periods, so
        ``freq="D", unit="W"`` gives ages in weeks of 7 days with purchases grouped by
        day: the convention of the CDNOW data of Fader, Hardie and Lee.

    Returns
    -------
    pandas.DataFrame
        One row per customer with a purchase by ``observation_end``, sorted by customer:
        the ``customer`` column, ``frequency`` (int64), ``recency``, ``T`` (float64, in
        units of ``freq``, or of ``unit``), then ``monetary_value`` (float64) with
        ``value``.

    Examples
    --------
    Customer a buys on Monday 6 January 2025 (¥10), Wednesday 8 January (¥20) and Monday
    20 January (¥30); b on Wednesday 15 January (¥5). Observed up to Friday 31 January:

    >>> tx = pd.DataFrame({"who": ["a", "a", "a", "b"], "paid": [10.0, 20.0, 30.0, 5.0],
    ...     "at": ["2025-01-06", "2025-01-08 18:00", "2025-01-20", "2025-01-15"]})
    >>> rfm_summary(tx, customer="who", time="at", value="paid", observation_end="2025-01-31")
      who  frequency  recency    T  monetary_value
    0   a          1      2.0  3.0            30.0
    1   b          0      0.0  2.0             0.0
    >>> rfm_summary(tx, customer="who", time="at", value="paid", freq="D", observation_end="2025-01-31")
      who  frequency  recency     T  monetary_value
    0   a          2     14.0  25.0            25.0
    1   b          0      0.0  16.0             0.0
    """
    freq = _freq("freq", freq)
    unit = freq if unit is None else _freq("unit", unit, ("D", "W", "day", "week"))
    table = _transactions(transactions, customer, time, value)
    stats = engine.to_pandas(table.aggregate(
        rows=table.count(), no_customer=table.c.isnull().sum(),
        no_time=table.t.isnull().sum(),
        no_value=table.v.isnull().sum() if value else ibis.literal(0), last=table.t.max()))
    _check_nulls(table, stats.iloc[0], customer, time, value)
    if observation_end is None:
        end = stats["last"].iloc[0]
        if pd.isna(end):
            return _empty(customer, value)
    else:
        end = pd.Timestamp(observation_end)
        if end.tzinfo is not None:
            end = end.tz_convert("UTC").tz_localize(None)
    end_day = end.normalize()
    kept = table.filter(table.t < ibis.timestamp(end_day + pd.Timedelta(days=1)))
    kept = kept.mutate(i=_index(kept.t, freq))
    by_period = kept.group_by(["c", "i"]).aggregate(v=kept.v.sum())
    per_customer = by_period.group_by("c").aggregate(
        periods=by_period.count(), first=by_period.i.min(), last=by_period.i.max(),
        total=by_period.v.sum(), first_value=by_period.v.argmin(by_period.i))
    raw = engine.to_pandas(per_customer)
    if raw.empty:
        return _empty(customer, value)
    raw = raw.sort_values("c", kind="stable").reset_index(drop=True)
    first, last = raw["first"].to_numpy(dtype="int64"), raw["last"].to_numpy(dtype="int64")
    end_index = np.full_like(first, _index_of(end_day, freq))
    out = pd.DataFrame({customer: raw["c"]})
    out["frequency"] = (raw["periods"] - 1).astype("int64")
    out["recency"] = _age(first, last, freq, unit)
    out["T"] = _age(first, end_index, freq, unit)
    if value:
        repeat = out["frequency"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = (raw["total"] - raw["first_value"]).to_numpy(dtype="float64") / repeat
        out["monetary_value"] = np.where(repeat > 0, mean, 0.0)
    return out


def _age(start: np.ndarray, stop: np.ndarray, freq: str, unit: str) -> np.ndarray:
    if unit == freq:
        return (stop - start).astype("float64")
    return (_start_day(stop, freq) - _start_day(start, freq)) / _DAYS[unit]


def _empty(customer: str, value: str | None) -> pd.DataFrame:
    out = pd.DataFrame({customer: pd.Series(dtype="object"), "frequency": pd.Series(dtype="int64"),
                        "recency": pd.Series(dtype="float64"), "T": pd.Series(dtype="float64")})
    if value:
        out["monetary_value"] = pd.Series(dtype="float64")
    return out


def _transactions(obj: Any, customer: str, time: str, value: str | None) -> ir.Table:
    """The transactions as an Ibis table of ``c`` (customer), ``t`` (timestamp), ``v`` (value or 1)."""
    wanted = [customer, time] + ([value] if value else [])
    if isinstance(obj, pd.DataFrame):
        _require(list(obj.columns), wanted)
        frame = pd.DataFrame({"c": obj[customer].to_numpy(), "t": _parse_times(obj[time], time)})
        frame["v"] = pd.to_numeric(obj[value], errors="coerce").to_numpy() if value else 1.0
        if value:
            _check_numbers(obj[value], frame["v"], value)
        return engine.as_table(frame)
    if not isinstance(obj, ir.Table):
        raise TypeError(f"transactions must be a pandas DataFrame or an Ibis table, not {type(obj).__name__}"
                        " (for a Dataset, pass one of its tables, e.g. ds.events filtered to purchases)")
    _require(list(obj.columns), wanted)
    dtype = obj[time].type()
    if dtype.is_date():
        t = obj[time].cast("timestamp")
    elif dtype.is_timestamp():
        t = obj[time]
    else:
        raise DataError.single("transactions", time, "wrong_type", 0,
                               f"is {dtype} in this Ibis table, but purchase times must be timestamps "
                               "or dates",
                               f"cast `{time}` to a timestamp in the database, or load the table "
                               "through opskit.load(...)")
    if value and not obj[value].type().is_numeric():
        raise DataError.single("transactions", value, "wrong_type", 0,
                               f"is {obj[value].type()} in this Ibis table, but values must be numbers",
                               f"cast `{value}` to a number in the database")
    v = obj[value].cast("float64") if value else ibis.literal(1.0)
    return obj.select(c=obj[customer], t=t, v=v)


def _require(columns: list[str], wanted: list[str]) -> None:
    missing = [c for c in wanted if c not in columns]
    if missing:
        shown = ", ".join(map(repr, columns[:12]))
        raise DataError.single("transactions", missing[0], "missing_column", 0,
                               f"is not a column of the transactions (columns: {shown})",
                               "name the right columns with customer=, time= and value=")


def _parse_times(series: pd.Series, name: str) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC").dt.tz_localize(None).reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.reset_index(drop=True)
    parsed = pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
    bad = parsed.isna() & series.notna()
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())
        raise DataError.single(
            "transactions", name, "unparseable_timestamp", int(bad.sum()), "cannot be read as a time",
            f"use ISO dates such as 2025-01-31 or 2025-01-31 13:45 in `{name}`", total=len(series),
            examples=tuple((int(r) + 1, str(series.iloc[r])) for r in rows[:3]))
    return parsed.dt.tz_localize(None).reset_index(drop=True)


def _check_numbers(original: pd.Series, parsed: pd.Series, name: str) -> None:
    bad = parsed.isna().to_numpy() & original.notna().to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError.single(
            "transactions", name, "not_a_number", int(bad.sum()), "are not numbers", f"clean `{name}`",
            total=len(original), examples=tuple((int(r) + 1, str(original.iloc[r])) for r in rows[:3]))


def _check_nulls(table: ir.Table, stats: pd.Series, customer: str, time: str, value: str | None) -> None:
    checks = [(customer, "no_customer", table.c.isnull(), "have no customer id", "t"),
              (time, "no_time", table.t.isnull(), "have no purchase time", "c"),
              (value, "no_value", table.v.isnull(), "have no value", "c")]
    for column, key, is_null, problem, shown in checks:
        if column is None or int(stats[key]) == 0:
            continue
        sample = engine.to_pandas(table.filter(is_null).select(shown).limit(3))[shown]
        label = "time" if shown == "t" else customer
        raise DataError.single(
            "transactions", column, f"null_{key[3:]}", int(stats[key]),
            f"{problem} (the examples are their `{label}`)",
            "drop those rows or fill them in before summarising" + (
                " (a purchase of value 0 is fine)" if column == value else ""),
            total=int(stats["rows"]), examples=tuple((None, None if pd.isna(v) else str(v)) for v in sample))


# --- the models -------------------------------------------------------------------------


@dataclass(frozen=True)
class BGNBD:
    """A fitted BG/NBD model (Fader, Hardie and Lee 2005).

    Attributes
    ----------
    r, alpha
        Shape and scale of the Gamma distribution of purchase rates across customers
        (mean rate ``r / alpha`` purchases per period while alive).
    a, b
        Parameters of the Beta distribution of the probability of dropping out after a
        purchase (mean ``a / (a + b)``).
    log_likelihood
        The maximised log-likelihood.
    customers
        How many customers the fit used.
    converged
        Whether the optimiser reported convergence.
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int
    converged: bool = True

    @property
    def params(self) -> dict[str, float]:
        """``{"r": ..., "alpha": ..., "a": ..., "b": ...}``."""
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


@dataclass(frozen=True)
class GammaGamma:
    """A fitted Gamma-Gamma model of spend per purchase (Fader, Hardie and Lee 2005).

    Attributes
    ----------
    p
        Shape of the Gamma distribution of a purchase's value.
    q, v
        Shape and scale of the Gamma distribution of that distribution's rate across
        customers; the mean value per purchase is ``p v / (q - 1)`` (for q > 1).
    log_likelihood, customers, converged
        As in :class:`BGNBD`; ``customers`` counts those with ``frequency > 0``.
    """

    p: float
    q: float
    v: float
    log_likelihood: float
    customers: int
    converged: bool = True

    @property
    def params(self) -> dict[str, float]:
        """``{"p": ..., "q": ..., "v": ...}``."""
        return {"p": self.p, "q": self.q, "v": self.v}


def _summary(summary: Any, *, monetary: bool = False) -> pd.DataFrame:
    """Check a summary frame (from :func:`rfm_summary` or elsewhere) and return it."""
    if not isinstance(summary, pd.DataFrame):
        raise TypeError("summary must be a pandas DataFrame (from rfm_summary), "
                        f"not {type(summary).__name__}")
    wanted = [*_OUT, "monetary_value"] if monetary else _OUT
    missing = [c for c in wanted if c not in summary.columns]
    if missing:
        fix = ("pass value= to rfm_summary" if missing == ["monetary_value"]
               else "build it with opskit.ltv.rfm_summary")
        raise DataError.single("summary", missing[0], "missing_column", 0, "is missing from the summary", fix)
    cols = {c: pd.to_numeric(summary[c], errors="coerce").to_numpy(dtype="float64") for c in wanted}
    x, t_x, age = cols["frequency"], cols["recency"], cols["T"]
    rules = [
        ("frequency", ~(np.isfinite(x) & (x >= 0) & (x == np.round(x))), "not_a_count",
         "are not whole numbers >= 0"),
        ("recency", ~(np.isfinite(t_x) & (t_x >= 0)), "bad_recency", "are not numbers >= 0"),
        ("T", ~(np.isfinite(age) & (t_x - 1e-9 <= age)), "bad_age", "are smaller than recency (or missing)"),
        ("recency", (x == 0) & (t_x != 0), "recency_without_repeat",
         "are not 0 although frequency is 0 (recency is the age at the last repeat purchase)"),
    ]
    if monetary:
        m = cols["monetary_value"]
        rules.append(("monetary_value", (x > 0) & ~(np.isfinite(m) & (m > 0)), "not_positive",
                      "are not > 0 for customers with repeat purchases (Gamma-Gamma needs positive values)"))
    for column, bad, check, problem in rules:
        if bad.any():
            rows = np.flatnonzero(bad)
            raise DataError.single(
                "summary", column, check, int(bad.sum()), problem,
                "build the summary with opskit.ltv.rfm_summary, or drop those customers",
                total=len(summary),
                examples=tuple((int(r) + 1, str(summary[column].iloc[r])) for r in rows[:3]))
    return summary


def _arrays(summary: pd.DataFrame, *columns: str) -> list[np.ndarray]:
    return [pd.to_numeric(summary[c]).to_numpy(dtype="float64") for c in columns]


def fit_bgnbd(summary: pd.DataFrame, /) -> BGNBD:
    """Fit the BG/NBD model of repeat purchases by maximum likelihood.

    While alive, a customer buys as a Poisson process whose rate is Gamma(``r``,
    ``alpha``) across customers; after every purchase they drop out for good with a
    probability that is Beta(``a``, ``b``) across customers. The likelihood of a
    customer's ``(frequency x, recency t_x, T)`` is equation (6) of Fader, Hardie and Lee
    (2005), "Counting Your Customers the Easy Way":
    ``B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x)) + [x>0] B(a+1, b+x-1)/B(a, b) ·
    Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))``. The sum of its logarithm over customers is
    maximised with scipy's BFGS and the analytic gradient, over log r, log α,
    logit(a / (a + b)) and log(a + b), from two starts.

    When every customer seems to drop out with the same probability, the maximum lies at
    infinity: ``a`` and ``b`` grow without bound with ``a / (a + b)`` fixed. The fit then
    stops at ``a + b`` = 6.6e7 (where the Beta distribution is a point mass for every
    practical purpose) and reports it as converged; likewise ``r`` and ``alpha`` for
    customers who all buy at the same rate.

    Parameters
    ----------
    summary
        Per-customer ``frequency``, ``recency``, ``T`` (:func:`rfm_summary`); the time
        unit of ``recency`` and ``T`` is the unit of ``alpha`` and of predictions.

    Returns
    -------
    BGNBD
        ``r``, ``alpha``, ``a``, ``b`` (also as ``.params``), ``log_likelihood``,
        ``customers``, ``converged``. A fit that did not converge warns.

    Examples
    --------
    The demo's B2C purchases (monthly subscription charges), by month:

    >>> import opskit
    >>> frames = opskit.demo.generate_frames(users=2000, seed=7)
    >>> events, users = frames["events"], frames["users"]
    >>> b2c = users.loc[users["segment"] == "b2c", "user_id"]
    >>> s = rfm_summary(events[(events["revenue"] > 0) & events["user_id"].isin(b2c)], freq="M")
    >>> model = fit_bgnbd(s)
    >>> model.customers, round(model.r / model.alpha, 2)   # customers, mean purchases a month
    (177, 0.66)
    >>> round(model.a / (model.a + model.b), 2)   # mean chance of leaving after a purchase
    0.15
    """
    summary = _summary(summary)
    if len(summary) == 0:
        raise DataError.single("summary", None, "empty", 0, "has no customers", "pass some transactions")
    x, t_x, age = _arrays(summary, *_OUT)
    params, ll, ok = _bgnbd.fit(x, t_x, age)
    if not ok:
        warnings.warn("the BG/NBD fit did not converge: check the summary's units and size",
                      RuntimeWarning, stacklevel=2)
    return BGNBD(*map(float, params), log_likelihood=ll, customers=len(summary), converged=ok)


def fit_gamma_gamma(summary: pd.DataFrame, /) -> GammaGamma:
    """Fit the Gamma-Gamma model of spend per purchase by maximum likelihood.

    A customer's purchase values are Gamma(``p``, ν) with ν Gamma(``q``, ``v``) across
    customers. Only customers with ``frequency > 0`` are used, with ``x`` = frequency and
    ``m`` = monetary_value (the mean of their repeat purchases); the density of ``m`` is
    ``Γ(px+q) / (Γ(px) Γ(q)) · v^q m^(px-1) x^px / (v + x m)^(px+q)`` (Fader and Hardie,
    "The Gamma-Gamma Model of Monetary Value", 2013), and the sum of its logarithm is
    maximised (BFGS over log p, log q and log pv). When every customer always pays the
    same amount (a subscription price), ``p`` grows without bound with ``p v`` fixed; the
    fit stops at ``p`` = 6.6e7. The model assumes that how much a customer spends
    is independent of how often they buy: check that the correlation between
    ``frequency`` and ``monetary_value`` is small.

    Parameters
    ----------
    summary
        Per-customer ``frequency``, ``recency``, ``T``, ``monetary_value``
        (:func:`rfm_summary` with ``value=``); ``monetary_value`` must be > 0 where
        ``frequency`` > 0.

    Returns
    -------
    GammaGamma
        ``p``, ``q``, ``v`` (also as ``.params``), ``log_likelihood``, ``customers``,
        ``converged``.

    Examples
    --------
    Simulated customers with p = 6, q = 4, v = 20 (mean value per purchase 6 x 20 / 3 = 40):

    >>> rng = np.random.default_rng(2)
    >>> x = rng.integers(1, 8, 5000)                 # repeat purchases
    >>> nu = rng.gamma(4, 1 / 20, 5000)              # each customer's rate: Gamma(q, v)
    >>> m = rng.gamma(6 * x, 1 / (nu * x))           # mean of x values drawn from Gamma(p, nu)
    >>> model = fit_gamma_gamma(pd.DataFrame({"frequency": x, "recency": 1.0, "T": 2.0,
    ...                                       "monetary_value": m}))
    >>> round(model.p, 1), round(model.q, 1), round(model.v, 1)
    (7.1, 3.8, 15.9)
    >>> round(model.p * model.v / (model.q - 1), 1)   # the population mean value per purchase
    39.5
    """
    summary = _summary(summary, monetary=True)
    x, m = _arrays(summary, "frequency", "monetary_value")
    repeat = x > 0
    if repeat.sum() < 2:
        raise DataError.single("summary", "frequency", "too_few_repeat", int(repeat.sum()),
                               "have repeat purchases: the Gamma-Gamma fit needs at least 2 such customers",
                               "summarise more transactions or a longer period", total=len(summary))
    params, ll, ok = _gamma_gamma.fit(x[repeat], m[repeat])
    if not ok:
        warnings.warn("the Gamma-Gamma fit did not converge", RuntimeWarning, stacklevel=2)
    return GammaGamma(*map(float, params), log_likelihood=ll, customers=int(repeat.sum()), converged=ok)


def _params(model: Any, names: tuple[str, ...], kind: str) -> np.ndarray:
    if isinstance(model, Mapping):
        missing = [n for n in names if n not in model]
        if missing:
            raise ValueError(f"a {kind} model needs the parameters {', '.join(names)}; missing {missing}")
        values = [model[n] for n in names]
    elif all(hasattr(model, n) for n in names):
        values = [getattr(model, n) for n in names]
    else:
        raise TypeError(f"expected a fitted {kind} model (or a dict of {', '.join(names)}), "
                        f"not {type(model).__name__}")
    params = np.asarray(values, dtype="float64")
    if not np.all(np.isfinite(params) & (params > 0)):
        shown = dict(zip(names, values, strict=True))
        raise ValueError(f"{kind} parameters must be positive numbers, got {shown}")
    return params


_BG = ("r", "alpha", "a", "b")
_GG = ("p", "q", "v")


def prob_alive(model: BGNBD | Mapping[str, float], summary: pd.DataFrame, /) -> pd.Series:
    """Probability that each customer is still alive (has not dropped out) at ``T``.

    ``P(alive | x, t_x, T) = 1 / (1 + [x > 0] · a / (b + x - 1) · ((α + T) / (α + t_x))^(r + x))``
    (Fader, Hardie and Lee, "Computing P(alive) Using the BG/NBD Model", 2008). In the
    BG/NBD a customer can only drop out right after a purchase, so a customer without
    repeat purchases is alive with probability 1; among customers with the same
    ``frequency`` and ``T``, the one who bought more recently is more likely alive.

    Parameters
    ----------
    model
        A :class:`BGNBD` from :func:`fit_bgnbd`, or a dict of ``r, alpha, a, b``.
    summary
        ``frequency``, ``recency``, ``T`` per customer, in the model's time unit.

    Returns
    -------
    pandas.Series
        ``prob_alive`` in [0, 1], with the index of ``summary``.

    Examples
    --------
    With the parameters published for CDNOW (weeks), two customers with 2 repeat purchases
    observed for 38.86 weeks, the last one 30.43 or 5 weeks after their first:

    >>> cdnow = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}
    >>> s = pd.DataFrame({"frequency": [2, 2], "recency": [30.43, 5.0], "T": [38.86, 38.86]})
    >>> prob_alive(cdnow, s).round(3).tolist()
    [0.727, 0.124]
    """
    params = _params(model, _BG, "BG/NBD")
    x, t_x, age = _arrays(_summary(summary), *_OUT)
    return pd.Series(_bgnbd.prob_alive(params, x, t_x, age), index=summary.index, name="prob_alive")


def predict_purchases(model: BGNBD | Mapping[str, float], summary: pd.DataFrame, /, t: float) -> pd.Series:
    """Expected number of purchases of each customer in the next ``t`` periods.

    The BG/NBD conditional expectation, equation (10) of Fader, Hardie and Lee (2005):
    ``E[Y(t) | x, t_x, T] = (a + b + x - 1) / (a - 1) · [1 - ((α + T) / (α + T + t))^(r + x)
    · ₂F₁(r + x, b + x; a + b + x - 1; t / (α + T + t))] · P(alive | x, t_x, T)``.

    Parameters
    ----------
    model
        A :class:`BGNBD` from :func:`fit_bgnbd`, or a dict of ``r, alpha, a, b``.
    summary
        ``frequency``, ``recency``, ``T`` per customer.
    t
        Horizon, in the summary's time unit (52 for a year of weeks).

    Returns
    -------
    pandas.Series
        ``predicted_purchases`` (float64, >= 0), with the index of ``summary``.

    Examples
    --------
    Fader, Hardie and Lee's own example: a CDNOW customer with 2 repeat purchases, the
    last at week 30.43, observed for 38.86 weeks, is expected to buy 1.226 times in the
    next 39 weeks.

    >>> cdnow = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}
    >>> s = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86]})
    >>> round(float(predict_purchases(cdnow, s, 39).iloc[0]), 3)
    1.226
    """
    params = _params(model, _BG, "BG/NBD")
    if not (isinstance(t, (int, float, np.number)) and np.isfinite(t) and t >= 0):
        raise ValueError(f"t must be a number of periods >= 0, not {t!r}")
    x, t_x, age = _arrays(_summary(summary), *_OUT)
    with np.errstate(over="ignore", invalid="ignore"):
        out = _bgnbd.conditional_purchases(params, float(t), x, t_x, age)
    return pd.Series(out, index=summary.index, name="predicted_purchases")


def expected_value(model: GammaGamma | Mapping[str, float], summary: pd.DataFrame, /) -> pd.Series:
    """Expected value of each customer's future purchases (Gamma-Gamma conditional mean).

    ``E[value | x, m] = p (v + x m) / (p x + q - 1)``: a weighted average of the
    population mean ``p v / (q - 1)`` (weight ``(q - 1) / (p x + q - 1)``) and the
    customer's own mean ``m`` (weight ``p x / (p x + q - 1)``), so the more repeat
    purchases, the more the customer's own average counts. Customers with
    ``frequency`` 0 get the population mean.

    Parameters
    ----------
    model
        A :class:`GammaGamma` from :func:`fit_gamma_gamma`, or a dict of ``p, q, v``.
    summary
        ``frequency`` and ``monetary_value`` per customer (and ``recency``, ``T``).

    Returns
    -------
    pandas.Series
        ``expected_value`` (float64), with the index of ``summary``; NaN when ``q <= 1``
        (the population mean is infinite).

    Examples
    --------
    With p = 6, q = 4, v = 15 the population mean is 6 x 15 / 3 = 30; a customer with
    3 repeat purchases averaging 50 is expected to spend 6 (15 + 150) / (18 + 3) = 47.14:

    >>> s = pd.DataFrame({"frequency": [0, 3], "recency": [0.0, 8.0], "T": 10.0,
    ...     "monetary_value": [0.0, 50.0]})
    >>> expected_value({"p": 6, "q": 4, "v": 15}, s).round(2).tolist()
    [30.0, 47.14]
    """
    params = _params(model, _GG, "Gamma-Gamma")
    x, m = _arrays(_summary(summary, monetary=True), "frequency", "monetary_value")
    out = _gamma_gamma.conditional_value(params, x, m) if params[1] > 1 else np.full(len(x), np.nan)
    return pd.Series(out, index=summary.index, name="expected_value")


def customer_ltv(bgnbd: BGNBD | Mapping[str, float], gamma_gamma: GammaGamma | Mapping[str, float],
                 summary: pd.DataFrame, /, *, periods: int, discount_rate: float = 0.0,
                 gross_margin: float = 1.0) -> pd.Series:
    """Each customer's expected value over the next ``periods`` periods, discounted.

    ``LTV = gross_margin × E[value] × Σ_{k=1..periods} (E[Y(k)] - E[Y(k-1)]) / (1 + d)^k``:
    the purchases the BG/NBD model expects in period k (:func:`predict_purchases`
    differenced), valued at the Gamma-Gamma expected value per purchase
    (:func:`expected_value`), discounted at ``d`` per period as if paid at the period's
    end. With ``d = 0`` this is ``gross_margin × E[value] × E[Y(periods)]``.

    Parameters
    ----------
    bgnbd, gamma_gamma
        Fitted models (or dicts of their parameters).
    summary
        ``frequency``, ``recency``, ``T``, ``monetary_value`` per customer.
    periods
        Horizon, in the summary's time unit (52 for a year of weeks).
    discount_rate
        Discount rate per period of the summary, >= 0: for an annual rate R with weekly
        periods, ``(1 + R) ** (1 / 52) - 1``.
    gross_margin
        Share of revenue kept, in [0, 1].

    Returns
    -------
    pandas.Series
        ``ltv`` (float64, in the currency of ``monetary_value``), with the index of
        ``summary``.

    Examples
    --------
    >>> cdnow = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}
    >>> s = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86],
    ...     "monetary_value": [22.35]})
    >>> gg = {"p": 6.25, "q": 3.74, "v": 15.44}
    >>> round(float(customer_ltv(cdnow, gg, s, periods=39).iloc[0]), 2)   # 1.226 purchases x $24.66
    30.24
    """
    if not (isinstance(periods, (int, np.integer)) and periods >= 1):
        raise ValueError(f"periods must be a whole number >= 1, not {periods!r}")
    if not (isinstance(discount_rate, (int, float, np.number)) and np.isfinite(discount_rate)
            and discount_rate >= 0):
        raise ValueError(f"discount_rate must be a number >= 0, not {discount_rate!r}")
    _fraction("gross_margin", gross_margin)
    bg = _params(bgnbd, _BG, "BG/NBD")
    value = expected_value(gamma_gamma, summary).to_numpy()
    x, t_x, age = _arrays(summary, *_OUT)
    total = np.zeros(len(x))
    previous = np.zeros(len(x))
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, int(periods) + 1):
            current = _bgnbd.conditional_purchases(bg, float(k), x, t_x, age)
            total += (current - previous) / (1 + discount_rate) ** k
            previous = current
    return pd.Series(gross_margin * value * total, index=summary.index, name="ltv")

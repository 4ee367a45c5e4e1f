"""opskit.ltv models: the CDNOW parameters of Fader, Hardie and Lee, predictions, simulations."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import check_grad

from opskit import DataError, _bgnbd, _gamma_gamma
from opskit.ltv import (
    BGNBD,
    GammaGamma,
    customer_ltv,
    expected_value,
    fit_bgnbd,
    fit_gamma_gamma,
    predict_purchases,
    prob_alive,
    rfm_summary,
)

CDNOW = Path(__file__).parent / "data" / "cdnow"
# Fader, Hardie and Lee (2005), "Counting your customers the easy way", table/figures of the
# CDNOW sample (39-week calibration period, weeks): r, alpha, a, b and the log-likelihood.
PUBLISHED_BGNBD = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}
# Fader, Hardie and Lee (2005), "RFM and CLV", on the 946 customers with repeat purchases.
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "v": 15.44}


@pytest.fixture(scope="module")
def published_summary() -> pd.DataFrame:
    """The summary as published (times in weeks rounded to 2 decimals)."""
    raw = pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")
    return raw.rename(columns={"ID": "customer_id", "x": "frequency", "t_x": "recency",
                               "zbar": "monetary_value"})


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    """The summary computed by opskit from the raw transactions (exact weeks)."""
    transactions = pd.read_csv(CDNOW / "cdnow_sample.csv")
    return rfm_summary(transactions, customer="customer_id", time="date", value="value",
                       freq="D", unit="W", observation_end="1997-09-30")


def _digits(value: float, published: float) -> bool:
    """``value`` rounded to the decimals ``published`` shows equals it (4.41353 ~ 4.4135)."""
    decimals = len(repr(published).split(".")[1])
    return round(value, decimals) == published


def test_rfm_summary_of_the_raw_transactions_is_the_published_summary(summary, published_summary):
    # purchases grouped by day, ages in weeks of 7 days, calibration period up to 1997-09-30
    assert len(summary) == 2357
    assert summary["customer_id"].tolist() == published_summary["customer_id"].tolist()
    assert summary["frequency"].tolist() == published_summary["frequency"].tolist()
    for column in ("recency", "T", "monetary_value"):  # published rounded to cents / 0.01 week
        np.testing.assert_allclose(summary[column], published_summary[column], rtol=0, atol=0.005 + 1e-9)
    # customer 1: purchases on 1 Jan, 18 Jan and 2 Aug 1997 (and 12 Dec, after the period):
    # x = 2, t_x = 213 days / 7 = 30.43, T = 272 / 7 = 38.86, mean of 29.73 and 14.96 = 22.345
    first = summary.iloc[0]
    assert (first["frequency"], round(first["recency"], 2), round(first["T"], 2)) == (2, 30.43, 38.86)
    assert first["monetary_value"] == pytest.approx(22.345)


def test_bgnbd_reproduces_the_published_cdnow_parameters(summary):
    model = fit_bgnbd(summary)
    assert isinstance(model, BGNBD) and model.converged and model.customers == 2357
    for name, published in PUBLISHED_BGNBD.items():
        assert f"{getattr(model, name):.4g}" == f"{published:.4g}", name  # 4 significant digits
        assert model.params[name] == pytest.approx(published, rel=1e-4)  # and the fifth
    assert round(model.log_likelihood, 1) == -9582.4


def test_bgnbd_on_the_rounded_published_summary_agrees_to_four_digits(published_summary):
    model = fit_bgnbd(published_summary)
    for name, published in PUBLISHED_BGNBD.items():
        assert f"{getattr(model, name):.4g}" == f"{published:.4g}", name


def test_gamma_gamma_reproduces_the_published_cdnow_parameters(summary, published_summary):
    exact = fit_gamma_gamma(summary)
    assert isinstance(exact, GammaGamma) and exact.converged and exact.customers == 946
    for name, published in PUBLISHED_GG.items():  # to every digit published
        assert _digits(getattr(exact, name), published), (name, getattr(exact, name))
    # to 4 significant digits: 6.250, 3.744, 15.44
    assert (f"{exact.p:.4g}", f"{exact.q:.4g}", f"{exact.v:.4g}") == ("6.25", "3.744", "15.44")
    # the summary rounded to cents moves the flat optimum a little: v = 15.4477
    rounded = fit_gamma_gamma(published_summary)
    for name, published in PUBLISHED_GG.items():
        assert rounded.params[name] == pytest.approx(published, abs=0.01), name


def test_gamma_gamma_maximum_is_at_least_as_high_as_lifetimes_printed_estimate(published_summary):
    # lifetimes' docs print p=6.2486, q=3.7443, v=15.4468 for the same data; the likelihood is
    # flat along a ridge there, and opskit's optimum is (slightly) higher
    model = fit_gamma_gamma(published_summary)
    repeat = published_summary[published_summary["frequency"] > 0]
    x, m = repeat["frequency"].to_numpy(float), repeat["monetary_value"].to_numpy(float)
    printed = _gamma_gamma.log_likelihood(np.array([6.2486, 3.7443, 15.4468]), x, m).sum()
    assert model.log_likelihood >= printed


def test_conditional_expectation_matches_fader_hardie_lee(summary):
    # their worked example: x = 2, t_x = 30.43, T = 38.86 -> 1.226 purchases in 39 weeks
    one = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86]})
    assert predict_purchases(fit_bgnbd(summary), one, 39).iloc[0] == pytest.approx(1.226, abs=5e-4)
    assert predict_purchases(PUBLISHED_BGNBD, one, t=39).iloc[0] == pytest.approx(1.226, abs=5e-4)


def test_analytic_gradients_match_finite_differences(published_summary):
    s = published_summary
    x, t_x, age = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    w = np.ones(len(s))
    point = np.log([0.3, 5.0, 0.9, 2.0])
    err = check_grad(lambda p: _bgnbd._objective(p, x, t_x, age, w)[0],
                     lambda p: _bgnbd._objective(p, x, t_x, age, w)[1], point)
    assert err < 1e-3
    rep = s["frequency"] > 0
    xm = s.loc[rep, "frequency"].to_numpy(float), s.loc[rep, "monetary_value"].to_numpy(float)
    ones = np.ones(rep.sum())
    err = check_grad(lambda p: _gamma_gamma._objective(p, *xm, ones)[0],
                     lambda p: _gamma_gamma._objective(p, *xm, ones)[1], np.log([5.0, 3.0, 10.0]))
    assert err < 1e-3


def _simulate_bgnbd(n: int, r: float, alpha: float, a: float, b: float, age: float,
                    seed: int) -> pd.DataFrame:
    """Customers first buying at 0, observed for ``age``: Poisson(lambda) repeat purchases,
    dropping out after each with probability p."""
    rng = np.random.default_rng(seed)
    rate, p = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    now, x, t_x = np.zeros(n), np.zeros(n, dtype=int), np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        now = np.where(active, now + rng.exponential(1 / rate), now)
        active &= now <= age
        x, t_x = np.where(active, x + 1, x), np.where(active, now, t_x)
        active &= rng.random(n) >= p
    return pd.DataFrame({"frequency": x, "recency": t_x, "T": age})


def test_bgnbd_recovers_simulated_parameters():
    truth = {"r": 0.5, "alpha": 4.0, "a": 1.2, "b": 3.0}
    sim = _simulate_bgnbd(20_000, **truth, age=52.0, seed=3)
    model = fit_bgnbd(sim)
    x, t_x, age = (sim[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    at_truth = _bgnbd.log_likelihood(np.array(list(truth.values())), x, t_x, age).sum()
    assert model.log_likelihood >= at_truth  # it is the maximum
    for name, value in truth.items():
        assert model.params[name] == pytest.approx(value, rel=0.2), name
    # the model's expected purchases of new customers over 52 weeks match the simulation
    new = pd.DataFrame({"frequency": [0], "recency": [0.0], "T": [0.0]})
    assert predict_purchases(model, new, 52).iloc[0] == pytest.approx(sim["frequency"].mean(), rel=0.03)


def test_ridges_to_infinity_converge_at_the_cap():
    # everyone drops out with probability 0.3 after a purchase: a, b large, a / (a + b) = 0.3
    # (the finite sample puts the maximum at a + b ~ 90: a spread of p of only 0.05)
    sim = _simulate_bgnbd(5_000, r=2.0, alpha=10.0, a=3e5, b=7e5, age=52.0, seed=5)
    model = fit_bgnbd(sim)
    assert model.converged and model.a + model.b > 50
    assert model.a / (model.a + model.b) == pytest.approx(0.3, abs=0.03)
    # every customer always pays their own price (39 or 69): p -> infinity with p v fixed
    prices = pd.DataFrame({"frequency": [1, 2, 3, 4, 5, 6] * 20, "recency": 1.0, "T": 2.0,
                           "monetary_value": [39.0, 69.0, 39.0, 39.0, 69.0, 39.0] * 20})
    gg = fit_gamma_gamma(prices)
    assert gg.converged and gg.p > 1e6
    np.testing.assert_allclose(expected_value(gg, prices), prices["monetary_value"], rtol=1e-3)


def test_prob_alive_is_higher_for_more_recent_buyers(summary):
    model = fit_bgnbd(summary)
    grid = pd.DataFrame({"frequency": 3, "recency": [2.0, 10.0, 20.0, 30.0, 38.0], "T": 38.0})
    alive = prob_alive(model, grid)
    assert alive.name == "prob_alive" and alive.is_monotonic_increasing and alive.iloc[0] < 0.2
    future = predict_purchases(model, grid, 10)
    assert future.is_monotonic_increasing
    # no repeat purchase: BG/NBD customers only drop out right after a purchase
    assert prob_alive(model, pd.DataFrame({"frequency": [0], "recency": [0.0], "T": [38.0]})).iloc[0] == 1.0
    scored = prob_alive(model, summary)
    assert scored.between(0, 1).all() and scored.index.equals(summary.index)


def test_predictions_grow_with_the_horizon_and_start_at_zero():
    s = pd.DataFrame({"frequency": [0, 2, 7], "recency": [0.0, 20.0, 35.0], "T": [10.0, 38.0, 38.0]},
                     index=["x", "y", "z"])
    by_t = [predict_purchases(PUBLISHED_BGNBD, s, t) for t in (0, 1, 10, 52)]
    assert (by_t[0] == 0).all() and list(by_t[1].index) == ["x", "y", "z"]
    for earlier, later in itertools.pairwise(by_t):
        assert (later > earlier).all()


def test_expected_value_by_hand():
    # p = 6, q = 4, v = 15: population mean 6 * 15 / 3 = 30; x = 3, m = 50: 6 (15 + 150) / 21
    s = pd.DataFrame({"frequency": [0, 3], "recency": [0.0, 8.0], "T": 10.0, "monetary_value": [0.0, 50.0]})
    model = GammaGamma(p=6, q=4, v=15, log_likelihood=0.0, customers=1)
    np.testing.assert_allclose(expected_value(model, s), [30.0, 6 * 165 / 21])
    assert expected_value({"p": 6, "q": 0.5, "v": 15}, s).isna().all()  # q <= 1: infinite mean


def test_customer_ltv_sums_discounted_purchases(summary):
    bg, gg = fit_bgnbd(summary), fit_gamma_gamma(summary)
    head = summary.head(50)
    undiscounted = customer_ltv(bg, gg, head, periods=52)
    # with no discounting: value per purchase x expected purchases in the 52 weeks
    np.testing.assert_allclose(undiscounted, expected_value(gg, head) * predict_purchases(bg, head, 52))
    discounted = customer_ltv(bg, gg, head, periods=52, discount_rate=0.002, gross_margin=0.5)
    assert discounted.name == "ltv" and (discounted < 0.5 * undiscounted).all()
    assert (discounted > 0.5 * undiscounted / 1.002**52).all()


def test_bad_summaries_and_models_are_refused(summary):
    with pytest.raises(DataError, match=r"monetary_value.*value="):
        fit_gamma_gamma(summary.drop(columns="monetary_value"))
    bad = summary.head(3).assign(recency=[1.0, 0.0, 0.0])  # customer 1 has x = 2; 2 and 3 have x = 0
    bad.loc[0, "frequency"] = 0
    with pytest.raises(DataError, match=r"summary.recency: 1 of 3 rows are not 0 although frequency is 0"):
        fit_bgnbd(bad)
    with pytest.raises(DataError, match=r"summary.T: 1 of 2 rows are smaller than recency"):
        fit_bgnbd(pd.DataFrame({"frequency": [1, 1], "recency": [5.0, 1.0], "T": [4.0, 3.0]}))
    with pytest.raises(DataError, match="not > 0"):
        fit_gamma_gamma(summary.assign(monetary_value=-summary["monetary_value"]))
    with pytest.raises(ValueError, match="missing"):
        prob_alive({"r": 1, "alpha": 1}, summary)
    with pytest.raises(TypeError, match="fitted BG/NBD"):
        prob_alive("model", summary)
    with pytest.raises(ValueError, match="periods"):
        customer_ltv(PUBLISHED_BGNBD, PUBLISHED_GG, summary, periods=0)
    with pytest.raises(ValueError, match="t must be"):
        predict_purchases(PUBLISHED_BGNBD, summary, -1)

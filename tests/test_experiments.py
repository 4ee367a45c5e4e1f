"""opskit.experiments: hand-computed readouts, published examples, scipy references, demo, engines."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

import opskit
from opskit.experiments import (
    _n_per_group,
    conversion_readout,
    conversion_test,
    mean_readout,
    mean_test,
    sample_size,
    srm_check,
)

READOUT = ["variant", "is_control", "users", "conversions", "rate", "rate_ci_low", "rate_ci_high",
           "difference", "ci_low", "ci_high", "relative_lift", "lift_ci_low", "lift_ci_high", "z",
           "p_value", "significant"]


def _users(counts: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """One row per user: ``counts`` is {variant: (conversions, users)}."""
    return pd.DataFrame([(v, i < x) for v, (x, n) in counts.items() for i in range(n)],
                        columns=["variant", "converted"])


def test_conversion_readout_by_hand():
    got = conversion_test(_users({"A": (100, 1000), "B": (130, 1000)}), control="A")
    assert got.columns.tolist() == READOUT
    a, b = got.iloc[0], got.iloc[1]
    assert a["is_control"] and not b["is_control"] and np.isnan(a["difference"]) and not a["significant"]
    assert (b["users"], b["conversions"], b["rate"]) == (1000, 130, 0.13)
    assert b["difference"] == pytest.approx(0.03)
    # pooled rate 230/2000 = 0.115; se = sqrt(0.115 x 0.885 x 2/1000) = 0.0142671; z = 0.03 / se
    assert b["z"] == pytest.approx(2.10274, abs=1e-5)
    assert b["p_value"] == pytest.approx(0.035488, abs=1e-6) and b["significant"]
    # unpooled se = sqrt(0.1 x 0.9 / 1000 + 0.13 x 0.87 / 1000) = 0.0142513; 0.03 -/+ 1.959964 se
    assert b["ci_low"] == pytest.approx(0.002068, abs=1e-6)
    assert b["ci_high"] == pytest.approx(0.057932, abs=1e-6)
    # lift 0.13 / 0.10 - 1 = 0.3; log-ratio se = sqrt(1/130 - 1/1000 + 1/100 - 1/1000) = 0.125269
    # exp(ln 1.3 -/+ 1.959964 x 0.125269) - 1
    assert b["relative_lift"] == pytest.approx(0.3)
    assert (b["lift_ci_low"], b["lift_ci_high"]) == (pytest.approx(0.016984, abs=1e-6),
                                                     pytest.approx(0.661776, abs=1e-6))
    wide = conversion_readout({"A": (100, 1000), "B": (130, 1000)}, control="A", alpha=0.01).iloc[1]
    assert wide["ci_low"] == pytest.approx(0.03 - 2.575829 * 0.0142513, abs=1e-6)   # 99 %: z = 2.5758
    assert not wide["significant"]                                                  # p 0.035 > 0.01


def test_control_defaults_and_several_variants():
    got = conversion_readout({"b": (12, 100), "control": (10, 100), "a": (15, 100)})
    assert got["variant"].tolist() == ["control", "a", "b"]
    assert got["is_control"].tolist() == [True, False, False]
    assert conversion_readout({"y": (1, 10), "x": (2, 10)})["variant"].tolist() == ["x", "y"]
    zero = conversion_readout({"c": (0, 50), "t": (3, 50)}, control="c").iloc[1]
    assert np.isnan(zero["relative_lift"]) and np.isnan(zero["lift_ci_low"])   # no control conversions


def test_evan_millers_sample_size():
    # evanmiller.org/ab-testing/sample-size.html, its defaults: baseline 20 %, minimum detectable
    # effect 5 points (absolute), power 80 %, significance 5 %: "1,030" per variation
    exact = _n_per_group(0.2, 0.25, 0.05, 0.8)
    assert exact == pytest.approx(1030.2, abs=0.05) and round(exact) == 1030
    got = sample_size(0.2, 0.05, relative=False)
    assert got.columns.tolist() == ["baseline_rate", "mde", "relative", "target_rate", "alpha", "power",
                                    "users_per_group", "total_users"]
    assert got[["users_per_group", "total_users"]].iloc[0].tolist() == [1031, 2062]   # rounded up
    relative = sample_size(0.2, 0.25)   # +25 % of 20 % is the same 5 points
    assert relative["target_rate"].iloc[0] == pytest.approx(0.25)
    assert relative["users_per_group"].iloc[0] == 1031
    assert len(sample_size([0.1, 0.2], [0.1, 0.2, -0.1])) == 6


@settings(max_examples=25, deadline=None)
@given(st.floats(0.01, 0.6), st.floats(0.05, 0.6), st.sampled_from([0.01, 0.05, 0.1]),
       st.sampled_from([0.8, 0.9]))
def test_sample_size_is_the_smallest_n_with_the_power(p, mde, alpha, power):
    n = int(sample_size(p, mde, alpha=alpha, power=power)["users_per_group"].iloc[0])
    p2 = p * (1 + mde)
    z_a = stats.norm.ppf(1 - alpha / 2)
    sd0, sd1 = math.sqrt(2 * p * (1 - p)), math.sqrt(p * (1 - p) + p2 * (1 - p2))

    def achieved(m: int) -> float:  # P(z > z_a) when the true difference is p2 - p
        return stats.norm.cdf(((p2 - p) * math.sqrt(m) - z_a * sd0) / sd1)

    assert achieved(n) >= power - 1e-9 and (n == 1 or achieved(n - 1) < power)


def test_welch_on_the_nist_car_mileage_data():
    # NIST/SEMATECH e-Handbook 1.3.5.3 (data AUTO83B), unequal-variance case as printed in the
    # Boost.Math documentation ("Comparing the means of two samples with the Students-t test"):
    # df = 136.87, t = -12.946, p = 1.571e-25
    cars = pd.DataFrame({"variant": ["us", "japan"], "users": [249, 79], "mean": [20.14458, 30.48101],
                         "std": [6.41470, 6.10771]})
    us = mean_readout(cars, control="japan").iloc[1]
    assert us["df"] == pytest.approx(136.87, abs=0.005) and us["t"] == pytest.approx(-12.946, abs=5e-4)
    assert us["p_value"] == pytest.approx(1.571e-25, rel=1e-3) and us["significant"]


def test_welch_confidence_interval_like_r():
    # R: t.test(c(11,9,10,11,10,12,9,11,12,9), c(11,13,10,13,12,9,11,12,12,11)) (Welch by default):
    # t = -1.8325, df = 17.9, p-value = 0.08356, 95 percent CI -2.1469104 0.1469104
    ts1, ts2 = [11, 9, 10, 11, 10, 12, 9, 11, 12, 9], [11, 13, 10, 13, 12, 9, 11, 12, 12, 11]
    obs = pd.DataFrame({"variant": ["x"] * 10 + ["y"] * 10, "value": ts1 + ts2})
    x = mean_test(obs, control="y").iloc[1]
    assert (x["mean"], x["difference"]) == (10.4, pytest.approx(-1.0))
    assert x["t"] == pytest.approx(-1.8325, abs=5e-5) and x["df"] == pytest.approx(17.9, abs=5e-3)
    assert x["p_value"] == pytest.approx(0.08356, abs=5e-6) and not x["significant"]
    assert x["ci_low"] == pytest.approx(-2.1469104, abs=1e-6)
    assert x["ci_high"] == pytest.approx(0.1469104, abs=1e-6)
    # lift -1 / 11.4; log-ratio se = sqrt(s_x²/(10 x 10.4²) + s_y²/(10 x 11.4²))
    se = math.sqrt(obs.value[:10].var() / (10 * 10.4**2) + obs.value[10:].var() / (10 * 11.4**2))
    assert x["relative_lift"] == pytest.approx(10.4 / 11.4 - 1)
    assert x["lift_ci_high"] == pytest.approx(math.exp(math.log(10.4 / 11.4) + 1.959964 * se) - 1, abs=1e-6)


def test_nulls_are_left_out_of_means():
    obs = pd.DataFrame({"variant": ["a", "a", "a", "b", "b", "b"], "value": [1.0, None, 3.0, 2.0, 4.0, 6.0]})
    got = mean_test(obs, control="a")
    assert got["users"].tolist() == [2, 3] and got["mean"].tolist() == [2.0, 4.0]


def test_srm_by_hand():
    # 90/10 plan, 9,000 and 1,100 users: expected 9,090 and 1,010;
    # chi2 = 90²/9090 + 90²/1010 = 0.891 + 8.020 = 8.911, 1 df
    got = srm_check({"control": 9000, "treatment": 1100}, {"control": 0.9, "treatment": 0.1})
    assert got.columns.tolist() == ["variant", "users", "observed_share", "expected_share", "expected_users",
                                    "chi2", "df", "p_value", "srm"]
    assert got["expected_users"].tolist() == pytest.approx([9090, 1010])
    assert got["chi2"].iloc[0] == pytest.approx(8.9109, abs=1e-4) and got["df"].iloc[0] == 1
    assert got["p_value"].iloc[0] == pytest.approx(0.002835, abs=1e-6) and not got["srm"].any()
    assert srm_check({"control": 9000, "treatment": 1200}, {"control": 9, "treatment": 1})["srm"].all()
    equal = srm_check(_users({"a": (0, 30), "b": (0, 10)}))     # per-user rows, equal split by default
    assert equal["users"].tolist() == [30, 10] and equal["chi2"].iloc[0] == pytest.approx(10.0)
    assert srm_check(conversion_test(_users({"a": (1, 30), "b": (2, 30)})))["chi2"].iloc[0] == 0
    planned = srm_check({"a": 50}, {"a": 0.5, "b": 0.5})        # b planned, no user got it
    assert planned["users"].tolist() == [50, 0] and planned["srm"].all()


def test_bad_inputs_are_named():
    with pytest.raises(opskit.DataError, match=r"assignments\.converted"):
        conversion_test(pd.DataFrame({"variant": ["a", "b"], "converted": [2, 0]}))
    with pytest.raises(opskit.DataError, match=r"assignments\.variant: 1 rows have no variant"):
        conversion_test(pd.DataFrame({"variant": ["a", None, "b"], "converted": [1, 0, 0]}))
    with pytest.raises(opskit.DataError, match=r"assignments\.clicked"):
        conversion_test(pd.DataFrame({"variant": ["a"]}), converted="clicked")
    with pytest.raises(opskit.DataError, match=r"counts\.conversions"):
        conversion_readout({"a": (5, 3), "b": (1, 3)})
    with pytest.raises(ValueError, match="control 'z' is not a variant"):
        conversion_readout({"a": (1, 3), "b": (1, 3)}, control="z")
    with pytest.raises(ValueError, match="alpha"):
        conversion_readout({"a": (1, 3), "b": (1, 3)}, alpha=5)
    with pytest.raises(ValueError, match="target rate"):
        sample_size(0.6, 1.0)
    with pytest.raises(opskit.DataError, match="the plan does not name"):
        srm_check({"a": 5, "c": 5}, {"a": 1, "b": 1})
    with pytest.raises(opskit.DataError, match=r"observations\.value"):
        mean_test(pd.DataFrame({"variant": ["a", "b"], "value": ["x", "y"]}))


# --- scipy references ------------------------------------------------------------------------

COUNTS = st.tuples(st.integers(1, 400), st.integers(1, 400)).map(lambda t: (min(t), max(t)))


@settings(max_examples=25, deadline=None)
@given(COUNTS, COUNTS)
def test_z_test_is_the_chi_square_of_the_two_by_two_table(control, treatment):
    (xc, nc), (xt, nt) = control, treatment
    assume(0 < xc + xt < nc + nt)
    got = conversion_readout({"c": (xc, nc), "t": (xt, nt)}, control="c").iloc[1]
    chi2, p, _, _ = stats.chi2_contingency([[xt, nt - xt], [xc, nc - xc]], correction=False)
    assert got["z"] ** 2 == pytest.approx(chi2, rel=1e-9) and got["p_value"] == pytest.approx(p, rel=1e-6)
    ratio = stats.contingency.relative_risk(xt, nt, xc, nc)
    low, high = ratio.confidence_interval(confidence_level=0.95)   # Katz et al. (1978), as here
    if xt:
        assert got["lift_ci_low"] + 1 == pytest.approx(low, rel=1e-6)
        assert got["lift_ci_high"] + 1 == pytest.approx(high, rel=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.booleans()), min_size=4, max_size=60))
def test_conversion_test_counts_like_pandas(rows):
    frame = pd.DataFrame(rows, columns=["arm", "paid"])
    assume(frame["arm"].nunique() >= 2)
    got = conversion_test(frame, variant="arm", converted="paid").set_index("variant")
    ref = frame.groupby("arm")["paid"].agg(["size", "sum"])
    assert got["users"].to_dict() == ref["size"].to_dict()
    assert got["conversions"].to_dict() == ref["sum"].astype(int).to_dict()


SAMPLE = st.lists(st.floats(-1000, 1000, allow_nan=False), min_size=2, max_size=30)


@settings(max_examples=25, deadline=None)
@given(SAMPLE, SAMPLE)
def test_welch_matches_scipy(a, b):
    assume(np.var(a) > 1e-6 and np.var(b) > 1e-6)
    obs = pd.DataFrame({"variant": ["a"] * len(a) + ["b"] * len(b), "value": a + b})
    got = mean_test(obs, control="a").iloc[1]
    ref = stats.ttest_ind(b, a, equal_var=False)
    low, high = ref.confidence_interval(confidence_level=0.95)
    assert got["t"] == pytest.approx(ref.statistic, rel=1e-6, abs=1e-9)
    assert got["p_value"] == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-12)
    assert got["df"] == pytest.approx(ref.df, rel=1e-6)
    assert (got["ci_low"], got["ci_high"]) == (pytest.approx(low, rel=1e-6, abs=1e-6),
                                               pytest.approx(high, rel=1e-6, abs=1e-6))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5000), st.floats(0.05, 1)), min_size=2, max_size=5))
def test_srm_matches_scipy_chisquare(arms):
    assume(sum(n for n, _ in arms) > 0)
    counts = {f"v{i}": n for i, (n, _) in enumerate(arms)}
    shares = {f"v{i}": w for i, (_, w) in enumerate(arms)}
    got = srm_check(counts, shares)
    total, weight = sum(counts.values()), sum(shares.values())
    ref = stats.chisquare(list(counts.values()), [total * w / weight for w in shares.values()])
    assert got["chi2"].iloc[0] == pytest.approx(ref.statistic, rel=1e-9, abs=1e-9)
    assert got["p_value"].iloc[0] == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)
    assert got["srm"].iloc[0] == (ref.pvalue < 0.001)


# --- the demo -----------------------------------------------------------------------------------


def test_wechat_converts_best_in_the_demo():
    # docs/demo.md, finding 3: 微信 272 of 1,317 acquired users paid (20.7 %), 百度搜索 183 of 1,599
    frames = opskit.demo.generate_frames(users=20_000, seed=7)
    users, conv = frames["users"], frames["conversions"]
    acquired = users[(users.signup_at >= "2025-01-01") & users.channel.isin(["微信", "百度搜索"])]
    paid = set(conv.user_id[conv.kind == "paid"])
    frame = pd.DataFrame({"variant": acquired.channel, "converted": acquired.user_id.isin(paid)})
    got = conversion_test(frame, control="百度搜索").set_index("variant")
    wechat = got.loc["微信"]
    assert (wechat["conversions"], wechat["users"]) == (272, 1317)
    assert got.loc["百度搜索", "conversions"] == 183 and got.loc["百度搜索", "users"] == 1599
    assert wechat["significant"] and wechat["p_value"] < 1e-8
    assert wechat["relative_lift"] == pytest.approx((272 / 1317) / (183 / 1599) - 1)
    assert wechat["lift_ci_low"] > 0.4            # at least +40 % with 95 % confidence


# --- engines --------------------------------------------------------------------------------------


@pytest.mark.spark
def test_spark_gives_the_same_readouts(tmp_path, spark_backend):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"variant": rng.choice(["control", "new"], 500), "converted": rng.random(500) < 0.2,
                          "value": rng.gamma(2.0, 10.0, 500)})
    frame.to_parquet(tmp_path / "ab.parquet", index=False)
    table = spark_backend.read_parquet(str(tmp_path / "ab.parquet"), table_name="ab_test")
    pd.testing.assert_frame_equal(conversion_test(table), conversion_test(frame))
    pd.testing.assert_frame_equal(mean_test(table), mean_test(frame), rtol=1e-9)
    pd.testing.assert_frame_equal(srm_check(table), srm_check(frame))

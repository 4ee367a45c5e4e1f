"""Promotion cannibalisation and the two-proportion test of opskit.compare, by hand and on the demo."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit.compare import cannibalisation, two_proportion_test

USERS = pd.DataFrame({
    "user_id": ["a", "a2", "b", "c", "d"],
    "signup_at": ["2025-01-01", "2025-03-01", "2025-01-01", "2025-01-01", "2025-01-01"],
    "account_id": ["A", "A", "B", "C", None],
    "segment": ["b2b", "b2c", "b2b", "b2b", "b2c"],   # A's first user (a) makes A b2b
})
SUBS = pd.DataFrame({
    "account_id": ["A", "B", "C"],
    "started_at": ["2025-02-01", "2025-10-01", "2025-11-05"],   # C starts inside the promotion
    "ended_at": [None, "2025-10-20", None],                     # B lapsed before it
    "mrr": [100.0, 100.0, 80.0],
})
CONV = pd.DataFrame({
    "user_id": ["a2", "b", "c", "d", "d", "a"],
    "converted_at": ["2025-11-02", "2025-11-03", "2025-11-05", "2025-11-06", "2025-10-01",
                     "2025-11-20"],
    "value": [800.0, 400.0, 960.0, 40.0, 30.0, 999.0],
    "kind": ["promotion", "promotion", "promotion", "promotion", "paid", "promotion"],
})
EVENTS = pd.DataFrame({"user_id": ["a"], "event_at": ["2025-01-01"], "event": ["login"]})
WINDOW = {"promo_start": "2025-11-01", "promo_end": "2025-11-12"}


def _ds(**frames):
    base = {"users": USERS, "subscriptions": SUBS, "conversions": CONV, "events": EVENTS}
    return opskit.Dataset.from_frames(**{k: v for k, v in {**base, **frames}.items() if v is not None})


def test_buyers_are_accounts_and_already_paying_means_a_subscription_at_the_start():
    out = cannibalisation(_ds(), **WINDOW, discount=0.2).set_index("segment")
    # b2b buyers: A (a2 bought for the account, paying since Feb), B (lapsed), C (new in the window)
    assert out.loc["b2b", ["buyers", "already_paying"]].tolist() == [3, 1]
    assert out.loc["b2b", "revenue"] == 800 + 400 + 960
    assert out.loc["b2b", "revenue_already_paying"] == 800
    assert out.loc["b2b", "revenue_share_already_paying"] == pytest.approx(800 / 2160)
    assert out.loc["b2b", "discount_given"] == pytest.approx(2160 * 0.25)   # 20 % off: paid 80 %
    assert out.loc["b2b", "discount_to_already_paying"] == pytest.approx(200)
    # d has no account and no subscription: a buyer of its own, not paying before
    assert out.loc["b2c", ["buyers", "already_paying"]].tolist() == [1, 0]
    assert out.loc["all", "buyers"] == 4 and out.loc["all", "already_paying"] == 1


def test_without_subscriptions_an_earlier_paid_conversion_counts_as_paying():
    out = cannibalisation(_ds(subscriptions=None), **WINDOW, by=None)
    # d paid on 2025-10-01; nobody else converted before the window
    assert out.loc[0, ["buyers", "already_paying"]].tolist() == [4, 1]
    assert out["discount_given"].isna().all()  # no discount rate given


def test_kinds_none_takes_every_conversion_in_the_window():
    paid_too = CONV.assign(kind=["paid", "promotion", "promotion", "promotion", "paid", "promotion"])
    only_promo = cannibalisation(_ds(conversions=paid_too), **WINDOW, by=None)
    everything = cannibalisation(_ds(conversions=paid_too), **WINDOW, by=None, kinds=None)
    assert (only_promo.loc[0, "buyers"], everything.loc[0, "buyers"]) == (3, 4)


def test_bad_arguments_are_refused_clearly():
    with pytest.raises(ValueError, match=r"promo_start .* must be before promo_end"):
        cannibalisation(_ds(), promo_start="2025-11-12", promo_end="2025-11-01")
    with pytest.raises(ValueError, match="rate from 0 to 1"):
        cannibalisation(_ds(), **WINDOW, discount=20)
    with pytest.raises(opskit.DataError, match=r"users\.plan_tier"):
        cannibalisation(_ds(), **WINDOW, by="plan_tier")
    with pytest.raises(TypeError, match=r"needs an opskit\.Dataset"):
        cannibalisation(CONV, **WINDOW)


def test_the_planted_promotion_is_mostly_cannibalised(demo_frames):
    ds = opskit.Dataset.from_frames(**demo_frames(2_000, 7))
    dates = opskit.demo.key_dates()
    out = cannibalisation(ds, promo_start=dates["promo_start"], promo_end=dates["promo_end"],
                          discount=0.2).set_index("segment")
    assert out.loc["b2b", "share_already_paying"] > 0.75
    assert out.loc["b2b", "buyers"] == out.loc["all", "buyers"]  # a B2B-only offer


# --- the significance test used by compare.segments -------------------------------------

def test_two_proportion_test_by_hand():
    # 45/574 = 7.84 % against 30/600 = 5 %: pooled 75/1174, se = sqrt(p(1-p)(1/574 + 1/600))
    r = two_proportion_test(45, 574, 30, 600)
    pooled = 75 / 1174
    se = (pooled * (1 - pooled) * (1 / 574 + 1 / 600)) ** 0.5
    assert r["z"] == pytest.approx((45 / 574 - 0.05) / se)
    assert r["p_value"] == pytest.approx(0.0467, abs=5e-4)
    assert r["ci_low"] < r["difference"] < r["ci_high"]
    assert two_proportion_test(1, 0, 1, 5)["p_value"] != two_proportion_test(1, 0, 1, 5)["p_value"]


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 200), st.integers(1, 200), st.integers(0, 200), st.integers(1, 200))
def test_z_squared_is_pearsons_chi_square(x1, n1, x2, n2):
    x1, x2 = min(x1, n1), min(x2, n2)
    r = two_proportion_test(x1, n1, x2, n2)
    table = [[x1, n1 - x1], [x2, n2 - x2]]
    total = n1 + n2
    cols = [x1 + x2, total - x1 - x2]
    if 0 in cols:
        assert r["z"] != r["z"]  # NaN: nothing to test when everyone (or no one) converted
        return
    chi2 = sum((table[i][j] - [n1, n2][i] * cols[j] / total) ** 2 / ([n1, n2][i] * cols[j] / total)
               for i in range(2) for j in range(2))
    assert r["z"] ** 2 == pytest.approx(chi2, rel=1e-9, abs=1e-9)

"""The demo generator: determinism, the data contract, and the planted findings.

The findings are measured with plain pandas written here from the definitions
in ``opskit.demo.FINDINGS`` (no helper from the module under test).
"""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np
import pandas as pd
import pytest

from opskit import demo
from opskit.schema import TABLES

START, DAYS = "2025-01-01", 365
T0 = pd.Timestamp(START)
END = T0 + pd.Timedelta(days=DAYS)
WEEK, MONTH = pd.Timedelta(days=7), pd.Timedelta(days=30)

REQUIRED = {name: spec.required for name, spec in TABLES.items()}  # the contract, from one place
IDS = {"user_id", "account_id", "opportunity_id", "ticket_id", "session_id"}
MONEY = {"revenue", "value", "cost", "mrr", "amount"}


@pytest.fixture(scope="module")
def frames(demo_frames) -> dict[str, pd.DataFrame]:
    return demo_frames(20_000, 7)


@pytest.fixture(scope="module", params=[7, 2024])
def seeded(request, frames) -> dict[str, pd.DataFrame]:
    """The findings must hold for the default seed and for another one."""
    return frames if request.param == 7 else demo.generate_frames(users=20_000, seed=request.param)


# --- determinism ----------------------------------------------------------------------
def test_same_seed_gives_identical_frames():
    a, b = demo.generate_frames(users=1_500, seed=3), demo.generate_frames(users=1_500, seed=3)
    assert a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])


def test_different_seed_gives_different_frames():
    a, b = demo.generate_frames(users=1_500, seed=3), demo.generate_frames(users=1_500, seed=4)
    assert not a["events"].equals(b["events"])
    assert not a["users"]["signup_at"].equals(b["users"]["signup_at"])


# --- the data contract ----------------------------------------------------------------
def test_tables_have_required_columns_and_types(frames):
    assert set(frames) == set(REQUIRED)
    for name, frame in frames.items():
        assert len(frame), name
        assert set(REQUIRED[name]) <= set(frame.columns), name
        for col in frame.columns:
            dtype = frame[col].dtype
            if col in IDS:
                assert pd.api.types.is_string_dtype(dtype), (name, col)
                assert all(isinstance(v, str) for v in frame[col].dropna().head(50)), (name, col)
            elif col.endswith("_at") or col in ("date", "period_start", "period_end"):
                assert dtype.kind == "M" and getattr(dtype, "tz", None) is None, (name, col)
            elif col in MONEY or col in ("duration_s", "impressions", "clicks", "satisfaction"):
                assert dtype == np.float64, (name, col)


def test_keys_are_never_null(frames):
    for name, cols in REQUIRED.items():
        keys = [c for c in cols if c in IDS or c.endswith("_at") or c == "date"]
        assert not frames[name][keys].isna().any().any(), name
    assert not frames["users"]["account_id"].isna().any()


def test_values_obey_the_rules(frames):
    for name, frame in frames.items():
        for col in MONEY & set(frame.columns):
            assert (frame[col].dropna() >= 0).all(), (name, col)
        for col in frame.columns:
            if frame[col].dtype.kind == "M":
                assert (frame[col].dropna() < END).all(), (name, col)
        assert not frame.duplicated().any(), name
    subs, opps, tickets = frames["subscriptions"], frames["opportunities"], frames["tickets"]
    assert (subs.ended_at.dropna() >= subs.started_at[subs.ended_at.notna()]).all()
    assert (opps.closed_at.dropna() >= opps.created_at[opps.closed_at.notna()]).all()
    assert (tickets.first_response_at.dropna() >= tickets.created_at[tickets.first_response_at.notna()]).all()
    assert tickets.satisfaction.dropna().between(1, 5).all()
    assert (frames["spend"].date == frames["spend"].date.dt.normalize()).all()
    months = frames["targets"][["period_start", "period_end"]]
    assert (months.period_end == months.period_start + pd.offsets.MonthEnd(0)).all()  # inclusive
    for name, col in [("events", "event_at"), ("touchpoints", "touched_at"), ("tickets", "created_at")]:
        assert frames[name][col].min() >= T0, name


def test_references_exist(frames):
    users = frames["users"]
    for name in ("events", "touchpoints", "conversions", "tickets", "subscriptions"):
        assert frames[name].user_id.isin(users.user_id).all(), name
    for name in ("subscriptions", "opportunities"):
        assert frames[name].account_id.isin(users.account_id).all(), name
    b2b = users[users.segment == "b2b"]
    assert b2b.groupby("account_id").size().max() > 1
    assert users.account_id[users.segment == "b2c"].is_unique


def test_vocabularies(frames):
    assert set(frames["users"].channel) == set(demo.CHANNELS)
    assert set(frames["spend"].channel) == set(demo.CHANNELS) - {"organic_search", "referral", "direct"}
    assert set(frames["subscriptions"].plan) == set(demo.PLANS)
    assert set(frames["conversions"].kind) == {"trial", "paid", "promotion", "reactivation"}
    assert set(frames["touchpoints"].interaction) == {"impression", "click", "visit"}
    assert {"signup", "create_doc", "purchase", "page_view"} <= set(frames["events"].event)
    assert set(frames["opportunities"].stage) <= {"lead", "qualified", "proposal", "negotiation",
                                                   "won", "lost"}
    revenue = frames["events"].revenue
    assert revenue.notna().eq(frames["events"].event == "purchase").all()


@pytest.mark.parametrize("users", [100, 200, 2_000])
def test_small_sizes_give_non_empty_tables(users):
    frames = demo.generate_frames(users=users, seed=1)
    assert len(frames["users"]) == users
    assert all(len(f) for f in frames.values())


def test_subscription_rows_form_non_overlapping_chains(frames):
    subs = frames["subscriptions"].sort_values(["account_id", "started_at"])
    nxt = subs.groupby("account_id").shift(-1)
    has_next = nxt.started_at.notna()
    assert subs.ended_at[has_next].notna().all()
    assert (nxt.started_at[has_next] >= subs.ended_at[has_next]).all()
    chained = has_next & (nxt.started_at == subs.ended_at)
    assert chained.sum() > 50  # upgrades, downgrades and promotional renewals
    changed = (nxt.plan != subs.plan) | (nxt.mrr != subs.mrr)
    assert changed[chained].all()


# --- the planted findings, measured independently -------------------------------------
def logo_churn(frames, segment, periods):
    """(at_risk, churned) per period, as defined in FINDINGS."""
    users, subs = frames["users"], frames["subscriptions"]
    seg = subs.account_id.map(users.drop_duplicates("account_id").set_index("account_id").segment)
    subs = subs[seg == segment]
    starts = set(zip(subs.account_id, subs.started_at, strict=True))
    ends = subs.dropna(subset=["ended_at"])
    ends = ends[[(a, e) not in starts for a, e in zip(ends.account_id, ends.ended_at, strict=True)]]
    out = []
    for a, b in periods:
        at_risk = set(subs.account_id[(subs.started_at <= a) & (subs.ended_at.isna() | (subs.ended_at > a))])
        churned = set(ends.account_id[(ends.ended_at >= a) & (ends.ended_at < b)]) & at_risk
        out.append((len(at_risk), len(churned)))
    return np.array(out)


def test_key_dates_match_the_documented_rule():
    first_monday = T0 + pd.Timedelta(days=(7 - T0.weekday()) % 7)
    dates = demo.key_dates(START, DAYS)
    assert dates["spike_week_start"] == first_monday + 26 * WEEK == pd.Timestamp("2025-07-07")
    assert (dates["promo_start"], dates["promo_end"]) == (pd.Timestamp("2025-11-01"),
                                                          pd.Timestamp("2025-11-12"))


def test_one_week_has_a_churn_spike(seeded):
    monday = T0 + pd.Timedelta(days=(7 - T0.weekday()) % 7)
    weeks = [(monday + i * WEEK, monday + (i + 1) * WEEK) for i in range(51)]
    counts = logo_churn(seeded, "b2c", weeks)
    rates = counts[:, 1] / counts[:, 0]
    spike = 26
    assert counts[:, 0].min() > 300
    assert 0.07 <= rates[spike] <= 0.09
    others = np.delete(rates, spike)
    assert 0.04 <= np.median(others) <= 0.06
    assert rates[spike] == rates.max()


def test_b2c_churns_several_times_faster_than_b2b(seeded):
    months = pd.date_range(T0, END, freq="MS")
    rate = {}
    for segment in ("b2c", "b2b"):
        counts = logo_churn(seeded, segment, list(itertools.pairwise(months)))
        rate[segment] = counts[:, 1].sum() / counts[:, 0].sum()
    assert 0.15 <= rate["b2c"] <= 0.30
    assert rate["b2c"] / rate["b2b"] >= 3


def test_wechat_converts_best_but_costs_most(seeded):
    users, conv, spend = seeded["users"], seeded["conversions"], seeded["spend"]
    acquired = users[users.signup_at >= T0]
    payers = set(conv.user_id[conv.kind == "paid"])
    paid = acquired.user_id.isin(payers).groupby(acquired.channel).sum()
    rate = paid / acquired.groupby("channel").size()
    cost = (spend.groupby("channel").cost.sum() / paid).dropna()
    assert rate.idxmax() == "微信"
    assert rate["微信"] > 1.3 * rate.drop("微信").max()
    assert cost.idxmax() == "微信"
    assert len(cost) == 6


def test_promotion_mostly_bought_by_existing_payers(seeded):
    users, conv, subs = seeded["users"], seeded["conversions"], seeded["subscriptions"]
    promo_start = pd.Timestamp("2025-11-01")
    promo = conv[conv.kind == "promotion"]
    assert promo.converted_at.between(promo_start, pd.Timestamp("2025-11-12")).all()
    buyers = set(users.set_index("user_id").account_id[promo.user_id])
    paying = subs[(subs.started_at < promo_start) & (subs.ended_at.isna() | (subs.ended_at > promo_start))]
    share = len(buyers & set(paying.account_id)) / len(buyers)
    assert len(buyers) >= 40
    assert 0.7 < share < 1


def test_new_users_retain_worse_than_returning(seeded):
    events, users = seeded["events"], seeded["users"]
    signup = users.set_index("user_id").signup_at
    months = pd.date_range(T0, END, freq="MS")
    new_rates, old_rates = [], []
    for ms, me in itertools.pairwise(months):
        if me + MONTH > END:
            continue
        active = pd.Index(events.user_id[(events.event_at >= ms) & (events.event_at < me)].unique())
        later = set(events.user_id[(events.event_at >= me) & (events.event_at < me + MONTH)])
        is_new = (signup[active] >= ms).to_numpy()
        kept = active.isin(list(later))
        new_rates.append(kept[is_new].mean())
        old_rates.append(kept[~is_new].mean())
    new_rates, old_rates = np.array(new_rates), np.array(old_rates)
    assert (new_rates < old_rates).all()
    assert new_rates.mean() < old_rates.mean() - 0.15


def test_targets_are_partly_hit(frames):
    users, targets = frames["users"], frames["targets"]
    goal = targets[(targets.metric == "new_users") & (targets.segment == "b2c")]
    day = pd.Timedelta(days=1)
    actual = [((users.segment == "b2c") & users.signup_at.between(a, b + day, inclusive="left")).sum()
              for a, b in zip(goal.period_start, goal.period_end, strict=True)]
    hit = np.array(actual) >= goal.target.to_numpy()
    assert 0 < hit.sum() < len(hit)
    assert set(targets.metric) == {"new_users", "dau", "mrr", "d30_retention", "paying_users"}


def test_findings_are_documented():
    assert [f.id for f in demo.FINDINGS] == ["churn_spike", "b2c_vs_b2b_churn",
                                             "wechat_converts_best_costs_most",
                                             "promotion_goes_to_existing_payers",
                                             "new_users_retain_worse"]
    for finding in demo.FINDINGS:
        assert finding.en and finding.zh and finding.definition and finding.tables


@pytest.mark.skipif(importlib.util.find_spec("opskit.dataset") is None, reason="no Dataset yet")
def test_generate_returns_a_dataset():
    ds = demo.generate(users=300)
    assert "events" in ds.tables
    assert ds.meta["currency"] == "CNY"

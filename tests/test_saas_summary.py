"""opskit.saas.summary, nrr_cohorts and renewals: hand-computed values, plain references, demo."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opskit.retention import wilson
from opskit.saas import nrr_cohorts, renewals, summary

# The accounts of tests/test_saas.py (the data end at 2025-04-03 00:00): n new on 10 January;
# u 50 -> 80 and d 120 -> 90 on 10/12 February; c 60 from 1 December, churns 15 January, back
# at 70 on 3 March; o 40 plus 30 from 5 January to 20 February; b pays 3-25 February, back 2 April.
SUBS = pd.DataFrame([
    ("n", "2025-01-10", None, 100, "Pro"),
    ("u", "2024-12-05", "2025-02-10", 50, "Basic"), ("u", "2025-02-10", None, 80, "Pro"),
    ("d", "2024-12-07", "2025-02-12", 120, "Pro"), ("d", "2025-02-12", None, 90, "Basic"),
    ("c", "2024-12-01", "2025-01-15", 60, "Basic"), ("c", "2025-03-03", None, 70, "Basic"),
    ("o", "2024-12-10", None, 40, "Basic"), ("o", "2025-01-05", "2025-02-20", 30, "Addon"),
    ("b", "2025-02-03", "2025-02-25", 25, "Basic"), ("b", "2025-04-02", None, 25, "Basic"),
], columns=["account_id", "started_at", "ended_at", "mrr", "plan"])
USERS = pd.DataFrame({"user_id": list("123456"), "account_id": list("nudcob"),
                      "signup_at": "2024-11-01", "segment": ["b2b"] * 3 + ["b2c"] * 3,
                      "channel": ["微信", "微信", "百度搜索", "百度搜索", "百度搜索", "百度搜索"]})
SPEND = pd.DataFrame({"date": ["2024-12-31", "2025-01-15", "2025-03-31", "2025-04-01"],
                      "channel": ["微信", "微信", "百度搜索", "微信"], "cost": [1000, 300, 100, 500]})


def test_summary_by_hand():
    got = summary(SUBS, as_of="2025-04-01", months=3, spend=SPEND)
    row = got.iloc[0]
    assert len(got) == 1 and (row.window_start, row.window_end) == (pd.Timestamp("2025-01-01"),
                                                                      pd.Timestamp("2025-04-01"))
    expected = dict(
        mrr=380.0, arr=4560.0, customers=5, arpa=76.0,     # n 100 + u 80 + d 90 + c 70 + o 40
        logo_churn=1 / 12,               # c lost in January; 4 + 4 + 4 accounts at the months' starts
        gross_mrr_churn=120 / 920,       # (contraction 60 + churned 60) / (270 + 340 + 310)
        net_mrr_churn=-10 / 920,         # (120 - expansion 60 - reactivation 70) / 920
        nrr=280 / 270,                   # paying on 1 Jan: u 50, d 120, c 60, o 40; now 80, 90, 70, 40
        grr=240 / 270,                   # capped: 50 + 90 + 60 + 40
        quick_ratio=230 / 120,           # (new 100 + 60 + 70) / 120
        ltv=76 * 0.8 * 12,               # ARPA x margin / (1 / 12)
        cac=400 / 2,                     # spend 300 + 100 in the window; n and b first pay in it
        cac_payback_months=200 / (76 * 0.8))
    for name, value in expected.items():
        assert row[name] == pytest.approx(value), name


def test_summary_by_segment_and_channel():
    seg = summary(SUBS, as_of="2025-04-01", months=3, by="segment", users=USERS, spend=SPEND)
    assert seg.columns[0] == "segment" and seg.segment.tolist() == ["b2b", "b2c"]
    # b2b loses nobody: LTV not computable; spend has no segment: no CAC
    assert seg.logo_churn.tolist() == [0.0, 0.25]  # b2c: c lost of c + o, o, o
    assert math.isnan(seg.ltv[0]) and seg.cac.isna().all()
    chan = summary(SUBS, as_of="2025-04-01", months=3, by="channel", users=USERS, spend=SPEND)
    assert chan.set_index("channel").cac.to_dict() == {"微信": 300.0, "百度搜索": 100.0}


def test_summary_options_are_checked():
    with pytest.raises(ValueError, match="after the end of the data"):
        summary(SUBS, as_of="2025-05-01")
    with pytest.raises(ValueError, match="months"):
        summary(SUBS, months=0)
    with pytest.raises(ValueError, match="gross_margin"):
        summary(SUBS, gross_margin=80)


def test_nrr_cohorts_by_hand():
    got = nrr_cohorts(SUBS, months=4)
    assert got.columns.tolist() == ["cohort", "offset", "cohort_size", "accounts", "mrr", "nrr", "grr",
                                    "complete"]
    dec = got[got.cohort == "2024-12-01"]
    # month ends: 1 Jan u 50 d 120 c 60 o 40; 1 Feb c gone, o 70; 1 Mar u 80 d 90 o 40;
    # 1 Apr c back at 70; offset 4 is April, measured at the end of the data (3 April)
    assert dec.accounts.tolist() == [4, 3, 3, 4, 4] and dec.mrr.tolist() == [270, 240, 210, 280, 280]
    assert dec.nrr.to_numpy() == pytest.approx(np.array([270, 240, 210, 280, 280]) / 270)
    assert dec.grr.to_numpy() == pytest.approx(np.array([270, 210, 180, 240, 240]) / 270)
    assert dec.complete.tolist() == [True, True, True, True, False]
    jan = got[got.cohort == "2025-01-01"]
    assert jan.offset.tolist() == [0, 1, 2, 3] and jan.nrr.tolist() == [1.0] * 4  # May not begun
    feb = got[got.cohort == "2025-02-01"]  # b left before its first month ended: no base
    assert feb.cohort_size.tolist() == [1, 1, 1] and feb.mrr.tolist() == [0, 0, 25] and feb.nrr.isna().all()
    by_plan = nrr_cohorts(SUBS, months=1, by="plan")  # the plan of the first row
    assert by_plan[by_plan.offset == 0][["plan", "cohort_size", "mrr"]].values.tolist() == [
        ["Basic", 3, 150.0], ["Basic", 1, 0.0], ["Pro", 1, 120.0], ["Pro", 1, 100.0]]


# Annual contracts; G pays monthly and sets the end of the data (2026-01-01).
CONTRACTS = pd.DataFrame([
    ("A", "2024-01-10", None, 300, "Pro"),                  # renews in place
    ("B", "2024-01-20", "2025-01-20", 300, "Pro"),          # ends at its due date
    ("C", "2024-02-05", "2025-02-04", 250, "Basic"),        # 365 days: ends a day early ...
    ("C", "2025-02-04", None, 200, "Basic"),                # ... and renews cheaper
    ("D", "2024-03-01", "2024-09-15", 300, "Pro"),          # upgraded mid-term: a new term
    ("D", "2024-09-15", None, 500, "Enterprise"),
    ("E", "2023-06-01", None, 300, "Pro"),                  # due 2024-06-01 and 2025-06-01
    ("F", "2024-06-10", "2024-11-01", 300, "Pro"),          # cancelled mid-term: due, lost
    ("G", "2024-01-01", "2025-12-31", 39, "Personal"),
    ("H", "2024-12-20", None, 250, "Basic"),                # due 2025-12-20: not known yet
], columns=["account_id", "started_at", "ended_at", "mrr", "plan"])
ANNUAL = ["Basic", "Pro", "Enterprise"]


def test_renewals_by_hand():
    got = renewals(CONTRACTS, plans=ANNUAL)
    assert got.columns.tolist() == ["period", "due", "renewed", "rate", "ci_low", "ci_high", "complete"]
    cells = got[["period", "due", "renewed", "rate", "complete"]].itertuples(index=False)
    rows = [(p.strftime("%Y-%m"), d, r, None if math.isnan(x) else x, c) for p, d, r, x, c in cells]
    assert rows == [("2024-06", 1, 1, 1.0, True),     # E
                    ("2025-01", 2, 1, 0.5, True),     # A renewed, B not
                    ("2025-02", 1, 1, 1.0, True),     # C
                    ("2025-06", 2, 1, 0.5, True),     # E again; F not
                    ("2025-09", 1, 1, 1.0, True),     # D's Enterprise term
                    ("2025-12", 1, 0, None, False)]   # H: 20 Dec + 30 days is after the data
    low, high = wilson([1], [2])
    assert (got.ci_low[1], got.ci_high[1]) == (pytest.approx(low[0]), pytest.approx(high[0]))
    every = renewals(CONTRACTS, start="2025-01-01", end="2025-02-01")  # G counts too
    assert every[["due", "renewed"]].values.tolist() == [[3, 2]]
    by_plan = renewals(CONTRACTS, plans=ANNUAL, by="plan", start="2025-01-01", end="2025-03-01")
    assert by_plan[["plan", "due", "renewed"]].values.tolist() == [["Basic", 1, 1], ["Pro", 2, 1]]
    with pytest.raises(ValueError, match="term_months"):
        renewals(CONTRACTS, term_months=0)


def test_demo_b2b_annual_contracts_renew_about_65_percent(demo_frames):
    frames = demo_frames(20_000, 7)
    got = renewals(frames["subscriptions"], plans=ANNUAL, start="2025-01-01", end="2025-11-01")
    renewed, due = got.renewed.sum(), got.due.sum()   # before the 双11 early renewals
    low, high = wilson([renewed], [due])
    assert due > 150 and low[0] < 0.65 < high[0]      # docs/demo.md: 35 % do not renew


# --- plain pandas references on random subscriptions ------------------------------------


def _mrr_at(live: pd.DataFrame, t: pd.Timestamp) -> pd.Series:
    on = live[(live.started_at <= t) & (live.ended_at.isna() | (live.ended_at > t))]
    return on.groupby("account_id").mrr.sum()


def _prepare(subs: pd.DataFrame) -> tuple[pd.DataFrame, pd.Timestamp]:
    subs = subs.drop_duplicates()
    horizon = max(subs.started_at.max(), subs.ended_at.max()).normalize() + pd.Timedelta(days=1)
    return subs[(subs.mrr > 0) & (subs.ended_at.isna() | (subs.ended_at > subs.started_at))], horizon


def summary_reference(subs: pd.DataFrame, months: int) -> dict:
    live, as_of = _prepare(subs)
    bounds = pd.date_range(as_of.replace(day=1) - pd.DateOffset(months=months), as_of.replace(day=1),
                           freq="MS")
    lapses = [(r.account_id, r.ended_at) for r in live.dropna(subset=["ended_at"]).itertuples()
              if r.account_id not in _mrr_at(live, r.ended_at).index]
    first = live.groupby("account_id").started_at.min()
    t = dict(s=0.0, gain=0.0, loss=0.0, up=0.0, back=0.0, at_risk=0, lost=0)
    for b, b_next in itertools.pairwise(bounds):
        s_all, e_all = _mrr_at(live, b), _mrr_at(live, b_next)
        t["s"] += s_all.sum()
        t["at_risk"] += len(s_all)
        t["lost"] += len({a for a, at in lapses if b < at <= b_next} & set(s_all.index))
        for a in set(s_all.index) | set(e_all.index):
            s, e = s_all.get(a, 0.0), e_all.get(a, 0.0)
            t["gain"] += max(e - s, 0)
            t["loss"] += max(s - e, 0)
            t["up"] += max(e - s, 0) if s > 0 else 0
            t["back"] += e if s == 0 and first[a] < b else 0
    m0, m1 = _mrr_at(live, as_of - pd.DateOffset(months=months)), _mrr_at(live, as_of)
    held = m1.reindex(m0.index, fill_value=0)
    ratio = lambda n, d: n / d if d else math.nan  # noqa: E731
    return dict(mrr=m1.sum(), customers=len(m1), logo_churn=ratio(t["lost"], t["at_risk"]),
                gross_mrr_churn=ratio(t["loss"], t["s"]),
                net_mrr_churn=ratio(t["loss"] - t["up"] - t["back"], t["s"]),
                nrr=ratio(held.sum(), m0.sum()), grr=ratio(np.minimum(held, m0).sum(), m0.sum()),
                quick_ratio=ratio(t["gain"], t["loss"]))


def cohorts_reference(subs: pd.DataFrame, months: int) -> pd.DataFrame:
    live, horizon = _prepare(subs)
    first = live.groupby("account_id").started_at.min()
    out = []
    for cohort, members in first.groupby(first.dt.to_period("M").dt.start_time):
        base = None
        for k in range(months + 1):
            month = cohort + pd.DateOffset(months=k)
            if month >= horizon:
                break
            at = min(month + pd.DateOffset(months=1), horizon)
            m = _mrr_at(live, at).reindex(members.index, fill_value=0)
            base = m if base is None else base
            out.append((cohort, k, len(members), int((m > 0).sum()), m.sum(),
                        m.sum() / base.sum() if base.sum() else math.nan,
                        np.minimum(m, base).sum() / base.sum() if base.sum() else math.nan))
    return pd.DataFrame(out, columns=["cohort", "offset", "cohort_size", "accounts", "mrr", "nrr", "grr"])


ROWS = st.lists(st.tuples(
    st.sampled_from("abcde"), st.integers(0, 200), st.one_of(st.none(), st.integers(0, 100)),
    st.sampled_from([0, 10, 25, 40.5])), min_size=1, max_size=12)


def _frame(rows) -> pd.DataFrame:
    t0 = pd.Timestamp("2024-11-20 06:00")
    return pd.DataFrame({
        "account_id": [r[0] for r in rows],
        "started_at": [t0 + pd.Timedelta(days=r[1]) for r in rows],
        "ended_at": [pd.NaT if r[2] is None else t0 + pd.Timedelta(days=r[1] + r[2]) for r in rows],
        "mrr": [float(r[3]) for r in rows]})


@settings(max_examples=25, deadline=None)
@given(ROWS, st.integers(1, 4))
def test_summary_matches_the_reference(rows, months):
    subs = _frame(rows)
    got = summary(subs, months=months).iloc[0]
    for name, value in summary_reference(subs, months).items():
        assert got[name] == pytest.approx(value, nan_ok=True), name


@settings(max_examples=25, deadline=None)
@given(ROWS, st.integers(0, 5))
def test_nrr_cohorts_match_the_reference(rows, months):
    subs = _frame(rows)
    got = nrr_cohorts(subs, months=months)
    want = cohorts_reference(subs, months)
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)

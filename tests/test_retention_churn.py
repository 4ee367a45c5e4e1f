"""opskit.retention: N-day retention, new vs returning, churn, subscriber churn, alerts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit.retention import churn, churn_alerts, nday, new_vs_returning, subscriber_churn


def _events(rows):
    return pd.DataFrame({"user_id": [u for u, _ in rows], "event": "x", "event_at": [t for _, t in rows]})


# Data end: 2025-01-10 23:00 -> observed until 2025-01-11 00:00.
NDAY = _events([
    ("a", "2025-01-01 10:00"), ("a", "2025-01-02 11:00"), ("a", "2025-01-08 09:00"),  # D1 (25 h), D6
    ("b", "2025-01-01 12:00"), ("b", "2025-01-03 13:00"),                            # D2 only
    ("c", "2025-01-05 12:00"), ("c", "2025-01-06 12:00"),                            # D1; D7 not observable
    ("d", "2025-01-10 23:00"),                                                       # D1 not observable
])


def test_nday_counts_only_users_whose_day_is_over():
    got = nday(NDAY, days=(1, 2, 7))
    assert got[["day", "eligible", "retained"]].values.tolist() == [[1, 3, 2], [2, 3, 1], [7, 2, 0]]
    assert got["rate"].tolist() == pytest.approx([2 / 3, 1 / 3, 0.0])


def test_nday_calendar_days_and_signups_from_users():
    users = pd.DataFrame({"user_id": ["a", "b", "c", "d"], "segment": ["b2b", "b2b", "b2c", "b2c"],
                          "signup_at": ["2025-01-01 10:00", "2025-01-01 12:00", "2025-01-05 12:00",
                                        "2024-12-01"]})   # d signed up before the events begin
    got = nday(NDAY, days=(1,), users=users, by="segment")
    assert got[["segment", "eligible", "retained"]].values.tolist() == [["b2b", 2, 1], ["b2c", 1, 1]]
    calendar = nday(NDAY, days=(2,), calendar=True)
    assert calendar[["eligible", "retained"]].values.tolist() == [[3, 1]]   # b on 01-03


def test_new_vs_returning_by_hand():
    events = _events([("old", "2024-12-20"), ("old", "2025-01-10"), ("old", "2025-02-05"),
                      ("new", "2025-01-15"), ("new", "2025-03-20"), ("gone", "2024-12-01"),
                      ("gone", "2025-01-02")])
    got = new_vs_returning(events, days=30, start="2025-01-01", end="2025-02-01")
    assert got[["group", "users", "retained", "rate"]].values.tolist() == [
        ["new", 1, 0, 0.0], ["returning", 2, 1, 0.5]]
    assert got["complete"].all()
    later = new_vs_returning(events, days=30, start="2025-03-01")
    assert later["rate"].isna().all() and not later["complete"].any()


CHURN = _events([("a", "2025-01-05"), ("b", "2025-01-09"), ("c", "2025-01-20"),
                 ("a", "2025-02-02"), ("c", "2025-02-10"), ("a", "2025-03-31")])


def test_period_over_period_churn():
    got = churn(CHURN)
    assert got[["period", "active_start", "churned"]].values.tolist() == [
        [pd.Timestamp("2025-02-01"), 3, 1], [pd.Timestamp("2025-03-01"), 2, 1]]
    assert got["churn_rate"].tolist() == pytest.approx([1 / 3, 1 / 2])


def test_churn_after_n_inactive_days():
    # inactive_after=12. Base of Feb: an event in [01-20, 02-01): c; c is back on 02-10, within
    # 12 days of 1 Feb: not lost. Base of Mar: an event in [02-17, 03-01): nobody, no row.
    got = churn(CHURN, inactive_after=12)
    assert got[["period", "active_start", "churned"]].values.tolist() == [[pd.Timestamp("2025-02-01"), 1, 0]]
    # inactive_after=25. Feb: b (01-09) and c (01-20); b has no event in [02-01, 02-26): lost.
    # Mar: c (02-10; a's 02-02 is 27 days before); no event in [03-01, 03-26): lost.
    got = churn(CHURN, inactive_after=25)
    assert got[["period", "active_start", "churned"]].values.tolist() == [
        [pd.Timestamp("2025-02-01"), 2, 1], [pd.Timestamp("2025-03-01"), 1, 1]]
    assert churn(CHURN, inactive_after=10).empty   # nobody active in the 10 days before any 1st


def test_churn_by_segment_needs_users():
    users = pd.DataFrame({"user_id": ["a", "b", "c"], "signup_at": "2025-01-01",
                          "segment": ["b2b", "b2c", "b2c"]})
    got = churn(CHURN, by="segment", users=users)
    assert got[["segment", "active_start", "churned"]].values.tolist() == [
        ["b2b", 1, 0], ["b2b", 1, 0], ["b2c", 2, 1], ["b2c", 1, 1]]
    with pytest.raises(ValueError, match="pass users="):
        churn(CHURN, by="segment")


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from("abcdef"), st.integers(0, 120)), min_size=1, max_size=40),
       period=st.sampled_from(["day", "week", "month"]))
def test_period_over_period_churn_matches_a_reference(rows, period):
    events = _events([(u, pd.Timestamp("2025-01-01") + pd.Timedelta(days=d)) for u, d in rows])
    got = churn(events, period=period)
    freq = {"day": "D", "week": "W-MON", "month": "MS"}[period]
    ts = pd.to_datetime(events["event_at"])
    starts = ts.dt.to_period({"day": "D", "week": "W-SUN", "month": "M"}[period]).dt.start_time
    active = {p: set(g) for p, g in events.groupby(starts.values)["user_id"]}
    expected = []
    for p, users in sorted(active.items()):
        nxt = p + pd.tseries.frequencies.to_offset(freq)
        lost = users - active.get(nxt, set())
        expected.append((nxt, len(users), len(lost)))
    horizon = ts.max().normalize() + pd.Timedelta(days=1)
    expected = [e for e in expected if e[0] < horizon]
    assert list(got[["period", "active_start", "churned"]].itertuples(index=False, name=None)) == expected


SUBS = pd.DataFrame({
    "account_id": ["a", "a", "b", "c", "c", "d"],
    "started_at": ["2025-01-01", "2025-02-10", "2025-01-05", "2025-01-05", "2025-01-20", "2025-01-05"],
    "ended_at": ["2025-02-10", None, "2025-02-20", "2025-03-01", "2025-02-15", "2025-02-14"],
    "mrr": [10.0, 20.0, 10.0, 10.0, 5.0, 10.0]})


def test_subscriber_churn_ignores_plan_changes_and_parallel_rows():
    # Feb: at risk a, b, c, d. a upgrades (not churn); c's second row ends inside its first
    # (not churn); b and d lose all cover, and c's first row ends exactly at 03-01 with nothing
    # after it: paid through February, so February's churn -> 3 of 4. Mar: only a at risk.
    got = subscriber_churn(SUBS, start="2025-02-01")
    assert got[["period", "active_start", "churned"]].values.tolist() == [
        [pd.Timestamp("2025-02-01"), 4, 3], [pd.Timestamp("2025-03-01"), 1, 0]]
    assert got["churn_rate"].iloc[0] == 0.75


def test_churn_alerts_flag_the_seed_002_week():
    rates = [.05, .049, .051, .05, .052, .048, .05, .08, .05]
    frame = pd.DataFrame({"period": pd.date_range("2025-01-06", periods=len(rates), freq="W-MON"),
                          "active_start": 600, "complete": True})
    frame["churned"] = np.round(np.array(rates) * 600).astype(int)
    frame["churn_rate"] = frame["churned"] / 600
    got = churn_alerts(frame)
    assert got["alert"].tolist() == [False] * 7 + [True, False]
    assert got.loc[7, "baseline"] == pytest.approx(0.05)
    assert got.loc[7, "z_score"] == pytest.approx((0.08 - 0.05) / np.sqrt(0.05 * 0.95 / 600))
    assert "1.3 x the median of the previous 8 complete periods" in got.loc[0, "rule"]


def test_churn_alerts_ignore_a_zero_baseline_blip():
    frame = pd.DataFrame({"period": pd.date_range("2025-01-06", periods=6, freq="W-MON"),
                          "active_start": 260, "churned": [0, 0, 0, 0, 1, 0], "complete": True})
    frame["churn_rate"] = frame["churned"] / 260
    assert not churn_alerts(frame)["alert"].any()


def test_the_demo_churn_spike_is_found():
    ds = opskit.demo.generate(users=20_000, seed=7)
    weekly = subscriber_churn(ds.subscriptions, period="week", by="segment", users=ds.users,
                              start="2025-01-01")
    alerts = churn_alerts(weekly)
    b2c = alerts[(alerts["segment"] == "b2c") & alerts["alert"]]
    assert b2c["period"].tolist() == [pd.Timestamp("2025-07-07")]
    assert b2c["churn_rate"].iloc[0] == pytest.approx(45 / 574)   # docs/demo.md, finding 1


def test_cover_ending_exactly_at_a_period_boundary_is_churn_of_the_period_it_closes():
    # exports often store the end of a monthly plan as midnight on the 1st of the next month
    subs = pd.DataFrame({"account_id": ["a", "b"], "mrr": [10.0, 10.0],
                         "started_at": ["2024-12-15", "2024-12-15"],
                         "ended_at": ["2025-02-01", "2025-03-15"]})
    out = subscriber_churn(subs).set_index("period")
    assert out.loc["2025-01-01", ["active_start", "churned"]].tolist() == [2, 1]
    assert out.loc["2025-02-01", ["active_start", "churned"]].tolist() == [1, 0]

"""opskit.consumer revenue_metrics, repurchase, promotion_response: by hand, a reference, engines, demo."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit import engine
from opskit.consumer import aarrr, promotion_response, repurchase, revenue_metrics
from opskit.io import load_tables
from opskit.retention import wilson

# Months: Jan (a, b, c active; a and b pay), Feb (a renews), Mar (nobody), Apr (c pays, a
# visits). The last event is on 20 Apr, so the data end at 2025-04-21: April is incomplete.
# b's "tip" carries revenue but is not a `purchase` event.
EVENTS = pd.DataFrame([
    ("a", "2025-01-01 09:00", "view", None), ("a", "2025-01-05 10:00", "purchase", 39.0),
    ("a", "2025-02-04 10:00", "purchase", 39.0), ("b", "2025-01-10 08:00", "view", None),
    ("b", "2025-01-12 08:00", "purchase", 69.0), ("b", "2025-01-20 08:00", "tip", 10.0),
    ("c", "2025-01-15 12:00", "view", 0.0), ("c", "2025-04-10 12:00", "purchase", 2999.0),
    ("a", "2025-04-20 12:00", "view", None),
], columns=["user_id", "event_at", "event", "revenue"])
USERS = pd.DataFrame({"user_id": ["a", "b", "c"], "signup_at": "2024-12-01",
                      "segment": ["b2c", "b2c", "b2b"], "account_id": ["pa", "pb", "A1"]})
JAN, FEB, MAR, APR = (pd.Timestamp(f"2025-{m:02d}-01") for m in (1, 2, 3, 4))


def _rows(frame: pd.DataFrame, cols: list[str]) -> list[tuple]:
    return [tuple(None if isinstance(v, float) and math.isnan(v) else
                  (round(v, 6) if isinstance(v, float) else v) for v in row)
            for row in frame[cols].itertuples(index=False)]


# --- revenue_metrics ------------------------------------------------------------------------


def test_revenue_metrics_by_hand():
    got = revenue_metrics(EVENTS)
    assert got.columns.tolist() == ["period", "active_users", "paying_users", "revenue", "arpu", "arppu",
                                    "payer_rate", "ci_low", "ci_high", "complete"]
    assert _rows(got, ["period", "active_users", "paying_users", "revenue", "arpu", "arppu", "payer_rate",
                       "complete"]) == [
        (JAN, 3, 2, 118.0, round(118 / 3, 6), 59.0, round(2 / 3, 6), True),   # 39 + 69 + 10
        (FEB, 1, 1, 39.0, 39.0, 39.0, 1.0, True),
        (MAR, 0, 0, 0.0, None, None, None, True),                              # a gap is listed
        (APR, 2, 1, 2999.0, 1499.5, 2999.0, 0.5, False),                       # ends after 20 Apr
    ]
    low, high = wilson([2], [3])
    assert got.loc[0, "ci_low"] == pytest.approx(low[0]) and got.loc[0, "ci_high"] == pytest.approx(high[0])
    assert np.isnan(got.loc[2, "ci_low"])
    dtypes = ["datetime64[ns]", "int64", "int64"] + ["float64"] * 6 + ["bool"]
    assert got.dtypes.astype(str).tolist() == dtypes


def test_revenue_metrics_by_segment_event_filter_and_range():
    got = revenue_metrics(EVENTS, by="segment", users=USERS)
    assert _rows(got, ["segment", "period", "active_users", "paying_users", "revenue", "arpu", "arppu"]) == [
        ("b2b", JAN, 1, 0, 0.0, 0.0, None), ("b2b", FEB, 0, 0, 0.0, None, None),
        ("b2b", MAR, 0, 0, 0.0, None, None), ("b2b", APR, 1, 1, 2999.0, 2999.0, 2999.0),
        ("b2c", JAN, 2, 2, 118.0, 59.0, 59.0), ("b2c", FEB, 1, 1, 39.0, 39.0, 39.0),
        ("b2c", MAR, 0, 0, 0.0, None, None), ("b2c", APR, 1, 0, 0.0, 0.0, None),
    ]
    purchases = revenue_metrics(EVENTS, event="purchase")                 # b's tip no longer counts
    assert purchases.loc[0, "revenue"] == 108.0 and purchases.loc[0, "arppu"] == 54.0
    ranged = revenue_metrics(EVENTS, start="2025-01-15", end="2025-04-01")  # whole periods only
    assert ranged["period"].tolist() == [FEB, MAR]
    weekly = revenue_metrics(EVENTS, freq="week")
    # 1 Jan 2025 is a Wednesday: its ISO week starts on 30 Dec, before the data begin
    assert weekly.loc[0, "period"] == pd.Timestamp("2024-12-30") and not weekly.loc[0, "complete"]
    assert weekly["complete"].iloc[1:].all() and len(weekly) == 16   # 14 Apr + 7 days = the end


def test_bad_options_and_bad_data_are_refused():
    with pytest.raises(ValueError, match="freq must be one of"):
        revenue_metrics(EVENTS, freq="quarter")
    with pytest.raises(ValueError, match="pass users="):
        repurchase(EVENTS, by="segment")
    with pytest.raises(ValueError, match="window must be > 0"):
        repurchase(EVENTS, window=0)
    with pytest.raises(opskit.DataError, match="revenue"):
        revenue_metrics(EVENTS.drop(columns="revenue"))
    twice = pd.concat([USERS, USERS.assign(signup_at="2024-12-02").iloc[:1]])
    with pytest.raises(opskit.DataError, match=r"users\.user_id: 1 of 4 rows .*'a'") as err:
        revenue_metrics(EVENTS, by="segment", users=twice)
    assert err.value.findings[0].check == "duplicate_id"
    with pytest.raises(ValueError, match="promo_end must be after"):
        promotion_response(EVENTS, promo_start="2025-02-01", promo_end="2025-01-01")
    none = EVENTS.iloc[:0]                         # no events: empty tables with stable columns
    assert revenue_metrics(none).empty and revenue_metrics(none)["active_users"].dtype == "int64"
    assert repurchase(none).columns.tolist()[:3] == ["period", "buyers", "repeat_buyers"]


# --- repurchase ---------------------------------------------------------------------------


def test_repurchase_in_the_period_by_hand():
    got = repurchase(EVENTS)
    # Jan: a (1 purchase) and b (purchase + tip: 2) -> 1 of 2. Feb: a once. Mar: no buyer.
    # Apr: c, but April is incomplete -> no rate.
    assert _rows(got, ["period", "buyers", "repeat_buyers", "rate", "complete"]) == [
        (JAN, 2, 1, 0.5, True), (FEB, 1, 0, 0.0, True), (MAR, 0, 0, None, True), (APR, 1, 0, None, False)]
    only_purchases = repurchase(EVENTS, event="purchase")
    assert only_purchases["repeat_buyers"].tolist() == [0, 0, 0, 0]


def test_repurchase_in_a_window_after_the_first_purchase():
    # a: 5 Jan 10:00 then 4 Feb 10:00, exactly 30 days; b: 12 Jan then 20 Jan
    assert repurchase(EVENTS, window=30)["repeat_buyers"].tolist()[:2] == [1, 0]      # [t1, t1 + 30 d)
    got = repurchase(EVENTS, window=30.5)
    assert _rows(got, ["period", "buyers", "repeat_buyers", "rate", "complete"]) == [
        (JAN, 2, 2, 1.0, True), (FEB, 1, 0, 0.0, True),          # Feb: 1 Mar + 30.5 d <= 21 Apr
        (MAR, 0, 0, None, False), (APR, 1, 0, None, False)]      # 1 Apr + 30.5 d is after the end


# --- promotion_response ----------------------------------------------------------------------

# Promotion 1-8 Nov (7 days), baseline 25 Oct - 1 Nov. p1 paid in June and buys in the
# promotion; p2 buys in the baseline and again in the promotion; n1 buys for the first time;
# v1 only visits; v2 visits in the baseline only.
PROMO = pd.DataFrame([
    ("p1", "2025-06-10", "pay", 100.0), ("p1", "2025-11-02", "pay", 80.0),
    ("p2", "2025-10-28", "pay", 100.0), ("p2", "2025-11-03", "pay", 80.0),
    ("n1", "2025-10-26", "view", None), ("n1", "2025-11-04", "pay", 80.0),
    ("v1", "2025-10-27", "view", None), ("v1", "2025-11-05", "view", None),
    ("v2", "2025-10-29", "view", None), ("v1", "2025-11-20", "view", None),
], columns=["user_id", "event_at", "event", "revenue"])
PROMO_USERS = pd.DataFrame({"user_id": ["p1", "p2", "n1", "v1", "v2"], "signup_at": "2025-01-01",
                            "segment": ["b2b", "b2b", "b2c", "b2c", "b2c"],
                            "account_id": ["A1", "A2", "N1", "V1", "V2"]})
NOV = {"promo_start": "2025-11-01", "promo_end": "2025-11-08"}


def test_promotion_response_by_hand():
    got = promotion_response(PROMO, **NOV)
    assert _rows(got, ["window", "start", "end", "complete", "active_users", "buyers", "buyer_rate",
                       "revenue", "arppu", "already_paying", "already_paying_share"]) == [
        ("baseline", pd.Timestamp("2025-10-25"), pd.Timestamp("2025-11-01"), True, 4, 1, 0.25, 100.0, 100.0,
         0, 0.0),
        ("promotion", pd.Timestamp("2025-11-01"), pd.Timestamp("2025-11-08"), True, 4, 3, 0.75, 240.0, 80.0,
         2, round(2 / 3, 6)),                                    # p1 (June) and p2 (28 Oct) paid before
    ]
    promo = got.iloc[1]
    # pooled rate 4/8: se = sqrt(0.5 * 0.5 * (1/4 + 1/4)) = 0.35355; z = 0.5 / se = sqrt(2)
    assert promo["rate_ratio"] == pytest.approx(3.0) and promo["rate_diff"] == pytest.approx(0.5)
    assert promo["z"] == pytest.approx(math.sqrt(2)) and promo["p_value"] == pytest.approx(math.erfc(1))
    assert promo["revenue_ratio"] == pytest.approx(2.4)
    (l1,), (u1,) = wilson([1], [4])
    (l2,), (u2,) = wilson([3], [4])
    assert promo["diff_ci_low"] == pytest.approx(0.5 - math.sqrt((0.75 - l2) ** 2 + (u1 - 0.25) ** 2))
    assert promo["diff_ci_high"] == pytest.approx(0.5 + math.sqrt((u2 - 0.75) ** 2 + (0.25 - l1) ** 2))
    assert got.iloc[0][["rate_ratio", "z", "p_value"]].isna().all()
    assert "any time" in got.attrs["already_paying"]


def test_promotion_lookback_baseline_length_and_segments():
    recent = promotion_response(PROMO, **NOV, lookback_days=30)            # June is too long ago
    assert recent["already_paying"].tolist() == [0, 1]
    short = promotion_response(PROMO, **NOV, baseline_days=3)
    assert short.loc[0, "start"] == pd.Timestamp("2025-10-29") and short.loc[0, "active_users"] == 1
    assert np.isnan(short.loc[1, "rate_ratio"])                            # baseline rate 0
    late = promotion_response(PROMO, promo_start="2025-11-15", promo_end="2025-11-25")
    assert late["complete"].tolist() == [True, False]                      # data end on 21 Nov
    by = promotion_response(PROMO, **NOV, by="segment", users=PROMO_USERS)
    assert _rows(by, ["segment", "window", "active_users", "buyers", "already_paying"]) == [
        ("b2b", "baseline", 1, 1, 0), ("b2b", "promotion", 2, 2, 2),
        ("b2c", "baseline", 3, 0, 0), ("b2c", "promotion", 2, 1, 0)]


def test_promotion_already_paying_by_subscription():
    subs = pd.DataFrame({"account_id": ["A1", "A1", "A2", "N1"], "mrr": 10.0,
                         "started_at": ["2025-06-10", "2025-11-02", "2025-10-28", "2025-11-04"],
                         "ended_at": ["2025-11-01", None, None, None]})
    got = promotion_response(PROMO, **NOV, subscriptions=subs, users=PROMO_USERS)
    # A1's row ends exactly at the promotion start: it was running just before it
    assert got["already_paying"].tolist() == [0, 2]
    assert "subscription" in got.attrs["already_paying"]
    with pytest.raises(ValueError, match="pass users="):
        promotion_response(PROMO, **NOV, subscriptions=subs)


# --- a plain pandas reference on random logs --------------------------------------------------


def _floor(ts: pd.Timestamp, freq: str) -> pd.Timestamp:
    day = ts.normalize()
    return {"day": day, "week": day - pd.Timedelta(days=day.weekday()), "month": day.replace(day=1)}[freq]


def _next(p: pd.Timestamp, freq: str) -> pd.Timestamp:
    return p + (pd.DateOffset(months=1) if freq == "month" else pd.Timedelta(days=1 if freq == "day" else 7))


def reference(events: pd.DataFrame, freq: str, window: float | None) -> list[tuple]:
    """Loop over periods and users, as docs/metrics.md words the definitions."""
    ev = events.assign(event_at=pd.to_datetime(events["event_at"]))
    first, end = ev["event_at"].min().normalize(), ev["event_at"].max().normalize() + pd.Timedelta(days=1)
    p, out = _floor(first, freq), []
    while p < end:
        q = _next(p, freq)
        inside = ev[(ev["event_at"] >= p) & (ev["event_at"] < q)]
        paid = inside[inside["revenue"] > 0]
        active, payers = inside["user_id"].nunique(), paid["user_id"].nunique()
        revenue = paid["revenue"].sum()
        repeat = 0
        for user, rows in paid.groupby("user_id"):
            if window is None:
                repeat += len(rows) >= 2
            else:
                mine = ev.loc[(ev["user_id"] == user) & (ev["revenue"] > 0), "event_at"]
                t1 = rows["event_at"].min()
                repeat += ((mine >= t1) & (mine < t1 + pd.Timedelta(days=window))).sum() >= 2
        complete = p >= first and q + pd.Timedelta(days=window or 0) <= end
        out.append((p, active, payers, round(float(revenue), 6), repeat,
                    round(repeat / payers, 6) if payers and complete else None))
        p = q
    return out


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3"]), st.integers(0, 70 * 24),
                               st.sampled_from([None, 0.0, 5.0, 12.5])), min_size=1, max_size=25),
       freq=st.sampled_from(["day", "week", "month"]), window=st.sampled_from([None, 3, 20.5]))
def test_matches_the_reference_on_random_logs(rows, freq, window):
    base = pd.Timestamp("2025-01-29 17:00")
    events = pd.DataFrame({"user_id": [u for u, _, _ in rows], "event": "e",
                           "event_at": [base + pd.Timedelta(hours=h) for _, h, _ in rows],
                           "revenue": pd.Series([r for _, _, r in rows], dtype="float64")})
    table = engine.as_table(events)     # an Ibis table is used as it is: duplicate rows stay
    money = revenue_metrics(table, freq=freq)
    again = repurchase(table, freq=freq, window=window)
    got = [(*m, r, rate) for m, (r, rate) in zip(
        _rows(money, ["period", "active_users", "paying_users", "revenue"]),
        _rows(again, ["repeat_buyers", "rate"]), strict=True)]
    assert got == reference(events, freq, window)


# --- the demo ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(demo_frames) -> opskit.Dataset:
    return opskit.Dataset.from_frames(**demo_frames(20_000, 7))


def test_demo_b2c_money_is_sensible(demo):
    money = revenue_metrics(demo, by="segment", users=demo.users)
    b2c = money[(money["segment"] == "b2c") & money["complete"]]
    assert len(b2c) == 12 and b2c["payer_rate"].between(0.15, 0.30).all()    # seed 7: 17.6-22.9 %
    assert b2c["arpu"].between(7, 13).all()                                   # ¥8.6-11.3 a month
    assert b2c["arppu"].between(39, 69).all()     # between the Personal and Personal Plus prices
    renewals = repurchase(demo, window=35, by="segment", users=demo.users)
    done = renewals[(renewals["segment"] == "b2c") & renewals["complete"]]
    # docs/demo.md: 21 % of B2C subscriptions do not renew after 30 days
    assert done["repeat_buyers"].sum() / done["buyers"].sum() == pytest.approx(0.79, abs=0.03)


def test_demo_promotion_goes_to_existing_payers(demo):
    dates = opskit.demo.key_dates()
    window = {"promo_start": dates["promo_start"], "promo_end": dates["promo_end"]}
    by_subs = promotion_response(demo, **window, users=demo.users, by="segment",
                                 subscriptions=demo.subscriptions)
    b2b = by_subs[(by_subs["segment"] == "b2b") & (by_subs["window"] == "promotion")].iloc[0]
    # finding 4: 94 of 106 buying accounts (89 %); here 104 of 116 paying users (admins):
    # the 106 promotion buyers and 10 ordinary renewals or deals in the window
    assert 100 <= b2b["buyers"] <= 125 and b2b["already_paying_share"] == pytest.approx(0.89, abs=0.03)
    assert b2b["rate_ratio"] > 5 and b2b["p_value"] < 1e-6                   # B2B buyers jump
    b2c = by_subs[(by_subs["segment"] == "b2c") & (by_subs["window"] == "promotion")].iloc[0]
    assert b2c["p_value"] > 0.05                                             # no B2C promotion
    by_events = promotion_response(demo, **window, users=demo.users, by="segment")
    early = by_events[(by_events["segment"] == "b2b") & (by_events["window"] == "promotion")].iloc[0]
    # an annual contract's last charge may precede the data: earlier purchases see fewer payers
    assert 0.55 < early["already_paying_share"] < b2b["already_paying_share"]


# --- the same answer on Spark -------------------------------------------------------------------


@pytest.mark.spark
def test_spark_gives_the_same_tables(tmp_path, spark_backend):
    for name, frame in opskit.demo.generate_frames(users=400, seed=11).items():
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
        spark_backend.read_parquet(str(tmp_path / f"{name}.parquet"), table_name=f"consumer_{name}")
    names = ("events", "users", "subscriptions")   # prefixed: other tests register the canonical names
    spark = load_tables(spark_backend, {n: spark_backend.table(f"consumer_{n}") for n in names})
    duck = opskit.load(tmp_path)
    dates = opskit.demo.key_dates()
    calls = [
        lambda ds: revenue_metrics(ds, by="segment", users=ds.users),
        lambda ds: repurchase(ds, window=35, by="segment", users=ds.users),
        lambda ds: aarrr(ds, users=ds.users, activation_event="create_doc", referral_event="invite_member",
                         freq="month", by="segment"),
        lambda ds: promotion_response(ds, promo_start=dates["promo_start"], promo_end=dates["promo_end"],
                                      users=ds.users, by="segment", subscriptions=ds.subscriptions),
    ]
    for call in calls:
        pd.testing.assert_frame_equal(call(spark), call(duck))

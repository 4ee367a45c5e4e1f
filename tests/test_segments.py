"""opskit.segments: RFM scores and segments, operations tags, reactivation of dormant users."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit import engine
from opskit.segments import (
    RFM_SEGMENTS,
    TAGS,
    TagRules,
    _segment_of,
    reactivation,
    rfm,
    rfm_segments,
    tag_counts,
    tags,
)

DAY = pd.Timedelta(days=1)


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return [tuple(None if isinstance(v, float) and np.isnan(v) else v for v in row)
            for row in frame[columns].itertuples(index=False)]


# --- RFM --------------------------------------------------------------------------------------

# Scored on 1 Feb. Five customers with distinct values take scores 1 to 5; "x" only views.
PURCHASES = pd.DataFrame([
    ("a", "2025-01-31 10:00", 10), ("a", "2025-01-20", 10), ("a", "2025-01-10", 10), ("a", "2025-01-05", 10),
    ("b", "2025-01-30", 100), ("b", "2025-01-02", 100), ("b", "2025-01-01", 100),
    ("c", "2025-01-21", 60), ("c", "2025-01-03", 60),
    ("d", "2025-01-11", 500),
    ("e", "2025-01-01", 0.5), ("e", "2025-02-03", 999),   # the second is after as_of
], columns=["user_id", "event_at", "revenue"]).assign(event="purchase")
EVENTS = pd.concat([PURCHASES, pd.DataFrame({"user_id": ["x"], "event_at": ["2025-01-15"],
                                             "revenue": [None], "event": ["view"]})])


def test_rfm_scores_and_segments_by_hand():
    got = rfm(EVENTS, as_of="2025-02-01")
    # recency: a 0 days (31 Jan 10:00 -> 1 Feb is 14 h), b 2, c 11, d 21, e 31
    # frequency: a 4, b 3, c 2, d 1, e 1 (a tie); monetary: a 40, b 300, c 120, d 500, e 0.5
    assert _rows(got, ["user_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
                       "rfm_score", "rfm_segment"]) == [
        ("a", 0, 4, 40.0, 5, 5, 2, "552", "Champions"),
        ("b", 2, 3, 300.0, 4, 4, 4, "444", "Loyal"),
        ("c", 11, 2, 120.0, 3, 3, 3, "333", "Need attention"),
        # d and e both bought once: both have k = 0 customers below them, so F 1
        ("d", 21, 1, 500.0, 2, 1, 5, "215", "Hibernating"),
        ("e", 31, 1, 0.5, 1, 1, 1, "111", "Lost"),
    ]
    assert got[["recency_days", "frequency", "r_score"]].dtypes.eq("int64").all()


def test_rfm_options():
    later = rfm(EVENTS, as_of="2025-02-04")   # e's purchase on 3 Feb now counts
    e = later.set_index("user_id").loc["e"]
    assert e[["frequency", "monetary", "recency_days"]].tolist() == [2, 999.5, 1]
    default = rfm(EVENTS)                     # the end of the data: midnight after 3 Feb
    assert default["recency_days"].tolist() == later["recency_days"].tolist()
    assert rfm(EVENTS, as_of="2025-02-01", event="view").empty   # views carry no revenue
    assert rfm(EVENTS, as_of="2025-02-01", bins=3)["rfm_segment"].isna().all()
    users = pd.DataFrame({"user_id": list("abcdex"), "signup_at": "2024-12-01",
                          "segment": ["b2b", "b2b", "b2c", "b2c", "b2c", "b2c"]})
    grouped = rfm(EVENTS, as_of="2025-02-01", by="segment", users=users, bins=2)
    # scored within the group: b2b has 2 customers, b2c 3
    assert _rows(grouped, ["segment", "user_id", "r_score", "f_score"]) == [
        ("b2b", "a", 2, 2), ("b2b", "b", 1, 1), ("b2c", "c", 2, 2), ("b2c", "d", 1, 1), ("b2c", "e", 1, 1)]
    for bins in (1, 11, 2.5, True):
        with pytest.raises(ValueError, match="bins"):
            rfm(EVENTS, bins=bins)
    with pytest.raises(opskit.DataError, match="revenue"):
        rfm(EVENTS.drop(columns="revenue"))


def test_the_segment_grid():
    grid = {5: ["New customers", "Potential loyalists", "Potential loyalists", "Champions", "Champions"],
            4: ["Promising", "Potential loyalists", "Potential loyalists", "Loyal", "Loyal"],
            3: ["About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"],
            2: ["Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"],
            1: ["Lost", "Hibernating", "At risk", "At risk", "Can't lose them"]}
    assert {r: [_segment_of(r, f) for f in range(1, 6)] for r in grid} == grid
    assert {s for row in grid.values() for s in row} == set(RFM_SEGMENTS)


def test_rfm_segments_counts_customers_and_revenue():
    got = rfm_segments(rfm(EVENTS, as_of="2025-02-01")).set_index("rfm_segment")
    assert got.index.tolist() == list(RFM_SEGMENTS) and got["customers"].sum() == 5
    assert got.loc["Champions", ["customers", "share", "monetary_share"]].tolist() == pytest.approx(
        [1, 0.2, 40 / 960.5])
    assert got.loc["At risk", "customers"] == 0 and np.isnan(got.loc["At risk", "monetary_mean"])
    with pytest.raises(ValueError, match="bins=5"):
        rfm_segments(rfm(EVENTS, bins=3))


def rfm_reference(events: pd.DataFrame, as_of: pd.Timestamp, bins: int) -> pd.DataFrame:
    paid = events[(events["revenue"] > 0) & (events["event_at"] < as_of)]
    per = paid.groupby("user_id").agg(last=("event_at", "max"), frequency=("revenue", "size"),
                                      monetary=("revenue", "sum")).reset_index()
    per["recency_days"] = ((as_of - per["last"]) // DAY).astype("int64")
    n = len(per)
    for score, col in (("r_score", -per["recency_days"]), ("f_score", per["frequency"]),
                       ("m_score", per["monetary"])):
        worse = col.rank(method="min") - 1   # customers strictly worse
        per[score] = (bins * worse // n + 1).astype("int64")
    return per.drop(columns="last")


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from("abcdefg"), st.integers(0, 60 * 24),
                               st.sampled_from([0, 39, 69, 99.5])), min_size=1, max_size=30),
       bins=st.integers(2, 6))
def test_rfm_matches_the_reference(rows, bins):
    base = pd.Timestamp("2025-03-01")
    events = pd.DataFrame({"user_id": [u for u, _, _ in rows], "event": "purchase",
                           "event_at": [base + pd.Timedelta(hours=h) for _, h, _ in rows],
                           "revenue": [float(r) for *_, r in rows]})
    as_of = base + pd.Timedelta(days=50)
    got = rfm(engine.as_table(events), as_of=as_of, bins=bins)
    expected = rfm_reference(events, as_of, bins)
    pd.testing.assert_frame_equal(got[expected.columns], expected, check_dtype=False)


# --- tags ---------------------------------------------------------------------------------------

# Tagged on 1 April (windows: new and dormant from 2 Mar, active from 25 Mar, purchases from
# 1 Jan; activity now from 2 Mar and before from 31 Jan).
TAG_USERS = pd.DataFrame({"user_id": list("abcdef"), "segment": ["b2c", "b2c", "b2b", "b2b", "b2c", "b2c"],
                          "signup_at": ["2024-10-01", "2025-03-02", "2025-03-01 23:00", "2024-12-01",
                                        "2024-12-01", "2025-04-01"]})
TAG_EVENTS = pd.DataFrame([
    ("a", "2025-01-01", 39), ("a", "2025-02-01", 39), ("a", "2025-03-01", 39), ("a", "2025-04-01", 39),
    ("a", "2025-03-10", None), ("a", "2025-03-20", None), ("a", "2025-03-25", None),
    ("d", "2025-02-05", None), ("d", "2025-02-10", None), ("d", "2025-02-20", None),
    ("d", "2025-03-02", None),
    ("e", "2025-02-05", None), ("e", "2025-03-01 23:59", None), ("g", "2025-03-30", None),
], columns=["user_id", "event_at", "revenue"]).assign(event="x")


def test_tags_by_hand():
    got = tags(TAG_EVENTS, users=TAG_USERS, as_of="2025-04-01", by="segment")
    assert got["user_id"].tolist() == list("abcde")   # f signs up at as_of, g is not a user
    assert _rows(got, ["user_id", *TAGS]) == [
        ("a", False, True, True, False, False),    # 3 purchases from 1 Jan 00:00; active days 3 vs 2
        ("b", True, False, False, False, False),   # signed up exactly 30 days before: new, not dormant
        ("c", False, False, False, True, False),   # signed up before 2 Mar and never active
        ("d", False, False, False, False, True),   # 3 active days before, 1 now (2 Mar 00:00)
        ("e", False, False, False, True, True),    # 2 before, none now: dormant and at risk
    ]
    evidence = ["user_id", "days_since_last_event", "active_days", "active_days_before", "purchases"]
    assert _rows(got, evidence) == [
        ("a", 7.0, 3, 2, 3), ("b", None, 0, 0, 0), ("c", None, 0, 0, 0), ("d", 30.0, 1, 3, 0),
        ("e", 30.0, 0, 2, 0)]
    assert got["segment"].tolist() == ["b2c", "b2c", "b2b", "b2b", "b2c"]
    counts = tag_counts(got)
    assert _rows(counts[counts["segment"] == "b2b"], ["tag", "users", "share"]) == [
        ("new", 0, 0.0), ("active", 0, 0.0), ("high_frequency_payer", 0, 0.0), ("dormant", 1, 0.5),
        ("churn_risk", 1, 0.5)]
    assert counts["tag_zh"].tolist()[:5] == list(TAGS.values())


def test_tag_rules_are_parameters():
    stricter = tags(TAG_EVENTS, users=TAG_USERS, as_of="2025-04-01",
                    rules={"payer_purchases": 4, "risk_drop": 0.8})
    assert stricter["high_frequency_payer"].sum() == 0
    assert stricter["churn_risk"].tolist() == [False, False, False, False, True]  # d: 1 > 0.2 x 3
    longer = tags(TAG_EVENTS, users=TAG_USERS, as_of="2025-04-01", rules=TagRules(dormant_days=40))
    assert longer["dormant"].tolist() == [False, False, False, False, False]
    assert "40 days" in TagRules(dormant_days=40).describe()["dormant"]
    with pytest.raises(TypeError, match="dormant_days"):
        tags(TAG_EVENTS, users=TAG_USERS, rules={"dormant": 40})
    with pytest.raises(ValueError, match="risk_drop"):
        TagRules(risk_drop=1.5)
    no_revenue = TAG_EVENTS.drop(columns="revenue")
    with pytest.raises(opskit.DataError, match="event='purchase'"):
        tags(no_revenue, users=TAG_USERS)
    by_name = tags(no_revenue.assign(event=np.where(TAG_EVENTS["revenue"] > 0, "pay", "x")),
                   users=TAG_USERS, as_of="2025-04-01", event="pay")
    assert by_name["purchases"].tolist() == [3, 0, 0, 0, 0]


# --- reactivation -------------------------------------------------------------------------------

REACT = pd.DataFrame({"user_id": ["a", "a", "b", "b", "c", "c", "d"], "event": "use",
                      "event_at": ["2025-01-02", "2025-03-10", "2025-01-03", "2025-05-20", "2025-01-05",
                                   "2025-02-20", "2025-05-31"]})
M = pd.to_datetime(["2025-02-01", "2025-03-01", "2025-04-01", "2025-05-01"])


def test_reactivation_by_hand():
    got = reactivation(REACT)
    assert _rows(got, ["period", "dormant", "reactivated", "rate", "complete"]) == [
        (M[0], 0, 0, None, True), (M[1], 2, 1, 0.5, True), (M[2], 2, 0, 0.0, True), (M[3], 3, 1, 1 / 3, True)]
    # users: e signed up on 10 Jan and never came (dormant from 1 March); d is not in users
    users = pd.DataFrame({"user_id": list("abce"), "segment": ["x", "y", "x", "y"],
                          "signup_at": ["2024-12-01", "2025-01-01", "2025-01-01", "2025-01-10"]})
    with_users = reactivation(REACT, users=users, by="segment")
    assert _rows(with_users, ["segment", "period", "dormant", "reactivated"]) == [
        ("x", M[0], 0, 0), ("x", M[1], 1, 1), ("x", M[2], 1, 0), ("x", M[3], 2, 0),
        ("y", M[0], 0, 0), ("y", M[1], 2, 0), ("y", M[2], 2, 0), ("y", M[3], 2, 1)]
    short = reactivation(REACT, window_days=45, start="2025-03-01", end="2025-05-01")
    assert _rows(short, ["period", "dormant", "reactivated", "rate", "complete"]) == [
        (M[1], 2, 1, 0.5, True), (M[2], 2, 0, 0.0, True)]
    assert not reactivation(REACT, window_days=40)["complete"].iloc[-1]   # 1 May + 40 d > 1 June
    weekly = reactivation(REACT, freq="week", dormant_days=60)
    assert weekly["period"].iloc[0] == pd.Timestamp("2025-03-03")         # Mon 3 Mar - 60 d = 2 Jan
    for bad in ({"freq": "year"}, {"dormant_days": 0}, {"window_days": -1}):
        with pytest.raises(ValueError):
            reactivation(REACT, **bad)
    with pytest.raises(ValueError, match="pass users="):
        reactivation(REACT, by="segment")


def reactivation_reference(events, *, dormant, window, freq):
    times = events.groupby("user_id")["event_at"].apply(sorted)
    first_day, horizon = events["event_at"].min().normalize(), events["event_at"].max().normalize() + DAY
    fmt = {"day": "D", "week": "W-MON", "month": "MS"}[freq]
    start = {"day": first_day, "week": first_day - first_day.weekday() * DAY,
             "month": first_day.replace(day=1)}
    rows = []
    for p in pd.date_range(start[freq], horizon - DAY, freq=fmt):
        if p - dormant * DAY < first_day:
            continue
        lo, hi = p - dormant * DAY, p + window * DAY
        asleep = [ts for ts in times if ts[0] < lo and not any(lo <= t < p for t in ts)]
        back = sum(any(p <= t < hi for t in ts) for ts in asleep)
        rows.append((p, len(asleep), back))
    return pd.DataFrame(rows, columns=["period", "dormant", "reactivated"])


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from("abcde"), st.integers(0, 120 * 24)), min_size=1, max_size=25),
       freq=st.sampled_from(["day", "week", "month"]), dormant=st.sampled_from([7, 30]),
       window=st.sampled_from([3, 30]))
def test_reactivation_matches_the_reference(rows, freq, dormant, window):
    base = pd.Timestamp("2025-01-29 05:00")
    events = pd.DataFrame({"user_id": [u for u, _ in rows], "event": "e",
                           "event_at": [base + pd.Timedelta(hours=h) for _, h in rows]})
    got = reactivation(engine.as_table(events), dormant_days=dormant, window_days=window, freq=freq)
    expected = reactivation_reference(events, dormant=dormant, window=window, freq=freq)
    pd.testing.assert_frame_equal(got[expected.columns], expected, check_dtype=False)


# --- engines and the demo ----------------------------------------------------------------------


@pytest.mark.spark
def test_spark_gives_the_same_tables(demo_parquet, spark_backend):
    folder = demo_parquet(400, 11)
    for path in folder.glob("*.parquet"):
        spark_backend.read_parquet(str(path), table_name=path.stem)
    on_spark, on_duckdb = opskit.load(spark_backend), opskit.load(folder)
    calls = [lambda d: rfm(d, by="segment", users=d), lambda d: tags(d, users=d, by="segment"),
             lambda d: reactivation(d, users=d, by="segment", freq="week"),
             lambda d: reactivation(d, event="purchase")]
    for call in calls:
        pd.testing.assert_frame_equal(call(on_spark), call(on_duckdb))


@pytest.mark.parametrize("seed", [7, 2024])
def test_the_promotion_wakes_up_dormant_b2b_payers(demo_frames, seed):
    # docs/demo.md, finding 4: the 双11 offer is bought by accounts that already pay (yearly,
    # so they have not paid for months): November's purchase reactivation stands out
    frames = demo_frames(20_000, seed)
    ds = {name: engine.as_table(frames[name]) for name in ("events", "users")}  # already canonical
    got = reactivation(ds["events"], event="purchase", users=ds["users"], by="segment")
    b2b = got[got["segment"] == "b2b"].set_index("period")["rate"]
    assert b2b.idxmax() == pd.Timestamp("2025-11-01")
    assert b2b.max() >= 3 * b2b.drop(pd.Timestamp("2025-11-01")).median()
    # 39 % of the users who signed up before the window have no event in it: all are dormant
    tagged = tags(ds["events"], users=ds["users"])
    silent = tagged["signup_at"].lt("2025-01-01") & tagged["last_event_at"].isna()
    assert 0.35 <= silent.sum() / tagged["signup_at"].lt("2025-01-01").sum() <= 0.43
    assert tagged.loc[silent, "dormant"].all() and not tagged.loc[silent, "active"].any()

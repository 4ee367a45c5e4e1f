"""opskit.lifecycle: hand-computed statuses, a plain reference, the identities, the demo, Spark."""

from __future__ import annotations

import math

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit._periods import floor_period
from opskit.activity import active_users
from opskit.lifecycle import STATUSES, lifecycle, pulse

# ISO weeks: W1 = Mon 2025-01-06, W2 = 01-13, W3 = 01-20, W4 = 01-27, W5 = 02-03.
# a: W1, W2, W3 (twice in W2).  b: W2, then W5.  c: W5.  d: W1 only, its first event is a
# page view and it signed up in 2024.
EVENTS = pd.DataFrame([
    ("a", "2025-01-06 10:00", "login"), ("a", "2025-01-14 10:00", "login"),
    ("a", "2025-01-19 23:59", "create_doc"), ("a", "2025-01-21 08:00", "login"),
    ("b", "2025-01-15 09:00", "login"), ("b", "2025-02-04 09:00", "create_doc"),
    ("c", "2025-02-04 12:00", "login"), ("d", "2025-01-07 12:00", "page_view"),
], columns=["user_id", "event_at", "event"])
USERS = pd.DataFrame({"user_id": ["a", "b", "c", "d"], "account_id": ["A", "A", "C", None],
                      "segment": ["b2b", "b2b", "b2c", "b2c"],
                      "signup_at": ["2025-01-06", "2025-01-15", "2025-01-20", "2024-12-01"]})
W = pd.to_datetime(["2025-01-06", "2025-01-13", "2025-01-20", "2025-01-27", "2025-02-03"])


def _wide(frame: pd.DataFrame, *by: str) -> list[tuple]:
    """(period, new, returning, resurrecting, dormant[, by]) rows."""
    wide = frame.pivot_table(index=[*by, "period"], columns="status", values="users", aggfunc="sum")
    wide = wide[list(STATUSES)].reset_index()
    return [tuple(r) for r in wide[["period", *STATUSES, *by]].itertuples(index=False)]


def test_weekly_statuses_by_hand():
    got = lifecycle(EVENTS)
    assert got.columns.tolist() == ["period", "status", "users"]
    assert got["status"].tolist()[:4] == list(STATUSES)
    assert (got["period"].dtype, got["users"].dtype) == ("datetime64[ns]", "int64")
    assert _wide(got) == [
        (W[0], 2, 0, 0, 0),    # a and d: first events
        (W[1], 1, 1, 0, -1),   # b new; a returning; d went quiet
        (W[2], 0, 1, 0, -1),   # a returning; b went quiet
        (W[3], 0, 0, 0, -1),   # nobody active; a went quiet
        (W[4], 1, 0, 1, 0),    # c new; b back after two quiet weeks (not a lag of 1 active period)
    ]


def test_event_filter_and_monthly_periods():
    # only create_doc counts: a in January (its first), b in February (its first)
    got = lifecycle(EVENTS, freq="month", event="create_doc")
    assert _wide(got) == [(pd.Timestamp("2025-01-01"), 1, 0, 0, 0),
                          (pd.Timestamp("2025-02-01"), 1, 0, 0, -1)]


def test_accounts_and_breakdown():
    # accounts: A = a + b (b2b); C = c; d has no account and counts as its own (b2c)
    got = lifecycle(EVENTS, by_account=True, users=USERS, by="segment")
    assert got.columns.tolist() == ["period", "status", "users", "segment"]
    assert _wide(got, "segment") == [
        (W[0], 1, 0, 0, 0, "b2b"), (W[1], 0, 1, 0, 0, "b2b"), (W[2], 0, 1, 0, 0, "b2b"),
        (W[3], 0, 0, 0, -1, "b2b"), (W[4], 0, 0, 1, 0, "b2b"),   # A back: b's February event
        (W[0], 1, 0, 0, 0, "b2c"), (W[1], 0, 0, 0, -1, "b2c"), (W[2], 0, 0, 0, 0, "b2c"),
        (W[3], 0, 0, 0, 0, "b2c"), (W[4], 1, 0, 0, 0, "b2c"),    # C new
    ]


def test_new_by_signup():
    # a signed up in W1 (new there); b in W2 (new); c signed up in W3 but is first seen in W5:
    # resurrecting, as PostHog counts a profile created before its first event; d signed up
    # in 2024: resurrecting in W1
    got = lifecycle(EVENTS, users=USERS, new_by="signup")
    assert _wide(got)[0] == (W[0], 1, 0, 1, 0)
    assert _wide(got)[4] == (W[4], 0, 0, 2, 0)


def test_start_end_report_a_slice_but_use_all_history():
    got = lifecycle(EVENTS, start="2025-01-13", end="2025-02-01")
    assert _wide(got) == [(W[1], 1, 1, 0, -1), (W[2], 0, 1, 0, -1), (W[3], 0, 0, 0, -1)]


def test_pulse_by_hand():
    got = pulse(lifecycle(EVENTS))
    assert got.columns.tolist() == ["period", *STATUSES, "active", "pulse"]
    assert got["active"].tolist() == [2, 2, 1, 0, 2]
    # W2: (1 new + 0 resurrecting) / 1 dormant; W5: nobody lost, no ratio
    assert got["pulse"].tolist()[1:4] == [1.0, 0.0, 0.0]
    assert math.isnan(got["pulse"].iloc[0]) and math.isnan(got["pulse"].iloc[4])
    by_segment = pulse(lifecycle(EVENTS, by_account=True, users=USERS, by="segment"))
    assert by_segment.columns.tolist()[-1] == "segment" and len(by_segment) == 10


def test_bad_options_and_data():
    with pytest.raises(ValueError, match="freq must be one of"):
        lifecycle(EVENTS, freq="quarter")
    with pytest.raises(ValueError, match="new_by must be one of"):
        lifecycle(EVENTS, new_by="signup_at")
    with pytest.raises(ValueError, match="pass users"):
        lifecycle(EVENTS, by_account=True)
    with pytest.raises(TypeError, match="by_account"):
        lifecycle(EVENTS, by_account="yes", users=USERS)
    # a users frame is de-duplicated when validated; an Ibis table is taken as it is
    twice = ibis.memtable(pd.concat([USERS, USERS.head(1)]).drop(columns="signup_at"))
    with pytest.raises(opskit.DataError, match=r"users\.user_id: 1 of 5 rows repeat a user_id"):
        lifecycle(EVENTS, by_account=True, users=twice)
    with pytest.raises(opskit.DataError, match="account_id"):
        lifecycle(EVENTS, by_account=True, users=USERS.drop(columns="account_id"))


def test_no_matching_events_gives_an_empty_frame():
    got = lifecycle(EVENTS, event="purchase")
    assert got.empty and got.columns.tolist() == ["period", "status", "users"]


# --- a plain reference on random logs ----------------------------------------------------

ACCOUNTS = {"u1": "A", "u2": "A", "u3": "B"}   # u4 has no account


def _step(freq: str) -> pd.DateOffset:
    return {"day": pd.DateOffset(days=1), "week": pd.DateOffset(weeks=1),
            "month": pd.DateOffset(months=1)}[freq]


def reference(events: pd.DataFrame, freq: str, by_account: bool) -> list[tuple]:
    """Sets of active units per calendar period, compared with the period just before."""
    unit = events["user_id"].map(lambda u: ACCOUNTS.get(u, u)) if by_account else events["user_id"]
    period = events["event_at"].map(lambda t: floor_period(t, freq))
    active: dict[pd.Timestamp, set] = {}
    for p, u in zip(period, unit, strict=True):
        active.setdefault(p, set()).add(u)
    first: dict[str, pd.Timestamp] = {}
    for p, u in sorted(zip(period, unit, strict=True)):
        first.setdefault(u, p)
    rows, p = [], min(active)
    while p <= max(active):
        now, before = active.get(p, set()), active.get(p - _step(freq), set())
        new = {u for u in now if first[u] == p}
        returning = now & before
        rows.append((p, len(new), len(returning), len(now - new - returning), -len(before - now)))
        p = p + _step(freq)
    return rows


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3", "u4"]),
                               st.integers(min_value=0, max_value=120 * 24 * 60)),
                     min_size=1, max_size=30),
       freq=st.sampled_from(["day", "week", "month"]), by_account=st.booleans())
def test_matches_the_reference_on_random_logs(rows, freq, by_account):
    base = pd.Timestamp("2025-01-29 17:00")
    events = pd.DataFrame({"user_id": [u for u, _ in rows], "event": "e",
                           "event_at": [base + pd.Timedelta(minutes=m) for _, m in rows]})
    users = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "account_id": ["A", "A", "B", None]})
    # typed Ibis tables skip the validation of frames (tested above): a faster property test
    got = lifecycle(ibis.memtable(events), freq=freq, by_account=by_account, users=ibis.memtable(users))
    assert _wide(got) == reference(events, freq, by_account)


# --- the demo: the identities, and B2C losing its active accounts faster -----------------


@pytest.fixture(scope="module")
def demo():
    return opskit.Dataset.from_frames(**opskit.demo.generate_frames(users=2000, seed=7))


def test_identities_on_the_demo(demo):
    got = pulse(lifecycle(demo, freq="week"))
    # active in t = new + returning + resurrecting = WAU of opskit.activity
    wau = active_users(demo, freq="week")
    assert got["period"].tolist() == wau["period"].tolist()
    assert got["active"].tolist() == wau["active_users"].tolist()
    # dormant in t = active in t-1 - returning in t
    lost = got["active"].shift(1) - got["returning"]
    assert (-got["dormant"]).iloc[1:].tolist() == lost.iloc[1:].astype("int64").tolist()
    assert got["dormant"].iloc[0] == 0 and (got[["new", "returning", "resurrecting"]] >= 0).all().all()


def test_demo_b2c_loses_its_active_accounts_faster(demo):
    # planted finding b2c_vs_b2b_churn: pooled over the months, the share of last month's
    # active accounts that went dormant is ~39 % for B2C and ~11 % for B2B at this size
    got = pulse(lifecycle(demo, freq="month", by_account=True, users=demo, by="segment"))
    got["before"] = got.groupby("segment")["active"].shift(1)
    pooled = got.dropna(subset=["before"]).groupby("segment")[["dormant", "before"]].sum()
    rate = -pooled["dormant"] / pooled["before"]
    assert rate["b2c"] > 2.5 * rate["b2b"]
    assert 0.3 < rate["b2c"] < 0.5


# --- the same answer from every engine ---------------------------------------------------


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lifecycle_demo")
    for name, frame in opskit.demo.generate_frames(users=300, seed=3).items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


OPTIONS = [dict(freq="week"), dict(freq="month", by_account=True, by="segment"),
           dict(freq="day", new_by="signup", event=["create_doc", "edit_doc"])]


@pytest.mark.spark
def test_spark_gives_the_same_table(demo_folder, spark_backend):
    for path in demo_folder.glob("*.parquet"):
        spark_backend.read_parquet(str(path), table_name=path.stem)
    on_spark, on_duckdb = opskit.load(spark_backend), opskit.load(demo_folder)
    for options in OPTIONS:
        expected = lifecycle(on_duckdb, users=on_duckdb, **options)
        assert len(expected) > 0 and np.any(expected["users"] < 0)
        pd.testing.assert_frame_equal(lifecycle(on_spark, users=on_spark, **options), expected)

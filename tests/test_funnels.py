"""opskit.funnels: hand-computed funnels in each order, a brute-force reference, the demo, Spark."""

from __future__ import annotations

import itertools
import math

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit.consumer import aarrr
from opskit.funnels import funnel, time_to_convert

STEPS = ["signup", "create_doc", "share_doc"]
# window 7 days.  a: a page view between signup and create_doc (breaks strict order).
# b: signup, create_doc 5 min later, share_doc 15 min after that: converts in every order.
# c: shares before creating: sequential stops at step 2, "any" order completes.
# d: creates a doc 9 days after signup, outside the window.  e: created a doc before signing
# up (does not count).  g: signs up twice; the second signup does not start a new attempt.
# f: never signs up, so never enters.
EVENTS = pd.DataFrame([
    ("a", "2025-01-01 10:00", "signup", "ios"), ("a", "2025-01-01 10:10", "page_view", "ios"),
    ("a", "2025-01-01 10:30", "create_doc", "ios"), ("a", "2025-01-02 10:30", "share_doc", "web"),
    ("b", "2025-01-01 09:00", "signup", "web"), ("b", "2025-01-01 09:05", "create_doc", "web"),
    ("b", "2025-01-01 09:20", "share_doc", "web"),
    ("c", "2025-01-02 08:00", "signup", "ios"), ("c", "2025-01-02 08:10", "share_doc", "ios"),
    ("c", "2025-01-02 09:00", "create_doc", "ios"),
    ("d", "2025-01-03 00:00", "signup", "web"), ("d", "2025-01-12 00:00", "create_doc", "web"),
    ("e", "2025-01-01 00:00", "create_doc", "web"), ("e", "2025-01-04 00:00", "signup", "web"),
    ("g", "2025-01-01 12:00", "signup", "web"), ("g", "2025-01-20 12:00", "signup", "web"),
    ("g", "2025-01-21 12:00", "create_doc", "web"),
    ("f", "2025-01-05 12:00", "create_doc", "web"), ("f", "2025-01-05 13:00", "share_doc", "web"),
], columns=["user_id", "event_at", "event", "platform"])
USERS = pd.DataFrame({"user_id": list("abcdefg"), "signup_at": "2025-01-01",
                      "account_id": ["A", "A", "C", "D", "E", "F", None],
                      "segment": ["b2b", "b2b", "b2c", "b2c", "b2c", "b2c", "b2c"]})
# the same rows as a typed Ibis table: skips the validation of frames (tested once, in
# test_each_order_by_hand), which keeps this file fast
TYPED = ibis.memtable(EVENTS.assign(event_at=pd.to_datetime(EVENTS["event_at"])))
COLUMNS = ["step", "event", "users", "conversion", "ci_low", "ci_high", "step_conversion", "drop_off",
           "drop_off_rate", "median_seconds_to_convert"]


def _col(frame: pd.DataFrame, name: str) -> list:
    return [None if isinstance(v, float) and math.isnan(v) else v for v in frame[name]]


@pytest.mark.parametrize(("order", "users", "medians"), [
    # sequential: a b c d e g enter; a b c create (1800, 300, 3600 s); a b share (86400, 900 s)
    ("sequential", [6, 3, 2], [None, 1800.0, (86400 + 900) / 2]),
    # strict: only b has nothing in between (a viewed a page, c shared first)
    ("strict", [6, 1, 1], [None, 300.0, 900.0]),
    # any: c completes too; its step 3 is done when its later step (create_doc) is, 0 s after
    ("any", [6, 3, 3], [None, 1800.0, 900.0]),
])
def test_each_order_by_hand(order, users, medians):
    got = funnel(EVENTS, steps=STEPS, window_days=7, order=order)
    assert got.columns.tolist() == COLUMNS
    assert got["step"].tolist() == [1, 2, 3] and got["event"].tolist() == STEPS
    assert got["users"].tolist() == users
    assert got["conversion"].tolist() == pytest.approx([1, users[1] / 6, users[2] / 6])
    assert _col(got, "step_conversion")[1:] == pytest.approx([users[1] / 6, users[2] / users[1]])
    assert got["drop_off"].tolist() == [0, 6 - users[1], users[1] - users[2]]
    assert _col(got, "median_seconds_to_convert") == medians
    assert got.dtypes[["step", "users", "drop_off"]].tolist() == ["int64"] * 3


def test_window_and_entry_range():
    # a 1-day window: a's share_doc 24.5 h after its signup is out ([entry, entry + 1 d))
    got = funnel(TYPED, steps=STEPS, window_days=1)
    assert got["users"].tolist() == [6, 3, 1]
    # entries from 2 Jan: c, d, e, g (g's first signup in range is on 20 Jan; a doc follows
    # the next day)
    got = funnel(TYPED, steps=STEPS, window_days=7, start="2025-01-02")
    assert got["users"].tolist() == [4, 2, 0]
    got = funnel(TYPED, steps=STEPS, window_days=0.25, start="2025-01-02", end="2025-01-03")
    assert got["users"].tolist() == [1, 1, 0]   # c only


def test_ties_and_repeated_steps():
    ev = pd.DataFrame([
        ("p", "2025-01-01 10:00", "signup"), ("p", "2025-01-01 10:00", "page_view"),
        ("p", "2025-01-01 10:05", "create_doc"),      # page view simultaneous with the signup
        ("q", "2025-01-01 10:00", "signup"), ("q", "2025-01-01 10:00", "create_doc"),
        ("r", "2025-01-01 10:00", "view"), ("r", "2025-01-01 10:00", "view"),
        ("s", "2025-01-01 10:00", "view"), ("s", "2025-01-01 10:00:01", "view"),
    ], columns=["user_id", "event_at", "event"])
    for order in ("sequential", "strict"):   # a simultaneous event is never "in between"
        assert funnel(ev, steps=["signup", "create_doc"], order=order)["users"].tolist() == [2, 2]
    # one event never fills two steps: r's two views at the same instant are not a repeat
    assert funnel(ev, steps=["view", "view"])["users"].tolist() == [2, 1]
    assert funnel(ev, steps=["view", "view"], order="strict")["users"].tolist() == [2, 1]


def test_strict_finds_a_path_the_earliest_events_miss():
    # x@0, y@0, y@1, z@2: y@0 leads nowhere (z is two instants later), y@1 then z@2 works
    ev = pd.DataFrame({"user_id": "u", "event": ["x", "y", "y", "z"],
                       "event_at": ["2025-01-01 00:00:00", "2025-01-01 00:00:00", "2025-01-01 00:00:01",
                                    "2025-01-01 00:00:02"]})
    got = funnel(ev, steps=["x", "y", "z"], order="strict")
    assert got["users"].tolist() == [1, 1, 1]
    assert _col(got, "median_seconds_to_convert") == [None, 0.0, 2.0]


def test_breakdowns_and_accounts():
    # platform of the entering event: a c on ios; b d e g on web
    got = funnel(TYPED, steps=STEPS, window_days=7, by="platform")
    assert got.columns.tolist() == [*COLUMNS, "platform"]
    assert list(zip(got["platform"], got["users"], strict=True)) == [
        ("ios", 2), ("ios", 2), ("ios", 1), ("web", 4), ("web", 1), ("web", 1)]
    got = funnel(TYPED, steps=STEPS, window_days=7, by="segment", users=USERS)
    assert got.loc[got["segment"] == "b2b", "users"].tolist() == [2, 2, 2]    # a, b
    # accounts: A = a + b enters at b's 09:00 signup and converts on b's events; g has no
    # account and counts as its own; F (f) never signs up
    got = funnel(TYPED, steps=STEPS, window_days=7, count_by="account", users=USERS)
    assert got["users"].tolist() == [5, 2, 1]     # A C D E g; A C; A
    assert _col(got, "median_seconds_to_convert")[1:] == [(300 + 3600) / 2, 900.0]


def test_time_to_convert_by_hand():
    got = time_to_convert(TYPED, steps=STEPS, window_days=7, buckets=["10min", "1h", "1D"])
    assert got.columns.tolist() == ["bucket", "from_seconds", "to_seconds", "users", "share",
                                    "cumulative_share"]
    # signup -> share_doc: b 20 min, a 24.5 h
    assert got["bucket"].tolist() == ["<10min", "10min-1h", "1h-1d", ">=1d"]
    assert got["users"].tolist() == [0, 1, 0, 1]
    assert got["cumulative_share"].tolist() == [0.0, 0.5, 0.5, 1.0]
    steps_2_3 = time_to_convert(TYPED, steps=STEPS, window_days=7, from_step=2, buckets=["1h"])
    assert steps_2_3["users"].tolist() == [1, 1]   # b 15 min, a 24 h


def test_bad_options():
    with pytest.raises(ValueError, match="order must be one of"):
        funnel(TYPED, steps=STEPS, order="loose")
    with pytest.raises(ValueError, match="at least two"):
        funnel(TYPED, steps=["signup"])
    with pytest.raises(TypeError, match="list of event names"):
        funnel(TYPED, steps="signup")
    with pytest.raises(ValueError, match="distinct"):
        funnel(TYPED, steps=["view", "view"], order="any")
    with pytest.raises(ValueError, match="window_days must be > 0"):
        funnel(TYPED, steps=STEPS, window_days=0)
    with pytest.raises(ValueError, match="pass users"):
        funnel(TYPED, steps=STEPS, count_by="account")
    with pytest.raises(ValueError, match="count_by must be one of"):
        funnel(TYPED, steps=STEPS, count_by="team")
    with pytest.raises(ValueError, match="from_step < to_step"):
        time_to_convert(TYPED, steps=STEPS, from_step=3)
    with pytest.raises(ValueError, match="increasing"):
        time_to_convert(TYPED, steps=STEPS, buckets=["1D", "1h"])
    with pytest.raises(opskit.DataError, match=r"events\.event"):
        funnel(EVENTS.drop(columns="event"), steps=STEPS)


# --- a brute-force reference on random logs ----------------------------------------------


def reference(events: pd.DataFrame, steps: list[str], window: pd.Timedelta, order: str) -> dict:
    """unit -> the earliest completion time of each step reached, by trying every chain."""
    out = {}
    for unit, g in events.groupby("user_id"):
        rows = list(zip(g["event_at"], g["event"], strict=True))
        starts = [t for t, e in rows if e == steps[0]]
        if not starts:
            continue
        t1 = min(starts)
        inside = [(t, e) for t, e in rows if t1 <= t < t1 + window]
        times = [t1]
        for k in range(2, len(steps) + 1):
            if order == "any":
                firsts = [min([t for t, e in inside if e == s], default=None) for s in steps[1:k]]
                best = None if None in firsts else max(firsts)
            else:
                best = None
                options = [[t for t, e in inside if e == s] for s in steps[1:k]]
                for chain in itertools.product(*options):
                    path = [t1, *chain]
                    ok = all((b > a) if steps[j] in steps[:j] else (b >= a)
                             for j, (a, b) in enumerate(itertools.pairwise(path), start=1))
                    if ok and order == "strict":
                        ok = not any(a < t < b for a, b in itertools.pairwise(path) for t, _ in rows)
                    if ok and (best is None or path[-1] < best):
                        best = path[-1]
            if best is None:
                break
            times.append(best)
        out[unit] = times
    return out


def _expected(paths: dict, n: int) -> tuple[list[int], list]:
    users = [sum(len(t) >= k for t in paths.values()) for k in range(1, n + 1)]
    medians = [None] + [
        float(np.median([(t[k - 1] - t[k - 2]).total_seconds() for t in paths.values() if len(t) >= k]))
        if users[k - 1] else None for k in range(2, n + 1)]
    return users, medians


ORDERED_STEPS = [["a", "b", "c"], ["a", "b", "a"], ["a", "a"], ["b", "a", "c"], ["a", "c", "b", "x"]]


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3", "u4"]),
                               st.sampled_from(["a", "b", "c", "x"]), st.integers(0, 40)),
                     min_size=1, max_size=30),
       steps=st.sampled_from(ORDERED_STEPS), order=st.sampled_from(["sequential", "strict", "any"]),
       window_hours=st.sampled_from([1, 3, 24]), by_account=st.booleans())
def test_matches_the_reference_on_random_logs(rows, steps, order, window_hours, by_account):
    if order == "any" and len(set(steps)) < len(steps):
        steps = ["b", "a", "c"]
    base = pd.Timestamp("2025-03-01")
    events = pd.DataFrame({"user_id": [u for u, _, _ in rows], "event": [e for _, e, _ in rows],
                           "event_at": [base + pd.Timedelta(minutes=10 * m) for _, _, m in rows]})
    users = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "account_id": ["A", "A", "B", None]})
    window = pd.Timedelta(hours=window_hours)
    got = funnel(ibis.memtable(events), steps=steps, window_days=window_hours / 24, order=order,
                 count_by="account" if by_account else "user", users=ibis.memtable(users))
    if by_account:
        events = events.assign(user_id=events["user_id"].replace({"u1": "A", "u2": "A", "u3": "B"}))
    users_k, medians = _expected(reference(events, steps, window, order), len(steps))
    assert got["users"].tolist() == users_k
    assert _col(got, "median_seconds_to_convert") == medians
    # strict order is a special case of sequential, which (with distinct steps) is one of "any"
    if order == "strict":
        loose = funnel(ibis.memtable(events), steps=steps, window_days=window_hours / 24)
        assert (got["users"] <= loose["users"]).all()


# --- the demo --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    return opskit.Dataset.from_frames(**opskit.demo.generate_frames(users=2000, seed=7))


def test_demo_funnels_never_grow(demo):
    steps = ["signup", "create_doc", "edit_doc", "share_doc", "purchase"]
    for order in ("sequential", "strict", "any"):
        got = funnel(demo, steps=steps, window_days=30, order=order)
        assert got["users"].is_monotonic_decreasing and got["users"].iloc[0] > 1000
        assert (got["drop_off"] >= 0).all()


def test_demo_activation_matches_aarrr(demo):
    # the key action within 7 days of signup, entries whose window ended by the data's end
    # (1 Jan 2026): the same users as opskit.consumer.aarrr's activation stage (~57 %)
    got = funnel(demo, steps=["signup", "create_doc"], window_days=7, end="2025-12-25")
    stage = aarrr(demo, activation_event="create_doc", users=demo).set_index("stage")
    assert got["users"].tolist() == [stage.at["activation", "eligible"], stage.at["activation", "users"]]
    assert 0.5 < got["conversion"].iloc[1] < 0.65


def test_demo_wechat_converts_best(demo):
    # planted finding wechat_converts_best_costs_most: signup -> purchase by acquisition channel
    got = funnel(demo, steps=["signup", "purchase"], window_days=365, by="channel", users=demo)
    paid = got[got["step"] == 2].set_index("channel")["conversion"]
    assert paid.idxmax() == "微信"
    assert paid["微信"] > 1.5 * paid.drop("微信").median()


# --- the same answer from every engine ---------------------------------------------------


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("funnel_demo")
    for name, frame in opskit.demo.generate_frames(users=300, seed=5).items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


OPTIONS = [dict(order="sequential", by="segment"), dict(order="strict", count_by="account"),
           dict(order="any", by="page", window_days=2.5)]


@pytest.mark.spark
def test_spark_gives_the_same_table(demo_folder, spark_backend):
    for path in demo_folder.glob("*.parquet"):
        spark_backend.read_parquet(str(path), table_name=path.stem)
    on_spark, on_duckdb = opskit.load(spark_backend), opskit.load(demo_folder)
    steps = ["signup", "create_doc", "edit_doc", "share_doc"]
    for options in OPTIONS:
        options = {"window_days": 30, **options}
        expected = funnel(on_duckdb, steps=steps, users=on_duckdb, **options)
        assert expected["users"].iloc[0] > 0
        pd.testing.assert_frame_equal(funnel(on_spark, steps=steps, users=on_spark, **options), expected)
    pd.testing.assert_frame_equal(time_to_convert(on_spark, steps=steps, window_days=30),
                                  time_to_convert(on_duckdb, steps=steps, window_days=30))

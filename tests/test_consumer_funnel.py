"""opskit.consumer.aarrr: hand-computed funnels, a plain reference, the demo's funnel."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit import engine
from opskit.consumer import STAGES, aarrr

# The events run from 1 Jan to 31 Mar 2025: the data end at 2025-04-01.
# a: activates on day 2, pays on day 9, invites on day 19, comes back on day 35.
# b: creates a doc exactly 7 days after signup (too late), visits on day 61 (too late).
# c: activates, comes back exactly on day 30 (counts), pays on day 37 (too late).
# d: signs up on 20 Mar: only its 7-day window has ended.  f: signs up, never seen again.
# g: never activates, pays on day 5, comes back on day 40.  e: signed up before the data.
EVENTS = pd.DataFrame([
    ("a", "2025-01-01 00:00", "signup", None), ("a", "2025-01-03 00:00", "create_doc", None),
    ("a", "2025-01-10 00:00", "purchase", 39.0), ("a", "2025-01-20 00:00", "invite_member", None),
    ("a", "2025-02-05 00:00", "view", None),
    ("b", "2025-01-02 00:00", "signup", None), ("b", "2025-01-09 00:00", "create_doc", None),
    ("b", "2025-03-04 00:00", "view", None),
    ("c", "2025-01-04 00:00", "signup", None), ("c", "2025-01-05 00:00", "create_doc", None),
    ("c", "2025-02-03 00:00", "view", None), ("c", "2025-02-10 00:00", "purchase", 39.0),
    ("d", "2025-03-20 00:00", "signup", None), ("d", "2025-03-21 00:00", "create_doc", None),
    ("d", "2025-03-31 00:00", "view", None),
    ("g", "2025-01-07 00:00", "signup", None), ("g", "2025-01-12 00:00", "purchase", 69.0),
    ("g", "2025-02-16 00:00", "view", None),
], columns=["user_id", "event_at", "event", "revenue"])
USERS = pd.DataFrame({
    "user_id": ["a", "b", "c", "d", "e", "f", "g"],
    "signup_at": ["2025-01-01", "2025-01-02", "2025-01-04", "2025-03-20", "2024-12-15", "2025-01-06",
                  "2025-01-07"],
    "segment": ["b2c", "b2c", "b2c", "b2b", "b2b", "b2b", "b2b"]})
DEMO = {"activation_event": "create_doc", "referral_event": "invite_member"}


def _rows(frame: pd.DataFrame, cols: list[str]) -> list[tuple]:
    return [tuple(None if isinstance(v, float) and math.isnan(v) else
                  (round(v, 6) if isinstance(v, float) else v) for v in row)
            for row in frame[cols].itertuples(index=False)]


COLS = ["stage", "users", "eligible", "rate", "conversion_from_previous"]


def test_independent_stages_by_hand():
    got = aarrr(EVENTS, users=USERS, **DEMO)
    assert got.columns.tolist() == ["stage", "users", "eligible", "rate", "ci_low", "ci_high",
                                    "conversion_from_previous", "definition"]
    assert _rows(got, COLS) == [
        ("acquisition", 6, 6, 1.0, None),          # a b c d f g (e signed up before the data)
        ("activation", 3, 6, 0.5, 0.5),            # a c d
        ("retention", 3, 5, 0.6, 1.0),             # a c g of a b c f g; the activated a, c both return
        ("revenue", 2, 5, 0.4, round(2 / 3, 6)),   # a g; of the returning a c g, a and g paid
        ("referral", 1, 5, 0.2, 0.5),              # a; of the payers a g, a invited
    ]
    assert got["definition"].tolist()[1] == "did create_doc within 7 days of signup"
    assert "[t0 + 30d, t0 + 60d)" in got["definition"].tolist()[2]


def test_nested_stages_make_a_strict_funnel():
    got = aarrr(EVENTS, users=USERS, nested=True, **DEMO)
    assert _rows(got, COLS) == [
        ("acquisition", 6, 6, 1.0, None), ("activation", 3, 6, 0.5, 0.5),
        ("retention", 2, 5, 0.4, 1.0),             # g returned but never activated
        ("revenue", 1, 5, 0.2, 0.5), ("referral", 1, 5, 0.2, 1.0),
    ]
    assert got["definition"].str.endswith("every earlier stage").tolist() == [False] + [True] * 4


def test_monthly_funnels_list_months_without_signups():
    got = aarrr(EVENTS, users=USERS, freq="month", activation_event="create_doc")
    assert got.columns[0] == "period" and "referral" not in set(got["stage"])
    feb, mar = got[got["period"] == "2025-02-01"], got[got["period"] == "2025-03-01"]
    assert feb["users"].tolist() == [0] * 4 and feb["rate"].isna().all()
    assert _rows(mar, COLS) == [("acquisition", 1, 1, 1.0, None), ("activation", 1, 1, 1.0, 1.0),
                                ("retention", 0, 0, None, None), ("revenue", 0, 0, None, None)]


def test_breakdowns_ranges_and_options():
    by = aarrr(EVENTS, users=USERS, by="segment", **DEMO)
    assert _rows(by[by["stage"] == "activation"], ["segment", "users", "eligible"]) == [
        ("b2b", 1, 3), ("b2c", 2, 3)]
    no_users = aarrr(EVENTS, **DEMO)                      # start = first event: f is unseen
    assert no_users.loc[0, "users"] == 5 and "first event" in no_users.loc[0, "definition"]
    later = aarrr(EVENTS, users=USERS, start="2025-01-03", **DEMO)
    assert later.loc[0, "users"] == 4                     # c f g d
    docs_again = aarrr(EVENTS, users=USERS, retention_event="create_doc", **DEMO)
    assert docs_again.loc[2, "users"] == 0
    week_one = aarrr(EVENTS, users=USERS, activation_days=7.5, **DEMO)
    assert week_one.loc[1, "users"] == 4                  # b's doc at exactly 7 days now counts


@pytest.mark.parametrize(("options", "error"), [
    ({}, TypeError), ({"activation_event": []}, TypeError),
    ({"activation_event": "x", "retention_days": (60, 30)}, ValueError),
    ({"activation_event": "x", "retention_days": 30}, ValueError),
    ({"activation_event": "x", "revenue_days": -1}, ValueError),
    ({"activation_event": "x", "freq": "year"}, ValueError),
    ({"activation_event": "x", "by": "segment"}, ValueError),
    ({"activation_event": "x", "nested": "yes"}, TypeError),
])
def test_bad_options_are_refused(options, error):
    with pytest.raises(error):
        aarrr(EVENTS, **options)


# --- a plain reference on random logs -------------------------------------------------------


def reference(events: pd.DataFrame, users: pd.DataFrame, nested: bool) -> list[tuple]:
    """Loop over users and stages, as docs/metrics.md words the definitions."""
    first = events["event_at"].min().normalize()
    end = events["event_at"].max().normalize() + pd.Timedelta(days=1)
    windows = {"activation": (0, 7), "retention": (30, 60), "revenue": (0, 30), "referral": (0, 30)}
    reach, ok = {}, {}
    for user, t0 in zip(users["user_id"], users["signup_at"], strict=True):
        if not first <= t0 < end:
            continue
        mine = events[(events["user_id"] == user) & (events["event_at"] >= t0)]
        reach[user], ok[user] = {"acquisition": True}, {"acquisition": True}
        for stage, (a, b) in windows.items():
            lo, hi = t0 + pd.Timedelta(days=a), t0 + pd.Timedelta(days=b)
            hit = mine[(mine["event_at"] >= lo) & (mine["event_at"] < hi)]
            if stage == "activation":
                hit = hit[hit["event"] == "create_doc"]
            elif stage == "revenue":
                hit = hit[hit["revenue"] > 0]
            elif stage == "referral":
                hit = hit[hit["event"] == "invite_member"]
            reach[user][stage], ok[user][stage] = len(hit) > 0, hi <= end
    out = []
    for i, stage in enumerate(STAGES):
        prev = STAGES[i - 1] if i else None
        before = STAGES[:i + 1]
        if nested:
            base = [u for u in reach if all(ok[u][s] for s in before)]
            users_k = [u for u in base if all(reach[u][s] for s in before)]
            given_prev = [u for u in base if all(reach[u][s] for s in before[:-1])]
            hits = users_k
        else:
            base = [u for u in reach if ok[u][stage]]
            users_k = [u for u in base if reach[u][stage]]
            given_prev = [u for u in base if prev and ok[u][prev] and reach[u][prev]]
            hits = [u for u in given_prev if reach[u][stage]]
        rate = len(users_k) / len(base) if base else None
        conv = len(hits) / len(given_prev) if prev and given_prev else None
        out.append((stage, len(users_k), len(base), None if rate is None else round(rate, 6),
                    None if conv is None else round(conv, 6)))
    return out


@settings(max_examples=25, deadline=None)
@given(signups=st.lists(st.integers(0, 90), min_size=1, max_size=6),
       rows=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 100 * 24),
                               st.sampled_from(["view", "create_doc", "invite_member", "purchase"])),
                     max_size=30),
       nested=st.booleans())
def test_matches_the_reference_on_random_logs(signups, rows, nested):
    base = pd.Timestamp("2025-01-01")
    users = pd.DataFrame({"user_id": [f"u{i}" for i in range(len(signups))],
                          "signup_at": [base + pd.Timedelta(days=d, hours=7) for d in signups]})
    ev = [(f"u{u % len(signups)}", base + pd.Timedelta(hours=h), e, 9.0 if e == "purchase" else None)
          for u, h, e in rows]
    events = pd.DataFrame([("u0", base, "signup", None), *ev],
                          columns=["user_id", "event_at", "event", "revenue"])
    events["revenue"] = events["revenue"].astype("float64")
    got = aarrr(engine.as_table(events), users=engine.as_table(users), nested=nested, **DEMO)
    assert _rows(got, COLS) == reference(events, users, nested)


# --- the demo ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(demo_frames) -> opskit.Dataset:
    return opskit.Dataset.from_frames(**demo_frames(20_000, 7))


def test_demo_funnel_is_monotone_where_it_should_be(demo):
    overall = aarrr(demo, users=demo.users, **DEMO).set_index("stage")
    # docs/demo.md: 57 % of new users create a doc within 7 days of signup
    assert overall.loc["activation", "rate"] == pytest.approx(0.57, abs=0.02)
    funnel = aarrr(demo, users=demo.users, by="segment", **DEMO)
    b2c = funnel[funnel["segment"] == "b2c"].set_index("stage")
    # independent stages: each later stage is rarer among the new B2C users
    rates = b2c.loc[["activation", "retention", "revenue"], "rate"]
    assert rates.is_monotonic_decreasing and rates.iloc[-1] > 0.05
    assert b2c.loc["referral", "users"] == 0              # only B2B users invite teammates
    assert (funnel["conversion_from_previous"].dropna() <= 1).all()
    nested = aarrr(demo, users=demo.users, by="segment", nested=True, **DEMO)
    for _, group in nested.groupby("segment"):
        assert group["users"].is_monotonic_decreasing     # a strict funnel never grows

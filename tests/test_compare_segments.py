"""compare.segments: the two businesses side by side, on a fixture checked by hand and on the demo."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import opskit
from opskit.compare import METRICS, segments

USERS = pd.DataFrame({
    "user_id": ["a", "b", "c", "d", "e", "f"],
    "signup_at": ["2025-01-02", "2025-01-03", "2025-01-05", "2025-01-06", "2025-01-07", "2024-12-01"],
    "segment": ["b2b", "b2b", "b2c", "b2c", "b2c", "b2c"],
    "channel": ["微信", "email", "微信", "微信", "email", "微信"],
})
EVENTS = pd.DataFrame({
    "user_id": ["a", "b", "c", "d", "e", "f", "a", "c"],
    "event_at": ["2025-01-02", "2025-01-03", "2025-01-05", "2025-01-06", "2025-01-07",
                 "2025-01-08", "2025-03-30", "2025-03-30"],
    "event": ["signup"] * 6 + ["edit", "edit"],
})
SPEND = pd.DataFrame({"date": ["2025-01-02", "2025-01-03"], "channel": ["微信", "email"],
                      "cost": [300.0, 100.0]})
TICKETS = pd.DataFrame({
    "ticket_id": ["t1", "t2", "t3", "t4"], "user_id": ["a", "a", "c", "d"],
    "created_at": ["2025-01-10 00:00", "2025-01-11 00:00", "2025-01-12 00:00", "2025-01-13 00:00"],
    "first_response_at": ["2025-01-10 01:00", "2025-01-11 03:00", "2025-01-12 02:00", None],
    "satisfaction": [5, 3, 4, None],
})


def _ds(**extra):
    return opskit.Dataset.from_frames(users=USERS, events=EVENTS, spend=SPEND, tickets=TICKETS,
                                      **extra)


def test_counts_allocated_cost_and_support_by_hand():
    out = segments(_ds(), metrics=["new_users", "acquisition_cost", "csat",
                                   "first_response_hours"]).set_index("metric")
    assert out.attrs["groups"] == ["b2b", "b2c"]
    # new users in the window (f signed up before the events begin: outside it)
    assert out.loc["new_users", ["b2b", "b2c"]].tolist() == [2, 3]
    # 微信 ¥300 over its 3 new users (a: b2b; c, d: b2c); email ¥100 over b (b2b), e (b2c)
    b2b_cost, b2c_cost = 300 / 3 + 100 / 2, 2 * 300 / 3 + 100 / 2
    assert out.loc["acquisition_cost", "b2b"] == pytest.approx(b2b_cost / 2)
    assert out.loc["acquisition_cost", "b2c"] == pytest.approx(b2c_cost / 3)
    # rated tickets: b2b 5 and 3 (1 of 2 happy), b2c 4 (1 of 1)
    assert out.loc["csat", ["b2b", "b2c"]].tolist() == [0.5, 1.0]
    assert out.loc["csat", "test"] == "two-proportion z-test"
    assert out.loc["csat", "difference"] == pytest.approx(-0.5)
    # median first response: b2b 1 h and 3 h -> 2 h; b2c 2 h (d's is unanswered)
    assert out.loc["first_response_hours", ["b2b", "b2c"]].tolist() == [2.0, 2.0]
    assert out.loc["first_response_hours", "test"] == "" and not out.loc["first_response_hours",
                                                                          "significant"]


def test_channel_itself_can_be_the_segment():
    # each channel is its own segment, so its whole spend goes to it:
    # 微信 ¥300 over a, c, d (3 new users); email ¥100 over b, e (2)
    out = segments(_ds(), segment="channel", groups=["微信", "email"],
                   metrics=["new_users", "acquisition_cost"]).set_index("metric")
    assert out.loc["new_users", ["微信", "email"]].tolist() == [3, 2]
    assert out.loc["acquisition_cost", ["微信", "email"]].tolist() == pytest.approx([100.0, 50.0])


def test_metrics_without_their_table_are_left_out_and_unknown_ones_refused():
    out = segments(_ds())
    assert "monthly_churn" not in set(out["metric"])        # no subscriptions
    assert "activation_rate" not in set(out["metric"])      # no activation_event given
    assert list(out["metric"]) == [m for m in METRICS if m in set(out["metric"])]
    with pytest.raises(ValueError, match="unknown metrics"):
        segments(_ds(), metrics=["happiness"])
    with pytest.raises(ValueError, match="groups must be two values"):
        segments(_ds(), groups=["b2b", "enterprise"])
    with pytest.raises(opskit.DataError, match=r"users\.tier"):
        segments(_ds(), segment="tier")


def test_demo_b2c_churns_faster_and_the_difference_is_significant(demo_frames):
    ds = opskit.Dataset.from_frames(**demo_frames(2_000, 7))
    out = segments(ds, activation_event="create_doc",
                   metrics=["monthly_churn", "arpa", "ltv", "activation_rate"]).set_index("metric")
    churn = out.loc["monthly_churn"]
    assert churn["b2c"] > 5 * churn["b2b"] and churn["significant"] and churn["p_value"] < 1e-6
    assert churn["ci_low"] <= churn["difference"] <= churn["ci_high"]
    assert out.loc["arpa", "b2b"] > out.loc["arpa", "b2c"]
    assert out.loc["ltv", "b2b"] > out.loc["ltv", "b2c"]
    assert math.isnan(out.loc["arpa", "p_value"])

"""Channel economics (opskit.channels.performance), computed by hand on a small fixture."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from opskit.channels import performance

SPEND = pd.DataFrame({
    "date": ["2025-01-01", "2025-01-02", "2025-01-08", "2025-01-01"],
    "channel": ["微信", "微信", "微信", "百度搜索"],
    "campaign": ["双11", "双11", "brand", None],
    "cost": [60.0, 40.0, 50.0, 90.0],
    "impressions": [1000, 1000, 500, 3000],
    "clicks": [30, 20, 10, 45],
})
TOUCHES = pd.DataFrame({
    "user_id": ["a", "b", "c", "d", "e"],
    "channel": ["微信", "微信", "百度搜索", "organic_search", "微信"],
    "campaign": ["双11", "双11", None, None, "brand"],
    "touched_at": ["2025-01-01", "2025-01-02", "2025-01-01", "2025-01-02", "2025-01-08"],
})
SALES = pd.DataFrame({
    "user_id": ["a", "c", "d", "e"],
    "converted_at": ["2025-01-03", "2025-01-03", "2025-01-04", "2025-01-09"],
    "value": [300.0, 90.0, 100.0, 200.0],
})


def test_whole_range_by_channel_by_hand():
    out = performance(SPEND, TOUCHES, SALES).set_index("channel")
    wechat = out.loc["微信"]
    assert wechat["cost"] == 150 and wechat["impressions"] == 2500 and wechat["clicks"] == 60
    assert wechat["ctr"] == pytest.approx(60 / 2500)
    assert wechat["cpc"] == pytest.approx(2.5)
    assert wechat["visits"] == 3 and wechat["traffic_share"] == pytest.approx(3 / 5)
    assert wechat["conversions"] == 2 and wechat["value"] == 500
    assert wechat["conversion_rate"] == pytest.approx(2 / 3)
    assert wechat["cpa"] == pytest.approx(75) and wechat["roas"] == pytest.approx(500 / 150)
    assert wechat["roi"] == pytest.approx((500 - 150) / 150)
    baidu = out.loc["百度搜索"]
    assert (baidu["cpa"], baidu["roas"], baidu["roi"]) == (90, 1, 0)
    free = out.loc["organic_search"]
    assert free["cost"] == 0 and math.isnan(free["cpa"]) and math.isnan(free["roas"])
    assert math.isnan(free["ctr"]) and math.isnan(free["cpc"])
    assert list(out.index) == ["微信", "百度搜索", "organic_search"]  # by cost, then conversions


def test_by_campaign_credits_campaigns():
    out = performance(SPEND, TOUCHES, SALES, by_campaign=True).set_index(["channel", "campaign"])
    assert out.loc[("微信", "双11"), "cost"] == 100 and out.loc[("微信", "双11"), "conversions"] == 1
    assert out.loc[("微信", "brand"), "cpa"] == 50 and out.loc[("微信", "brand"), "value"] == 200
    assert out.loc[("百度搜索", "(none)"), "visits"] == 1


def test_weekly_trend_adds_up_to_the_whole_range():
    total = performance(SPEND, TOUCHES, SALES, model="linear").set_index("channel")
    weekly = performance(SPEND, TOUCHES, SALES, model="linear", freq="week")
    assert sorted(weekly["period"].dt.strftime("%Y-%m-%d").unique()) == ["2024-12-30", "2025-01-06"]
    summed = weekly.groupby("channel")[["cost", "visits", "conversions", "value"]].sum()
    pd.testing.assert_frame_equal(summed.sort_index(), total[summed.columns].sort_index())
    shares = weekly.groupby("period")["traffic_share"].sum()
    assert shares.to_numpy() == pytest.approx([1.0, 1.0])


def test_start_end_window_and_model_options():
    jan_first_week = performance(SPEND, TOUCHES, SALES, start="2025-01-01", end="2025-01-06",
                                 model="position_based", weights=(.2, .2, .6))
    assert jan_first_week["cost"].sum() == 190 and jan_first_week["conversions"].sum() == 3
    with pytest.raises(ValueError, match="freq must be one of"):
        performance(SPEND, TOUCHES, SALES, freq="quarter")


def test_conversions_without_a_touch_come_last():
    late = pd.concat([SALES, pd.DataFrame({"user_id": ["z"], "converted_at": ["2025-01-02"],
                                           "value": [1e6]})])
    out = performance(SPEND, TOUCHES, late)
    assert out["channel"].iloc[-1] == "(none)" and out["conversions"].iloc[-1] == 1
    assert out["visits"].iloc[-1] == 0 and math.isnan(out["conversion_rate"].iloc[-1])


def test_acquisition_by_signup_channel_by_hand_and_the_planted_channel(demo_frames):
    from opskit.channels import acquisition

    users = pd.DataFrame({"user_id": ["a", "b", "c", "d"], "channel": ["微信", "微信", "email", "微信"],
                          "signup_at": ["2025-01-02", "2025-01-03", "2025-01-03", "2024-12-01"]})
    conv = pd.DataFrame({"user_id": ["a", "a", "b", "c"], "kind": ["paid", "paid", "trial", "paid"],
                         "converted_at": ["2025-01-20", "2025-02-20", "2025-01-05", "2025-01-01"]})
    spend = pd.DataFrame({"date": ["2025-01-02", "2024-12-01"], "channel": ["微信", "微信"],
                          "cost": [300.0, 999.0]})
    out = acquisition(users, conv, spend, start="2025-01-01").set_index("channel")
    # d signed up before the window; b's conversion is a trial; c's precedes its signup
    assert out.loc["微信", ["new_users", "converted"]].tolist() == [2, 1]
    assert out.loc["微信", "cost_per_conversion"] == 300 and out.loc["微信", "cost_per_new_user"] == 150
    assert out.loc["email", "converted"] == 0 and math.isnan(out.loc["email", "cost_per_conversion"])
    frames = demo_frames(20_000, 7)
    demo = acquisition(frames["users"], frames["conversions"], frames["spend"], start="2025-01-01")
    # docs/demo.md finding 3: 微信 converts best (20.7 %) and costs the most per paid user (¥594)
    assert demo.iloc[0]["channel"] == "微信"
    assert demo.iloc[0]["conversion_rate"] == pytest.approx(0.207, abs=0.001)
    assert demo["cost_per_conversion"].idxmax() == 0

"""The planted findings: what a good report on the demo data must surface.

Public as ``opskit.demo.FINDINGS`` and ``opskit.demo.PlantedFinding``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FINDINGS", "PlantedFinding"]


@dataclass(frozen=True)
class PlantedFinding:
    """A pattern planted in the demo data that a good report should surface.

    Attributes
    ----------
    id
        Short stable name, e.g. ``"churn_spike"``.
    en, zh
        One-line statement in English and Chinese.
    tables
        Tables needed to measure it.
    definition
        Exactly how to measure it with plain pandas.
    expected
        The value measured at the defaults (``users=20_000, seed=7``).
    """

    id: str
    en: str
    zh: str
    tables: tuple[str, ...]
    definition: str
    expected: str


PlantedFinding.__module__ = "opskit.demo"  # its public home: repr, help() and pickles say so


#: The five planted findings, with definitions (see docs/demo.md).
FINDINGS: tuple[PlantedFinding, ...] = (
    PlantedFinding(
        "churn_spike",
        "B2C subscriber churn jumps to about 8 % in one week (the 27th full week; "
        "2025-07-07 to 07-13 at the defaults) against a normal 5 %, with a surge of "
        "support tickets the same week.",
        "某一周(第27个完整周)C端付费用户流失率升至约8%,平时约5%,同周客服工单激增。",
        ("subscriptions", "users", "tickets"),
        "Weeks run Monday 00:00 to Monday 00:00 UTC. For week w starting at ws: the "
        "at-risk accounts are B2C accounts (users.segment == 'b2c', joined on "
        "account_id) with a subscription row where started_at <= ws and (ended_at is "
        "null or ended_at > ws). An at-risk account churns in w if one of its rows has "
        "ws <= ended_at < ws + 7 days and no row of the same account has started_at "
        "equal to that ended_at. Weekly churn = churned / at-risk. The spike week is "
        "the 27th Monday-to-Sunday week after start (week 1 starts on the first "
        "Monday on or after start); see key_dates().",
        "spike week 7.8 % (45 of 574 accounts); other 50 full weeks: median 4.9 %, "
        "range 3.7-6.8 %; 118 tickets that week against a median of 64",
    ),
    PlantedFinding(
        "b2c_vs_b2b_churn",
        "B2C churns about ten times faster than B2B: monthly logo churn ~21 % vs ~2 %.",
        "C端流失速度约为B端的十倍:月度客户流失率约21%,B端约2%。",
        ("subscriptions", "users"),
        "Monthly logo churn per segment: the weekly definition of churn_spike applied "
        "to calendar months [ms, next ms) within the data, pooled over months: sum of "
        "churned accounts / sum of at-risk accounts. Segment from users.segment via "
        "account_id.",
        "B2C 21.2 %, B2B 2.2 %: 9.5 times",
    ),
    PlantedFinding(
        "wechat_converts_best_costs_most",
        "微信 (WeChat) converts best of all channels but has the highest cost per paid "
        "conversion.",
        "微信渠道付费转化率最高,但单个付费转化成本也最高。",
        ("users", "conversions", "spend"),
        "Per channel c: acquired = users with signup_at >= start and channel == c; "
        "paid = distinct user_id of conversions with kind == 'paid' among them; "
        "conversion rate = paid / acquired; cost per paid conversion = sum(spend.cost "
        "where channel == c) / paid (channels with spend only).",
        "微信 converts 20.7 % of its users (next: KOL 11.8 %) at ¥594 per paid conversion "
        "(next: 抖音 ¥387)",
    ),
    PlantedFinding(
        "promotion_goes_to_existing_payers",
        "The B2B 双11 promotion (20 % off an annual plan, Nov 1-11) was mostly bought by "
        "accounts that were already paying, so most of the discount is given away.",
        "B端双11促销(年费8折)的购买者大多是原本就在付费的老客户,折扣基本是让利损失。",
        ("conversions", "users", "subscriptions"),
        "Promotion buyers = distinct account_id (via users) of conversions with kind == "
        "'promotion'. An account was already paying if it has a subscription row with "
        "started_at < promo start and (ended_at is null or ended_at > promo start). "
        "Share = already paying / buyers. The window is Nov 1-11 of the first year "
        "where it fits (see key_dates()).",
        "94 of 106 buying accounts (89 %) were already paying; the discount handed to "
        "them is about ¥78,800",
    ),
    PlantedFinding(
        "new_users_retain_worse",
        "New users retain much worse than returning ones: 30-day retention ~48 % vs "
        "~71 %.",
        "新用户30天留存约48%,远低于老用户的约71%。",
        ("events", "users"),
        "For each calendar month m [ms, me) with me + 30 days inside the data: active = "
        "users with an event in m; new = active users with ms <= signup_at < me; "
        "returning = the other active users (signed up before m). Retained = has an "
        "event in [me, me + 30 days). Rates pooled over months (and new < returning "
        "in every month).",
        "new 48.1 %, returning 71.4 % (Jan-Nov 2025; lower in every month)",
    ),
)

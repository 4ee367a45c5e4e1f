"""A realistic demo dataset: one year of a Chinese SaaS with B2B teams and B2C users.

The product is an online collaborative-documents tool (在线协作文档) sold to
companies (B2B accounts with several users, annual plans, a sales pipeline)
and to individuals (B2C, monthly plans, much higher churn). Everything is
synthetic, generated from one seed by :func:`generate_frames` (pandas) or
:func:`generate` (an :class:`opskit.Dataset`), fully vectorised: 20,000 users
take about 0.3 s, a million (21 million events) about 15 s and 5 GB.

Timestamps are tz-naive UTC (``datetime64[us]``, whole seconds); users live in
China (UTC+8), so activity peaks around 02:00 and 13:00 UTC (10:00 and 21:00
Beijing time). Money is CNY (``float64``). Ids and labels are strings
(pandas ``str`` dtype). The data covers ``[start, start + days)``; ``users``
and ``subscriptions`` also hold the customer base that already existed at
``start`` (signed up up to two years earlier), so MRR does not start at zero
and annual B2B contracts renew inside the window.

Tables (sizes at the defaults ``users=20_000, seed=7, start="2025-01-01", days=365``)
--------------------------------------------------------------------------------------
users (20,000 rows)
    user_id      ``"u0000001"``, numbered in signup order
    signup_at    registration instant (35 % before ``start``: the existing base)
    segment      ``"b2b"`` (25 % of users) or ``"b2c"``
    account_id   B2B ``"a00001"`` (1,250 accounts of 1-20 users); B2C a
                 personal account ``"p0001234"`` (same number as the user)
    channel      acquisition channel, see :data:`CHANNELS`; teammates invited
                 into a B2B account are ``"direct"``
    country      ISO 3166 code, 97 % ``"CN"``
    company_size B2B only: ``"<50"``, ``"50-200"``, ``">200"`` employees
    industry     B2B only: manufacturing, retail, education, internet, finance,
                 healthcare, logistics, professional_services
    plan         the account's plan at the end of the data, ``"Free"`` if none
events (~425,000 rows: ~126,000 sessions of ~3.3 events, ~21 events per user)
    user_id      every id exists in ``users``
    event_at     instant
    event        ``signup`` (first event of the signup session), ``page_view``,
                 ``create_doc`` (the key/activation action), ``edit_doc``,
                 ``share_doc``, ``comment``, ``export``, ``invite_member``
                 (B2B), ``purchase`` (a charge)
    revenue      CNY, on ``purchase`` only: every charge of a subscription
                 (B2C monthly, B2B yearly, upgrades pro-rated), null otherwise
    session_id   ``"s0000001"``, numbered by session start; null on
                 ``purchase`` (billing runs server-side)
    page         ``/signup``, ``/home``, ``/docs``, ``/templates``, ``/editor``,
                 ``/pricing``, ``/team``, ``/settings``, ``/help``; null on
                 ``purchase``
    duration_s   seconds spent on the event until the next one (>= 1); null
                 on ``purchase``
touchpoints (~24,000 rows)
    user_id      users who signed up inside the window (not invited teammates):
                 touches in the days before signup (the last one, minutes
                 before signup, is on the acquiring channel) and nurture
                 touches between signup and the first payment
    touched_at   instant
    channel      as ``users.channel``
    campaign     paid channels and email only, e.g. ``品牌词``, ``双11大促``;
                 null otherwise
    source       ``baidu``, ``wechat``, ``weibo``, ``douyin``, ``xiaohongshu``,
                 ``bilibili``, ``newsletter``, ``bing``, ``sogou``, ``google``,
                 ``partner``, ``user_invite``, ``(direct)``
    medium       ``cpc``, ``paid_social``, ``kol``, ``email``, ``organic``,
                 ``referral``, ``(none)``
    interaction  ``impression`` or ``click`` (paid channels and email),
                 ``visit`` (organic_search, referral, direct)
conversions (~4,500 rows)
    user_id      the converting user (the account admin for B2B)
    converted_at instant
    value        CNY: 0 for a trial; the first charge for ``paid`` and
                 ``reactivation``; the discounted charge for ``promotion``
    kind         ``trial`` (free trial started: B2C 7 days, B2B team trial),
                 ``paid`` (first payment: B2C subscription, B2B deal won),
                 ``promotion`` (B2B 双11 offer, 20 % off a year),
                 ``reactivation`` (a churned B2C subscriber pays again)
spend (3,683 rows: one per campaign and day, the same at any ``users``)
    date         day (``datetime64`` at midnight)
    channel      paid channels only: 百度搜索, 微信, 微博, 抖音, KOL, email;
                 organic_search, referral and direct cost nothing (no rows)
    cost         CNY
    campaign     as in ``touchpoints``
    impressions  ad impressions (email: delivered mails)
    clicks       clicks (at least the clicks in ``touchpoints`` that day)
subscriptions (~3,100 rows)
    account_id   paying account
    started_at   start of an interval of constant MRR
    mrr          monthly recurring revenue, CNY: the B2C monthly price, the
                 B2B annual price / 12 rounded to the fen (see :data:`PLANS`)
    ended_at     end of the interval; null = still active at the end of the
                 data. A plan change (upgrade, downgrade, 双11 renewal at a
                 discount) ends one row and starts the next at the same
                 instant; churn ends a row with no successor; a reactivation
                 starts a new row after a gap
    plan         ``Personal``, ``Personal Plus`` (B2C); ``Basic``, ``Pro``,
                 ``Enterprise`` (B2B)
    user_id      the payer (B2C user, B2B account admin)
opportunities (~440 rows)
    opportunity_id ``"o000001"``, numbered by creation
    account_id   B2B account that signed up inside the window (one
                 new-business opportunity each)
    created_at   lead created, days after the admin signed up
    stage        ``lead``, ``qualified``, ``proposal``, ``negotiation`` (still
                 open at the end of the data), ``won``, ``lost``
    closed_at    null while open; won deals take a median of about 3, 5 and 8
                 weeks for ``<50``, ``50-200`` and ``>200`` employees
    won          nullable boolean, null while open
    amount       CNY, the annual price of the proposed plan (20 % off when won
                 during the 双11 promotion)
tickets (~3,500 rows)
    ticket_id    ``"t000001"``, numbered by creation
    user_id      requester
    created_at   instant
    first_response_at  null when not answered before the end (median 1.5 h)
    resolved_at  null when unresolved (6 %; median 21 h after creation)
    satisfaction 1-5, float, null when not rated (44 %)
targets (96 rows)
    metric       ``new_users``, ``paying_users``, ``mrr`` (per segment);
                 ``dau``, ``d30_retention`` (overall: ``segment`` null)
    period_start first day of a calendar month (midnight)
    period_end   last day of the month (inclusive: the period runs to the end
                 of that day, as in a plan written "2025-01-01 to 2025-01-31")
    target       the month's goal: a straight-line plan set 0-6 % above the
                 trend of the actual values, never within 3 % of the actual
                 value (so that a month is clearly hit or missed; each series
                 has hit and missed months)
    segment      ``"b2b"``, ``"b2c"`` or null

Target metrics mean: ``new_users`` users whose ``signup_at`` is in the month;
``paying_users`` accounts with a subscription row active at the month's last
instant; ``mrr`` the sum of ``mrr`` over those rows; ``dau`` the mean over the
month's days of users with an event that day; ``d30_retention`` the share of
the month's new users with an event 30 to 59 days after signing up (higher is
better for all five).

The patterns a good report must surface are in :data:`FINDINGS`, each with
its exact definition; :func:`key_dates` gives the churn-spike week and the
promotion window for any ``start`` and ``days``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:  # pragma: no cover
    from opskit.dataset import Dataset

__all__ = ["CHANNELS", "FINDINGS", "PLANS", "PlantedFinding", "generate", "generate_frames",
           "key_dates"]

_DAY = 86_400
_HOUR = 3_600
_NAT = np.iinfo(np.int64).min
_B2C_PERIOD = 30 * _DAY   # B2C plans renew every 30 days
_B2B_PERIOD = 365 * _DAY  # B2B plans renew yearly
_PROMO_DISCOUNT = 0.8     # 双11: 20 % off

#: Plans: segment, billing period and list price (CNY per period). MRR is the
#: price per month: B2C the monthly price, B2B the annual price / 12. B2B
#: prices are per account (seats are not billed; tiers differ in features).
PLANS: dict[str, dict[str, Any]] = {
    "Personal": {"segment": "b2c", "billing": "monthly", "price": 39.0, "mrr": 39.0},
    "Personal Plus": {"segment": "b2c", "billing": "monthly", "price": 69.0, "mrr": 69.0},
    "Basic": {"segment": "b2b", "billing": "annual", "price": 2999.0, "mrr": round(2999 / 12, 2)},
    "Pro": {"segment": "b2b", "billing": "annual", "price": 3999.0, "mrr": round(3999 / 12, 2)},
    "Enterprise": {"segment": "b2b", "billing": "annual", "price": 5999.0,
                   "mrr": round(5999 / 12, 2)},
}
_B2C_PLANS = ("Personal", "Personal Plus")
_B2B_PLANS = ("Basic", "Pro", "Enterprise")


@dataclass(frozen=True)
class _Channel:
    name: str
    english: str
    share_b2c: float   # share of B2C signups
    share_b2b: float   # share of B2B account creations
    pay_mult: float    # multiplies the probability to become a paying customer
    per_click: float   # signups per ad click (paid channels)
    cpc: float         # CNY per click
    ctr: float         # clicks per impression
    medium: str
    sources: tuple[str, ...]
    journey: float     # mean number of earlier touches before the last one
    awareness: float   # weight as an earlier (assisting) touch


_CHANNELS = (
    _Channel("organic_search", "organic search (SEO)", .22, .24, .95, 0, 0, 0, "organic",
             ("baidu", "bing", "sogou", "google"), .6, .10),
    _Channel("direct", "direct / typed URL", .09, .10, .90, 0, 0, 0, "(none)", ("(direct)",),
             .4, .02),
    _Channel("referral", "referral (partners, user invites)", .10, .12, 1.10, 0, 0, 0,
             "referral", ("partner", "user_invite"), .5, .04),
    _Channel("百度搜索", "Baidu search ads (paid search)", .15, .22, 1.00, .10, 3.2, .030,
             "cpc", ("baidu",), 1.2, .14),
    _Channel("微信", "WeChat ads and official account", .12, .14, 2.00, .06, 6.5, .012,
             "paid_social", ("wechat",), 1.8, .20),
    _Channel("微博", "Weibo ads", .07, .03, .65, .06, 1.0, .008, "paid_social", ("weibo",),
             1.8, .12),
    _Channel("抖音", "Douyin (short-video) ads", .12, .05, .70, .05, 1.0, .015, "paid_social",
             ("douyin",), 1.8, .22),
    _Channel("KOL", "influencer collaborations", .06, .03, 1.10, .07, 2.0, .020, "kol",
             ("xiaohongshu", "bilibili"), 1.5, .10),
    _Channel("email", "email marketing (EDM)", .07, .07, 1.00, .12, .15, .030, "email",
             ("newsletter",), 1.0, .06),
)
_CH = {c.name: i for i, c in enumerate(_CHANNELS)}
_PAID_CHANNEL = np.array([c.per_click > 0 for c in _CHANNELS])

#: Acquisition channels, as stored in ``channel`` columns, with an English name.
#: Platforms keep their Chinese name; generic channel types are snake_case.
CHANNELS: dict[str, str] = {c.name: c.english for c in _CHANNELS}

# (channel, campaign, source, weight, only during the promotion)
_CAMPAIGNS = (
    ("百度搜索", "品牌词", "baidu", .45, False),
    ("百度搜索", "通用词-在线协作", "baidu", .55, False),
    ("百度搜索", "双11大促", "baidu", .35, True),
    ("微信", "朋友圈广告-团队版", "wechat", .6, False),
    ("微信", "公众号推文", "wechat", .4, False),
    ("微信", "双11大促", "wechat", .45, True),
    ("微博", "微博粉丝通", "weibo", 1.0, False),
    ("抖音", "抖音信息流", "douyin", 1.0, False),
    ("抖音", "双11大促", "douyin", .45, True),
    ("KOL", "小红书达人种草", "xiaohongshu", .6, False),
    ("KOL", "B站UP主测评", "bilibili", .4, False),
    ("email", "newsletter", "newsletter", .5, False),
    ("email", "trial_nurture", "newsletter", .5, False),
)

_SIZES = ("<50", "50-200", ">200")
_SIZE_P = (.60, .28, .12)
_SIZE_EXTRA_USERS = (1.5, 4.0, 8.0)      # Poisson mean of teammates per account
_SIZE_CYCLE_DAYS = (21.0, 42.0, 70.0)    # median sales cycle
_SIZE_PLAN_P = ((.70, .25, .05), (.30, .50, .20), (.10, .35, .55))
_INDUSTRIES = ("manufacturing", "retail", "education", "internet", "finance", "healthcare",
               "logistics", "professional_services")
_INDUSTRY_P = (.22, .18, .14, .16, .08, .07, .07, .08)
_COUNTRIES = ("CN", "HK", "TW", "SG", "MY", "US")
_COUNTRY_P = (.965, .01, .008, .007, .005, .005)

_KINDS = ("trial", "paid", "promotion", "reactivation")  # conversions.kind
_TRIAL, _PAID, _PROMOTION, _REACTIVATION = range(4)
_STAGES = ("lead", "qualified", "proposal", "negotiation", "won", "lost")
_EVENTS = ("signup", "page_view", "create_doc", "edit_doc", "share_doc", "comment", "export",
           "invite_member", "purchase")
_E = {e: i for i, e in enumerate(_EVENTS)}
# probabilities of the non-first events of a session, by (b2b, engaged)
_EVENT_P = {
    (False, False): (0, .70, .05, .13, .04, .05, .03, 0, 0),
    (False, True): (0, .58, .10, .18, .06, .05, .03, 0, 0),
    (True, False): (0, .68, .06, .13, .05, .04, .02, .02, 0),
    (True, True): (0, .52, .10, .20, .07, .06, .03, .02, 0),
}
_EVENT_MEDIAN_S = (90, 25, 150, 120, 20, 45, 30, 35, 0)
_PAGES = ("/signup", "/home", "/docs", "/templates", "/editor", "/pricing", "/team", "/settings",
          "/help")
_VIEW_PAGES_P = {False: (0, .40, .25, .15, 0, .08, 0, .07, .05),
                 True: (0, .34, .24, .12, 0, .06, .12, .07, .05)}
_EVENT_PAGE = {"signup": "/signup", "create_doc": "/editor", "edit_doc": "/editor",
               "share_doc": "/editor", "comment": "/editor", "export": "/editor",
               "invite_member": "/team"}

# Local (Beijing) hour-of-day activity profiles, rolled to UTC below.
_B2C_LOCAL_HOURS = np.array([2, 1, .5, .3, .3, .4, 1, 2, 3, 3.5, 4, 4, 5, 4.5, 3.5, 3.5, 3.5, 4,
                             5, 6.5, 7.5, 8, 7, 4.5])
_B2B_LOCAL_HOURS = np.array([.3, .2, .1, .1, .1, .2, .4, 1.5, 4, 8, 9, 8.5, 4, 6, 8.5, 8.5, 8,
                             7, 3.5, 2, 2, 1.5, 1, .5])
_HOURS_UTC = {False: np.roll(_B2C_LOCAL_HOURS / _B2C_LOCAL_HOURS.sum(), -8),
              True: np.roll(_B2B_LOCAL_HOURS / _B2B_LOCAL_HOURS.sum(), -8)}

# Behaviour. Weekly B2C churn: renewals fall in a week with probability 7/30,
# so a per-renewal churn of 21 % gives ~4.9 %; cancellations lift the spike week to 8 %.
_B2C_RENEWAL_CHURN = 0.21
_B2C_SPIKE_RATE = 0.08    # B2C churn in the spike week
_B2C_OLD_PAYING = 0.16    # share of the B2C base at start that is paying
_B2B_RENEWAL_CHURN = 0.35
_B2C_PAY = 0.18           # P(pay | engaged), times the channel's pay_mult
_B2B_WIN = 0.26           # P(win | engaged admin), times the channel's pay_mult


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


# ---------------------------------------------------------------------------------------
# calendar
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Calendar:
    start: np.datetime64     # [s]
    days: int
    end: int                 # seconds after start
    weekday0: int            # weekday of start (Monday = 0)
    spike: int               # spike week start, seconds after start
    promo: tuple[int, int]   # promotion window, seconds after start


def _calendar(start: str, days: int) -> _Calendar:
    t0 = pd.Timestamp(start)
    if t0.tzinfo is not None or t0 != t0.normalize():
        raise ValueError(f"start must be a date like '2025-01-01', got {start!r}")
    if days < 60:
        raise ValueError(f"days must be at least 60 to hold the planted findings, got {days}")
    weekday0 = t0.weekday()
    first_monday = (7 - weekday0) % 7
    full_weeks = (days - first_monday) // 7
    week = 26 if full_weeks >= 28 else max(full_weeks // 2, 1)
    spike = (first_monday + 7 * week) * _DAY
    promo = None
    for year in range(t0.year, (t0 + pd.Timedelta(days=days)).year + 1):
        p0 = (pd.Timestamp(year=year, month=11, day=1) - t0).days
        if p0 >= 30 and p0 + 11 <= days:
            promo = (p0 * _DAY, (p0 + 11) * _DAY)
            break
    if promo is None:
        p0 = int(days * 0.8)
        promo = (p0 * _DAY, min(p0 + 11, days) * _DAY)
    return _Calendar(np.datetime64(t0.to_datetime64(), "s"), days, days * _DAY, weekday0, spike,
                     promo)


def key_dates(start: str = "2025-01-01", days: int = 365) -> dict[str, pd.Timestamp]:
    """The instants the planted findings refer to.

    Parameters
    ----------
    start, days
        As given to :func:`generate_frames`.

    Returns
    -------
    dict
        ``start``, ``end`` (exclusive), ``spike_week_start``/``spike_week_end``
        (the churn-spike week, Monday 00:00 UTC to the next Monday) and
        ``promo_start``/``promo_end`` (the 双11 promotion, end exclusive).

    Examples
    --------
    >>> d = key_dates()
    >>> str(d["spike_week_start"].date()), str(d["promo_start"].date())
    ('2025-07-07', '2025-11-01')
    """
    cal = _calendar(start, days)
    at = {"start": 0, "end": cal.end, "spike_week_start": cal.spike,
          "spike_week_end": cal.spike + 7 * _DAY, "promo_start": cal.promo[0],
          "promo_end": cal.promo[1]}
    return {k: pd.Timestamp(cal.start + np.timedelta64(v, "s")) for k, v in at.items()}


# ---------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------
def _day_weights(cal: _Calendar, b2b: bool) -> np.ndarray:
    """Share of a year's signups on each day: growth trend, weekly pattern, promotion bump."""
    d = np.arange(cal.days)
    weekday = (cal.weekday0 + d) % 7
    weight = (1 + 1.2 * d / cal.days) * np.where(weekday >= 5, .35 if b2b else 1.1, 1.0)
    weight[cal.promo[0] // _DAY: cal.promo[1] // _DAY] *= 1.35
    return weight / weight.sum()


def _draw_days(rng: np.random.Generator, cal: _Calendar, n: int, b2b: bool) -> np.ndarray:
    return rng.choice(cal.days, size=n, p=_day_weights(cal, b2b))


def _time_of_day(rng: np.random.Generator, b2b: np.ndarray) -> np.ndarray:
    out = np.empty(len(b2b), np.int64)
    for flag in (False, True):
        m = b2b == flag
        out[m] = rng.choice(24, size=int(m.sum()), p=_HOURS_UTC[flag]) * _HOUR
    return out + rng.integers(0, _HOUR, size=len(b2b))


def _exp_s(rng: np.random.Generator, mean_days: float | np.ndarray, n: int) -> np.ndarray:
    return (rng.exponential(1.0, n) * np.asarray(mean_days) * _DAY).astype(np.int64)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    text = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width=width,
                        padding="0")
    return pc.binary_join_element_wise(prefix, text, "")


def _strings(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    return pd.Series(pd.array(values, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))


def _labels(vocab: tuple[str, ...] | list[str], codes: np.ndarray) -> pd.Series:
    """Codes (``-1`` = null) into a string column."""
    codes = np.asarray(codes)
    mask = codes < 0
    taken = pc.take(pa.array(list(vocab), pa.string()),
                    pa.array(np.where(mask, 0, codes), mask=mask))
    return _strings(taken)


def _ts(cal: _Calendar, t: np.ndarray) -> np.ndarray:
    """Seconds after start (``_NAT`` = missing) as ``datetime64[us]``."""
    t = np.asarray(t, np.int64)
    out = (cal.start + t.astype("timedelta64[s]")).astype("datetime64[us]")
    out[t == _NAT] = np.datetime64("NaT")
    return out


def _renewals(start: np.ndarray, stop: np.ndarray,
              period: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Charges at ``start + k * period`` in ``[max(start, 0), stop)``: (row index, k)."""
    k0 = np.where(start < 0, -(start // period), 0)  # first k with start + k*period >= 0
    k1 = -((start - stop) // period)                 # ceil((stop - start) / period)
    n = np.maximum(k1 - k0, 0)
    row = np.repeat(np.arange(len(start)), n)
    first = np.repeat(np.cumsum(n) - n, n)
    k = np.repeat(k0, n) + np.arange(len(row)) - first
    return row, k


# ---------------------------------------------------------------------------------------
# users and accounts
# ---------------------------------------------------------------------------------------
def _users(rng: np.random.Generator, n: int, cal: _Calendar) -> dict[str, np.ndarray]:
    n_b2b = max(4, round(0.25 * n))
    size = rng.choice(3, size=n_b2b, p=_SIZE_P)
    per_account = 1 + rng.poisson(np.take(_SIZE_EXTRA_USERS, size))
    total = np.cumsum(per_account)
    n_acc = int(np.searchsorted(total, n_b2b) + 1)
    size, per_account = size[:n_acc], per_account[:n_acc].copy()
    per_account[-1] -= total[n_acc - 1] - n_b2b
    acc_legacy = rng.random(n_acc) < 0.35
    acc_legacy[0] = False  # at least one account signs up inside the window
    admin_t = np.where(acc_legacy, -(20 * _DAY + (rng.random(n_acc) * 710 * _DAY).astype(np.int64)),
                       _draw_days(rng, cal, n_acc, True) * _DAY)
    admin_t = admin_t // _DAY * _DAY + _time_of_day(rng, np.ones(n_acc, bool))
    acc_channel = rng.choice(len(_CHANNELS), size=n_acc, p=[c.share_b2b for c in _CHANNELS])

    account = np.repeat(np.arange(n_acc), per_account)
    admin_pos = np.cumsum(per_account) - per_account
    is_admin = np.zeros(n_b2b, bool)
    is_admin[admin_pos] = True
    t_b2b = admin_t[account] + np.where(is_admin, 0, _exp_s(rng, 21.0, n_b2b))
    late = t_b2b >= cal.end
    t_b2b[late] = admin_t[account[late]] + (rng.random(int(late.sum())) *
                                            (cal.end - admin_t[account[late]])).astype(np.int64)
    ch_b2b = np.where(is_admin, acc_channel[account], _CH["direct"])

    n_b2c = n - n_b2b
    legacy_b2c = rng.random(n_b2c) < 0.35
    t_b2c = np.where(legacy_b2c, -(rng.random(n_b2c) * 730 * _DAY).astype(np.int64) - _DAY,
                     _draw_days(rng, cal, n_b2c, False) * _DAY)
    t_b2c = t_b2c // _DAY * _DAY + _time_of_day(rng, np.zeros(n_b2c, bool))
    ch_b2c = rng.choice(len(_CHANNELS), size=n_b2c, p=[c.share_b2c for c in _CHANNELS])

    b2b = np.r_[np.ones(n_b2b, bool), np.zeros(n_b2c, bool)]
    admin = np.r_[is_admin, np.ones(n_b2c, bool)]
    engaged_p = np.where(b2b, np.where(admin, .70, .75), .55)
    return {
        "b2b": b2b, "admin": admin,
        "account": np.r_[account, np.full(n_b2c, -1)],
        "signup": np.r_[t_b2b, t_b2c],
        "channel": np.r_[ch_b2b, ch_b2c],
        "engaged": rng.random(n) < engaged_p,
        "country": rng.choice(len(_COUNTRIES), size=n, p=_COUNTRY_P),
        "acc_size": size, "acc_admin": admin_pos,
        "acc_industry": rng.choice(len(_INDUSTRIES), size=n_acc, p=_INDUSTRY_P),
        "acc_legacy": acc_legacy,
    }


# ---------------------------------------------------------------------------------------
# money: conversions, opportunities, subscriptions, charges
# ---------------------------------------------------------------------------------------
def _spike(rng: np.random.Generator, cal: _Calendar, s: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Ends of B2C subscriptions with the spike week's extra cancellations.

    A broken release makes enough of the subscriptions active at the week's
    start cancel during it for the week's churn to reach ``_B2C_SPIKE_RATE``.
    """
    w0, w1 = cal.spike, cal.spike + 7 * _DAY
    at_risk = (s <= w0) & (e > w0)
    churning = at_risk & (e < w1)
    eligible = np.flatnonzero(at_risk & (e >= w1))
    extra = max(round(_B2C_SPIKE_RATE * at_risk.sum()) - int(churning.sum()), 0)
    pick = rng.permutation(eligible)[:extra]
    out = e.copy()
    out[pick] = w0 + rng.integers(0, 7 * _DAY, len(pick))
    return out


def _b2c_money(rng: np.random.Generator, u: dict[str, np.ndarray], cal: _Calendar) -> dict:
    b2c = np.flatnonzero(~u["b2b"])
    new = b2c[u["signup"][b2c] >= 0]
    legacy = b2c[u["signup"][b2c] < 0]
    mult = np.array([c.pay_mult for c in _CHANNELS])[u["channel"][new]]
    eng = u["engaged"][new]
    payer = eng & (rng.random(len(new)) < _B2C_PAY * mult)
    trial = rng.random(len(new)) < np.where(payer, .7, np.where(eng, .3, .08))
    trial_at = u["signup"][new] + 600 + _exp_s(rng, 1.5, len(new))
    paid_at = np.where(trial, trial_at + 7 * _DAY,
                       u["signup"][new] + 1800 + _exp_s(rng, 10, len(new)))
    keep_trial = trial & (trial_at < cal.end)
    pay = payer & (paid_at < cal.end)

    old_pay = legacy[rng.random(len(legacy)) < _B2C_OLD_PAYING]
    u["engaged"][old_pay] = True
    k0 = np.minimum(rng.geometric(_B2C_RENEWAL_CHURN, len(old_pay)) - 1, 23)
    s_old = -(k0 * _B2C_PERIOD) - rng.integers(_HOUR, _B2C_PERIOD, len(old_pay))
    u["signup"][old_pay] = np.minimum(u["signup"][old_pay],
                                      s_old - _HOUR - _exp_s(rng, 20, len(old_pay)))

    # episodes: first subscriptions (new payers, the base at start), then reactivations
    user = np.r_[new[pay], old_pay]
    s = np.r_[paid_at[pay], s_old]
    terms = rng.geometric(_B2C_RENEWAL_CHURN, len(user)) + np.r_[np.zeros(pay.sum(), int), k0]
    e = _spike(rng, cal, s, s + terms * _B2C_PERIOD)
    back = (e < cal.end) & (rng.random(len(user)) < .30)
    s2 = e[back] + 7 * _DAY + _exp_s(rng, 40, int(back.sum()))
    user2, s2 = user[back][s2 < cal.end], s2[s2 < cal.end]
    e2 = _spike(rng, cal, s2, s2 + rng.geometric(_B2C_RENEWAL_CHURN, len(user2)) * _B2C_PERIOD)

    ep_user, ep_s, ep_e = np.r_[user, user2], np.r_[s, s2], np.r_[e, e2]
    ep_plan = (rng.random(len(ep_user)) < .25).astype(int)
    # one plan change (Personal <-> Personal Plus) at a renewal for 20 % of episodes
    n_terms = -((ep_s - ep_e) // _B2C_PERIOD)
    c = ep_s + (1 + (rng.random(len(ep_user)) * np.maximum(n_terms - 1, 1)).astype(int)) * _B2C_PERIOD
    change = (rng.random(len(ep_user)) < .2) & (c < ep_e) & (c < cal.end)
    rows = {
        "user": np.r_[ep_user, ep_user[change]],
        "start": np.r_[ep_s, c[change]],
        "end": np.r_[np.where(change, c, ep_e), ep_e[change]],
        "plan": np.r_[ep_plan, 1 - ep_plan[change]],
    }
    prices = np.array([PLANS[p]["price"] for p in _B2C_PLANS])
    price = prices[rows["plan"]]
    rows |= {"mrr": price, "first": price, "charge": price, "period": _B2C_PERIOD}
    first_price = prices[ep_plan]
    n_pay = int(pay.sum())
    conv = {
        "user": np.r_[new[keep_trial], new[pay], user2],
        "t": np.r_[trial_at[keep_trial], paid_at[pay], s2],
        "value": np.r_[np.zeros(keep_trial.sum()), first_price[:n_pay], first_price[len(user):]],
        "kind": np.r_[np.full(keep_trial.sum(), _TRIAL), np.full(n_pay, _PAID),
                      np.full(len(user2), _REACTIVATION)],
    }
    return {"rows": rows, "conv": conv}


def _b2b_money(rng: np.random.Generator, u: dict[str, np.ndarray], cal: _Calendar) -> dict:
    admins = u["acc_admin"]
    n_acc = len(admins)
    size = u["acc_size"]
    t_admin = u["signup"][admins]
    new = np.flatnonzero(t_admin >= 0)
    eng = u["engaged"][admins[new]]
    mult = np.array([c.pay_mult for c in _CHANNELS])[u["channel"][admins[new]]]
    win = eng & (rng.random(len(new)) < _B2B_WIN * mult)
    lucky = rng.random(len(new)) < .35  # lost deals the 双11 discount would have saved
    has_opp = win | (rng.random(len(new)) < np.where(eng, .55, .2))
    trial = rng.random(len(new)) < np.where(eng, .6, .25)
    trial_at = t_admin[new] + 600 + _exp_s(rng, 1.0, len(new))
    keep_trial = trial & (trial_at < cal.end)

    plan = np.array([rng.choice(3, p=p, size=n_acc) for p in _SIZE_PLAN_P])[size, np.arange(n_acc)]
    created = t_admin[new] + _HOUR + _exp_s(rng, 6, len(new))
    cycle = np.exp(np.log(np.take(_SIZE_CYCLE_DAYS, size[new])) + .45 * rng.standard_normal(len(new)))
    cycle = (np.where(win, cycle, cycle * rng.uniform(.3, 1, len(new))) * _DAY).astype(np.int64)
    closed = created + cycle
    win |= lucky & (closed >= cal.promo[0]) & (closed < cal.promo[1])
    opp = has_opp & (created < cal.end)
    if not opp.any():  # tiny datasets: keep the pipeline table non-empty
        opp = created < cal.end
    open_ = opp & (closed >= cal.end)
    elapsed = (cal.end - created) / np.maximum(cycle, 1)
    # open deals sit in the stage matching the share of their cycle already elapsed
    stage = np.where(open_, np.minimum((elapsed * 4).astype(int), 3), np.where(win, 4, 5))
    annual = np.array([PLANS[p]["price"] for p in _B2B_PLANS])
    p0, p1 = cal.promo
    won = opp & win & ~open_
    promo_win = won & (closed >= p0) & (closed < p1)
    amount = annual[plan[new]] * np.where(promo_win, _PROMO_DISCOUNT, 1.0)
    opps = {"account": new[opp], "created": created[opp], "stage": stage[opp],
            "closed": np.where(open_, _NAT, closed)[opp],
            "won": np.where(open_, -1, win.astype(int))[opp], "amount": amount[opp]}

    # chains of paid terms: new wins and the legacy accounts paying at start
    old = np.flatnonzero(u["acc_legacy"] & (rng.random(n_acc) < 0.6))
    u["engaged"][admins[old]] = True
    s_old = t_admin[old] + 7 * _DAY + (rng.random(len(old)) * (-t_admin[old] - 8 * _DAY)).astype(np.int64)
    k0 = (-s_old) // _B2B_PERIOD
    acc = np.r_[new[won], old]
    s = np.r_[closed[won], s_old]
    disc = np.r_[promo_win[won], np.zeros(len(old), bool)]
    terms = rng.geometric(_B2B_RENEWAL_CHURN, len(acc)) + np.r_[np.zeros(won.sum(), int), k0]
    e = s + terms * _B2B_PERIOD
    p = plan[acc]

    # one change at most per chain: promotional renewal, mid-term upgrade or downgrade at renewal
    draw = rng.random(len(acc))
    promo = (s < p0) & (e >= p1) & (draw < .30)
    n_ch = len(acc)
    last_day = rng.random(n_ch) < .4  # 11.11 itself sells most
    c_promo = np.where(last_day, p1 - _DAY, p0) + (
        rng.random(n_ch) * np.where(last_day, _DAY, p1 - p0 - _DAY)).astype(np.int64)
    up_lo, up_hi = s + 30 * _DAY, np.minimum(e, cal.end)
    upgrade = ~promo & (p < 2) & (draw >= .30) & (draw < .42) & (up_hi > up_lo)
    c_up = up_lo + (rng.random(n_ch) * np.maximum(up_hi - up_lo, 0)).astype(np.int64)
    j_down = 1 + (rng.random(n_ch) * np.maximum(terms - 1, 1)).astype(int)
    c_down = s + j_down * _B2B_PERIOD
    downgrade = (~promo & ~upgrade & (p > 0) & (terms >= 2) & (draw >= .42) & (draw < .47)
                 & (c_down < cal.end))
    change = promo | upgrade | downgrade
    c = np.select([promo, upgrade, downgrade], [c_promo, c_up, c_down], s)
    p2 = np.select([promo, upgrade, downgrade],
                   [np.minimum(p + (rng.random(n_ch) < .3), 2), p + 1, p - 1], p)
    term_j = (c - s) // _B2B_PERIOD + 1
    e2 = np.where(promo | upgrade, c + (terms - term_j + 1) * _B2B_PERIOD, e)
    first_annual = annual[p] * np.where(disc, _PROMO_DISCOUNT, 1.0)
    left = (s + term_j * _B2B_PERIOD - c) / _B2B_PERIOD
    second_annual = annual[p2] * np.where(promo, _PROMO_DISCOUNT, 1.0)
    second_first = np.where(upgrade, np.round(annual[p2] - first_annual * left, 2), second_annual)
    ch = change
    rows = {
        "user": admins[np.r_[acc, acc[ch]]],
        "start": np.r_[s, c[ch]],
        "end": np.r_[np.where(ch, c, e), e2[ch]],
        "plan": np.r_[p, p2[ch]] + 2,
        "mrr": np.round(np.r_[first_annual, second_annual[ch]] / 12, 2),
        "first": np.r_[first_annual, second_first[ch]],
        "charge": np.r_[first_annual, second_annual[ch]],
        "period": _B2B_PERIOD,
    }
    new_won = won.sum()
    conv = {
        "user": admins[np.r_[new[keep_trial], acc[:new_won], acc[promo]]],
        "t": np.r_[trial_at[keep_trial], s[:new_won], c[promo]],
        "value": np.r_[np.zeros(keep_trial.sum()), first_annual[:new_won], second_annual[promo]],
        "kind": np.r_[np.full(keep_trial.sum(), _TRIAL),
                      np.where(disc[:new_won], _PROMOTION, _PAID), np.full(promo.sum(), _PROMOTION)],
    }
    return {"rows": rows, "conv": conv, "opps": opps}


def _money(rng: np.random.Generator, u: dict[str, np.ndarray], cal: _Calendar) -> dict:
    b2c, b2b = _b2c_money(rng, u, cal), _b2b_money(rng, u, cal)
    rows = {k: np.r_[np.broadcast_to(b2c["rows"][k], len(b2c["rows"]["user"])),
                     np.broadcast_to(b2b["rows"][k], len(b2b["rows"]["user"]))]
            for k in b2c["rows"]}
    keep = rows["start"] < cal.end
    rows = {k: v[keep] for k, v in rows.items()}
    conv = {k: np.r_[b2c["conv"][k], b2b["conv"][k]] for k in b2c["conv"]}
    row, k = _renewals(rows["start"], np.minimum(rows["end"], cal.end), rows["period"])
    charge = {"user": rows["user"][row], "t": rows["start"][row] + k * rows["period"][row],
              "revenue": np.where(k == 0, rows["first"][row], rows["charge"][row])}
    # paid interval per user: B2B teammates use their account's
    owner = np.where(u["b2b"], u["acc_admin"][np.maximum(u["account"], 0)], np.arange(len(u["b2b"])))
    until = np.full(len(owner), _NAT)
    np.maximum.at(until, rows["user"], np.minimum(rows["end"], cal.end))
    return {"rows": rows, "conv": conv, "opps": b2b["opps"], "charge": charge,
            "paid_until": until[owner]}


# ---------------------------------------------------------------------------------------
# behaviour: sessions and events
# ---------------------------------------------------------------------------------------
def _sessions(rng: np.random.Generator, u: dict[str, np.ndarray], cal: _Calendar,
              paid_until: np.ndarray) -> dict[str, np.ndarray]:
    n = len(u["b2b"])
    signup, b2b, eng = u["signup"], u["b2b"], u["engaged"]
    a = np.maximum(signup, 0)
    payer = paid_until != _NAT
    legacy = signup < 0
    long_lived = eng | legacy
    life = _exp_s(rng, np.where(long_lived, np.where(legacy, 150, 300), 4), n)
    e = a + life
    e = np.where(payer, np.maximum(e, paid_until + _exp_s(rng, 7, n)), e)
    e = np.minimum(e, cal.end)
    span = np.maximum(e - a, 0) / _DAY
    # sessions per day at the start of the span, decaying with time constant tau (days);
    # the old base is past its first enthusiasm: lower rate, slower decay
    rate = np.where(long_lived, np.where(b2b, .12, .07), .45) * np.where(payer, 1.3, 1.0)
    rate = rng.gamma(4.0, rate * np.where(legacy, .8, 1.0) / 4)
    tau = np.where(legacy, 365.0, np.where(payer, 300.0, np.where(long_lived, 200.0, 3.0)))
    mean = rate * tau * -np.expm1(-span / tau)
    mean[legacy & ~payer & (rng.random(n) < .45)] = 0  # dormant part of the old base
    count = rng.poisson(mean)

    user = np.repeat(np.arange(n), count)
    tau_s = tau[user]
    off = -tau_s * np.log1p(rng.random(len(user)) * np.expm1(-span[user] / tau_s))
    t = a[user] + (off * _DAY).astype(np.int64)
    snapped = t // _DAY * _DAY + _time_of_day(rng, b2b[user])
    t = np.where((snapped >= a[user]) & (snapped < e[user]), snapped, t)
    weekend = (cal.weekday0 + t // _DAY) % 7 >= 5
    keep = ~(b2b[user] & weekend & (rng.random(len(user)) < .6)) & (t < cal.end)
    new = np.flatnonzero(signup >= 0)
    user = np.r_[new, user[keep]]
    t = np.r_[signup[new], t[keep]]
    first = np.r_[np.ones(len(new), bool), np.zeros(int(keep.sum()), bool)]
    order = np.argsort(t, kind="stable")
    return {"user": user[order], "t": t[order], "signup": first[order], "life_end": e}


def _events(rng: np.random.Generator, u: dict[str, np.ndarray], cal: _Calendar,
            ses: dict[str, np.ndarray], charge: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    b2b_s = u["b2b"][ses["user"]]
    n_ev = 1 + ses["signup"] + rng.poisson(np.where(b2b_s, 2.6, 1.9))
    sess = np.repeat(np.arange(len(n_ev)), n_ev).astype(np.int64)
    starts = np.cumsum(n_ev) - n_ev
    pos = np.arange(len(sess)) - starts[sess]
    user = ses["user"][sess]
    b2b, eng = u["b2b"][user], u["engaged"][user]
    kind = np.full(len(sess), _E["page_view"], np.int8)
    for (g_b2b, g_eng), p in _EVENT_P.items():
        m = (b2b == g_b2b) & (eng == g_eng) & (pos > 0)
        kind[m] = rng.choice(len(_EVENTS), size=int(m.sum()), p=p)
    onboarding = ses["signup"][sess]
    kind[(pos == 0) & onboarding] = _E["signup"]
    # the key action: most engaged users create a document right after signing up
    aha = (pos == 1) & onboarding & (rng.random(len(sess)) < np.where(eng, .6, .15))
    kind[aha] = _E["create_doc"]
    page = np.full(len(sess), -1, np.int8)
    for event, path in _EVENT_PAGE.items():
        page[kind == _E[event]] = _PAGES.index(path)
    for flag in (False, True):
        m = (kind == _E["page_view"]) & (b2b == flag)
        page[m] = rng.choice(len(_PAGES), size=int(m.sum()), p=_VIEW_PAGES_P[flag])
    median = np.take(np.array(_EVENT_MEDIAN_S, float), kind)
    duration = np.maximum(np.round(median * np.exp(.9 * rng.standard_normal(len(sess)))), 1)
    step = duration.astype(np.int64)
    before = np.cumsum(step) - step  # seconds spent before each event, across sessions
    t = ses["t"][sess] + before - before[starts][sess]
    keep = t < cal.end
    n_c = len(charge["user"])
    return {
        "user": np.r_[user[keep], charge["user"]],
        "t": np.r_[t[keep], charge["t"]],
        "kind": np.r_[kind[keep], np.full(n_c, _E["purchase"], np.int8)],
        "revenue": np.r_[np.full(int(keep.sum()), np.nan), charge["revenue"]],
        "session": np.r_[sess[keep], np.full(n_c, -1)],
        "page": np.r_[page[keep], np.full(n_c, -1, np.int8)],
        "duration": np.r_[duration[keep], np.full(n_c, np.nan)],
    }


# ---------------------------------------------------------------------------------------
# marketing: touchpoints and spend
# ---------------------------------------------------------------------------------------
def _campaign_shares(channel: int, promo_day: bool) -> list[tuple[int, float]]:
    """(campaign index, share of the channel's traffic) on a normal or promotion day."""
    name = _CHANNELS[channel].name
    normal = [(i, w) for i, (c, _, _, w, p) in enumerate(_CAMPAIGNS) if c == name and not p]
    promo = [(i, w) for i, (c, _, _, w, p) in enumerate(_CAMPAIGNS) if c == name and p]
    if not promo_day or not promo:
        return normal
    wp = promo[0][1]
    return [(i, w * (1 - wp)) for i, w in normal] + [(promo[0][0], wp)]


def _touchpoints(rng: np.random.Generator, u: dict[str, np.ndarray], cal: _Calendar,
                 paid: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    acq = np.flatnonzero((u["signup"] >= 0) & u["admin"])
    ch = u["channel"][acq]
    signup = u["signup"][acq]
    n_prev = rng.poisson(np.array([c.journey for c in _CHANNELS])[ch])
    prev_user = np.repeat(np.arange(len(acq)), n_prev)
    aware = np.array([c.awareness for c in _CHANNELS])
    prev_ch = rng.choice(len(_CHANNELS), size=len(prev_user), p=aware / aware.sum())
    prev_t = signup[prev_user] - 1800 - (rng.gamma(1.5, 2.5, len(prev_user)) * _DAY).astype(np.int64)
    pay_user, pay_t = paid
    n_nur = 1 + rng.poisson(.8, len(pay_user))
    nur_user = np.repeat(pay_user, n_nur)
    nur_ch = rng.choice([_CH["email"], _CH["微信"], _CH["百度搜索"]], size=len(nur_user),
                        p=[.55, .30, .15])
    lo = np.maximum(u["signup"][nur_user], 0)
    nur_t = lo + (rng.random(len(nur_user)) * (np.repeat(pay_t, n_nur) - lo)).astype(np.int64)

    user = np.r_[acq, acq[prev_user], nur_user]
    channel = np.r_[ch, prev_ch, nur_ch]
    t = np.r_[signup - rng.integers(60, 1800, len(acq)), prev_t, nur_t]
    last = np.r_[np.ones(len(acq), bool), np.zeros(len(prev_user) + len(nur_user), bool)]
    clicked = np.where(last, True, rng.random(len(user)) < .35)
    interaction = np.where(_PAID_CHANNEL[channel], np.where(clicked, 1, 0), 2)
    keep = t >= 0
    user, channel, t, interaction = user[keep], channel[keep], t[keep], interaction[keep]

    campaign = np.full(len(user), -1)
    source = np.zeros(len(user), np.int64)
    sources = sorted({s for c in _CHANNELS for s in c.sources} | {x[2] for x in _CAMPAIGNS})
    promo_day = (t >= cal.promo[0]) & (t < cal.promo[1])
    for c, spec in enumerate(_CHANNELS):
        m = channel == c
        if not _PAID_CHANNEL[c]:
            p = np.array([.7, .12, .1, .08]) if len(spec.sources) == 4 else \
                np.full(len(spec.sources), 1 / len(spec.sources))
            picked = rng.choice(len(spec.sources), size=int(m.sum()), p=p)
            source[m] = np.take([sources.index(s) for s in spec.sources], picked)
            continue
        for flag in (False, True):
            mm = m & (promo_day == flag)
            shares = _campaign_shares(c, flag)
            w = np.array([x[1] for x in shares])
            picked = np.take([x[0] for x in shares], rng.choice(len(shares), size=int(mm.sum()),
                                                                 p=w / w.sum()))
            campaign[mm] = picked
            source[mm] = np.take([sources.index(x[2]) for x in _CAMPAIGNS], picked)
    return {"user": user, "t": t, "channel": channel, "campaign": campaign, "source": source,
            "sources": sources, "interaction": interaction}


def _spend(rng: np.random.Generator, u: dict[str, np.ndarray], cal: _Calendar,
           tp: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    acq = (u["signup"] >= 0) & u["admin"]
    n_days = cal.days
    day_tp = tp["t"] // _DAY
    p0, p1 = cal.promo[0] // _DAY, cal.promo[1] // _DAY
    promo_day = np.zeros(n_days, bool)
    promo_day[p0:p1] = True
    out: dict[str, list] = {k: [] for k in ("day", "channel", "campaign", "cost", "impressions",
                                            "clicks")}
    for c, spec in enumerate(_CHANNELS):
        if not _PAID_CHANNEL[c]:
            continue
        n_b2b = int((acq & u["b2b"] & (u["channel"] == c)).sum())
        n_b2c = int((acq & ~u["b2b"] & (u["channel"] == c)).sum())
        expected = n_b2b * _day_weights(cal, True) + n_b2c * _day_weights(cal, False)
        for k, (name, *_rest) in enumerate(_CAMPAIGNS):
            if name != spec.name:
                continue
            share = np.zeros(n_days)
            for flag in (False, True):
                hit = dict(_campaign_shares(c, flag)).get(k, 0.0)
                total = sum(x[1] for x in _campaign_shares(c, flag))
                share[promo_day == flag] = hit / total
            active = share > 0
            mine = tp["campaign"] == k
            clicks_tp = np.bincount(day_tp[mine & (tp["interaction"] == 1)], minlength=n_days)
            views_tp = np.bincount(day_tp[mine & (tp["interaction"] == 0)], minlength=n_days)
            clicks = clicks_tp + rng.poisson(expected * share / spec.per_click)
            views = np.round(clicks / spec.ctr * np.exp(.2 * rng.standard_normal(n_days))) + views_tp
            cpc = spec.cpc * np.where(promo_day, 1.3, 1.0) * np.exp(.08 * rng.standard_normal(n_days))
            out["day"].append(np.flatnonzero(active))
            out["channel"].append(np.full(int(active.sum()), c))
            out["campaign"].append(np.full(int(active.sum()), k))
            out["cost"].append(np.round(clicks * cpc, 2)[active])
            out["impressions"].append(np.maximum(views, clicks)[active].astype(float))
            out["clicks"].append(clicks[active].astype(float))
    return {k: np.concatenate(v) for k, v in out.items()}


# ---------------------------------------------------------------------------------------
# support tickets
# ---------------------------------------------------------------------------------------
def _tickets(rng: np.random.Generator, u: dict[str, np.ndarray], cal: _Calendar,
             life_end: np.ndarray, paid_until: np.ndarray,
             rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    a = np.maximum(u["signup"], 0)
    years = np.maximum(life_end - a, 0) / (365 * _DAY)
    lam = np.where(u["b2b"], .9, .25) * np.where(paid_until != _NAT, 1.5, 1.0) * years
    count = rng.poisson(lam)
    user = np.repeat(np.arange(len(a)), count)
    created = a[user] + (rng.random(len(user)) * (life_end - a)[user]).astype(np.int64)
    # the spike week: a broken release, B2C subscribers write in
    active = (rows["start"] <= cal.spike) & (rows["end"] > cal.spike) & ~u["b2b"][rows["user"]]
    extra = np.unique(rows["user"][active])
    extra = extra[rng.random(len(extra)) < .12]
    user = np.r_[user, extra]
    created = np.r_[created, cal.spike + rng.integers(0, 7 * _DAY, len(extra))]
    spike = np.r_[np.zeros(len(user) - len(extra), bool), np.ones(len(extra), bool)]
    created = np.minimum(created, cal.end - 1)
    b2b = u["b2b"][user]
    hours = np.exp(np.log(np.where(b2b, 1.0, 4.0) * np.where(spike, 3, 1)) +
                   rng.standard_normal(len(user)))
    first = created + (hours * _HOUR).astype(np.int64) + 60
    fix_h = np.exp(np.log(18) + 1.1 * rng.standard_normal(len(user)))
    resolved = first + (fix_h * _HOUR).astype(np.int64)
    resolved = np.where((rng.random(len(user)) < .06) | (resolved >= cal.end), _NAT, resolved)
    first = np.where(first >= cal.end, _NAT, first)
    resolved = np.where(first == _NAT, _NAT, resolved)
    total_h = hours + fix_h
    score = np.round(4.7 - .45 * np.log1p(total_h / 6) - .8 * spike + .7 * rng.standard_normal(len(user)))
    rated = (resolved != _NAT) & (rng.random(len(user)) < .6)
    order = np.argsort(created, kind="stable")
    return {"user": user[order], "created": created[order], "first": first[order],
            "resolved": resolved[order],
            "satisfaction": np.where(rated, np.clip(score, 1, 5), np.nan)[order]}


# ---------------------------------------------------------------------------------------
# targets
# ---------------------------------------------------------------------------------------
def _months(cal: _Calendar) -> list[tuple[int, int]]:
    """Full calendar months inside the data, as (start, end) seconds after start."""
    t0 = pd.Timestamp(cal.start)
    first = t0 if t0.day == 1 else (t0 + pd.offsets.MonthBegin(1))
    starts = pd.date_range(first, t0 + pd.Timedelta(seconds=cal.end), freq="MS")
    spans = [(int((a - t0).total_seconds()), int((b - t0).total_seconds()))
             for a, b in itertools.pairwise(starts)]
    return spans or [(0, cal.end)]


def _plan(actual: np.ndarray, ambition: float, margin: float = .03) -> np.ndarray:
    """A straight-line plan through ``actual`` (NaN = not measurable yet), raised
    by ``ambition``, kept ``margin`` away from every actual value, with at least
    one month hit and one missed (when the values allow it)."""
    known = np.flatnonzero(~np.isnan(actual))
    if len(known) < 2:
        return np.full(len(actual), actual[known].mean() * ambition if len(known) else 0.0)
    slope, level = np.polyfit(known, actual[known], 1)
    plan = np.maximum(level + slope * np.arange(len(actual)), actual[known].mean() / 2) * ambition
    fit = known[(actual[known] > 0) & (plan[known] > 0)]
    if len(fit) < 2:
        return plan
    ratio = actual[fit] / plan[fit]
    if (ratio >= 1).all():
        ratio[np.argmin(ratio)] = 1 - 2 * margin
    if (ratio < 1).all():
        ratio[np.argmax(ratio)] = 1 + 2 * margin
    ratio = np.where(ratio >= 1, np.maximum(ratio, 1 + margin), np.minimum(ratio, 1 - margin))
    plan[fit] = actual[fit] / ratio
    return plan


def _targets(rng: np.random.Generator, u: dict[str, np.ndarray], cal: _Calendar,
             seen: tuple[np.ndarray, np.ndarray], rows: dict[str, np.ndarray]) -> dict[str, list]:
    """Monthly goals: a straight-line plan a little above the actual values.

    ``seen`` is (user, instant) of every session start and charge, which
    stands in for the events when measuring DAU and retention.
    """
    months = _months(cal)
    n = len(u["b2b"])
    seg_rows = u["b2b"][rows["user"]]
    user, t = seen
    day_user = np.sort(t // _DAY * n + user)
    day_user = day_user[np.r_[True, day_user[1:] != day_user[:-1]]]
    dau = np.bincount(day_user // n, minlength=cal.days)
    since = t - u["signup"][user]
    back = np.zeros(n, bool)
    back[user[(since >= 30 * _DAY) & (since < 60 * _DAY)]] = True
    actual: dict[tuple[str, str | None], list[float]] = {}
    for m0, m1 in months:
        new = (u["signup"] >= m0) & (u["signup"] < m1)
        at = m1 - 1
        on = (rows["start"] <= at) & (rows["end"] > at)
        for name, flag in (("b2b", True), ("b2c", False)):
            actual.setdefault(("new_users", name), []).append(float((new & (u["b2b"] == flag)).sum()))
            mine = on & (seg_rows == flag)
            actual.setdefault(("paying_users", name), []).append(
                float(len(np.unique(rows["user"][mine]))))
            actual.setdefault(("mrr", name), []).append(float(rows["mrr"][mine].sum()))
        actual.setdefault(("dau", None), []).append(float(dau[m0 // _DAY: m1 // _DAY].mean()))
        ok = new.any() and m1 + 60 * _DAY <= cal.end
        actual.setdefault(("d30_retention", None), []).append(
            float(back[new].mean()) if ok else np.nan)
    out: dict[str, list] = {k: [] for k in ("metric", "segment", "start", "end", "target")}
    for (metric, segment), values in actual.items():
        plan = _plan(np.array(values), ambition=rng.uniform(1.0, 1.06))
        digits = 3 if metric == "d30_retention" else (-2 if metric == "mrr" else 0)
        plan = np.round(plan, digits)
        for (m0, m1), value in zip(months, plan, strict=True):
            out["metric"].append(metric)
            out["segment"].append(segment)
            out["start"].append(m0)
            out["end"].append(m1)
            out["target"].append(float(value))
    return out


# ---------------------------------------------------------------------------------------
# assembly
# ---------------------------------------------------------------------------------------
def generate_frames(users: int = 20_000, seed: int = 7, start: str = "2025-01-01",
                    days: int = 365) -> dict[str, pd.DataFrame]:
    """Generate the demo tables as pandas DataFrames.

    The tables, their columns and the planted findings are described in the
    module docstring (:mod:`opskit.demo`) and in :data:`FINDINGS`.

    Parameters
    ----------
    users
        Number of users (rows of ``users``); other tables scale with it
        (about 21 events per user). At least 100.
    seed
        Seed of :func:`numpy.random.default_rng`: the same seed gives
        identical tables.
    start
        First day of the data (a date, UTC).
    days
        Length of the data in days (at least 60); nothing happens at or after
        ``start + days``.

    Returns
    -------
    dict of str to DataFrame
        ``users``, ``events``, ``touchpoints``, ``conversions``, ``spend``,
        ``subscriptions``, ``opportunities``, ``tickets``, ``targets``.

    Raises
    ------
    ValueError
        If ``users`` < 100, ``days`` < 60 or ``start`` is not a plain date.

    Examples
    --------
    >>> frames = generate_frames(users=500, seed=1)
    >>> sorted(frames)[:4]
    ['conversions', 'events', 'opportunities', 'spend']
    >>> len(frames["users"])
    500
    >>> frames["events"]["user_id"].isin(frames["users"]["user_id"]).all()
    np.True_
    """
    if users < 100:
        raise ValueError(f"users must be at least 100, got {users}")
    cal = _calendar(start, days)
    rng = np.random.default_rng(seed)
    u = _users(rng, users, cal)
    money = _money(rng, u, cal)
    ses = _sessions(rng, u, cal, money["paid_until"])
    ev = _events(rng, u, cal, ses, money["charge"])
    conv = money["conv"]
    first_paid = conv["kind"] == _PAID
    tp = _touchpoints(rng, u, cal, (conv["user"][first_paid], conv["t"][first_paid]))
    sp = _spend(rng, u, cal, tp)
    tk = _tickets(rng, u, cal, ses["life_end"], money["paid_until"], money["rows"])
    seen = (np.r_[ses["user"], money["charge"]["user"]], np.r_[ses["t"], money["charge"]["t"]])
    tg = _targets(rng, u, cal, seen, money["rows"])
    return _frames(u, cal, money, ses, ev, tp, sp, tk, tg)


def _frames(u: dict, cal: _Calendar, money: dict, ses: dict, ev: dict, tp: dict, sp: dict,
            tk: dict, tg: dict) -> dict[str, pd.DataFrame]:
    n = len(u["b2b"])
    width = max(7, len(str(n)))
    order = np.argsort(u["signup"], kind="stable")
    number = np.empty(n, np.int64)
    number[order] = np.arange(1, n + 1)
    uid = _ids("u", number, width)
    n_acc = len(u["acc_admin"])
    acc_number = np.empty(n_acc, np.int64)
    acc_number[np.argsort(u["signup"][u["acc_admin"]], kind="stable")] = np.arange(1, n_acc + 1)
    acc_ids = _ids("a", acc_number, max(5, len(str(n_acc))))
    account = pc.if_else(pa.array(u["b2b"]), pc.take(acc_ids, pa.array(np.maximum(u["account"], 0))),
                         _ids("p", number, width))
    b2b_acc = np.where(u["b2b"], u["account"], -1)

    def ids(idx: np.ndarray) -> pd.Series:
        return _strings(pc.take(uid, pa.array(idx)))

    def accounts(idx: np.ndarray) -> pd.Series:
        return _strings(pc.take(account, pa.array(idx)))

    rows = money["rows"]
    active = rows["end"] >= cal.end
    owner_plan = np.full(n, -1)
    owner_plan[rows["user"][active]] = rows["plan"][active]
    owner = np.where(u["b2b"], u["acc_admin"][np.maximum(u["account"], 0)], np.arange(n))
    plan_now = owner_plan[owner]
    plans = (*_B2C_PLANS, *_B2B_PLANS, "Free")
    users = pd.DataFrame({
        "user_id": ids(order),
        "signup_at": _ts(cal, u["signup"][order]),
        "segment": _labels(("b2c", "b2b"), u["b2b"][order].astype(int)),
        "account_id": accounts(order),
        "channel": _labels([c.name for c in _CHANNELS], u["channel"][order]),
        "country": _labels(_COUNTRIES, u["country"][order]),
        "company_size": _labels(_SIZES, np.where(b2b_acc >= 0, u["acc_size"][b2b_acc], -1)[order]),
        "industry": _labels(_INDUSTRIES,
                            np.where(b2b_acc >= 0, u["acc_industry"][b2b_acc], -1)[order]),
        "plan": _labels(plans, np.where(plan_now < 0, len(plans) - 1, plan_now)[order]),
    })

    o = np.argsort(ev["t"], kind="stable")
    sess = ev["session"][o]
    events = pd.DataFrame({
        "user_id": ids(ev["user"][o]),
        "event_at": _ts(cal, ev["t"][o]),
        "event": _labels(_EVENTS, ev["kind"][o]),
        "revenue": ev["revenue"][o],
        "session_id": _strings(pc.if_else(pa.array(sess < 0), pa.scalar(None, pa.string()),
                                          _ids("s", sess + 1, max(7, len(str(len(ses["t"]))))))),
        "page": _labels(_PAGES, ev["page"][o]),
        "duration_s": ev["duration"][o],
    })

    o = np.argsort(tp["t"], kind="stable")
    touchpoints = pd.DataFrame({
        "user_id": ids(tp["user"][o]),
        "touched_at": _ts(cal, tp["t"][o]),
        "channel": _labels([c.name for c in _CHANNELS], tp["channel"][o]),
        "campaign": _labels([c[1] for c in _CAMPAIGNS], tp["campaign"][o]),
        "source": _labels(tp["sources"], tp["source"][o]),
        "medium": _labels([c.medium for c in _CHANNELS], tp["channel"][o]),
        "interaction": _labels(("impression", "click", "visit"), tp["interaction"][o]),
    })

    cv = money["conv"]
    o = np.argsort(cv["t"], kind="stable")
    conversions = pd.DataFrame({
        "user_id": ids(cv["user"][o]),
        "converted_at": _ts(cal, cv["t"][o]),
        "value": cv["value"][o].astype(float),
        "kind": _labels(_KINDS, cv["kind"][o]),
    })

    o = np.lexsort((sp["campaign"], sp["channel"], sp["day"]))
    spend = pd.DataFrame({
        "date": _ts(cal, sp["day"][o] * _DAY),
        "channel": _labels([c.name for c in _CHANNELS], sp["channel"][o]),
        "cost": sp["cost"][o],
        "campaign": _labels([c[1] for c in _CAMPAIGNS], sp["campaign"][o]),
        "impressions": sp["impressions"][o],
        "clicks": sp["clicks"][o],
    })

    # "a..." (B2B) sorts before "p..." (B2C); both are zero-padded numbers
    acc_key = np.where(u["b2b"], acc_number[np.maximum(u["account"], 0)], n_acc + number)
    o = np.lexsort((rows["start"], acc_key[rows["user"]]))
    subscriptions = pd.DataFrame({
        "account_id": accounts(rows["user"][o]),
        "started_at": _ts(cal, rows["start"][o]),
        "mrr": rows["mrr"][o].astype(float),
        "ended_at": _ts(cal, np.where(rows["end"] >= cal.end, _NAT, rows["end"])[o]),
        "plan": _labels(plans, rows["plan"][o]),
        "user_id": ids(rows["user"][o]),
    })

    op = money["opps"]
    o = np.argsort(op["created"], kind="stable")
    won = pd.array(np.where(op["won"] == 1, True, False)[o], dtype="boolean")
    won[op["won"][o] < 0] = pd.NA
    opportunities = pd.DataFrame({
        "opportunity_id": _strings(_ids("o", np.arange(1, len(o) + 1), max(6, len(str(len(o)))))),
        "account_id": accounts(u["acc_admin"][op["account"][o]]),
        "created_at": _ts(cal, op["created"][o]),
        "stage": _labels(_STAGES, op["stage"][o]),
        "closed_at": _ts(cal, op["closed"][o]),
        "won": won,
        "amount": op["amount"][o].astype(float),
    })

    n_t = len(tk["user"])
    tickets = pd.DataFrame({
        "ticket_id": _strings(_ids("t", np.arange(1, n_t + 1), max(6, len(str(n_t))))),
        "user_id": ids(tk["user"]),
        "created_at": _ts(cal, tk["created"]),
        "first_response_at": _ts(cal, tk["first"]),
        "resolved_at": _ts(cal, tk["resolved"]),
        "satisfaction": tk["satisfaction"],
    })

    targets = pd.DataFrame({
        "metric": _strings(pa.array(tg["metric"], pa.string())),
        "period_start": _ts(cal, np.array(tg["start"], np.int64)),
        "period_end": _ts(cal, np.array(tg["end"], np.int64) - _DAY),  # inclusive last day
        "target": np.array(tg["target"], float),
        "segment": _strings(pa.array(tg["segment"], pa.string())),
    })
    return {"users": users, "events": events, "touchpoints": touchpoints,
            "conversions": conversions, "spend": spend, "subscriptions": subscriptions,
            "opportunities": opportunities, "tickets": tickets, "targets": targets}


def generate(users: int = 20_000, seed: int = 7, start: str = "2025-01-01",
             days: int = 365) -> Dataset:
    """Generate the demo data as a validated :class:`opskit.Dataset`.

    One year of a synthetic Chinese documents SaaS with B2B teams and B2C
    users, with five planted findings (:data:`FINDINGS`). Timestamps are
    tz-naive UTC, money CNY; the module docstring details every column.

    Parameters
    ----------
    users, seed, start, days
        As for :func:`generate_frames`: number of users (>= 100), the seed of
        :func:`numpy.random.default_rng`, the first day and the length in days.

    Returns
    -------
    Dataset
        ``meta`` holds ``currency="CNY"``, ``source="opskit.demo"``, ``seed``,
        ``users``, ``start`` and ``days``. Tables (size at the defaults):

        - ``users`` (20,000): user_id, signup_at, segment (b2b/b2c), account_id,
          channel, country, company_size, industry, plan
        - ``events`` (~425,000): user_id, event_at, event, revenue (CNY, on
          ``purchase``), session_id, page, duration_s (seconds)
        - ``touchpoints`` (~24,000): user_id, touched_at, channel, campaign,
          source, medium, interaction (impression/click/visit)
        - ``conversions`` (~4,500): user_id, converted_at, value (CNY), kind
          (trial/paid/promotion/reactivation)
        - ``spend`` (3,683): date, channel, cost (CNY), campaign, impressions,
          clicks
        - ``subscriptions`` (~3,100): account_id, started_at, mrr (CNY per
          month), ended_at (null = active), plan, user_id
        - ``opportunities`` (~440): opportunity_id, account_id, created_at,
          stage, closed_at, won, amount (CNY per year)
        - ``tickets`` (~3,500): ticket_id, user_id, created_at,
          first_response_at, resolved_at, satisfaction (1-5)
        - ``targets`` (96): metric, period_start, period_end (last day,
          inclusive), target, segment

    Examples
    --------
    >>> ds = generate(users=300)
    >>> "events" in ds.tables
    True
    """
    from opskit import dataset  # imported late: opskit.dataset imports the engine

    frames = generate_frames(users, seed, start, days)
    meta = {"currency": "CNY", "source": "opskit.demo", "seed": seed, "users": users,
            "start": start, "days": days}
    return dataset.Dataset.from_frames(**frames, meta=meta)

"""The demo's vocabularies: plans, channels, campaigns, firmographics, events, pages.

Codes in the generator are positions in these tuples; :mod:`opskit.demo._frames`
turns them into labels. :data:`PLANS` and :data:`CHANNELS` are public as
``opskit.demo.PLANS`` and ``opskit.demo.CHANNELS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CHANNELS", "PLANS", "_B2B_PLANS", "_B2C_PLANS", "_CAMPAIGNS", "_CH", "_CHANNELS",
           "_COUNTRIES", "_COUNTRY_P", "_E", "_EVENTS", "_EVENT_MEDIAN_S", "_EVENT_P", "_EVENT_PAGE",
           "_INDUSTRIES", "_INDUSTRY_P", "_KINDS", "_PAGES", "_PAID", "_PAID_CHANNEL", "_PROMOTION",
           "_REACTIVATION", "_SIZES", "_SIZE_CYCLE_DAYS", "_SIZE_EXTRA_USERS", "_SIZE_P",
           "_SIZE_PLAN_P", "_STAGES", "_TRIAL", "_VIEW_PAGES_P"]

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

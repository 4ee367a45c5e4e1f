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

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from opskit.demo import _behaviour, _calendar, _frames, _marketing, _money, _targets, _users
from opskit.demo._calendar import _DAY
from opskit.demo._findings import FINDINGS, PlantedFinding
from opskit.demo._vocab import _PAID, CHANNELS, PLANS

if TYPE_CHECKING:  # pragma: no cover
    from opskit.dataset import Dataset

__all__ = ["CHANNELS", "FINDINGS", "PLANS", "PlantedFinding", "generate", "generate_frames",
           "key_dates"]


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
    cal = _calendar._calendar(start, days)
    at = {"start": 0, "end": cal.end, "spike_week_start": cal.spike,
          "spike_week_end": cal.spike + 7 * _DAY, "promo_start": cal.promo[0],
          "promo_end": cal.promo[1]}
    return {k: pd.Timestamp(cal.start + np.timedelta64(v, "s")) for k, v in at.items()}


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
    cal = _calendar._calendar(start, days)
    rng = np.random.default_rng(seed)
    u = _users._users(rng, users, cal)
    money = _money._money(rng, u, cal)
    ses = _behaviour._sessions(rng, u, cal, money["paid_until"])
    ev = _behaviour._events(rng, u, cal, ses, money["charge"])
    conv = money["conv"]
    first_paid = conv["kind"] == _PAID
    tp = _marketing._touchpoints(rng, u, cal, (conv["user"][first_paid], conv["t"][first_paid]))
    sp = _marketing._spend(rng, u, cal, tp)
    tk = _behaviour._tickets(rng, u, cal, ses["life_end"], money["paid_until"], money["rows"])
    seen = (np.r_[ses["user"], money["charge"]["user"]], np.r_[ses["t"], money["charge"]["t"]])
    tg = _targets._targets(rng, u, cal, seen, money["rows"])
    return _frames._frames(u, cal, money, ses, ev, tp, sp, tk, tg)


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

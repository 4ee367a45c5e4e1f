"""Marketing: touchpoints before signup and before the first payment, and ad spend.

Spend has one row per paid campaign and day, with at least the clicks the
touchpoints record that day.
"""

from __future__ import annotations

import numpy as np

from opskit.demo._calendar import _DAY, _Calendar, _day_weights
from opskit.demo._vocab import _CAMPAIGNS, _CH, _CHANNELS, _PAID_CHANNEL

__all__ = ["_spend", "_touchpoints"]


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

"""Behaviour: sessions, the events inside them, and support tickets.

Each user stays active from signup for a while (longer for payers, the
engaged and the base that existed at ``start``) with a session rate that
decays over that time; B2B users skip most weekends. Every session holds a
few events; the charges join them as ``purchase`` events. Tickets scale with
the time a user stays, plus the surge of the churn-spike week.
"""

from __future__ import annotations

import numpy as np

from opskit.demo._calendar import _DAY, _HOUR, _NAT, _Calendar, _exp_s, _time_of_day
from opskit.demo._vocab import _E, _EVENT_MEDIAN_S, _EVENT_P, _EVENT_PAGE, _EVENTS, _PAGES, _VIEW_PAGES_P

__all__ = ["_events", "_sessions", "_tickets"]


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

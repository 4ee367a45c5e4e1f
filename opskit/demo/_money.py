"""Money: subscriptions, conversions, the B2B pipeline and every charge.

B2C users pay monthly (the churn-spike week is planted here), B2B accounts
yearly after a won opportunity or as part of the base paying at ``start``
(the 双11 promotion is planted here). :func:`_money` merges both into
subscription rows, conversions, opportunities, charges (the ``purchase``
events) and each user's paid interval.
"""

from __future__ import annotations

import numpy as np

from opskit.demo._calendar import _DAY, _HOUR, _NAT, _Calendar, _exp_s
from opskit.demo._vocab import (
    _B2B_PLANS,
    _B2C_PLANS,
    _CHANNELS,
    _PAID,
    _PROMOTION,
    _REACTIVATION,
    _SIZE_CYCLE_DAYS,
    _SIZE_PLAN_P,
    _TRIAL,
    PLANS,
)

__all__ = ["_money"]

_B2C_PERIOD = 30 * _DAY   # B2C plans renew every 30 days
_B2B_PERIOD = 365 * _DAY  # B2B plans renew yearly
_PROMO_DISCOUNT = 0.8     # 双11: 20 % off

# Churn and conversion. Weekly B2C churn: renewals fall in a week with probability 7/30,
# so a per-renewal churn of 21 % gives ~4.9 %; cancellations lift the spike week to 8 %.
_B2C_RENEWAL_CHURN = 0.21
_B2C_SPIKE_RATE = 0.08    # B2C churn in the spike week
_B2C_OLD_PAYING = 0.16    # share of the B2C base at start that is paying
_B2B_RENEWAL_CHURN = 0.35
_B2C_PAY = 0.18           # P(pay | engaged), times the channel's pay_mult
_B2B_WIN = 0.26           # P(win | engaged admin), times the channel's pay_mult



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

"""Users and B2B accounts: who signs up, when, through which channel.

The first draws of a run: account sizes, signup instants (35 % of users are
the base that existed before ``start``), channels, engagement, country and
firmographics.
"""

from __future__ import annotations

import numpy as np

from opskit.demo._calendar import _DAY, _Calendar, _draw_days, _exp_s, _time_of_day
from opskit.demo._vocab import (
    _CH,
    _CHANNELS,
    _COUNTRIES,
    _COUNTRY_P,
    _INDUSTRIES,
    _INDUSTRY_P,
    _SIZE_EXTRA_USERS,
    _SIZE_P,
)

__all__ = ["_users"]


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

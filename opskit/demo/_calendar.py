"""Time in the demo generator: units, the calendar of a run and when things happen.

Instants are ``int64`` seconds after ``start`` (``_NAT`` = missing) until
:mod:`opskit.demo._frames` turns them into timestamps. The random helpers
here draw signup days, hours of the day (Beijing activity profiles rolled to
UTC) and exponential durations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["_DAY", "_HOUR", "_NAT", "_Calendar", "_calendar", "_day_weights", "_draw_days",
           "_exp_s", "_time_of_day"]

_DAY = 86_400
_HOUR = 3_600
_NAT = np.iinfo(np.int64).min

# Local (Beijing) hour-of-day activity profiles, rolled to UTC below.
_B2C_LOCAL_HOURS = np.array([2, 1, .5, .3, .3, .4, 1, 2, 3, 3.5, 4, 4, 5, 4.5, 3.5, 3.5, 3.5, 4,
                             5, 6.5, 7.5, 8, 7, 4.5])
_B2B_LOCAL_HOURS = np.array([.3, .2, .1, .1, .1, .2, .4, 1.5, 4, 8, 9, 8.5, 4, 6, 8.5, 8.5, 8,
                             7, 3.5, 2, 2, 1.5, 1, .5])
_HOURS_UTC = {False: np.roll(_B2C_LOCAL_HOURS / _B2C_LOCAL_HOURS.sum(), -8),
              True: np.roll(_B2B_LOCAL_HOURS / _B2B_LOCAL_HOURS.sum(), -8)}


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

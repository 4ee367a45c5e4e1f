"""Acquisition channels: what each signup channel's new users become, and what they cost."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from opskit import engine
from opskit._inputs import table_arg

__all__ = ["acquisition"]


def acquisition(users: Any, conversions: Any, spend: Any = None, /, *,
                kinds: Sequence[str] | None = ("paid",), start: Any = None,
                end: Any = None) -> pd.DataFrame:
    """New users per acquisition channel, how many converted, and the cost per conversion.

    The channel is ``users.channel`` (where the user signed up). For the
    users with ``start <= signup_at < end``: ``new_users``; ``converted`` =
    those with a conversion of one of ``kinds`` (any kind if None) at or
    after signing up, at any time up to the end of the data;
    ``conversion_rate`` = converted / new users; ``cost`` = ``spend.cost`` of
    the channel with ``start <= date < end``; ``cost_per_new_user`` and
    ``cost_per_conversion`` = cost / new users and cost / converted (NaN for
    channels without spend). Channels by ``conversion_rate``, highest first.

    Examples
    --------
    >>> users = pd.DataFrame({"user_id": ["a", "b", "c"], "channel": ["微信", "微信", "direct"],
    ...                       "signup_at": ["2025-01-02", "2025-01-03", "2025-01-03"]})
    >>> conv = pd.DataFrame({"user_id": ["a"], "converted_at": ["2025-01-20"], "kind": ["paid"]})
    >>> spend = pd.DataFrame({"date": ["2025-01-02"], "channel": ["微信"], "cost": [300.0]})
    >>> acquisition(users, conv, spend)[["channel", "new_users", "converted", "cost_per_conversion"]]
      channel  new_users  converted  cost_per_conversion
    0      微信          2          1                300.0
    1  direct          1          0                  NaN
    """
    u = table_arg(users, "users", ("user_id", "signup_at", "channel"))
    c = table_arg(conversions, "conversions", ("user_id", "converted_at"))
    if start is not None:
        u = u.filter(u.signup_at >= pd.Timestamp(start))
    if end is not None:
        u = u.filter(u.signup_at < pd.Timestamp(end))
    if kinds is not None and "kind" in c.columns:
        c = c.filter(c.kind.isin(list(kinds)))
    joined = u.join(c, (u.user_id == c.user_id) & (c.converted_at >= u.signup_at))
    converted = joined.select(cuid=u.user_id).distinct()
    flagged = u.left_join(converted, u.user_id == converted.cuid)
    counts = engine.to_pandas(flagged.group_by("channel").aggregate(
        new_users=flagged.count(), converted=flagged.cuid.notnull().cast("int64").sum()))
    if spend is not None:
        s = table_arg(spend, "spend", ("date", "channel", "cost"))
        if start is not None:
            s = s.filter(s.date >= pd.Timestamp(start).date())
        if end is not None:
            s = s.filter(s.date < pd.Timestamp(end).date())
        cost = engine.to_pandas(s.group_by("channel").aggregate(cost=s.cost.sum().cast("float64")))
        counts = counts.merge(cost, on="channel", how="left")
    else:
        counts["cost"] = np.nan
    counts["conversion_rate"] = counts["converted"] / counts["new_users"]
    paid = counts["cost"].where(counts["cost"] > 0)
    counts["cost_per_new_user"] = paid / counts["new_users"]
    counts["cost_per_conversion"] = paid / counts["converted"].where(counts["converted"] > 0)
    counts = counts.astype({"new_users": "int64", "converted": "int64"})
    counts = counts.sort_values(["conversion_rate", "channel"], ascending=[False, True],
                                ignore_index=True)
    return counts[["channel", "new_users", "converted", "conversion_rate", "cost",
                   "cost_per_new_user", "cost_per_conversion"]]

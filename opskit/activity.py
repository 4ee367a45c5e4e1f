"""Activity: how many users are active, per day, week or month.

Definitions are in docs/metrics.md ("Activity").
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from opskit import engine
from opskit._inputs import table_arg
from opskit._periods import period_range, period_start

__all__ = ["active_users"]


def active_users(events: Any, /, *, freq: str = "day") -> pd.DataFrame:
    """Distinct active users per calendar period (DAU, WAU, MAU).

    A user is *active* in a period when they have at least one event of any
    kind whose ``event_at`` falls in it. Periods are calendar periods in UTC:
    days, ISO weeks (Monday start) or calendar months. Every period from the
    first event's to the last event's appears, with 0 where nobody was
    active.

    Parameters
    ----------
    events
        The ``events`` table (columns ``user_id``, ``event_at``): an
        :class:`opskit.Dataset`, an Ibis table or a pandas DataFrame.
    freq
        ``"day"`` (DAU), ``"week"`` (WAU) or ``"month"`` (MAU).

    Returns
    -------
    pandas.DataFrame
        ``period`` (datetime64[ns], start of the period) and
        ``active_users`` (int64), one row per period, in time order.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({
    ...     "user_id": ["a", "a", "b", "a"],
    ...     "event": ["login"] * 4,
    ...     "event_at": ["2025-01-01 09:00", "2025-01-01 18:00",
    ...                  "2025-01-01 10:00", "2025-01-03 08:00"]})
    >>> active_users(events)
          period  active_users
    0 2025-01-01             2
    1 2025-01-02             0
    2 2025-01-03             1
    """
    table = table_arg(events, "events", ("user_id", "event_at"))
    counted = (
        table.mutate(period=period_start(table.event_at, freq))
        .group_by("period")
        .aggregate(active_users=table.user_id.nunique())
    )
    frame = engine.to_pandas(counted)
    if frame.empty:
        return pd.DataFrame({"period": pd.Series(dtype="datetime64[ns]"),
                             "active_users": pd.Series(dtype="int64")})
    periods = period_range(frame["period"].min(), frame["period"].max(), freq)
    out = frame.set_index("period")["active_users"].reindex(periods, fill_value=0)
    return out.astype("int64").reset_index()

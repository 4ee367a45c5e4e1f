"""Customer segments: RFM scores and named segments, operations tags, dormant-user reactivation.

Three ways an operations team splits its users, from the seeds:

* :func:`rfm` scores every paying customer on recency, frequency and monetary value
  and names the segment of its (R, F) cell (Champions, At risk, Lost, ...);
  :func:`rfm_segments` counts the customers and revenue of each segment.
* :func:`tags` gives every user the tags of seed 002's 用户标签体系 (新注册用户,
  活跃用户, 高频购买用户, 沉默用户) plus 流失风险 (falling activity), with each rule's
  thresholds as parameters (:class:`TagRules`); :func:`tag_counts` counts them.
* :func:`reactivation` measures seed 000's 沉睡用户唤醒率 (raised from 12 % to 20 % in
  the seed): of the users dormant at a period's start, the share who came back.

All counting, ranking and windowing happens in the engine (Ibis); :func:`rfm` and
:func:`tags` return one row per user, the summaries are computed from those frames in
pandas. Definitions with worked examples: docs/metrics.md ("Segments").
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from opskit import engine
from opskit._inputs import table_arg
from opskit._periods import FREQS, floor_period, period_range
from opskit._shared import as_list as _as_list
from opskit._shared import data_span as _observed
from opskit._shared import instant as _instant
from opskit._shared import users_table as _users
from opskit.errors import DataError
from opskit.retention import wilson

__all__ = [
    "RFM_SEGMENTS",
    "TAGS",
    "TagRules",
    "reactivation",
    "rfm",
    "rfm_segments",
    "tag_counts",
    "tags",
]

_DAY = pd.Timedelta(days=1)
_EPOCH = pd.Timestamp("1970-01-01")

#: The named RFM segments, best first: name -> (Chinese name, the (R, F) cells it holds).
#: The common 5 x 5 recency-frequency grid (as in Putler's RFM table): R and F are the
#: 1-5 scores of :func:`rfm`; M does not enter the name.
RFM_SEGMENTS: dict[str, tuple[str, str]] = {
    "Champions": ("冠军客户", "R 5, F 4-5"),
    "Loyal": ("忠诚客户", "R 3-4, F 4-5"),
    "Potential loyalists": ("潜力客户", "R 4-5, F 2-3"),
    "New customers": ("新客户", "R 5, F 1"),
    "Promising": ("有望客户", "R 4, F 1"),
    "Need attention": ("需关注客户", "R 3, F 3"),
    "About to sleep": ("即将沉睡客户", "R 3, F 1-2"),
    "At risk": ("流失风险客户", "R 1-2, F 3-4"),
    "Can't lose them": ("重要挽留客户", "R 1-2, F 5"),
    "Hibernating": ("休眠客户", "R 1-2, F 1-2 except R 1 F 1"),
    "Lost": ("已流失客户", "R 1, F 1"),
}

#: The operations tags of :func:`tags`, in column order, with their Chinese names (seed 002).
TAGS: dict[str, str] = {
    "new": "新注册用户",
    "active": "活跃用户",
    "high_frequency_payer": "高频付费用户",
    "dormant": "沉默/沉睡用户",
    "churn_risk": "流失风险用户",
}


def _segment_of(r: int, f: int) -> str:
    """The named segment of the (R, F) cell of the 5 x 5 grid."""
    if r <= 2:
        if f == 5:
            return "Can't lose them"
        if f >= 3:
            return "At risk"
        return "Lost" if r == 1 and f == 1 else "Hibernating"
    if r == 3:
        return "Loyal" if f >= 4 else ("Need attention" if f == 3 else "About to sleep")
    if f >= 4:
        return "Champions" if r == 5 else "Loyal"
    if f >= 2:
        return "Potential loyalists"
    return "New customers" if r == 5 else "Promising"


# --- shared helpers ----------------------------------------------------------------------


def _days(value: Any, name: str) -> float:
    """A positive number of days (fractions allowed)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number of days, not {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be > 0 days, not {value!r}")
    return float(value)


def _event_names(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    names = [value] if isinstance(value, str) else list(value)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"event must be an event name or a non-empty list of event names, not {value!r}")
    return names


def _purchase(table: ir.Table, names: list[str] | None) -> ir.BooleanValue:
    """A purchase: ``revenue > 0`` (of the event names given); without a ``revenue`` column,
    any event of the names given."""
    if "revenue" in table.columns:
        paid = table.revenue > 0
        return paid & table.event.isin(names) if names is not None else paid
    if names is None:
        raise DataError.single(
            "events", "revenue", "missing_column", 0,
            f"this calculation needs `revenue` to tell purchases (columns found: {', '.join(table.columns)})",
            "add the revenue column, or pass event='purchase' (the name of your purchase event)")
    return table.event.isin(names)


def _seconds(ts: pd.Timestamp) -> int:
    return int((ts - _EPOCH) // pd.Timedelta(seconds=1))


def _to_literal(ts: pd.Timestamp) -> ir.TimestampScalar:
    return ibis.timestamp(ts.to_pydatetime())


# --- RFM ------------------------------------------------------------------------------------


def rfm(events: Any, /, *, as_of: Any = None, bins: int = 5, event: str | Sequence[str] | None = None,
        by: str | Sequence[str] | None = None, users: Any = None) -> pd.DataFrame:
    """RFM scores and the named segment of every paying customer.

    A *purchase* is an ``events`` row with ``revenue > 0`` (of the ``event`` names, if
    given) before ``as_of``; a *customer* has at least one. Per customer:

    * ``recency_days``: whole days from the last purchase to ``as_of`` (rounded down);
    * ``frequency``: the number of purchases;
    * ``monetary``: the sum of their revenue.

    Each is turned into a score from 1 (worst) to ``bins`` (best) by rank: with ``n``
    customers (in the ``by`` group) and ``k`` the number of customers strictly worse
    (longer recency, fewer purchases, less revenue), the score is
    ``floor(bins * k / n) + 1`` (NTILE's equal-size groups when there are no ties).
    **Ties share a score**, the one of the first of them, so customers with the same
    value never land in different groups; with many ties (most customers bought once)
    the groups are unequal and some scores are skipped. ``rfm_score`` writes the three
    scores as text ("545"); ``rfm_segment`` names the (R, F) cell of the 5 x 5 grid
    (:data:`RFM_SEGMENTS`; only with ``bins=5``).

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``, ``revenue``; ``event`` with ``event=``): a
        Dataset, an Ibis table or a pandas frame.
    as_of
        The instant the customers are scored at; purchases from then on are ignored.
        Default: the end of the data (midnight after the last event's day).
    bins
        Number of score levels, 2 to 10.
    event
        Event name(s) that are purchases; ``None``: any event with revenue.
    by, users
        ``users`` column(s) and the ``users`` table: customers are scored within each
        group (B2B against B2B), and the columns are added to the result.

    Returns
    -------
    pandas.DataFrame
        One row per customer, sorted by the ``by`` columns then ``user_id``: ``user_id``,
        ``recency_days``, ``frequency``, ``r_score``, ``f_score``, ``m_score`` (int64),
        ``monetary`` (float64), ``rfm_score`` and ``rfm_segment`` (text; the segment is
        empty unless ``bins=5``), then the ``by`` columns.

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["a", "a", "a", "b", "c", "c", "d"],
    ...     "event": "purchase", "revenue": [10, 10, 10, 50, 20, 20, 5],
    ...     "event_at": ["2025-01-02", "2025-01-20", "2025-01-30", "2025-01-29",
    ...                  "2025-01-03", "2025-01-10", "2025-01-05"]})
    >>> rfm(events, as_of="2025-02-01", bins=2)[["user_id", "recency_days", "frequency", "monetary",
    ...                                          "r_score", "f_score", "m_score"]]
      user_id  recency_days  frequency  monetary  r_score  f_score  m_score
    0       a             2          3      30.0        2        2        1
    1       b             3          1      50.0        2        1        2
    2       c            22          2      40.0        1        2        2
    3       d            27          1       5.0        1        1        1

    With 4 customers and 2 bins, the score is ``floor(2 k / 4) + 1``. Frequency: b and d
    (1 purchase) have k = 0, so F 1; c has k = 2 (b and d bought less), so F 2: the tie
    keeps b and d together. Monetary: a (30) has k = 1, so M 1; c (40) has k = 2, M 2.
    """
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or not 2 <= bins <= 10:
        raise ValueError(f"bins must be an integer from 2 to 10, not {bins!r}")
    by_cols = _as_list(by)
    names = _event_names(event)
    table = table_arg(events, "events", ("user_id", "event_at", "revenue",
                                         *(("event",) if names else ())))
    dims = _users(users, by_cols, "rfm") if by_cols else None
    when = _instant(as_of, "as_of")
    if when is None:
        when = _observed(table)[1]
    columns = ["user_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
               "rfm_score", "rfm_segment", *by_cols]
    if pd.isna(when):
        return _empty_rfm(columns)

    paid = table.filter(_purchase(table, names) & (table.event_at < _to_literal(when)))
    per = paid.group_by("user_id").aggregate(
        last=paid.event_at.max(), frequency=paid.count(), monetary=paid.revenue.cast("float64").sum())
    if dims is not None:
        per = per.left_join(dims, "user_id").select(per, *[dims[c] for c in by_cols])
    per = per.mutate(recency_days=((_seconds(when) - per["last"].epoch_seconds()) / 86_400)
                     .floor().cast("int64"))
    group = by_cols or None
    n = per.count().over(group_by=group)
    scores = {
        "r_score": ibis.rank().over(group_by=group, order_by=ibis.desc(per.recency_days)),
        "f_score": ibis.rank().over(group_by=group, order_by=per.frequency),
        "m_score": ibis.rank().over(group_by=group, order_by=per.monetary),
    }
    scored = per.mutate(**{k: (rank * bins) // n + 1 for k, rank in scores.items()})
    out = engine.to_pandas(scored.select("user_id", "recency_days", "frequency", "monetary",
                                         "r_score", "f_score", "m_score", *by_cols))
    if out.empty:
        return _empty_rfm(columns)
    for col in ("recency_days", "frequency", "r_score", "f_score", "m_score"):
        out[col] = out[col].astype("int64")
    out["monetary"] = out["monetary"].astype("float64")
    out["rfm_score"] = (out["r_score"].astype(str) + out["f_score"].astype(str)
                        + out["m_score"].astype(str))
    if bins == 5:
        grid = np.array([[_segment_of(r, f) for f in range(1, 6)] for r in range(1, 6)], dtype=object)
        out["rfm_segment"] = grid[out["r_score"].to_numpy() - 1, out["f_score"].to_numpy() - 1]
    else:
        out["rfm_segment"] = pd.Series([None] * len(out), dtype="str", index=out.index)
    out = out.sort_values([*by_cols, "user_id"], kind="stable").reset_index(drop=True)
    return out[columns]


def _empty_rfm(columns: list[str]) -> pd.DataFrame:
    ints = ("recency_days", "frequency", "r_score", "f_score", "m_score")
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in ints else
                                      "float64" if c == "monetary" else "str") for c in columns})


def rfm_segments(scores: pd.DataFrame, /) -> pd.DataFrame:
    """Customers and revenue of each named RFM segment.

    Parameters
    ----------
    scores
        A frame from :func:`rfm` with ``bins=5``.

    Returns
    -------
    pandas.DataFrame
        One row per segment of :data:`RFM_SEGMENTS` (and ``by`` group), best segment
        first, empty segments included: ``rfm_segment``, ``rfm_segment_zh``, ``cells`` (its (R, F)
        cells), ``customers`` (int64), ``share`` (of the group's customers),
        ``recency_days_median``, ``frequency_mean``, ``monetary_mean``, ``monetary_share``
        (of the group's revenue), then the ``by`` columns.

    Examples
    --------
    >>> scores = pd.DataFrame({"user_id": ["a", "b", "c"], "recency_days": [1, 3, 200],
    ...     "frequency": [9, 8, 1], "monetary": [90.0, 70.0, 40.0], "r_score": [5, 5, 1],
    ...     "f_score": [5, 4, 1], "m_score": [5, 4, 1], "rfm_score": ["555", "544", "111"],
    ...     "rfm_segment": ["Champions", "Champions", "Lost"]})
    >>> rfm_segments(scores).query("customers > 0")[["rfm_segment", "customers", "share",
    ...                                              "monetary_share"]]
       rfm_segment  customers     share  monetary_share
    0    Champions          2  0.666667             0.8
    10        Lost          1  0.333333             0.2
    """
    base = {"user_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
            "rfm_score", "rfm_segment"}
    dims = [c for c in scores.columns if c not in base]
    if scores["rfm_segment"].isna().any():
        raise ValueError("rfm_segments needs named segments: score with rfm(..., bins=5)")
    names = list(RFM_SEGMENTS)
    grid = pd.DataFrame({"rfm_segment": names})
    if dims:
        grid = scores[dims].drop_duplicates().merge(grid, how="cross")
    agg = (scores.groupby([*dims, "rfm_segment"], dropna=False)
           .agg(customers=("user_id", "size"), recency_days_median=("recency_days", "median"),
                frequency_mean=("frequency", "mean"), monetary_mean=("monetary", "mean"),
                monetary=("monetary", "sum"))
           .reset_index())
    out = grid.merge(agg, on=[*dims, "rfm_segment"], how="left")
    out["customers"] = out["customers"].fillna(0).astype("int64")
    out["monetary"] = out["monetary"].fillna(0.0)
    keys = [out[d] for d in dims] if dims else [np.zeros(len(out))]
    total = out.groupby(keys, dropna=False)["customers"].transform("sum")
    money = out.groupby(keys, dropna=False)["monetary"].transform("sum")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["share"] = (out["customers"] / total).where(total > 0)
        out["monetary_share"] = (out["monetary"] / money).where(money > 0)
    out["rfm_segment_zh"] = out["rfm_segment"].map(lambda s: RFM_SEGMENTS[s][0])
    out["cells"] = out["rfm_segment"].map(lambda s: RFM_SEGMENTS[s][1])
    out["order"] = out["rfm_segment"].map(names.index)
    out = out.sort_values([*dims, "order"], kind="stable").reset_index(drop=True)
    for col in ("recency_days_median", "frequency_mean", "monetary_mean"):
        out[col] = out[col].astype("float64")
    return out[["rfm_segment", "rfm_segment_zh", "cells", "customers", "share", "recency_days_median",
                "frequency_mean", "monetary_mean", "monetary_share", *dims]]


# --- operations tags -----------------------------------------------------------------------


@dataclass(frozen=True)
class TagRules:
    """The thresholds of the operations tags of :func:`tags` (all windows end at ``as_of``).

    Attributes
    ----------
    new_days
        *new*: signed up in the last ``new_days`` days.
    active_days
        *active*: at least one event in the last ``active_days`` days.
    payer_purchases, payer_days
        *high-frequency payer*: at least ``payer_purchases`` purchases in the last
        ``payer_days`` days.
    dormant_days
        *dormant*: signed up more than ``dormant_days`` days ago and no event in the last
        ``dormant_days`` days.
    risk_days, risk_drop, risk_min_active_days
        *churn risk*: active on at least ``risk_min_active_days`` days in the ``risk_days``
        before the last ``risk_days``, and on at most ``(1 - risk_drop)`` times as many
        days in the last ``risk_days`` (activity fell by ``risk_drop`` or more).

    Examples
    --------
    >>> TagRules(dormant_days=60).describe()["dormant"]
    'signed up more than 60 days ago and no event in the last 60 days'
    """

    new_days: float = 30
    active_days: float = 7
    payer_purchases: int = 3
    payer_days: float = 90
    dormant_days: float = 30
    risk_days: float = 30
    risk_drop: float = 0.5
    risk_min_active_days: int = 2

    def __post_init__(self) -> None:
        for name in ("new_days", "active_days", "payer_days", "dormant_days", "risk_days"):
            _days(getattr(self, name), name)
        for name in ("payer_purchases", "risk_min_active_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, not {value!r}")
        drop = self.risk_drop
        if isinstance(drop, bool) or not isinstance(drop, (int, float)) or not 0 < drop <= 1:
            raise ValueError(f"risk_drop must be a share in (0, 1], such as 0.5, not {drop!r}")

    def describe(self) -> dict[str, str]:
        """Each tag's rule in words, by tag."""
        return {
            "new": f"signed up in the last {self.new_days:g} days",
            "active": f"at least one event in the last {self.active_days:g} days",
            "high_frequency_payer": f"at least {self.payer_purchases} purchases in the last "
                                    f"{self.payer_days:g} days",
            "dormant": f"signed up more than {self.dormant_days:g} days ago and no event in the "
                       f"last {self.dormant_days:g} days",
            "churn_risk": f"active days in the last {self.risk_days:g} days fell by at least "
                          f"{self.risk_drop:.0%} against the {self.risk_days:g} days before "
                          f"(which had at least {self.risk_min_active_days})",
        }


def _rules(rules: TagRules | Mapping[str, Any] | None) -> TagRules:
    if rules is None:
        return TagRules()
    if isinstance(rules, TagRules):
        return rules
    if isinstance(rules, Mapping):
        allowed = [f.name for f in dataclasses.fields(TagRules)]
        unknown = [k for k in rules if k not in allowed]
        if unknown:
            raise TypeError(f"unknown tag rule(s) {unknown!r}; the rules are {', '.join(allowed)}")
        return TagRules(**rules)
    raise TypeError(f"rules must be a TagRules or a dict of its fields, not {type(rules).__name__}")


def tags(events: Any, /, *, users: Any, as_of: Any = None, rules: TagRules | Mapping[str, Any] | None = None,
         event: str | Sequence[str] | None = None, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """The operations tags of every user at ``as_of`` (seed 002's 用户标签体系).

    Windows are the days before ``as_of``, ``[as_of - N days, as_of)``; the thresholds are
    :class:`TagRules` (defaults in brackets). A user may carry several tags, or none.

    * ``new`` (新注册用户): signed up in the last ``new_days`` (30) days.
    * ``active`` (活跃用户): an event in the last ``active_days`` (7) days.
    * ``high_frequency_payer`` (高频付费用户, seed 002's 高频购买用户): at least
      ``payer_purchases`` (3) purchases in the last ``payer_days`` (90) days. A purchase
      is an event with ``revenue > 0`` (of the ``event`` names, if given).
    * ``dormant`` (沉默/沉睡用户): signed up more than ``dormant_days`` (30) days ago and no
      event in the last ``dormant_days`` days (never being active counts).
    * ``churn_risk`` (流失风险用户): *active days* (distinct UTC days with an event) fell:
      at least ``risk_min_active_days`` (2) in the ``risk_days`` (30) days before the last
      ``risk_days``, and at most ``(1 - risk_drop)`` (half) as many in the last
      ``risk_days``. A drop to zero counts, so a recently lapsed user can also be dormant.

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``; ``revenue`` for purchases, ``event`` with
        ``event=``): a Dataset, an Ibis table or a pandas frame.
    users
        The ``users`` table (``user_id``, ``signup_at``): the users tagged are those who
        signed up before ``as_of``; events of other users are ignored.
    as_of
        The instant of the tags. Default: the end of the data (midnight after the last
        event's day).
    rules
        A :class:`TagRules`, or a dict of the thresholds to change
        (``{"dormant_days": 60}``).
    event
        Event name(s) that are purchases; ``None``: any event with revenue (without a
        ``revenue`` column, name the purchase event here).
    by
        ``users`` column(s) to carry into the result (and :func:`tag_counts`).

    Returns
    -------
    pandas.DataFrame
        One row per user, by ``user_id``: the tags ``new``, ``active``,
        ``high_frequency_payer``, ``dormant``, ``churn_risk`` (bool), then the evidence:
        ``signup_at``, ``last_event_at`` (NaT if none before ``as_of``),
        ``days_since_last_event`` (whole days, NaN if none), ``active_days`` (in the last
        ``risk_days``), ``active_days_before`` (in the ``risk_days`` before), ``purchases``
        (in the last ``payer_days``) (int64), then the ``by`` columns.

    Examples
    --------
    >>> users = pd.DataFrame({"user_id": ["a", "b", "c"],
    ...     "signup_at": ["2024-10-01", "2025-03-20", "2024-12-01"]})
    >>> events = pd.DataFrame({"user_id": ["a"] * 5 + ["c"] * 3, "event": "purchase",
    ...     "revenue": [39, 39, 39, None, None, None, None, None],
    ...     "event_at": ["2025-01-10", "2025-02-09", "2025-03-11", "2025-03-28", "2025-03-25",
    ...                  "2025-02-05", "2025-02-10", "2025-02-20"]})
    >>> tags(events, users=users, as_of="2025-04-01")[["user_id", *TAGS]]
      user_id    new  active  high_frequency_payer  dormant  churn_risk
    0       a  False    True                  True    False       False
    1       b   True   False                 False    False       False
    2       c  False   False                 False     True        True

    On 1 April: a paid on 10 Jan, 9 Feb and 11 Mar (3 in 90 days) and was active on
    28 Mar; b signed up 12 days ago; c was active on 3 days in the 30 days before 2 March
    and on none since: dormant and at risk.
    """
    r = _rules(rules)
    by_cols = _as_list(by)
    names = _event_names(event)
    table = table_arg(events, "events", ("user_id", "event_at", *(("event",) if names else ())))
    people = _users(users, ("signup_at", *[c for c in by_cols if c != "signup_at"]), "tags")
    when = _instant(as_of, "as_of")
    if when is None:
        when = _observed(table)[1]
    if pd.isna(when):
        when = _EPOCH  # no events: nobody signed up before, an empty result
    at = {name: _to_literal(when - pd.Timedelta(days=getattr(r, name)))
          for name in ("new_days", "active_days", "payer_days", "dormant_days", "risk_days")}
    before_risk = _to_literal(when - pd.Timedelta(days=2 * r.risk_days))
    end = _to_literal(when)

    e = table.filter(table.event_at < end)
    day = e.event_at.truncate("D")
    recent = e.event_at >= at["risk_days"]
    earlier = (e.event_at >= before_risk) & ~recent
    paid = _purchase(e, names) & (e.event_at >= at["payer_days"])
    per = e.group_by("user_id").aggregate(
        last_event_at=e.event_at.max(),
        active_days=day.nunique(where=recent),
        active_days_before=day.nunique(where=earlier),
        purchases=ibis.cases((paid, 1), else_=0).sum())
    people = people.filter(people.signup_at < end)
    u = people.left_join(per, "user_id").select(people, *[per[c] for c in per.columns if c != "user_id"])
    u = u.mutate(active_days=u.active_days.fill_null(0), active_days_before=u.active_days_before.fill_null(0),
                 purchases=u.purchases.fill_null(0))
    tagged = u.mutate(
        new=u.signup_at >= at["new_days"],
        active=u.last_event_at.notnull() & (u.last_event_at >= at["active_days"]),
        high_frequency_payer=u.purchases >= r.payer_purchases,
        dormant=(u.signup_at < at["dormant_days"])
        & (u.last_event_at.isnull() | (u.last_event_at < at["dormant_days"])),
        churn_risk=(u.active_days_before >= r.risk_min_active_days)
        & (u.active_days <= (1 - r.risk_drop) * u.active_days_before),
    )
    columns = ["user_id", *TAGS, "signup_at", "last_event_at", "days_since_last_event", "active_days",
               "active_days_before", "purchases", *[c for c in by_cols if c != "signup_at"]]
    out = engine.to_pandas(tagged.select(*[c for c in columns if c != "days_since_last_event"]))
    for col in TAGS:
        out[col] = out[col].fillna(False).astype("bool")
    for col in ("active_days", "active_days_before", "purchases"):
        out[col] = out[col].fillna(0).astype("int64")
    for col in ("signup_at", "last_event_at"):
        out[col] = out[col].astype("datetime64[ns]")
    out["days_since_last_event"] = np.floor((when - out["last_event_at"]) / _DAY).astype("float64")
    out = out.sort_values("user_id", kind="stable").reset_index(drop=True)
    return out[columns]


def tag_counts(tagged: pd.DataFrame, /) -> pd.DataFrame:
    """How many users carry each tag.

    Parameters
    ----------
    tagged
        A frame from :func:`tags`; its ``by`` columns split the counts.

    Returns
    -------
    pandas.DataFrame
        One row per tag of :data:`TAGS` (and ``by`` group): ``tag``, ``tag_zh``, ``users``
        (int64), ``share`` (of the users tagged in the group; tags overlap, so shares do not
        add up to 1), then the ``by`` columns.

    Examples
    --------
    >>> tagged = pd.DataFrame({"user_id": ["a", "b"], "new": [True, False], "active": [True, True],
    ...     "high_frequency_payer": False, "dormant": [False, True], "churn_risk": False})
    >>> tag_counts(tagged)
                        tag    tag_zh  users  share
    0                   new     新注册用户      1    0.5
    1                active      活跃用户      2    1.0
    2  high_frequency_payer    高频付费用户      0    0.0
    3               dormant    沉默/沉睡用户      1    0.5
    4            churn_risk    流失风险用户      0    0.0
    """
    evidence = {"user_id", *TAGS, "signup_at", "last_event_at", "days_since_last_event", "active_days",
                "active_days_before", "purchases"}
    dims = [c for c in tagged.columns if c not in evidence]
    long = tagged.melt(id_vars=dims, value_vars=list(TAGS), var_name="tag", value_name="on")
    long["on"] = long["on"].astype("int64")
    out = (long.groupby([*dims, "tag"], dropna=False, sort=False)
           .agg(users=("on", "sum"), total=("on", "size")).reset_index())
    out["users"] = out["users"].astype("int64")
    out["share"] = (out["users"] / out["total"]).where(out["total"] > 0).astype("float64")
    out["tag_zh"] = out["tag"].map(TAGS)
    out["order"] = out["tag"].map(list(TAGS).index)
    out = out.sort_values([*dims, "order"], kind="stable").reset_index(drop=True)
    return out[["tag", "tag_zh", "users", "share", *dims]]


# --- reactivation of dormant users ------------------------------------------------------------


def reactivation(events: Any, /, *, dormant_days: float = 30, window_days: float = 30, freq: str = "month",
                 event: str | Sequence[str] | None = None, users: Any = None,
                 by: str | Sequence[str] | None = None, start: Any = None, end: Any = None) -> pd.DataFrame:
    """Dormant-user reactivation rate (seed 000's 沉睡用户唤醒率, 12 % -> 20 %) per period.

    At the start ``p`` of each calendar period:

    * a user is **dormant** when they were known before ``p - dormant_days`` (an event
      before it, or with ``users``, signed up before it) and have no event in
      ``[p - dormant_days, p)``;
    * a dormant user is **reactivated** when they have an event in
      ``[p, p + window_days)``;
    * rate = reactivated / dormant, with a Wilson 95 % interval.

    ``freq`` only spaces the measurement points: the window runs ``window_days`` from each
    period's start whatever the period's length. With ``event=``, only those events count
    as activity, for dormancy and return alike (``event="purchase"``: customers who have
    not paid for ``dormant_days`` and pay again). Periods are listed when the whole
    dormancy window lies in the data (``p - dormant_days`` at or after midnight of the
    first event's day); the rate is given only when the return window ended by the end of
    the data (``complete``), since a cut window undercounts returns.

    Parameters
    ----------
    events
        ``events`` (``user_id``, ``event_at``; ``event`` with ``event=``): a Dataset, an
        Ibis table or a pandas frame.
    dormant_days
        Days without activity that make a user dormant.
    window_days
        Days from the period's start in which a dormant user must come back.
    freq
        ``"day"``, ``"week"`` or ``"month"``.
    event
        Event name(s) that count as activity; ``None``: any event.
    users
        The ``users`` table (``user_id``, ``signup_at``): restricts the users to it, and
        counts signing up as activity (a user who signed up and never came back is dormant).
    by
        ``users`` column(s) to break down by (pass ``users``).
    start, end
        Keep the periods whose start is in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``dormant``, ``reactivated`` (int64), ``rate``, ``ci_low``, ``ci_high``
        (float64; NaN when incomplete or nobody is dormant), ``complete``, then the ``by``
        columns.

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["a", "a", "b", "b", "c", "c", "d"], "event": "use",
    ...     "event_at": ["2025-01-02", "2025-03-10", "2025-01-03", "2025-05-20", "2025-01-05",
    ...                  "2025-02-20", "2025-05-31"]})
    >>> reactivation(events, freq="month")
          period  dormant  reactivated      rate    ci_low   ci_high  complete
    0 2025-02-01        0            0       NaN       NaN       NaN      True
    1 2025-03-01        2            1  0.500000  0.094531  0.905469      True
    2 2025-04-01        2            0  0.000000  0.000000  0.657620      True
    3 2025-05-01        3            1  0.333333  0.061492  0.792340      True

    The data run from 2 January to 31 May (end: 1 June). On 1 March, a (last seen 2 Jan)
    and b (3 Jan) have been quiet since 30 January, c was seen on 20 Feb and d is not
    known yet: 2 dormant; a comes back on 10 March, within 30 days: 1 of 2. On 1 May a,
    b and c are dormant and b returns on 20 May: 1 of 3. January is not listed: its
    30 days of dormancy would begin before the data.
    """
    if freq not in FREQS:
        raise ValueError(f"freq must be one of {', '.join(map(repr, FREQS))}, not {freq!r}")
    dormant = pd.Timedelta(days=_days(dormant_days, "dormant_days"))
    window = pd.Timedelta(days=_days(window_days, "window_days"))
    by_cols = _as_list(by)
    names = _event_names(event)
    table = table_arg(events, "events", ("user_id", "event_at", *(("event",) if names else ())))
    wanted = users is not None or by_cols  # without users, by=... raises the helpful error
    people = _users(users, ("signup_at", *by_cols), "reactivation") if wanted else None
    first_day, horizon = _observed(table)
    columns = ["period", "dormant", "reactivated", "rate", "ci_low", "ci_high", "complete", *by_cols]
    periods = pd.DatetimeIndex([], name="period")
    if not pd.isna(horizon):
        periods = period_range(floor_period(first_day, freq), floor_period(horizon - _DAY, freq), freq)
        periods = periods[periods - dormant >= first_day]
        if start is not None:
            periods = periods[periods >= _instant(start, "start")]
        if end is not None:
            periods = periods[periods < _instant(end, "end")]
    if periods.empty:
        return _reactivation_frame(pd.DataFrame(columns=columns), columns)

    act = table if names is None else table.filter(table.event.isin(names))
    act = act.select("user_id", at=act.event_at)
    if people is not None:
        act = act.semi_join(people, "user_id").union(people.select("user_id", at=people.signup_at))
    # consecutive activities of a user bound a quiet spell (at, next_at); the last one never ends
    never = _to_literal(horizon + window + _DAY)
    gaps = act.mutate(next_at=act["at"].lead().over(group_by="user_id", order_by="at"))
    gaps = gaps.mutate(next_at=gaps.next_at.fill_null(never))
    grid = ibis.memtable(pd.DataFrame({"p": periods, "lo": periods - dormant, "hi": periods + window})
                         .astype("datetime64[us]"))
    # dormant at p: the spell holding p began before p - dormant_days (exactly one spell does)
    spells = gaps.join(grid, (gaps["at"] < grid.lo) & (gaps.next_at >= grid.p))
    marked = spells.select("user_id", "p", back=ibis.cases((spells.next_at < spells.hi, 1), else_=0))
    if by_cols:
        dims = people.select("user_id", *by_cols)
        marked = marked.join(dims, "user_id").select(marked, *[dims[c] for c in by_cols])
    counts = engine.to_pandas(marked.group_by(["p", *by_cols]).aggregate(
        dormant=marked.count(), reactivated=marked.back.sum())).rename(columns={"p": "period"})

    out = pd.DataFrame({"period": periods.astype("datetime64[ns]")})
    if by_cols:
        out = out.merge(counts[by_cols].drop_duplicates(), how="cross")
    out = out.merge(counts, on=["period", *by_cols], how="left")
    out["complete"] = out["period"] + window <= horizon
    return _reactivation_frame(out, columns)


def _reactivation_frame(out: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out["period"] = out["period"].astype("datetime64[ns]")
    for col in ("dormant", "reactivated"):
        out[col] = out[col].fillna(0).astype("int64")
    out["complete"] = out["complete"].astype("bool")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rate"] = (out["reactivated"] / out["dormant"]).where(out["complete"] & (out["dormant"] > 0))
    low, high = wilson(out["reactivated"], out["dormant"])
    observed = out["rate"].notna().to_numpy()
    out["ci_low"] = np.where(observed, low, np.nan)
    out["ci_high"] = np.where(observed, high, np.nan)
    by_cols = columns[7:]
    out = out.sort_values([*by_cols, "period"], kind="stable").reset_index(drop=True)
    return out[columns]

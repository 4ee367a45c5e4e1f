"""Journeys: which touches lead to which conversion, built in the engine.

A *journey* is the ordered list of a user's touches that precede one
conversion, or that precede nothing (a non-converting journey). The rule
(docs/metrics.md, "Journeys"):

- a conversion's journey holds the user's touches with
  ``converted_at - lookback_days <= touched_at <= converted_at`` and
  ``touched_at > `` the user's previous conversion (so a touch is never
  credited twice);
- a user's touches after their last conversion (all of them, for a user who
  never converted) form one non-converting journey, ending at its last touch
  and holding the touches within ``lookback_days`` before that end;
- touches are ordered by time, ties by channel name.

Every function here returns an Ibis expression; nothing is pulled into
Python row by row.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import pandas as pd

from opskit import engine
from opskit.errors import DataError

__all__ = ["NO_TOUCH", "SEP", "conversion_table", "explode_paths", "path_frame", "touches"]

#: Channel label for conversions with no touch in their lookback window.
NO_TOUCH = "(none)"
#: Separator of channel names inside an engine-built path key.
SEP = "\x1f"
#: Channel names treated as "direct" by ``last_non_direct`` (compared lower-cased).
DIRECT = ("direct", "(direct)", "直接访问", "直接")

_TOUCH_COLUMNS = ("journey", "pos", "n", "channel", "direct", "age_days", "weight", "value")


def _bound(value: str | _dt.date | pd.Timestamp | None) -> pd.Timestamp | None:
    return None if value is None else pd.Timestamp(value).tz_localize(None)


def conversion_table(conversions: ir.Table, *, kinds: Sequence[str] | None,
                     value: bool) -> ir.Table:
    """Conversions with ``conv_id`` (1, 2, ... per user in time order), ``prev_at`` and ``value``."""
    conv = conversions
    if kinds is not None:
        if "kind" not in conv.columns:
            raise DataError.single(
                "conversions", "kind", "missing_column", 0,
                "is needed to keep only some kinds of conversion, but the table has no such column",
                "add a `kind` column to conversions, or call without `kinds=`")
        conv = conv.filter(conv.kind.isin(list(kinds)))
    amount = (conv.value.fill_null(0).cast("float64") if value and "value" in conv.columns
              else ibis.literal(0.0))
    conv = conv.select("user_id", "converted_at", value=amount)
    order = [conv.converted_at, conv.value]
    w = ibis.window(group_by=conv.user_id, order_by=order)
    return conv.mutate(conv_id=ibis.row_number().over(w) + 1, prev_at=conv.converted_at.lag().over(w))


def touches(touchpoints: ir.Table, conv: ir.Table, *, lookback_days: float,
            start=None, end=None) -> tuple[ir.Table, ir.Table]:
    """Touches of every journey, and the conversions attributed.

    Returns ``(touches, attributed)``. ``touches`` has one row per touch in a
    journey with the columns ``journey`` (user and conversion number; the
    conversion number is 0 for a non-converting journey), ``pos`` (1-based),
    ``n`` (touches in the journey), ``channel``, ``direct``, ``age_days``
    (days from the touch to the journey's end), ``weight`` (1 for a touch of
    a converting journey, 0 otherwise), ``value`` (the conversion's value),
    ``converted`` (bool), ``touched_at`` and ``end_at``. ``attributed`` is
    ``conv`` restricted to ``[start, end)`` by ``converted_at``.
    """
    lookback = ibis.interval(seconds=round(float(lookback_days) * 86400))
    lo, hi = _bound(start), _bound(end)
    tp = touchpoints.select("user_id", "touched_at", "channel")
    attributed = conv
    if lo is not None:
        attributed = attributed.filter(attributed.converted_at >= lo)
    if hi is not None:
        attributed = attributed.filter(attributed.converted_at < hi)

    c = attributed.select(cu="user_id", end_at="converted_at", conv_id="conv_id",
                          prev_at="prev_at", cvalue="value")
    joined = tp.join(c, [
        tp.user_id == c.cu,
        tp.touched_at <= c.end_at,
        tp.touched_at >= c.end_at - lookback,
        c.prev_at.isnull() | (tp.touched_at > c.prev_at),
    ])
    converting = joined.select(
        "user_id", "touched_at", "channel", "end_at",
        conv_id=joined.conv_id.cast("int64"), value=joined.cvalue, converted=ibis.literal(True))

    last = conv.group_by(lu="user_id").aggregate(last_at=conv.converted_at.max())
    after = tp.left_join(last, tp.user_id == last.lu)
    after = after.filter(after.last_at.isnull() | (after.touched_at > after.last_at))
    after = after.mutate(end_at=after.touched_at.max().over(group_by=after.user_id))
    after = after.filter(after.touched_at >= after.end_at - lookback)
    if lo is not None:
        after = after.filter(after.end_at >= lo)
    if hi is not None:
        after = after.filter(after.end_at < hi)
    open_ = after.select(
        "user_id", "touched_at", "channel", "end_at",
        conv_id=ibis.literal(0, "int64"), value=ibis.literal(0.0), converted=ibis.literal(False))

    both = converting.union(open_)
    journey = both.user_id.concat(ibis.literal(SEP), both.conv_id.cast("string"))
    both = both.mutate(journey=journey)
    w = ibis.window(group_by=both.journey, order_by=[both.touched_at, both.channel])
    lowered = both.channel.lower()
    out = both.mutate(
        pos=ibis.row_number().over(w) + 1,
        n=both.journey.count().over(group_by=both.journey),
        direct=lowered.isin(list(DIRECT)),
        age_days=(both.end_at.epoch_seconds() - both.touched_at.epoch_seconds()).cast("float64")
        / 86400.0,
        weight=both.converted.cast("float64"),
    )
    return out, attributed


def path_frame(touch_table: ir.Table) -> pd.DataFrame:
    """One row per distinct path: ``path`` (tuple), ``conversions``, ``value``, ``nulls``.

    Built in the engine: each journey's channels are collected, sorted by
    position, joined into a key; journeys are then counted per key.
    """
    t = touch_table
    ordered = ibis.struct({"pos": t.pos, "channel": t.channel}).collect().sort()
    per_journey = t.group_by("journey").aggregate(
        key=ibis.literal(SEP).join(ordered.map(lambda s: s.channel)),
        converted=t.weight.max(),
        value=t.value.max(),
    )
    per_path = per_journey.group_by("key").aggregate(
        conversions=per_journey.converted.sum(),
        value=per_journey.value.sum(),
        nulls=(1 - per_journey.converted).sum(),
    )
    frame = engine.to_pandas(per_path)
    frame["path"] = [tuple(k.split(SEP)) for k in frame.pop("key")]
    return frame[["path", "conversions", "value", "nulls"]].astype(
        {"conversions": "float64", "value": "float64", "nulls": "float64"})


def explode_paths(paths: pd.DataFrame) -> ir.Table:
    """A path frame as a touch table (``_TOUCH_COLUMNS``) for the heuristic models."""
    lengths = paths["path"].map(len).to_numpy()
    rows = pd.DataFrame({
        "journey": pd.Series(range(len(paths))).repeat(lengths).astype(str).to_numpy(),
        "channel": [ch for path in paths["path"] for ch in path],
        "pos": [i for n in lengths for i in range(1, n + 1)],
        "n": lengths.repeat(lengths),
        "weight": paths["conversions"].to_numpy().repeat(lengths).astype(float),
        "value": paths["value"].to_numpy().repeat(lengths).astype(float),
    })
    rows["direct"] = rows["channel"].str.lower().isin(DIRECT)
    rows["age_days"] = float("nan")
    return engine.frame_table(rows)

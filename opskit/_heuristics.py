"""Rule-based attribution: each touch's share of its journey's conversion, in the engine.

A touch table (see ``opskit._journeys``) has one row per touch with its
journey, 1-based position ``pos``, journey length ``n``, ``direct`` flag and
``age_days`` (days from the touch to the conversion). Every model here gives
each touch a *credit*; a journey's credits sum to 1, and a channel's
attributed conversions are the sum of ``credit x weight`` over its touches
(value: ``credit x value``). Definitions: docs/metrics.md, "Attribution".
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

__all__ = ["HEURISTICS", "check_weights", "credit", "credit_by_channel"]

HEURISTICS = ("first_touch", "last_touch", "last_non_direct", "linear", "position_based",
              "time_decay")


def check_weights(weights: Sequence[float]) -> tuple[float, float, float]:
    """``(first, middle, last)`` position weights, validated: three non-negative numbers summing to 1."""
    try:
        first, middle, last = (float(w) for w in weights)
    except (TypeError, ValueError):
        raise ValueError(
            f"position_based `weights` must be three numbers (first, middle, last), got {weights!r}; "
            "e.g. (0.4, 0.2, 0.4) for U-shaped, (0.2, 0.2, 0.6) for J-shaped") from None
    if min(first, middle, last) < 0 or abs(first + middle + last - 1) > 1e-9 or first + last == 0:
        raise ValueError(
            f"position_based `weights` {weights!r} must be non-negative and sum to 1, with some "
            "weight on the first or last touch; e.g. (0.4, 0.2, 0.4)")
    return first, middle, last


def credit(t: ir.Table, model: str, *, weights: Sequence[float] = (0.4, 0.2, 0.4),
           half_life_days: float = 7.0) -> ir.FloatingValue:
    """Each touch's share of its journey's conversion under ``model``."""
    one = ibis.literal(1.0)
    zero = ibis.literal(0.0)
    if model == "first_touch":
        return ibis.ifelse(t.pos == 1, one, zero)
    if model == "last_touch":
        return ibis.ifelse(t.pos == t.n, one, zero)
    if model == "linear":
        return one / t.n.cast("float64")
    if model == "last_non_direct":
        last_other = ibis.ifelse(~t.direct, t.pos, ibis.null("int64")).max().over(
            group_by=t.journey)
        return ibis.ifelse(t.pos == last_other.fill_null(t.n), one, zero)
    if model == "position_based":
        first, middle, last = check_weights(weights)
        ends = first + last
        middle_share = middle / (t.n - 2).cast("float64")
        return ibis.cases(
            (t.n == 1, one),
            (t.n == 2, ibis.ifelse(t.pos == 1, ibis.literal(first / ends), ibis.literal(last / ends))),
            (t.pos == 1, ibis.literal(first)),
            (t.pos == t.n, ibis.literal(last)),
            else_=middle_share,
        )
    if model == "time_decay":
        if not half_life_days > 0:
            raise ValueError(f"`half_life_days` must be positive, got {half_life_days!r}")
        decay = (ibis.literal(0.5).log() * t.age_days / float(half_life_days)).exp()
        return decay / decay.sum().over(group_by=t.journey)
    raise ValueError(f"unknown rule-based model {model!r}; choose one of {', '.join(HEURISTICS)}")


def credit_by_channel(t: ir.Table, model: str, **options) -> ir.Table:
    """Attributed ``conversions`` and ``value`` per ``channel`` (converting journeys only)."""
    share = credit(t, model, **options)
    scored = t.mutate(credit=share).filter(lambda s: s.weight > 0)
    return scored.group_by("channel").aggregate(
        conversions=(scored.credit * scored.weight).sum(),
        value=(scored.credit * scored.value).sum(),
    )

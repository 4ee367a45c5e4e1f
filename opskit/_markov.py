"""Markov-chain attribution: removal effects of an absorbing chain, solved exactly.

Definition. Consecutive repeats of a channel are collapsed (``a > a > b``
becomes ``a > b``). Every journey walks ``start -> s1 -> ... -> sk`` and then
into ``conversion`` (weighted by its ``conversions``) or ``null`` (weighted by
its ``nulls``); each step is weighted by ``conversions + nulls``. With
``order=1`` a state is a channel; with ``order=k`` it is the tuple of the last
up to k channels, shorter at the start of a path (ChannelAttribution; Anderl
et al. 2016). Transition probabilities are weighted counts normalised per
origin state. P(conversion) is the probability of being absorbed in
``conversion`` from ``start``, found by solving ``(I - Q) x = r`` on the
transient states. Removing channel c sends every transition into a state that
contains c to ``null``; its removal effect is
``1 - P(conversion | c removed) / P(conversion)`` (0 when P(conversion) is 0).
``markov`` shares the total conversions, and separately the total value, in
proportion to the removal effects.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import chain

import numpy as np
import pandas as pd

from opskit.errors import DataError

__all__ = ["markov", "removal_effects"]

#: Largest number of transient states solved (dense numpy; scipy is not a dependency).
#: 4,600 states took 5 s and about 0.5 GB on a 2-core machine (one 4,600 × 4,600 inversion).
MAX_STATES = 5_000

_NO_NULLS = (
    "no path has non-converting journeys (nulls are all 0): every path converts, so Markov removal "
    "effects only measure how often a channel lies on converting paths; pass the non-converting "
    "journeys in `nulls` to measure how much each channel lifts the conversion probability"
)


@dataclass(frozen=True)
class Journeys:
    """Distinct paths as integer channel codes, concatenated in touch order."""

    channels: list[str]  # code -> channel name
    codes: np.ndarray  # int64, every touch of every path
    offsets: np.ndarray  # path i is codes[offsets[i]:offsets[i + 1]]
    conversions: np.ndarray  # float64, one per path
    value: np.ndarray
    nulls: np.ndarray

    @property
    def path_of_touch(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.conversions)), np.diff(self.offsets))


def journeys(paths: pd.DataFrame, *, collapse: bool = False) -> Journeys:
    """Aggregate ``paths`` by path, drop rows without journeys, encode channels.

    ``collapse=True`` also merges consecutive repeats of a channel (the
    paths then stay distinct rows; weights are additive, so that is harmless).
    """
    if paths.empty:
        empty = np.zeros(0)
        return Journeys([], np.zeros(0, dtype="int64"), np.zeros(1, dtype="int64"), empty, empty, empty)
    keys = pd.Series([tuple(p) for p in paths["path"]], dtype=object)
    ids, uniques = pd.factorize(keys)
    n = len(uniques)

    def total(column: str) -> np.ndarray:
        return np.bincount(ids, weights=paths[column].to_numpy("float64"), minlength=n)

    conversions, value, nulls = total("conversions"), total("value"), total("nulls")
    keep = (conversions + nulls) > 0
    kept = [p for p, k in zip(uniques, keep, strict=True) if k]
    lengths = np.fromiter(map(len, kept), dtype="int64", count=len(kept))
    codes, channels = pd.factorize(pd.Series(list(chain.from_iterable(kept)), dtype=object))
    codes = codes.astype("int64")
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    if collapse and len(codes):
        first = np.zeros(len(codes), dtype=bool)
        first[offsets[:-1]] = True
        new = first | np.concatenate([[True], codes[1:] != codes[:-1]])
        codes = codes[new]
        offsets = np.concatenate([[0], np.cumsum(np.add.reduceat(new, offsets[:-1]))])
    return Journeys([str(c) for c in channels], codes, offsets,
                    conversions[keep], value[keep], nulls[keep])


def _states(j: Journeys, order: int) -> tuple[np.ndarray, np.ndarray]:
    """State index (1-based; 0 is ``start``) of every touch, and which channels each state holds."""
    base = len(j.channels) + 1  # digit 0 pads the shorter tuples at the start of a path
    if order * np.log2(base) > 62:
        raise ValueError(f"order={order} with {base - 1} channels is too large to encode; lower `order`")
    pid = j.path_of_touch
    position = np.arange(len(j.codes)) - j.offsets[pid]
    key = np.zeros(len(j.codes), dtype="int64")
    for lag in range(order):
        digit = np.zeros(len(j.codes), dtype="int64")
        has = position >= lag
        digit[has] = j.codes[np.flatnonzero(has) - lag] + 1
        key += digit * base**lag
    state, uniques = pd.factorize(key)
    uniques = np.asarray(uniques, dtype="int64")
    holds = np.zeros((len(uniques) + 1, len(j.channels)), dtype=bool)
    for lag in range(order):
        digit = uniques // base**lag % base
        rows = np.flatnonzero(digit > 0)
        holds[rows + 1, digit[rows] - 1] = True
    return state.astype("int64") + 1, holds


def _solve(j: Journeys, order: int) -> tuple[float, np.ndarray]:
    """P(conversion) and P(conversion | c removed) for every channel c."""
    state, holds = _states(j, order)
    m = len(holds)  # transient states, start included
    pid = j.path_of_touch
    first = np.zeros(len(state), dtype=bool)
    first[j.offsets[:-1]] = True
    origin = np.where(first, 0, np.concatenate([[0], state[:-1]]))
    # Each distinct step once, with its summed weight.
    step, weight = np.unique(origin * m + state, return_inverse=True)
    weight = np.bincount(weight, weights=(j.conversions + j.nulls)[pid], minlength=len(step))
    src, dst = step // m, step % m
    last = state[j.offsets[1:] - 1]
    to_conversion = np.bincount(last, weights=j.conversions, minlength=m)
    out = np.bincount(src, weights=weight, minlength=m) + to_conversion
    out += np.bincount(last, weights=j.nulls, minlength=m)

    # States that cannot reach `conversion` have x = 0 with or without a removal: treat them as null.
    alive = to_conversion > 0
    while True:
        grown = alive | (np.bincount(src, weights=alive[dst].astype("float64"), minlength=m) > 0)
        if (grown == alive).all():
            break
        alive = grown
    if not alive[0]:
        return 0.0, np.zeros(len(j.channels))
    kept = np.flatnonzero(alive)  # kept[0] == 0, the start state
    if len(kept) > MAX_STATES:
        raise DataError(
            f"order={order} gives {len(kept):,} Markov states, more than the {MAX_STATES:,} the exact "
            f"dense solver handles; use a lower `order` or group rare channels before attributing"
        )
    where = np.full(m, -1)
    where[kept] = np.arange(len(kept))
    live = alive[src] & alive[dst]
    a = np.eye(len(kept))
    a[where[src[live]], where[dst[live]]] -= weight[live] / out[src[live]]  # steps are distinct
    b = np.linalg.inv(a)  # b[i, j]: expected visits to j from i
    x = b @ (to_conversion[kept] / out[kept])
    p = float(x[0])
    # Removing c makes the states R holding c absorb into null. With B = (I - Q)^-1 the block-inverse
    # (Schur complement) identity gives P(conversion | c removed) = x0 - B[0, R] B[R, R]^-1 x[R]:
    # one inversion for all channels instead of one solve of the reduced system per channel.
    removed = np.empty(len(j.channels))
    for c in range(len(j.channels)):
        r = np.flatnonzero(holds[kept, c])
        removed[c] = p if not len(r) else p - b[0, r] @ np.linalg.solve(b[np.ix_(r, r)], x[r])
    return p, removed


def _effects(paths: pd.DataFrame, order: int) -> tuple[pd.DataFrame, float, Journeys]:
    if not isinstance(order, int | np.integer) or isinstance(order, bool) or order < 1:
        raise ValueError(f"order must be an integer >= 1, not {order!r}")
    j = journeys(paths, collapse=True)
    if len(j.conversions) and not (j.nulls > 0).any():
        warnings.warn(_NO_NULLS, UserWarning, stacklevel=3)  # the caller of the public function
    p, removed = _solve(j, order) if len(j.channels) else (0.0, np.zeros(0))
    effect = np.clip(1 - removed / p, 0.0, 1.0) if p > 0 else np.zeros(len(j.channels))
    frame = pd.DataFrame({"channel": pd.Series(j.channels, dtype=str), "removal_effect": effect})
    frame = frame.sort_values(["removal_effect", "channel"], ascending=[False, True], ignore_index=True)
    return frame, p, j


def removal_effects(paths: pd.DataFrame, /, *, order: int = 1) -> pd.DataFrame:
    """Removal effect of every channel in the absorbing Markov chain of the journeys.

    Parameters
    ----------
    paths
        Aggregated journeys: ``path`` (tuple of channel names in touch
        order), ``conversions``, ``value`` and ``nulls`` (non-converting
        journeys). Repeated paths are summed; rows without journeys ignored.
    order
        Memory of the chain: a state is the tuple of the last ``order`` channels.

    Returns
    -------
    pandas.DataFrame
        One row per channel, sorted by removal effect (descending) then
        channel: ``channel``; ``removal_effect``, the relative drop in
        P(conversion) when the channel is removed, in [0, 1].
        ``attrs["conversion_probability"]`` holds P(conversion).

    Warns
    -----
    UserWarning
        When no path has ``nulls > 0``.

    Examples
    --------
    >>> paths = pd.DataFrame({"path": [("a", "b"), ("a",), ("b",)], "conversions": [1.0, 0.0, 1.0],
    ...                       "value": [10.0, 0.0, 20.0], "nulls": [0.0, 1.0, 0.0]})
    >>> effects = removal_effects(paths)
    >>> effects
      channel  removal_effect
    0       b             1.0
    1       a             0.5
    >>> round(effects.attrs["conversion_probability"], 4)
    0.6667
    """
    frame, p, _ = _effects(paths, order)
    frame.attrs["conversion_probability"] = p
    return frame


def markov(paths: pd.DataFrame, /, *, order: int = 1) -> pd.DataFrame:
    """Share conversions and value among channels in proportion to their removal effects.

    Parameters
    ----------
    paths
        Aggregated journeys, as for :func:`removal_effects`.
    order
        Memory of the chain, as for :func:`removal_effects`.

    Returns
    -------
    pandas.DataFrame
        One row per channel, sorted by conversions (descending) then channel:
        ``channel``; ``conversions`` = removal effect / sum of removal
        effects × total conversions; ``value`` likewise with the total value.
        All zeros when every removal effect is 0 (e.g. nothing converts).
        ``attrs["conversion_probability"]`` holds P(conversion).

    Warns
    -----
    UserWarning
        When no path has ``nulls > 0``.

    Examples
    --------
    >>> paths = pd.DataFrame({"path": [("a", "b"), ("a",), ("b",)], "conversions": [1.0, 0.0, 1.0],
    ...                       "value": [10.0, 0.0, 20.0], "nulls": [0.0, 1.0, 0.0]})
    >>> markov(paths).round(4)
      channel  conversions  value
    0       b       1.3333   20.0
    1       a       0.6667   10.0
    """
    effects, p, j = _effects(paths, order)
    effect = effects["removal_effect"].to_numpy()
    share = effect / effect.sum() if effect.sum() > 0 else np.zeros(len(effect))
    frame = pd.DataFrame({
        "channel": effects["channel"],
        "conversions": share * j.conversions.sum(),
        "value": share * j.value.sum(),
    })
    frame = frame.sort_values(["conversions", "channel"], ascending=[False, True], ignore_index=True)
    frame.attrs["conversion_probability"] = p
    return frame

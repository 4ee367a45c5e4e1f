"""Shapley attribution: exact Shapley values of two coalition games over the journeys.

Definition. Channels are the players; a coalition S "owns" the journeys whose
set of distinct channels lies within S (repeats do not count).
``worth="conversions"`` is the simplified Shapley method of Zhao et al.
(2018): v(S) = conversions (and, as a second game, value) of the journeys S
owns. Each journey is a unanimity game on its channel set, so the Shapley
value has a closed form: every journey's conversions (value) split equally
among its distinct channels. ``worth="rate"``: v(S) = conversions / (conversions
+ nulls) of the journeys S owns, v(S) = 0 when they number fewer than
``min_journeys`` (and v(∅) = 0); it is solved exactly by enumerating every
coalition, ``phi_c = sum over S without c of |S|! (n - |S| - 1)! / n! ×
(v(S ∪ {c}) - v(S))``, and conversions (value) are shared in proportion to
phi, negative values kept.
"""

from __future__ import annotations

from math import factorial

import numpy as np
import pandas as pd

from opskit._markov import Journeys, journeys
from opskit.errors import DataError

__all__ = ["shapley"]

OTHER = "other"
_WORTHS = ("conversions", "rate")
_MAX_PLAYERS = 20  # 2^20 coalitions: about a second and 50 MB


def _distinct(j: Journeys) -> tuple[np.ndarray, np.ndarray]:
    """(path, channel) pairs with every channel once per path."""
    n = max(len(j.channels), 1)
    pairs = np.sort(j.path_of_touch * n + j.codes)
    pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])] if len(pairs) else pairs
    return pairs // n, pairs % n


def _closed_form(j: Journeys) -> tuple[np.ndarray, np.ndarray]:
    """Shapley values of the conversions game and of the value game."""
    pid, code = _distinct(j)
    size = np.bincount(pid, minlength=len(j.conversions))[pid]
    n = len(j.channels)
    return (np.bincount(code, weights=j.conversions[pid] / size, minlength=n),
            np.bincount(code, weights=j.value[pid] / size, minlength=n))


def _group_rare(j: Journeys, max_channels: int) -> tuple[Journeys, list[str]]:
    """Keep the ``max_channels - 1`` channels in most journeys; merge the rest into ``"other"``."""
    if len(j.channels) <= max_channels:
        return j, []
    pid, code = _distinct(j)
    reach = np.bincount(code, weights=(j.conversions + j.nulls)[pid], minlength=len(j.channels))
    order = sorted((i for i, c in enumerate(j.channels) if c != OTHER),
                   key=lambda i: (-reach[i], j.channels[i]))
    top = order[: max_channels - 1]
    grouped = sorted(j.channels[i] for i in order[max_channels - 1:])
    names = [j.channels[i] for i in top] + [OTHER]
    remap = np.full(len(j.channels), len(top))
    remap[top] = np.arange(len(top))
    return Journeys(names, remap[j.codes], j.offsets, j.conversions, j.value, j.nulls), grouped


def _rate_game(j: Journeys, min_journeys: float) -> np.ndarray:
    """Exact Shapley values of v(S) = conversion rate of the journeys within S, by bitmask enumeration."""
    n = len(j.channels)
    pid, code = _distinct(j)
    # Bit b of a mask is channel n - 1 - b, so that a C-order reshape to (2,) * n puts channel i on axis i.
    mask = np.zeros(len(j.conversions), dtype="int64")
    np.bitwise_or.at(mask, pid, np.left_shift(1, n - 1 - code))
    shape = (2,) * n
    own = [np.bincount(mask, weights=w, minlength=2**n).reshape(shape)
           for w in (j.conversions, j.conversions + j.nulls)]
    for axis in range(n):  # sum over sub-coalitions, one channel at a time
        for table in own:
            np.cumsum(table, axis=axis, out=table)
    converted, journeys_ = (t.reshape(-1) for t in own)
    enough = (journeys_ > 0) & (journeys_ >= min_journeys)
    v = np.divide(converted, journeys_, out=np.zeros(2**n), where=enough)
    masks = np.arange(2**n)
    size = np.zeros(2**n, dtype="int64")
    for b in range(n):
        size += (masks >> b) & 1
    weight = np.array([factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)])
    phi = np.empty(n)
    for i in range(n):
        bit = 1 << (n - 1 - i)
        without = masks[(masks & bit) == 0]
        phi[i] = weight[size[without]] @ (v[without | bit] - v[without])
    phi[np.abs(phi) < 1e-12] = 0.0  # rates are at most 1: below this is float noise, not a negative effect
    return phi


def shapley(paths: pd.DataFrame, /, *, worth: str = "conversions", max_channels: int = 15,
            min_journeys: float = 0) -> pd.DataFrame:
    """Attribute conversions and value with the Shapley value of a coalition game of channels.

    Parameters
    ----------
    paths
        Aggregated journeys: ``path`` (tuple of channel names in touch
        order), ``conversions``, ``value`` and ``nulls`` (non-converting
        journeys). Repeated paths are summed; rows without journeys ignored.
    worth
        ``"conversions"``: v(S) = conversions of the journeys whose distinct
        channels all lie in S (closed form, any number of channels).
        ``"rate"``: v(S) = their conversion rate; needs ``nulls``; exact
        enumeration of the 2^n coalitions.
    max_channels
        ``worth="rate"`` only: with more channels, the ``max_channels - 1``
        in most journeys are kept and the rest merged into ``"other"``.
    min_journeys
        ``worth="rate"`` only: v(S) = 0 when S owns fewer journeys
        (conversions + nulls) than this, to damp rates of sparse channel sets.

    Returns
    -------
    pandas.DataFrame
        One row per channel, sorted by conversions (descending) then channel:
        ``channel``; ``conversions`` = phi / sum(phi) × total conversions;
        ``value`` likewise with the total value (for ``"conversions"``, the
        Shapley value of the value game, which is the same thing);
        ``shapley_value``, phi in the game's unit (conversions, or a rate);
        ``negative``, phi < 0. Zeros when sum(phi) is 0.
        ``attrs["grouped_into_other"]`` lists the channels merged into ``"other"``.

    Raises
    ------
    DataError
        ``worth="rate"`` and no path has ``nulls > 0``.

    Examples
    --------
    >>> paths = pd.DataFrame({"path": [("a", "a", "b"), ("a",), ("b",)], "conversions": [1.0, 0.0, 1.0],
    ...                       "value": [10.0, 0.0, 20.0], "nulls": [0.0, 1.0, 0.0]})
    >>> shapley(paths)
      channel  conversions  value  shapley_value  negative
    0       b          1.5   25.0            1.5     False
    1       a          0.5    5.0            0.5     False
    >>> shapley(paths, worth="rate").round(4)
      channel  conversions  value  shapley_value  negative
    0       b          2.5   37.5         0.8333     False
    1       a         -0.5   -7.5        -0.1667      True
    """
    if worth not in _WORTHS:
        raise ValueError(f"worth must be one of {', '.join(map(repr, _WORTHS))}, not {worth!r}")
    if not 1 <= max_channels <= _MAX_PLAYERS:
        raise ValueError(f"max_channels must be between 1 and {_MAX_PLAYERS} (2^n coalitions), "
                         f"not {max_channels!r}")
    if worth == "conversions" and min_journeys:
        raise ValueError("min_journeys applies to worth='rate' only; drop it or use worth='rate'")
    j = journeys(paths)
    grouped: list[str] = []
    if worth == "conversions":
        phi, value = _closed_form(j)
        share = phi
    else:
        if len(j.conversions) and not (j.nulls > 0).any():
            raise DataError.single(
                "paths", "nulls", "no_nulls", len(j.nulls),
                "are all 0, so every coalition converts at rate 1 and the rate game gives no information",
                "pass the non-converting journeys in `nulls`, or use worth='conversions'",
                total=len(j.nulls))
        j, grouped = _group_rare(j, max_channels)
        phi = _rate_game(j, min_journeys) if len(j.channels) else np.zeros(0)
        share = phi / phi.sum() * j.conversions.sum() if phi.sum() > 0 else np.zeros(len(phi))
        value = phi / phi.sum() * j.value.sum() if phi.sum() > 0 else np.zeros(len(phi))
    frame = pd.DataFrame({
        "channel": pd.Series(j.channels, dtype=str),
        "conversions": share,
        "value": value,
        "shapley_value": phi,
        "negative": phi < 0,
    })
    frame = frame.sort_values(["conversions", "channel"], ascending=[False, True], ignore_index=True)
    frame.attrs["grouped_into_other"] = grouped
    return frame

"""Attribution: which channels get the credit for conversions, under every model.

Journeys are built in the engine from ``touchpoints`` and ``conversions``
(rule in docs/metrics.md, "Journeys"); the rule-based models score every
touch in the engine; the data-driven models (Markov chain, Shapley) are
solved exactly on the distinct paths. Every model returns the same columns,
so models can be put side by side (:func:`compare`).

Definitions: docs/metrics.md, "Attribution".
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from opskit import _journeys, _markov, _shapley, engine
from opskit._heuristics import HEURISTICS, credit_by_channel
from opskit._inputs import table_arg
from opskit.errors import DataError

__all__ = ["MODELS", "MODEL_OPTIONS", "NO_TOUCH", "Journeys", "attribute", "attribute_paths",
           "compare", "journeys", "lookback_sensitivity", "options_for", "path_lengths", "paths",
           "removal_effects", "time_to_convert"]

#: Every model name :func:`attribute` accepts, rule-based first.
MODELS = (*HEURISTICS, "markov", "shapley")
NO_TOUCH = _journeys.NO_TOUCH

#: The options each model takes (models not listed take none).
MODEL_OPTIONS: dict[str, tuple[str, ...]] = {
    "position_based": ("weights",),
    "time_decay": ("half_life_days",),
    "markov": ("order",),
    "shapley": ("worth", "max_channels", "min_journeys"),
}
_COLUMNS = ["channel", "conversions", "value", "share"]


def attribute(touchpoints: Any, conversions: Any, /, *, model: str = "last_touch",
              lookback_days: float = 30, value: bool = True, kinds: Sequence[str] | None = None,
              start: Any = None, end: Any = None, **model_options: Any) -> pd.DataFrame:
    """Conversions (and their value) credited to channels under one attribution model.

    Each conversion's journey is the user's touches in the ``lookback_days``
    before it and after their previous conversion; users' touches that led
    to no conversion form non-converting journeys (the data-driven models
    need them). A conversion with no touch in its window is credited to the
    channel ``"(none)"`` under every model, so totals always match the input.

    Parameters
    ----------
    touchpoints
        The ``touchpoints`` table (``user_id``, ``touched_at``, ``channel``):
        an :class:`opskit.Dataset`, an Ibis table or a pandas DataFrame.
    conversions
        The ``conversions`` table (``user_id``, ``converted_at``, optional
        ``value`` and ``kind``). A Dataset may be passed for both.
    model
        One of :data:`MODELS`: ``"first_touch"``, ``"last_touch"``,
        ``"last_non_direct"``, ``"linear"``, ``"position_based"``,
        ``"time_decay"``, ``"markov"``, ``"shapley"``.
    lookback_days
        How far before a conversion a touch may be and still count.
    value
        Attribute ``conversions.value`` as well (0 where absent).
    kinds
        Keep only conversions of these ``kind`` values (e.g. ``["paid"]``);
        journeys are then cut at the previous conversion of those kinds.
    start, end
        Attribute the conversions with ``start <= converted_at < end``
        (non-converting journeys: by their last touch). Touches before
        ``start`` still count for conversions inside the window.
    **model_options
        ``weights=(first, middle, last)`` for ``position_based`` (default
        ``(0.4, 0.2, 0.4)``; J-shaped ``(0.2, 0.2, 0.6)``);
        ``half_life_days`` for ``time_decay`` (default 7); ``order`` for
        ``markov`` (default 1); ``worth`` (``"conversions"`` or ``"rate"``),
        ``max_channels`` and ``min_journeys`` for ``shapley``.

    Returns
    -------
    pandas.DataFrame
        ``channel``, ``conversions`` (attributed, float), ``value``
        (attributed, float), ``share`` (of all conversions); one row per
        channel, most conversions first. Sums equal the input totals.

    Examples
    --------
    >>> import pandas as pd
    >>> touches = pd.DataFrame({
    ...     "user_id": ["a", "a", "b"], "channel": ["微信", "email", "email"],
    ...     "touched_at": ["2025-01-01", "2025-01-03", "2025-01-02"]})
    >>> sales = pd.DataFrame({"user_id": ["a", "b"], "converted_at": ["2025-01-05", "2025-01-04"],
    ...                       "value": [100.0, 50.0]})
    >>> attribute(touches, sales, model="linear")
      channel  conversions  value  share
    0   email          1.5  100.0   0.75
    1      微信          0.5   50.0   0.25
    """
    options = _options(model, model_options)
    touch_t, totals = _journey_tables(touchpoints, conversions, lookback_days=lookback_days,
                                      value=value, kinds=kinds, start=start, end=end)
    return _attribute_on(touch_t, totals, model, options, value=value)


def _journey_tables(touchpoints: Any, conversions: Any, *, lookback_days: float, value: bool,
                    kinds: Sequence[str] | None, start: Any, end: Any) -> tuple[Any, tuple[float, float]]:
    """The touch table of every journey, and the attributed conversions' count and value."""
    tp, conv = _tables(touchpoints, conversions)
    conv_t = _journeys.conversion_table(conv, kinds=kinds, value=value)
    touch_t, attributed = _journeys.touches(tp, conv_t, lookback_days=lookback_days,
                                            start=start, end=end)
    totals = engine.to_pandas(attributed.aggregate(
        conversions=attributed.count().cast("float64"),
        value=attributed.value.sum().cast("float64"))).iloc[0]
    return touch_t, (float(totals["conversions"]), float(totals["value"] or 0.0))


def _attribute_on(touch_t: Any, totals: tuple[float, float], model: str, options: dict[str, Any],
                  *, value: bool, paths_of: Any = None) -> pd.DataFrame:
    """One model on a touch table; ``paths_of`` gives the (shared) distinct paths for the
    data-driven models."""
    if model in HEURISTICS:
        credited = engine.to_pandas(credit_by_channel(touch_t, model, **options))
    else:
        frame = paths_of() if paths_of is not None else _journeys.path_frame(touch_t)
        credited = _data_driven(frame, model, options)
    return _finish(credited, totals[0], totals[1], value=value)


def attribute_paths(paths: pd.DataFrame, /, *, model: str = "last_touch", sep: str = ">",
                    **model_options: Any) -> pd.DataFrame:
    """Attribution on journeys already aggregated into paths.

    Parameters
    ----------
    paths
        A DataFrame with ``path`` (channels in order, e.g. ``"微信 > email"``;
        names are trimmed, inner spaces kept), ``conversions``, optional
        ``value`` and optional ``nulls`` (non-converting journeys with that
        path).
    model
        As for :func:`attribute`, except ``"time_decay"``, which needs times.
    sep
        The separator between channels in ``path``.
    **model_options
        As for :func:`attribute`.

    Returns
    -------
    pandas.DataFrame
        ``channel``, ``conversions``, ``value``, ``share``, as :func:`attribute`.

    Examples
    --------
    >>> paths = pd.DataFrame({"path": ["百度搜索 > 微信 > email", "email"],
    ...                       "conversions": [2, 1], "value": [300.0, 100.0]})
    >>> attribute_paths(paths, model="position_based")
      channel  conversions  value     share
    0   email          1.8  220.0  0.600000
    1    百度搜索          0.8  120.0  0.266667
    2      微信          0.4   60.0  0.133333
    """
    if model == "time_decay":
        raise ValueError("time_decay needs the time of every touch: use attribute(touchpoints, "
                         "conversions, model='time_decay'), not attribute_paths")
    options = _options(model, model_options)
    frame = _parse_paths(paths, sep=sep)
    if model in HEURISTICS:
        credited = engine.to_pandas(credit_by_channel(_journeys.explode_paths(frame), model,
                                                      **options))
    else:
        credited = _data_driven(frame, model, options)
    has_value = "value" in paths.columns
    return _finish(credited, float(frame["conversions"].sum()), float(frame["value"].sum()),
                   value=has_value)


def paths(touchpoints: Any, conversions: Any, /, *, lookback_days: float = 30,
          value: bool = True, kinds: Sequence[str] | None = None, start: Any = None,
          end: Any = None, sep: str = " > ") -> pd.DataFrame:
    """The distinct journeys' paths with their conversions, value and non-conversions.

    The input :func:`attribute_paths` takes, built in the engine by the rule
    of :func:`attribute`. Conversions with no touch in their window are not
    listed (they have no path).

    Returns
    -------
    pandas.DataFrame
        ``path`` (channels joined by ``sep``), ``touches`` (length of the
        path), ``conversions``, ``value``, ``nulls``, ``conversion_rate``
        (conversions / (conversions + nulls)); most conversions first.

    Examples
    --------
    >>> touches = pd.DataFrame({
    ...     "user_id": ["a", "a", "b", "c"], "channel": ["微信", "email", "email", "微信"],
    ...     "touched_at": ["2025-01-01", "2025-01-03", "2025-01-02", "2025-01-02"]})
    >>> sales = pd.DataFrame({"user_id": ["a", "b"], "converted_at": ["2025-01-05", "2025-01-04"]})
    >>> paths(touches, sales, value=False)[["path", "conversions", "nulls"]]
                path  conversions  nulls
    0          email          1.0    0.0
    1   微信 > email          1.0    0.0
    2             微信          0.0    1.0
    """
    tp, conv = _tables(touchpoints, conversions)
    conv_t = _journeys.conversion_table(conv, kinds=kinds, value=value)
    touch_t, _ = _journeys.touches(tp, conv_t, lookback_days=lookback_days, start=start, end=end)
    frame = _journeys.path_frame(touch_t)
    out = pd.DataFrame({
        "path": [sep.join(p) for p in frame["path"]],
        "touches": frame["path"].map(len).astype("int64"),
        "conversions": frame["conversions"],
        "value": frame["value"],
        "nulls": frame["nulls"],
    })
    out["conversion_rate"] = out["conversions"] / (out["conversions"] + out["nulls"])
    return out.sort_values(["conversions", "nulls", "path"], ascending=[False, False, True],
                           ignore_index=True)


def removal_effects(touchpoints: Any, conversions: Any = None, /, *, order: int = 1,
                    lookback_days: float = 30, kinds: Sequence[str] | None = None,
                    start: Any = None, end: Any = None, sep: str = ">") -> pd.DataFrame:
    """Each channel's Markov removal effect: the share of conversions lost without it.

    Pass ``touchpoints`` and ``conversions``, or one paths frame (as for
    :func:`attribute_paths`).

    Returns
    -------
    pandas.DataFrame
        ``channel`` and ``removal_effect`` (between 0 and 1), largest first;
        ``attrs["conversion_probability"]`` is the chain's conversion
        probability with every channel present.

    Examples
    --------
    >>> paths = pd.DataFrame({"path": ["a > b", "b"], "conversions": [1, 0], "nulls": [0, 1]})
    >>> removal_effects(paths)
      channel  removal_effect
    0       b             1.0
    1       a             0.5
    """
    frame = _path_input(touchpoints, conversions, lookback_days=lookback_days, kinds=kinds,
                        start=start, end=end, sep=sep)
    return _markov.removal_effects(frame, order=order)


class Journeys:
    """Journeys built once and kept in the engine, for many attributions of the same window.

    Made by :func:`journeys`; pass it to :func:`compare` (alone, as its first argument)
    or call :meth:`attribute`. Each model's result is remembered per options, so
    asking again for a model already computed costs nothing, and changing
    ``half_life_days`` recomputes only ``time_decay``. The paths of the data-driven
    models are built once, on first use.

    Attributes
    ----------
    lookback_days, value
        The options the journeys were built with.
    conversions, conversion_value
        The attributed conversions' count and value.
    """

    def __init__(self, touch_table: Any, totals: tuple[float, float], *, lookback_days: float,
                 value: bool):
        self.touch_table = touch_table
        self.conversions, self.conversion_value = totals
        self.lookback_days = lookback_days
        self.value = value
        self._paths: pd.DataFrame | None = None
        self._results: dict[tuple, pd.DataFrame] = {}

    def paths(self) -> pd.DataFrame:
        """The distinct paths (``path`` tuples, ``conversions``, ``value``, ``nulls``), built once."""
        if self._paths is None:
            self._paths = _journeys.path_frame(self.touch_table)
        return self._paths

    def attribute(self, model: str = "last_touch", **model_options: Any) -> pd.DataFrame:
        """:func:`attribute` on these journeys: the same columns, the same numbers."""
        options = _options(model, model_options)
        key = (model, tuple(sorted((k, _hashable(v)) for k, v in options.items())))
        if key not in self._results:
            self._results[key] = _attribute_on(self.touch_table,
                                               (self.conversions, self.conversion_value),
                                               model, options, value=self.value,
                                               paths_of=self.paths)
        return self._results[key].copy()

    def __repr__(self) -> str:
        return (f"<Journeys: lookback {self.lookback_days:g} days, {self.conversions:,.0f} "
                f"conversions, {len(self._results)} results kept>")


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def journeys(touchpoints: Any, conversions: Any, /, *, lookback_days: float = 30,
             value: bool = True, kinds: Sequence[str] | None = None, start: Any = None,
             end: Any = None) -> Journeys:
    """Build the journeys of :func:`attribute` once, stored in the engine, for many models.

    The journeys (the rule of :func:`attribute`) depend on the arguments here
    only; the models and their options do not change them. An explorer or a
    notebook that compares models, half-lives or position weights builds them
    once per window and passes the result to :func:`compare`.

    Returns
    -------
    Journeys
        Holds the engine table of every journey's touches (materialised), the
        totals, and each model's result once computed.

    Examples
    --------
    >>> touches = pd.DataFrame({
    ...     "user_id": ["a", "a", "b"], "channel": ["微信", "email", "email"],
    ...     "touched_at": ["2025-01-01", "2025-01-03", "2025-01-02"]})
    >>> sales = pd.DataFrame({"user_id": ["a", "b"], "converted_at": ["2025-01-05", "2025-01-04"],
    ...                       "value": [100.0, 50.0]})
    >>> built = journeys(touches, sales)
    >>> compare(built, models=["first_touch", "linear"]).equals(
    ...     compare(touches, sales, models=["first_touch", "linear"]))
    True
    """
    touch_t, totals = _journey_tables(touchpoints, conversions, lookback_days=lookback_days,
                                      value=value, kinds=kinds, start=start, end=end)
    try:
        con = touch_t.get_backend()
    except Exception:  # tables from pandas frames run on Ibis's default backend
        import ibis

        con = ibis.get_backend()
    stored = engine.materialise(con, touch_t, view=False)
    return Journeys(stored, totals, lookback_days=lookback_days, value=value)


def compare(touchpoints: Any, conversions: Any = None, /, *,
            models: Sequence[str] = ("first_touch", "last_touch", "linear", "position_based",
                                     "time_decay", "markov", "shapley"),
            lookback_days: float = 30, value: bool = True, kinds: Sequence[str] | None = None,
            start: Any = None, end: Any = None, sep: str = ">",
            **model_options: Any) -> pd.DataFrame:
    """Every model's attributed conversions side by side, one row per channel.

    Pass ``touchpoints`` and ``conversions``, or one paths frame (then
    ``time_decay`` is skipped: it needs times), or :class:`Journeys` from
    :func:`journeys` (then the journey options are those it was built with,
    and models already computed on it are not computed again). Options go to the models
    that take them (``weights``, ``half_life_days``, ``order``, ``worth``,
    ...); options of models not compared are ignored.

    Returns
    -------
    pandas.DataFrame
        ``channel``, one column per model (attributed conversions), then
        ``min``, ``max`` and ``spread`` (max - min, in conversions) across
        the models; channels ordered by their mean across models.

    Examples
    --------
    >>> paths = pd.DataFrame({"path": ["a > b", "b", "a > c"], "conversions": [2, 1, 1],
    ...                       "nulls": [1, 2, 3]})
    >>> compare(paths, models=["first_touch", "last_touch", "linear"])
      channel  first_touch  last_touch  linear  min  max  spread
    0       b          1.0         3.0     2.0  1.0  3.0     2.0
    1       a          3.0         0.0     1.5  0.0  3.0     3.0
    2       c          0.0         1.0     0.5  0.0  1.0     1.0
    """
    given = set(model_options)
    wanted = list(models)
    built = touchpoints if isinstance(touchpoints, Journeys) else None
    if conversions is None and built is None:
        wanted = [m for m in wanted if m != "time_decay"]
    for m in wanted:
        _options(m, {})
    known = {o for opts in MODEL_OPTIONS.values() for o in opts}
    if given - known:  # options of models not in `models` are ignored, unknown names are not
        raise TypeError(f"compare() got unknown options {sorted(given - known)}; the models take "
                        f"{', '.join(sorted(known))}")
    columns: dict[str, pd.Series] = {}
    if built is not None:
        for m in wanted:
            opts = {k: v for k, v in model_options.items() if k in MODEL_OPTIONS.get(m, ())}
            columns[m] = built.attribute(m, **opts).set_index("channel")["conversions"]
    elif conversions is None:
        for m in wanted:
            opts = {k: v for k, v in model_options.items() if k in MODEL_OPTIONS.get(m, ())}
            result = attribute_paths(touchpoints, model=m, sep=sep, **opts)
            columns[m] = result.set_index("channel")["conversions"]
    else:
        # the journeys are built once (a temporary table) and shared by every model;
        # the distinct paths once, for the data-driven models
        touch_t, totals = _journey_tables(touchpoints, conversions, lookback_days=lookback_days,
                                          value=value, kinds=kinds, start=start, end=end)
        with engine.cached(touch_t) as shared:
            paths_cache: list[pd.DataFrame] = []

            def paths_of() -> pd.DataFrame:
                if not paths_cache:
                    paths_cache.append(_journeys.path_frame(shared))
                return paths_cache[0]

            for m in wanted:
                opts = {k: v for k, v in model_options.items() if k in MODEL_OPTIONS.get(m, ())}
                result = _attribute_on(shared, totals, m, opts, value=value, paths_of=paths_of)
                columns[m] = result.set_index("channel")["conversions"]
    wide = pd.DataFrame(columns).fillna(0.0)
    wide.index.name = "channel"
    wide["min"] = wide[wanted].min(axis=1)
    wide["max"] = wide[wanted].max(axis=1)
    wide["spread"] = wide["max"] - wide["min"]
    order = wide[wanted].mean(axis=1).sort_values(ascending=False, kind="stable").index
    return wide.loc[order].reset_index()


def lookback_sensitivity(touchpoints: Any, conversions: Any, /, *,
                         lookbacks: Sequence[float] = (7, 14, 30, 60), model: str = "last_touch",
                         **options: Any) -> pd.DataFrame:
    """How each channel's credit changes with the lookback window.

    Runs :func:`attribute` once per window; ``options`` go to it.

    Returns
    -------
    pandas.DataFrame
        ``lookback_days``, ``channel``, ``conversions``, ``share``; one row per
        window and channel (``"(none)"`` grows as the window shrinks).

    Examples
    --------
    >>> touches = pd.DataFrame({"user_id": ["a", "a"], "channel": ["微信", "email"],
    ...                         "touched_at": ["2025-01-01", "2025-01-20"]})
    >>> sales = pd.DataFrame({"user_id": ["a"], "converted_at": ["2025-01-25"]})
    >>> lookback_sensitivity(touches, sales, lookbacks=(7, 30), model="first_touch")
       lookback_days channel  conversions  share
    0              7   email          1.0    1.0
    1             30      微信          1.0    1.0
    """
    frames = []
    for days in lookbacks:
        result = attribute(touchpoints, conversions, model=model, lookback_days=days, **options)
        frames.append(result.assign(lookback_days=days)[
            ["lookback_days", "channel", "conversions", "share"]])
    return pd.concat(frames, ignore_index=True)


def path_lengths(paths_frame: pd.DataFrame, /) -> pd.DataFrame:
    """Journeys by number of touches, from the frame :func:`paths` returns.

    Returns
    -------
    pandas.DataFrame
        ``touches``, ``conversions``, ``nulls``, ``conversion_rate``
        (conversions / journeys of that length) and ``share`` (of all
        conversions), one row per length, shortest first.

    Examples
    --------
    >>> frame = pd.DataFrame({"path": ["a", "a > b", "b"], "touches": [1, 2, 1],
    ...                       "conversions": [1.0, 2.0, 1.0], "nulls": [3.0, 0.0, 0.0]})
    >>> path_lengths(frame)
       touches  conversions  nulls  conversion_rate  share
    0        1          2.0    3.0              0.4    0.5
    1        2          2.0    0.0              1.0    0.5
    """
    out = paths_frame.groupby("touches", as_index=False)[["conversions", "nulls"]].sum()
    out["conversion_rate"] = out["conversions"] / (out["conversions"] + out["nulls"])
    total = out["conversions"].sum()
    out["share"] = out["conversions"] / total if total else 0.0
    return out.sort_values("touches", ignore_index=True)


#: Upper edges (days) of the time-to-convert buckets; the last bucket is open.
DAY_BUCKETS = (1, 3, 7, 14, 30, 60)


def time_to_convert(touchpoints: Any, conversions: Any, /, *, lookback_days: float = 30,
                    kinds: Sequence[str] | None = None, start: Any = None, end: Any = None,
                    buckets: Sequence[float] = DAY_BUCKETS) -> pd.DataFrame:
    """Converting journeys by the time from their first touch to the conversion.

    Only conversions with a touch in their window count (the clock starts
    at the first touch of the journey, so it never exceeds ``lookback_days``).

    Returns
    -------
    pandas.DataFrame
        ``from_days``, ``to_days`` (bucket ``[from, to)``; ``to_days`` is
        ``inf`` for the last), ``conversions`` and ``share``; every bucket is
        listed, empty ones with 0.

    Examples
    --------
    >>> touches = pd.DataFrame({"user_id": ["a", "b"], "channel": ["微信", "email"],
    ...                         "touched_at": ["2025-01-01", "2025-01-01 20:00"]})
    >>> sales = pd.DataFrame({"user_id": ["a", "b"], "converted_at": ["2025-01-05", "2025-01-02"]})
    >>> time_to_convert(touches, sales, buckets=(1, 7))
       from_days  to_days  conversions  share
    0        0.0      1.0          1.0    0.5
    1        1.0      7.0          1.0    0.5
    2        7.0      inf          0.0    0.0
    """
    edges = [float(b) for b in buckets]
    if not edges or sorted(edges) != edges or edges[0] <= 0:
        raise ValueError(f"`buckets` must be increasing positive day counts, got {buckets!r}")
    tp, conv = _tables(touchpoints, conversions)
    conv_t = _journeys.conversion_table(conv, kinds=kinds, value=False)
    touch_t, _ = _journeys.touches(tp, conv_t, lookback_days=lookback_days, start=start, end=end)
    converting = touch_t.filter(touch_t.weight > 0)
    per_journey = converting.group_by("journey").aggregate(days=converting.age_days.max())
    index = sum((per_journey.days >= e).cast("int64") for e in edges)
    counted = engine.to_pandas(per_journey.group_by(bucket=index).aggregate(
        conversions=per_journey.count()))
    lows, highs = [0.0, *edges], [*edges, float("inf")]
    out = pd.DataFrame({"from_days": lows, "to_days": highs})
    counts = counted.set_index("bucket")["conversions"]
    out["conversions"] = [float(counts.get(i, 0)) for i in range(len(lows))]
    total = out["conversions"].sum()
    out["share"] = out["conversions"] / total if total else 0.0
    return out


def options_for(model: str, **options: Any) -> dict[str, Any]:
    """The ``options`` that ``model`` takes (see :data:`MODEL_OPTIONS`); the others are dropped.

    For code that holds options for several models (a report's parameters)
    and passes one model's share.

    Examples
    --------
    >>> options_for("time_decay", half_life_days=3, weights=(0.4, 0.2, 0.4))
    {'half_life_days': 3}
    """
    _options(model, {})
    return {k: v for k, v in options.items() if k in MODEL_OPTIONS.get(model, ())}


# -- helpers -------------------------------------------------------------------------------

def _options(model: str, given: dict[str, Any]) -> dict[str, Any]:
    if model not in MODELS:
        raise ValueError(f"unknown attribution model {model!r}; choose one of {', '.join(MODELS)}")
    allowed = MODEL_OPTIONS.get(model, ())
    extra = set(given) - set(allowed)
    if extra:
        takes = f"takes {', '.join(allowed)}" if allowed else "takes no options"
        raise TypeError(f"model {model!r} {takes}; got {', '.join(sorted(extra))}")
    return dict(given)


def _tables(touchpoints: Any, conversions: Any):
    tp = table_arg(touchpoints, "touchpoints", ("user_id", "touched_at", "channel"))
    conv = table_arg(conversions, "conversions", ("user_id", "converted_at"))
    return tp, conv


def _path_input(touchpoints: Any, conversions: Any, *, lookback_days, kinds, start, end,
                sep) -> pd.DataFrame:
    if conversions is None:
        return _parse_paths(touchpoints, sep=sep)
    tp, conv = _tables(touchpoints, conversions)
    conv_t = _journeys.conversion_table(conv, kinds=kinds, value=True)
    touch_t, _ = _journeys.touches(tp, conv_t, lookback_days=lookback_days, start=start, end=end)
    return _journeys.path_frame(touch_t)


def _data_driven(frame: pd.DataFrame, model: str, options: dict[str, Any]) -> pd.DataFrame:
    solver = _markov.markov if model == "markov" else _shapley.shapley
    accepted = inspect.signature(solver).parameters
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = solver(frame, **{k: v for k, v in options.items() if k in accepted})
    for w in caught:  # re-issued so that they point at the caller's line, not at opskit's
        warnings.warn(w.message, w.category, stacklevel=4)
    out = result[["channel", "conversions", "value"]].copy()
    out.attrs.update(result.attrs)
    return out


def _finish(credited: pd.DataFrame, total_conversions: float, total_value: float, *,
            value: bool) -> pd.DataFrame:
    out = credited[["channel", "conversions", "value"]].astype(
        {"conversions": "float64", "value": "float64"})
    missing = total_conversions - float(out["conversions"].sum())
    if missing > 1e-9 * max(total_conversions, 1.0):
        lost_value = total_value - float(out["value"].sum())
        out = pd.concat([out, pd.DataFrame({"channel": [NO_TOUCH], "conversions": [missing],
                                            "value": [lost_value]})], ignore_index=True)
    out = out.groupby("channel", as_index=False, sort=False)[["conversions", "value"]].sum()
    if not value:
        out["value"] = np.nan
    out["share"] = out["conversions"] / total_conversions if total_conversions else 0.0
    out = out[out["conversions"].abs().gt(0) | out["value"].fillna(0).abs().gt(0)]
    out = out.sort_values(["conversions", "channel"], ascending=[False, True], ignore_index=True)
    out.attrs.update(credited.attrs)
    return out[_COLUMNS]


def _parse_paths(paths: pd.DataFrame, *, sep: str = ">") -> pd.DataFrame:
    """A user's paths frame as the solvers' frame: ``path`` tuples, numeric columns, checked."""
    if not isinstance(paths, pd.DataFrame):
        raise TypeError(f"`paths` must be a pandas DataFrame, not {type(paths).__name__}")
    for col in ("path", "conversions"):
        if col not in paths.columns:
            raise DataError.single(
                "paths", col, "missing_column", 0,
                f"is required; the frame has {', '.join(map(str, paths.columns)) or 'no columns'}",
                "give columns path (e.g. 'a > b'), conversions, and optionally value and nulls")
    text = paths["path"].astype("string")
    split = [tuple(p.strip() for p in str(s).split(sep)) if s is not pd.NA else () for s in text]
    bad = [i for i, p in enumerate(split) if not p or any(not c for c in p)]
    if bad:
        examples = tuple((i + 1, None if text.iloc[i] is pd.NA else str(text.iloc[i]))
                         for i in bad[:3])
        raise DataError.single(
            "paths", "path", "empty_channel", len(bad),
            f"have an empty channel name (separator {sep!r})",
            "remove empty paths and doubled separators, or pass sep= if paths use another "
            "separator", total=len(paths), examples=examples)
    frame = pd.DataFrame({"path": split})
    for col in ("conversions", "value", "nulls"):
        raw = paths[col] if col in paths.columns else pd.Series(0.0, index=paths.index)
        numbers = pd.to_numeric(raw, errors="coerce")
        wrong = numbers.isna() & raw.notna() | (numbers < 0)
        if wrong.any():
            rows = np.flatnonzero(wrong.to_numpy())
            raise DataError.single(
                "paths", col, "bad_number", len(rows),
                "are not non-negative numbers",
                f"make `{col}` a count (or an amount) of 0 or more",
                total=len(paths),
                examples=tuple((int(i) + 1, str(raw.iloc[i])) for i in rows[:3]))
        frame[col] = numbers.fillna(0.0).astype("float64").to_numpy()
    return frame.groupby("path", as_index=False, sort=False).sum()

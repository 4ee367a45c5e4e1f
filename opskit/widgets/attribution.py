"""The attribution explorer: models side by side for a lookback window and model options."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import pandas as pd

from opskit import attribution, charts, engine, narrative
from opskit.widgets._base import LRU, Explorer, Step

__all__ = ["AttributionExplorer", "attribution_explorer"]

#: The models compared when the explorer opens: :func:`opskit.attribution.compare`'s default.
#: Lookback windows prepared after each update (within the slider's range), besides the current one.
COMMON_LOOKBACKS = (7, 14, 30, 60, 90)
DEFAULT_MODELS = ("first_touch", "last_touch", "linear", "position_based", "time_decay", "markov",
                  "shapley")


class AttributionExplorer(Explorer):
    """Attribution models side by side; see :func:`attribution_explorer`.

    Attributes
    ----------
    arguments
        The keyword arguments of :func:`opskit.attribution.compare` (after the
        dataset, twice) that give ``frames["comparison"]`` before the channel filter.
    """

    _views = ("channels",)

    def __init__(self, data: Any, *, lang: str = "en", initial: dict[str, Any] | None = None):
        # journeys per lookback window, each a table in the engine: dropped when evicted
        self._journeys = LRU(6, on_evict=self._evicted)
        self._attributed: set[tuple] = set()  # (lookback, model, options) computed on the journeys
        self.arguments: dict[str, Any] = {}
        super().__init__(data, lang=lang, initial=initial)

    def _make_controls(self) -> dict[str, widgets.Widget]:
        tp = self.dataset["touchpoints"]
        self.dataset["conversions"]  # required: a missing table is reported here
        names = engine.to_pandas(tp.select("channel").distinct().order_by("channel"))["channel"]
        return self._controls([*[str(n) for n in names.dropna()], attribution.NO_TOUCH])

    def _make_controls_empty(self) -> dict[str, widgets.Widget]:
        return self._controls([])

    def _controls(self, channels: list[str]) -> dict[str, widgets.Widget]:
        w = self._w
        style = {"description_width": "initial"}
        return {
            "models": widgets.SelectMultiple(
                options=[(self._model_label(m), m) for m in attribution.MODELS], value=DEFAULT_MODELS,
                rows=len(attribution.MODELS), description=w("models"), style=style),
            "lookback_days": widgets.IntSlider(value=30, min=1, max=90, description=w("lookback_days"),
                                               continuous_update=False, style=style),
            "half_life_days": widgets.BoundedFloatText(value=7.0, min=0.5, max=365.0, step=0.5,
                                                       description=w("half_life_days"), style=style),
            "position_weights": widgets.FloatRangeSlider(
                value=(0.4, 0.6), min=0.0, max=1.0, step=0.05, continuous_update=False,
                description=w("position_weights"), style=style, readout_format=".2f"),
            "channels": widgets.SelectMultiple(options=channels, value=tuple(channels),
                                               rows=min(10, max(len(channels), 2)),
                                               description=w("channels"), style=style),
        }

    def _model_label(self, model: str) -> str:
        name = narrative.model_name(model, self.lang)
        return name[:1].upper() + name[1:]  # the rest as written (str.capitalize would lower it)

    def weights(self) -> tuple[float, float, float]:
        """The ``position_based`` weights: (first, middle, last) from the range slider's
        two handles ``(a, b)``: first = a, middle = b - a, last = 1 - b."""
        a, b = self.controls["position_weights"].value
        return (round(a, 4), round(b - a, 4), round(1 - b, 4))

    def _compute(self) -> dict[str, pd.DataFrame]:
        if self.dataset is None:
            raise ValueError(self.error or "no data")
        models = list(self.controls["models"].value)
        chosen = list(self.controls["channels"].value)
        if not models:
            raise ValueError(f"{self._w('models')}: {self._w('pick_one')}")
        if not chosen:
            raise ValueError(f"{self._w('channels')}: {self._w('pick_one')}")
        lookback = int(self.controls["lookback_days"].value)
        built = self._journeys.get(lookback, self._build(lookback))
        self._journeys.pin = lookback
        options = self._model_options()
        wide = attribution.compare(built, models=models, **options)
        self._attributed.update(self._result_key(lookback, m, options) for m in models)
        self.arguments = {"models": models, "lookback_days": lookback, **options}
        comparison = wide[wide["channel"].isin(chosen)].reset_index(drop=True)
        return {"comparison": comparison}

    def _build(self, lookback: int):
        return lambda: attribution.journeys(self.dataset, self.dataset, lookback_days=lookback)

    def _model_options(self) -> dict[str, Any]:
        return {"half_life_days": float(self.controls["half_life_days"].value),
                "weights": self.weights()}

    def _lookbacks(self) -> list[int]:
        """The current window, then the common ones within the slider (at most the memo's size)."""
        slider = self.controls["lookback_days"]
        now = int(slider.value)
        common = [d for d in COMMON_LOOKBACKS if slider.min <= d <= slider.max and d != now]
        return [now, *common][:self._journeys.size]

    def _neighbours(self) -> list[Step]:
        """Every model on the current window (current options), then for each common
        lookback window its journeys and the chosen models on them (six windows at
        most: the journeys memo's size, so the window on screen is never dropped)."""
        options = self._model_options()
        chosen = list(self.controls["models"].value)
        lookbacks = self._lookbacks()
        steps = [self._model_step(lookbacks[0], m, options) for m in attribution.MODELS]
        for lookback in lookbacks[1:]:
            steps.append(self._journeys.step(lookback, self._build(lookback)))
            steps += [self._model_step(lookback, m, options) for m in chosen]
        return steps

    @staticmethod
    def _result_key(lookback: int, model: str, options: dict[str, Any]) -> tuple:
        opts = {k: v for k, v in options.items() if k in attribution.MODEL_OPTIONS.get(model, ())}
        return (lookback, model, tuple(sorted(opts.items())))

    def _model_step(self, lookback: int, model: str, options: dict[str, Any]) -> Step:
        """A step computing ``model`` on the journeys of ``lookback`` (kept on the journeys)."""
        key = self._result_key(lookback, model, options)

        def run() -> None:
            built = self._journeys.get(lookback, self._build(lookback))
            built.attribute(model, **dict(key[2]))
            self._attributed.add(key)

        return Step(lambda: key in self._attributed, run)

    def _evicted(self, lookback: int, built: attribution.Journeys) -> None:
        """Journeys evicted from the memo: their engine table is dropped."""
        engine.drop(built.touch_table)
        self._attributed = {k for k in self._attributed if k[0] != lookback}

    def _release(self) -> None:
        """Every window's journeys are dropped (``close``)."""
        for lookback, built in list(self._journeys.items()):
            self._evicted(lookback, built)
        self._journeys.clear()

    def _draw(self) -> list[Any]:
        from IPython.display import Markdown

        wide, models = self.frames["comparison"], self.arguments["models"]
        columns = {"channel": "text", **{m: "number" for m in models}, "spread": "number"}
        labels = {m: self._model_label(m) for m in models}
        return [charts.attribution_comparison(wide, lang=self.lang),
                Markdown(narrative.table(wide, columns, lang=self.lang, labels=labels))]

    def _summary(self) -> list[str]:
        w = self._w
        return [f"{len(self.arguments['models'])} {w('models_n')}",
                f"{len(self.frames['comparison'])} {w('channels_n')}",
                f"{self.arguments['lookback_days']} d"]


def attribution_explorer(data: Any, /, *, lang: str = "en", **initial: Any) -> AttributionExplorer:
    """Attribution explorer: models, lookback, half-life, position weights and channels.

    Shows :func:`opskit.attribution.compare` (one column per model) as grouped
    bars. Journeys are built once per lookback window
    (:func:`opskit.attribution.journeys`, kept for the last six windows); the
    models, half-life and position weights reuse them (each model's result is
    kept per options), and the channel filter only selects rows.

    Parameters
    ----------
    data
        An :class:`opskit.Dataset` with ``touchpoints`` and ``conversions``, or a path.
    lang
        ``"en"`` or ``"zh"``.
    **initial
        Initial control values: ``models`` (model names), ``lookback_days``
        (1–90), ``half_life_days``, ``position_weights`` (the range slider's two
        handles ``(a, b)``: first share a, middle b - a, last 1 - b; J-shaped
        ``(0.2, 0.4)``), ``channels`` (the channels to show, ``"(none)"`` for
        conversions without a touch).

    Returns
    -------
    AttributionExplorer
        ``frames["comparison"]``: ``compare(data, data, **ex.arguments)``
        restricted to the chosen channels.

    Examples
    --------
    >>> import opskit
    >>> from opskit.demo import generate_frames
    >>> from opskit.widgets import attribution_explorer
    >>> ds = opskit.Dataset.from_frames(**generate_frames(users=300, seed=1))
    >>> ex = attribution_explorer(ds, models=["first_touch", "last_touch"])
    >>> ex.controls["lookback_days"].value = 7
    >>> list(ex.frames["comparison"].columns)
    ['channel', 'first_touch', 'last_touch', 'min', 'max', 'spread']
    """
    return AttributionExplorer(data, lang=lang, initial=initial)

"""What every explorer shares: the status line, error display, timing, chart area, display.

An explorer is a thin object: its controls hold the state, :meth:`Explorer.refresh`
asks the KPI functions for numbers (through the subclass's ``_compute``) and
:mod:`opskit.charts` for pictures. The base class owns everything else: the
layout, the "computing…" line, catching errors so that a bad selection shows a
message instead of a traceback, the timing of each update, and displaying the
explorer as its widget.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, NamedTuple

import ipywidgets as widgets
import pandas as pd

from opskit import engine
from opskit.charts._base import _LABELS
from opskit.dataset import Dataset

__all__ = ["LRU", "Explorer", "Step", "vega_bundle", "word"]

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "computing": "computing…", "error": "Error", "none": "(none)", "any": "(any)",
        "mode": "Mode", "kind": "Cohorts", "start_event": "Start event",
        "return_event": "Return event", "dates": "Cohorts from", "on": "on",
        "on_or_after": "on or after", "first_time": "first time", "recurring": "recurring",
        "day": "day", "week": "week", "month": "month", "cohorts_n": "cohorts",
        "users": "users", "models": "Models", "lookback_days": "Lookback (days)",
        "half_life_days": "Half-life (days)", "position_weights": "First / last share",
        "channels": "Channels", "column": "Compare by", "groups": "Groups",
        "metrics": "Metrics", "channels_n": "channels", "models_n": "models",
        "metrics_n": "metrics", "retention_in": "retention in period",
        "no_cohorts": "no cohort in the chosen range: widen the date range",
        "pick_one": "choose at least one",
        "pick_two": "choose two different groups",
        "preparing": "preparing {n} more views…", "ready": "all views ready",
        "heatmap_last": "heatmap: last {n}",
    },
    "zh": {
        "computing": "计算中…", "error": "错误", "none": "（无）", "any": "（任意）",
        "mode": "口径", "kind": "同期群类型", "start_event": "起始事件",
        "return_event": "回访事件", "dates": "同期群范围", "on": "当期",
        "on_or_after": "当期及以后", "first_time": "首次", "recurring": "重复",
        "day": "日", "week": "周", "month": "月", "cohorts_n": "个同期群",
        "users": "用户", "models": "归因模型", "lookback_days": "回溯窗口（天）",
        "half_life_days": "半衰期（天）", "position_weights": "首次 / 末次权重",
        "channels": "渠道", "column": "对比维度", "groups": "对比组",
        "metrics": "指标", "channels_n": "个渠道", "models_n": "个模型",
        "metrics_n": "个指标", "retention_in": "留存率，第",
        "no_cohorts": "所选范围内没有同期群：请放宽日期范围",
        "pick_one": "请至少选择一项",
        "pick_two": "请选择两个不同的组",
        "preparing": "正在预备另外 {n} 个视图…", "ready": "所有视图已就绪",
        "heatmap_last": "热力图：最近 {n} 个",
    },
}


def word(lang: str, key: str) -> str:
    """A UI word in ``lang``: the charts' label dictionary first, then the explorers' own."""
    if lang not in _WORDS:
        raise ValueError(f"lang must be 'en' or 'zh', not {lang!r}")
    return _WORDS[lang].get(key) or _LABELS[lang].get(key, key)


class LRU:
    """A small least-recently-used memo: ``get(key, compute)``; counts its misses.

    ``pin`` names a key that is never evicted (the view on screen), and
    ``on_evict(key, value)`` is called for each evicted entry (to free what it holds).

    Examples
    --------
    >>> memo = LRU(2)
    >>> memo.get("a", lambda: 1), memo.get("a", lambda: 2), memo.misses
    (1, 1, 1)
    >>> memo.pin = "a"
    >>> _ = memo.get("b", lambda: 2), memo.get("c", lambda: 3)
    >>> list(memo)
    ['a', 'c']
    """

    def __init__(self, size: int = 64, *, on_evict: Callable[[Hashable, Any], Any] | None = None):
        self.size = size
        self.misses = 0
        self.pin: Hashable | None = None
        self.on_evict = on_evict
        self._items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = compute()
        self.misses += 1
        self._items[key] = value
        while len(self._items) > self.size:
            oldest = next(k for k in self._items if k != self.pin)
            evicted = self._items.pop(oldest)
            if self.on_evict is not None:
                self.on_evict(oldest, evicted)
        return value

    def step(self, key: Hashable, compute: Callable[[], Any]) -> Step:
        """A preparation :class:`Step` that fills ``key`` with ``compute()``."""
        return Step(lambda: key in self, lambda: self.get(key, compute))

    def items(self) -> list[tuple[Hashable, Any]]:
        """The kept entries, least recently used first."""
        return list(self._items.items())

    def clear(self) -> None:
        """Forget every entry (``on_evict`` is not called)."""
        self._items.clear()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def __iter__(self):
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)


class Step(NamedTuple):
    """One view to prepare: ``ready()`` says whether it is already computed, ``run()``
    computes it (into a memo)."""

    ready: Callable[[], bool]
    run: Callable[[], Any]


#: Users columns never offered as segments (identifiers and times).
NOT_SEGMENTS = ("user_id", "account_id", "signup_at")
MAX_SEGMENT_VALUES = 50


def segment_columns(users: Any, *, min_values: int = 1, text_only: bool = False) -> list[str]:
    """The ``users`` columns an explorer offers as segments: text (and, unless ``text_only``,
    boolean and integer) columns, not ids or times, with ``min_values`` to 50 distinct values
    (counted in one engine query)."""
    if users is None:
        return []
    schema = users.schema()
    cols = [c for c in users.columns
            if c not in NOT_SEGMENTS and not c.startswith("__") and
            (schema[c].is_string() or (not text_only and (schema[c].is_boolean() or schema[c].is_integer())))]
    if not cols:
        return []
    counts = engine.to_pandas(users.aggregate(**{c: users[c].nunique() for c in cols})).iloc[0]
    return [c for c in cols if min_values <= counts[c] <= MAX_SEGMENT_VALUES]


def as_dataset(data: Any) -> Dataset:
    """``data`` as a Dataset: a Dataset as it is, a folder or file path loaded with ``opskit.load``."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (str, Path)):
        import opskit

        return opskit.load(data)
    raise TypeError(f"an explorer needs an opskit.Dataset or a path to load, not {type(data).__name__}")


def vega_bundle(figure: Any) -> dict[str, Any]:
    """An Altair chart as a Vega 5 mime bundle, which JupyterLab draws with no network.

    Altair's default renderer loads vega-embed from a CDN (blocked offline and
    behind many proxies) and JupyterLab knows no Vega-Lite 6 mimetype; the spec is
    compiled to Vega with vl-convert instead.
    """
    import vl_convert

    spec = figure.to_dict()
    found = re.search(r"/v(\d+\.\d+)", str(spec.get("$schema", "")))
    supported = list(vl_convert.get_vegalite_versions())
    version = found.group(1) if found else supported[-1]
    if version not in supported:
        same = [v for v in supported if v.split(".")[0] == version.split(".")[0]]
        version = (same or supported)[-1]
    vega = vl_convert.vegalite_to_vega(spec, vl_version=version)
    vega["$schema"] = "https://vega.github.io/schema/vega/v5.json"
    title = spec.get("title")
    return {"application/vnd.vega.v5+json": vega, "text/plain": f"<chart: {title or 'opskit'}>"}


class Explorer:
    """Base of the explorers (see :mod:`opskit.widgets`): layout, status, errors, timing.

    Subclasses define ``_make_controls() -> dict`` (called once), ``_compute() -> dict``
    (numbers from KPI functions: the new ``frames``; raises on bad input), ``_draw() ->
    list`` (Altair charts from :mod:`opskit.charts`, shown in :attr:`chart`),
    ``_summary() -> list[str]`` (status parts) and optionally ``_headline_html() -> str``,
    ``_before(name)`` (a control changed, before the update; for dependent controls),
    ``_beside() -> list`` (widgets after the controls) and ``_neighbours() -> list[Step]``
    (the views most likely asked for next, in order; see :meth:`prepare`).

    Preparation: after each successful update the explorer queues its neighbours
    and, inside a running event loop (a Jupyter kernel), computes them one per
    idle callback of that loop, on its thread (the engine connection is not
    shared across threads). A control change stops the queue, answers (waiting
    for a step already running), then queues the new neighbours. Without a
    running loop nothing is scheduled; :meth:`prepare` with ``wait=True``
    computes the queue at once.
    """

    #: Controls that a change does not recompute (set by subclasses).
    _views: tuple[str, ...] = ()
    #: Seconds left to the event loop (messages, a control change) before each preparation step.
    _idle_delay: float = 0.05

    def __init__(self, data: Any, *, lang: str = "en", initial: dict[str, Any] | None = None):
        if lang not in _WORDS:
            raise ValueError(f"lang must be 'en' or 'zh', not {lang!r}")
        self.lang = lang
        self.frames: dict[str, pd.DataFrame] = {}
        self.charts: list[Any] = []
        self.error: str | None = None
        self.seconds: float = 0.0
        self.status = widgets.HTML(value=self._w("computing"))
        self.status.add_class("opskit-status")
        self.headline = widgets.HTML(value="")
        self.headline.add_class("opskit-headline")
        self.chart = widgets.Output()
        self.chart.add_class("opskit-chart")
        self.preparing = widgets.HTML(value="")  # the status line's end: preparation
        self.preparing.add_class("opskit-prepare")
        self.prepared = 0  # views computed by preparation so far
        self._queue: deque[Step] = deque()
        self._handle: asyncio.TimerHandle | None = None
        self._ready_note = False
        self._busy = False
        self.dataset: Dataset | None = None
        try:
            self.dataset = as_dataset(data)
            self.controls: dict[str, widgets.Widget] = self._make_controls()
        except Exception as exc:  # a bad dataset: shown in the widget, not raised
            self.controls = self._make_controls_empty()
            self._fail(exc)
        self._apply_initial(dict(initial or {}))
        row = [*self.controls.values(), *self._beside()]
        self.widget = widgets.VBox([widgets.HBox(row, layout=widgets.Layout(flex_flow="row wrap")),
                                    widgets.HBox([self.status, self.preparing]),
                                    self.headline, self.chart])
        self.widget.add_class("opskit-explorer")
        for name, control in self.controls.items():
            control.add_class(f"opskit-control-{name}")
            control.observe(lambda change, name=name: self._changed(name), names="value")
        if self.error is None:
            self.refresh()

    # --- subclass hooks -----------------------------------------------------------------
    def _make_controls(self) -> dict[str, widgets.Widget]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _make_controls_empty(self) -> dict[str, widgets.Widget]:
        """Controls without data (the dataset could not be read)."""
        return {}

    def _compute(self) -> dict[str, pd.DataFrame]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _draw(self) -> list[Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _summary(self) -> list[str]:
        return []

    def _headline_html(self) -> str:
        return ""

    def _before(self, name: str) -> None:
        """A control changed; adjust dependent controls before the update."""

    def _beside(self) -> list[widgets.Widget]:
        """Widgets shown after the controls (read-outs, not controls)."""
        return []

    def _neighbours(self) -> list[Step]:
        """The views to prepare after an update, most likely first."""
        return []

    def _set_initial(self, name: str, value: Any) -> None:
        """Set control ``name`` from the explorer's ``**initial`` values."""
        control = self.controls[name]
        if isinstance(control, widgets.SelectMultiple):
            value = tuple(value)
        control.value = value
        self._before(name)

    # --- machinery ----------------------------------------------------------------------
    def _w(self, key: str) -> str:
        return word(self.lang, key)

    def _apply_initial(self, initial: dict[str, Any]) -> None:
        unknown = sorted(set(initial) - set(self.controls))
        if unknown:
            raise ValueError(f"unknown control(s) {', '.join(unknown)}; "
                             f"this explorer has {', '.join(self.controls)}")
        self._busy = True  # set them all, then compute once
        try:
            for name, value in initial.items():
                self._set_initial(name, value)
        finally:
            self._busy = False

    def _changed(self, name: str) -> None:
        if self._busy:
            return
        self._stop_preparing()  # the person's request goes first
        self._busy = True
        try:
            self._before(name)
        except Exception as exc:
            self._fail(exc)
            return
        finally:
            self._busy = False
        self.refresh()

    def refresh(self) -> None:
        """Recompute now from the current control values (errors go to :attr:`status`)."""
        began = time.perf_counter()
        self._stop_preparing()
        self.status.value = html.escape(self._w("computing"))
        try:
            frames = self._compute()
        except Exception as exc:  # shown in the widget; the previous chart stays
            self.seconds = time.perf_counter() - began
            self._fail(exc)
            return
        self.frames = frames
        self.error = None
        self.status.remove_class("opskit-error")
        self.headline.value = self._headline_html()
        try:
            self.charts = self._draw()
            self._show(self.charts)
        except Exception as exc:
            self.seconds = time.perf_counter() - began
            self._fail(exc)
            return
        self.seconds = time.perf_counter() - began
        parts = [*self._summary(), f"{self.seconds:.2f} s"]
        self.status.value = html.escape(" · ".join(parts))
        self.prepare()

    # --- preparation --------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """How many queued views are still to compute."""
        return sum(not step.ready() for step in self._queue)

    def prepare(self, *, wait: bool = False) -> int:
        """Queue the views the analyst is most likely to ask for next, and compute them.

        The queue is rebuilt from the current controls (views already computed are
        skipped). Inside a running event loop (a Jupyter kernel) the views are
        computed one per idle callback, so that a control change is answered
        first; elsewhere (plain Python, a script) nothing is scheduled.

        Parameters
        ----------
        wait
            Compute the whole queue now, before returning (what a benchmark or a
            script does to time the prepared explorer).

        Returns
        -------
        int
            The number of views queued (``wait=False``) or computed (``wait=True``).
        """
        self._stop_preparing()
        if self.error is not None or self.dataset is None:
            return 0
        self._queue = deque(step for step in self._neighbours() if not step.ready())
        if wait:
            done = 0
            while self._queue:
                done += self._run_step()
            self._ready_note = True
            self._note()
            return done
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop to be idle in: nothing scheduled
            self._queue.clear()
            return 0
        queued = len(self._queue)
        self._ready_note = True
        self._schedule(loop)
        return queued

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        self._handle = loop.call_later(self._idle_delay, self._idle_step, loop) if self._queue else None
        self._note()

    def _idle_step(self, loop: asyncio.AbstractEventLoop) -> None:
        """One preparation step, run by the event loop when nothing else was waiting."""
        self._handle = None
        self._run_step()
        self._schedule(loop)

    def _run_step(self) -> int:
        """Compute the next view not yet ready; 1 if one was computed."""
        while self._queue:
            step = self._queue.popleft()
            if step.ready():
                continue
            try:
                step.run()
            except Exception:  # a view that fails is computed (and shown) on request
                return 0
            self.prepared += 1
            return 1
        return 0

    def _stop_preparing(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._queue.clear()
        self._ready_note = False
        self._note()

    def _note(self) -> None:
        """The status line's end: "· preparing 3 more views…" / "· all views ready"."""
        pending = self.pending
        if pending:
            text = self._w("preparing").format(n=pending)
        elif self._ready_note:
            text = self._w("ready")
        else:
            text = ""
        self.preparing.value = f"&nbsp;·&nbsp;{html.escape(text)}" if text else ""

    def status_text(self) -> str:
        """The whole status line as plain text (the update, then the preparation)."""
        return html.unescape(re.sub(r"<[^>]+>", "", self.status.value + self.preparing.value)
                             ).replace("\xa0", " ")

    def _show(self, figures: list[Any]) -> None:
        """Replace the chart area's content (only inside a running kernel; elsewhere the
        charts stay in :attr:`charts`)."""
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None or not hasattr(shell, "kernel"):
            return
        from IPython.display import display

        self.chart.clear_output(wait=True)
        with self.chart:
            for figure in figures:  # charts as offline Vega; tables as (escaped) Markdown
                if hasattr(figure, "to_dict"):
                    display(vega_bundle(figure), raw=True)
                else:
                    display(figure)

    def _fail(self, exc: BaseException) -> None:
        message = str(exc) or type(exc).__name__
        self.error = message
        self.status.value = (f"<b>{html.escape(self._w('error'))}</b>: "
                             f"{html.escape(message)}")
        self.status.add_class("opskit-error")

    def _release(self) -> None:
        """Drop what the explorer keeps in the engine (subclasses with engine tables)."""

    def close(self) -> None:
        """Stop preparing, drop the explorer's tables from the engine and close its widgets.

        An explorer holds materialised tables (compacted events, journeys) in the
        dataset's engine until it is closed; closing it gives that memory back.
        The explorer shows nothing afterwards.

        Examples
        --------
        >>> import opskit
        >>> from opskit.widgets import segment_explorer
        >>> ex = segment_explorer(opskit.demo.generate(users=300, seed=1))
        >>> ex.close()
        """
        self._stop_preparing()
        self._release()
        self.widget.close()
        for part in (*self.controls.values(), self.status, self.preparing, self.headline, self.chart):
            part.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.status_text()}>"

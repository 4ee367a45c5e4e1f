"""The retention explorer: cohort heatmap, curves and headline numbers, updated on change."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import pandas as pd

from opskit import charts, engine, retention
from opskit._periods import FREQS, floor_period
from opskit.widgets._base import LRU, Explorer, Step, segment_columns

__all__ = ["RetentionExplorer", "retention_explorer"]

ANY = "(any)"
NONE = "(none)"
_PERIODS = 12
#: Cohorts drawn in the heatmap per period (all are in ``frames["cohorts"]`` and the slider).
_HEATMAP_LAST = {"day": 60, "week": 26, "month": None}
#: Short slider labels per period (ISO weeks for weeks).
_LABEL = {"day": "%Y-%m-%d", "week": "%G-W%V", "month": "%Y-%m"}
_STEP = {"day": pd.Timedelta(days=1), "week": pd.Timedelta(days=7), "month": pd.DateOffset(months=1)}


class RetentionExplorer(Explorer):
    """Cohort retention with controls; see :func:`retention_explorer`.

    Attributes
    ----------
    arguments
        The keyword arguments of :func:`opskit.retention.cohort_table` that give
        ``frames["cohorts"]`` (``start``/``end`` from the date range).
    """

    _views = ("dates",)

    def __init__(self, data: Any, *, lang: str = "en", initial: dict[str, Any] | None = None):
        self._sources: dict[tuple[str, bool], Any] = {}
        self._tables = LRU(64)  # the neighbours prepared (at most 63) never evict the view on screen
        # the chosen date range: (first cohort start, last cohort start, its period or None)
        self._wanted: tuple[pd.Timestamp, pd.Timestamp, str | None] | None = None
        self._compactions = 0
        self.arguments: dict[str, Any] = {}
        super().__init__(data, lang=lang, initial=initial)

    # --- controls -----------------------------------------------------------------------
    def _make_controls(self) -> dict[str, widgets.Widget]:
        events = self.dataset["events"]
        names = engine.to_pandas(events.select("event").distinct().order_by("event"))["event"]
        names = [str(n) for n in names.dropna()][:500]
        return self._controls(names, segment_columns(self.dataset.get("users")))

    def _make_controls_empty(self) -> dict[str, widgets.Widget]:
        return self._controls([], [])

    def _controls(self, names: list[str], segments: list[str]) -> dict[str, widgets.Widget]:
        w = self._w
        style = {"description_width": "initial"}

        def drop(key: str, options: list[tuple[str, str]], value: str) -> widgets.Dropdown:
            return widgets.Dropdown(options=options, value=value, description=w(key), style=style,
                                    layout=widgets.Layout(width="auto"))

        return {
            "period": drop("period", [(w(p), p) for p in FREQS], "week"),
            "mode": drop("mode", [(w(m), m) for m in ("on", "on_or_after")], "on"),
            "kind": drop("kind", [(w(k), k) for k in ("first_time", "recurring")], "first_time"),
            "start_event": drop("start_event", [(w("any"), ANY), *[(n, n) for n in names]], ANY),
            "return_event": drop("return_event", [(w("any"), ANY), *[(n, n) for n in names]], ANY),
            "segment": drop("segment", [(w("none"), NONE), *[(c, c) for c in segments]], NONE),
            "dates": widgets.SelectionRangeSlider(options=[("-", pd.Timestamp(0))], index=(0, 0),
                                                  description=w("dates"), style=style,
                                                  continuous_update=False, readout=False,
                                                  layout=widgets.Layout(width="420px")),
        }

    def _beside(self) -> list[widgets.Widget]:
        # the chosen range in full (the slider's own readout is cut off at ~20 characters)
        self.dates_label = widgets.HTML(value="")
        self.dates_label.add_class("opskit-dates")
        return [self.dates_label]

    def _set_initial(self, name: str, value: Any) -> None:
        if name == "dates":  # the options exist after the first computation
            lo, hi = (pd.Timestamp(v) for v in value)
            self._wanted = (lo, hi, None)
            return
        super()._set_initial(name, value)

    def _before(self, name: str) -> None:
        if name == "dates":
            lo, hi = self.controls["dates"].value
            self._wanted = (lo, hi, self.controls["period"].value)

    # --- numbers ------------------------------------------------------------------------
    def _choice(self, name: str, empty: str) -> str | None:
        value = self.controls[name].value
        return None if value == empty else value

    def _source(self, period: str, keep_events: bool):
        """The events compacted for ``period`` (exactly, see ``retention.compact_events``),
        materialised once per explorer."""
        key = (period, keep_events)
        if key not in self._sources:
            compact = retention.compact_events(self.dataset, period=period, keep_events=keep_events)
            con = self.dataset.backend or compact.get_backend()
            self._sources[key] = engine.materialise(con, compact, view=False)
            self._compactions += 1
        return self._sources[key]

    def _release(self) -> None:
        """The compacted events tables are dropped (``close``)."""
        for table in self._sources.values():
            engine.drop(table)
        self._sources.clear()
        self._tables.clear()

    def _full(self, options: dict[str, Any]) -> pd.DataFrame:
        """``cohort_table`` over every cohort for ``options`` (memoised)."""
        return self._tables.get(*self._entry(options))

    def _entry(self, options: dict[str, Any]):
        """The memo key and computation of ``_full(options)``."""
        key = tuple(sorted(options.items()))

        def compute() -> pd.DataFrame:
            keep = options["start_event"] is not None or options["return_event"] is not None
            source = self._source(options["period"], keep)
            users = self.dataset["users"] if options["by"] else None
            return retention.cohort_table(source, periods=_PERIODS, users=users, **options)

        return key, compute

    def _options(self) -> dict[str, Any]:
        return {
            "period": self.controls["period"].value, "mode": self.controls["mode"].value,
            "kind": self.controls["kind"].value,
            "start_event": self._choice("start_event", ANY),
            "return_event": self._choice("return_event", ANY),
            "by": self._choice("segment", NONE),
        }

    def _neighbours(self) -> list[Step]:
        """The other periods and the other mode for the current kind, events and segment;
        then the same for the other kind; then each segment column (current period, mode
        and kind). Fewer than the memo holds, so the view on screen stays."""
        now = self._options()
        wanted = []
        for kind in (now["kind"], *(k for k in ("first_time", "recurring") if k != now["kind"])):
            for period in (now["period"], *(p for p in FREQS if p != now["period"])):
                for mode in (now["mode"], *(m for m in ("on", "on_or_after") if m != now["mode"])):
                    wanted.append({**now, "kind": kind, "period": period, "mode": mode})
        segments = [v for _, v in self.controls["segment"].options]
        wanted += [{**now, "by": None if v == NONE else v} for v in segments]
        steps, seen = [], set()
        for options in wanted:
            key, compute = self._entry(options)
            if key not in seen:
                seen.add(key)
                steps.append(self._tables.step(key, compute))
        return steps[:self._tables.size - 1]

    def _compute(self) -> dict[str, pd.DataFrame]:
        if self.dataset is None:
            raise ValueError(self.error or "no data")
        options = self._options()
        full = self._full(options)
        self._tables.pin = self._entry(options)[0]
        if full.empty:
            raise ValueError(self._w("no_cohorts"))
        starts = sorted(full["cohort"].unique())
        lo, hi = self._range(starts, options["period"])
        after = [s for s in starts if s > hi]
        start = None if lo == starts[0] else lo
        end = after[0] if after else None
        keep = (full["cohort"] >= lo) & (full["cohort"] <= hi)
        cohorts = full[keep].reset_index(drop=True)
        curve = retention.curve(cohorts)
        self.arguments = {**options, "periods": _PERIODS, "start": start, "end": end}
        if not options["by"]:
            self.arguments.pop("by")
        last = curve["period"].max() if len(curve) else 0
        headline = curve[curve["period"].isin({1, last} - {0})].reset_index(drop=True)
        return {"cohorts": cohorts, "curve": curve, "headline": headline}

    def _range(self, starts: list[pd.Timestamp], period: str) -> tuple[pd.Timestamp, pd.Timestamp]:
        """Put the cohorts in the date slider; the chosen (first, last) cohort."""
        slider = self.controls["dates"]
        options = [(s.strftime(_LABEL[period]), s) for s in starts]
        chosen = starts
        if self._wanted is not None:  # cohorts starting inside the chosen span, in any period
            lo, hi, unit = self._wanted
            end = floor_period(hi, unit or period) + _STEP[unit or period]
            chosen = [s for s in starts if lo <= s < end] or starts
        if ([o for o in slider.options] != options
                or slider.value != (chosen[0], chosen[-1])):
            busy, self._busy = self._busy, True
            try:
                slider.options = options
                slider.index = (starts.index(chosen[0]), starts.index(chosen[-1]))
            finally:
                self._busy = busy
        self.dates_label.value = html.escape(f"{chosen[0]:%Y-%m-%d} – {chosen[-1]:%Y-%m-%d}")
        return chosen[0], chosen[-1]

    # --- display ------------------------------------------------------------------------
    def _draw(self) -> list[Any]:
        period, by = self.arguments["period"], self.arguments.get("by")
        figures = []
        if by is None:
            figures.append(charts.cohort_heatmap(self.frames["cohorts"], lang=self.lang, unit=period,
                                                 last=_HEATMAP_LAST[period]))
        figures.append(charts.retention_curves(self.frames["curve"], color=by, lang=self.lang,
                                               unit=period))
        return figures

    def _summary(self) -> list[str]:
        w = self._w
        n = self.frames["cohorts"]["cohort"].nunique()
        parts = [w(self.arguments["period"]), w(self.arguments["mode"]), f"{n} {w('cohorts_n')}"]
        last = _HEATMAP_LAST[self.arguments["period"]]
        if last is not None and n > last and not self.arguments.get("by"):
            parts.append(w("heatmap_last").format(n=last))
        return parts

    def _headline_html(self) -> str:
        w, by = self._w, self.arguments.get("by")
        parts = []
        for row in self.frames["headline"].itertuples(index=False):
            who = f"{html.escape(str(getattr(row, by)))}: " if by else ""
            period = w(self.arguments["period"])
            if self.lang == "zh":
                what = f"{w('retention_in')} {row.period} {period}"
            else:
                what = f"{w('rate')} ({period} {row.period})"
            parts.append(
                f"<span class='opskit-kpi'>{who}{html.escape(what)}: <b>{row.rate:.1%}</b> "
                f"({row.ci_low:.1%}–{row.ci_high:.1%}, {row.cohort_size:,} {html.escape(w('users'))})"
                "</span>")
        return " &nbsp; ".join(parts)


def retention_explorer(data: Any, /, *, lang: str = "en", **initial: Any) -> RetentionExplorer:
    """Cohort retention explorer: period, mode, kind, events, segment and date range.

    Shows the cohort heatmap (no segment) and the retention curves (one per
    segment value), and the headline numbers: the pooled retention in period 1
    and in the last period with complete cells. Numbers come from
    :func:`opskit.retention.cohort_table` and :func:`opskit.retention.curve`,
    computed on the events compacted once per period by
    :func:`opskit.retention.compact_events` (exact), and memoised per control
    combination; the date range only filters the memoised table. The heatmap
    draws the last 60 daily or 26 weekly cohorts (the frames keep all). In a
    kernel, the other periods, modes, kind and segment columns are prepared
    while idle (:meth:`~opskit.widgets.Explorer.prepare`).

    Parameters
    ----------
    data
        An :class:`opskit.Dataset` (``events``; ``users`` for segments), or a
        path for :func:`opskit.load`.
    lang
        ``"en"`` or ``"zh"``: labels, status line, charts.
    **initial
        Initial control values by name: ``period`` (``"day"``/``"week"``/
        ``"month"``), ``mode`` (``"on"``/``"on_or_after"``), ``kind``
        (``"first_time"``/``"recurring"``), ``start_event``/``return_event``
        (an event name, or ``"(any)"``), ``segment`` (a users column, or
        ``"(none)"``), ``dates`` (``(first, last)`` cohort starts, inclusive).

    Returns
    -------
    RetentionExplorer
        ``.widget``, ``.controls``, ``.frames`` (``"cohorts"``: the
        ``cohort_table`` for :attr:`~RetentionExplorer.arguments`, ``"curve"``:
        its ``curve``, ``"headline"``: the curve's rows for period 1 and the last
        period), ``.status``, ``.error``, ``.seconds``, ``.refresh()``.

    Examples
    --------
    >>> import opskit
    >>> from opskit.demo import generate_frames
    >>> from opskit.widgets import retention_explorer
    >>> ds = opskit.Dataset.from_frames(**generate_frames(users=300, seed=1))
    >>> ex = retention_explorer(ds, period="month")
    >>> ex.controls["period"].value = "week"
    >>> ex.frames["cohorts"]["cohort"].dt.day_of_week.unique().tolist()  # Mondays
    [0]
    >>> ex.frames["cohorts"].equals(opskit.retention.cohort_table(ds, **ex.arguments))
    True
    """
    return RetentionExplorer(data, lang=lang, initial=initial)

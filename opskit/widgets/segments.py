"""The segment explorer: two segments side by side on the headline metrics."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import pandas as pd

from opskit import charts, compare, engine, narrative
from opskit.widgets._base import LRU, Explorer, Step, segment_columns

__all__ = ["SegmentExplorer", "segment_explorer"]


class SegmentExplorer(Explorer):
    """Two segments side by side; see :func:`segment_explorer`.

    Attributes
    ----------
    arguments
        The keyword arguments of :func:`opskit.compare.segments` that give
        ``frames["table"]``.
    """

    _views = ("metrics",)

    def __init__(self, data: Any, *, lang: str = "en", initial: dict[str, Any] | None = None):
        self._tables = LRU(32)
        self.arguments: dict[str, Any] = {}
        super().__init__(data, lang=lang, initial=initial)

    def _make_controls(self) -> dict[str, widgets.Widget]:
        users = self.dataset["users"]
        self.dataset["events"]  # required: a missing table is reported here
        cols = segment_columns(users, min_values=2, text_only=True)
        controls = self._controls(cols)
        if cols:
            self._fill_groups(controls, "segment" if "segment" in cols else cols[0])
        return controls

    def _make_controls_empty(self) -> dict[str, widgets.Widget]:
        return self._controls([])

    def _controls(self, columns: list[str]) -> dict[str, widgets.Widget]:
        w = self._w
        style = {"description_width": "initial"}
        return {
            "column": widgets.Dropdown(options=columns, value=("segment" if "segment" in columns
                                                               else (columns or [None])[0]),
                                       description=w("column"), style=style),
            "groups": widgets.SelectMultiple(options=[], description=w("groups"), rows=6,
                                             style=style),
            "metrics": widgets.SelectMultiple(options=list(compare.METRICS),
                                              value=tuple(compare.METRICS), rows=8,
                                              description=w("metrics"), style=style),
        }

    def _values(self, column: str) -> tuple[list[str], list[str]]:
        """The column's values (sorted) and its default pair (the two most frequent, sorted)."""
        users = self.dataset["users"]
        counts = engine.to_pandas(users.group_by(column).aggregate(n=users.count()))
        counts = counts.dropna(subset=[column]).sort_values(["n", column], ascending=[False, True])
        return (sorted(str(v) for v in counts[column]),
                sorted(str(v) for v in counts[column].head(2)))

    def _fill_groups(self, controls: dict[str, widgets.Widget], column: str) -> None:
        """The column's values as group options, the two most frequent chosen."""
        values, pair = self._values(column)
        controls["groups"].options = values
        controls["groups"].value = tuple(pair)

    def _entry(self, column: str, groups: list[str]):
        return (column, tuple(groups)), lambda: compare.segments(self.dataset, segment=column,
                                                                  groups=list(groups))

    def _neighbours(self) -> list[Step]:
        """Each other column's default pair (its two most frequent values)."""
        now = self.controls["column"].value
        steps = []
        for column in self.controls["column"].options:
            if column == now:
                continue

            def run(column=column) -> None:
                pair = self._values(column)[1]
                if len(pair) == 2:
                    self._tables.get(*self._entry(column, pair))

            # ready once any pair of the column is in the memo (the default pair needs a query)
            steps.append(Step(lambda column=column: any(k[0] == column for k in self._tables), run))
        return steps[:self._tables.size - 1]

    def _before(self, name: str) -> None:
        if name == "column":
            self._fill_groups(self.controls, self.controls["column"].value)

    def _compute(self) -> dict[str, pd.DataFrame]:
        if self.dataset is None:
            raise ValueError(self.error or "no data")
        column = self.controls["column"].value
        options = list(self.controls["groups"].options)
        groups = [g for g in options if g in self.controls["groups"].value]
        metrics = [m for m in compare.METRICS if m in self.controls["metrics"].value]
        if column is None or len(groups) != 2:
            raise ValueError(f"{self._w('groups')}: {self._w('pick_two')}")
        if not metrics:
            raise ValueError(f"{self._w('metrics')}: {self._w('pick_one')}")
        key, compute = self._entry(column, groups)
        full = self._tables.get(key, compute)
        self._tables.pin = key
        present = [m for m in metrics if m in set(full["metric"])]
        table = full.set_index("metric").loc[present].reset_index()
        table.attrs = dict(full.attrs)
        self.arguments = {"segment": column, "groups": groups, "metrics": metrics}
        return {"table": table}

    def _draw(self) -> list[Any]:
        from IPython.display import Markdown

        currency = self.dataset.meta.get("currency", "CNY") if self.dataset is not None else "CNY"
        table = self.frames["table"]
        return [charts.segment_bars(table, lang=self.lang),
                Markdown(narrative.comparison_table(table, lang=self.lang, currency=currency))]

    def _summary(self) -> list[str]:
        a, b = self.arguments["groups"]
        return [f"{self.arguments['segment']}: {a} / {b}",
                f"{len(self.frames['table'])} {self._w('metrics_n')}"]


def segment_explorer(data: Any, /, *, lang: str = "en", **initial: Any) -> SegmentExplorer:
    """Segment explorer: two groups of a users column side by side on the headline metrics.

    Numbers are :func:`opskit.compare.segments` (every metric, computed once per
    column and pair of groups, kept for the last 32 pairs); choosing metrics
    only selects rows. Shows the table and one bar chart per metric.

    Parameters
    ----------
    data
        An :class:`opskit.Dataset` with ``users`` and ``events`` (``subscriptions``,
        ``spend``, ``tickets``, ``conversions`` add metrics), or a path.
    lang
        ``"en"`` or ``"zh"``.
    **initial
        Initial control values: ``column`` (a users column with 2 to 50
        values), ``groups`` (two of its values), ``metrics``
        (:data:`opskit.compare.METRICS` keys).

    Returns
    -------
    SegmentExplorer
        ``frames["table"]``: ``compare.segments(data, **ex.arguments)``.

    Examples
    --------
    >>> import opskit
    >>> from opskit.demo import generate_frames
    >>> from opskit.widgets import segment_explorer
    >>> ds = opskit.Dataset.from_frames(**generate_frames(users=300, seed=1))
    >>> ex = segment_explorer(ds, metrics=["new_users", "arpu"])
    >>> ex.frames["table"]["metric"].tolist(), ex.arguments["groups"]
    (['new_users', 'arpu'], ['b2b', 'b2c'])
    """
    return SegmentExplorer(data, lang=lang, initial=initial)

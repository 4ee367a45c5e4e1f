"""Charts the explorers need that no report uses: segments side by side."""

from __future__ import annotations

import altair as alt
import pandas as pd

from opskit.charts._base import _require, _with_title
from opskit.narrative import metric_name

__all__ = ["segment_bars"]

_WORDS = {"en": {"group": "Group", "value": "Value", "metric": "Metric"},
          "zh": {"group": "组", "value": "数值", "metric": "指标"}}


def segment_bars(table: pd.DataFrame, *, lang: str = "en", title: str | None = None) -> alt.FacetChart:
    """Two segments side by side: one small bar chart per metric, each on its own scale.

    Parameters
    ----------
    table
        The frame :func:`opskit.compare.segments` returns (``metric``, ``unit``,
        one column per group; the groups are ``table.attrs["groups"]``, else
        the two columns after ``unit``). Each metric is titled by its name in
        words (:func:`opskit.narrative.metric_name`); rates and shares are drawn
        in per cent.
    lang, title
        ``"en"``/``"zh"`` labels, and an optional title.

    Examples
    --------
    >>> table = pd.DataFrame({"metric": ["arpu"], "unit": ["money"], "b2b": [80.0],
    ...                       "b2c": [12.0]})
    >>> spec = segment_bars(table).to_dict()
    >>> spec["facet"]["field"], [layer["mark"]["type"] for layer in spec["spec"]["layer"]]
    ('name', ['bar', 'text'])
    """
    if lang not in _WORDS:
        raise ValueError(f"lang must be 'en' or 'zh', not {lang!r}")
    words = _WORDS[lang]
    _require(table, ["metric", "unit"], "table")
    groups = list(table.attrs.get("groups") or table.columns[2:4])
    long = table.melt(id_vars=["metric", "unit"], value_vars=groups, var_name="group",
                      value_name="value")
    long["group"] = long["group"].astype(str)
    # each facet titled by the metric's name in words; rates and shares drawn in per cent
    percent = long["unit"].isin(["rate", "share"])
    long["name"] = [metric_name(m, lang) + (" (%)" if p else "") for m, p in zip(long["metric"], percent,
                                                                                   strict=True)]
    long["value"] = long["value"].where(~percent, long["value"] * 100)
    order = list(dict.fromkeys(long["name"]))
    sort = [str(g) for g in groups]
    base = alt.Chart().encode(y=alt.Y("group:N", title=None, sort=sort))
    bars = base.mark_bar().encode(
        x=alt.X("value:Q", title=None),
        color=alt.Color("group:N", title=words["group"], sort=sort),
        tooltip=[alt.Tooltip("name:N", title=words["metric"]),
                 alt.Tooltip("group:N", title=words["group"]),
                 alt.Tooltip("value:Q", title=words["value"], format=",.4~g")])
    labels = base.mark_text(align="left", dx=3, fontSize=10, color="#3b4350").encode(
        x="value:Q", text=alt.Text("value:Q", format=",.3~r"))
    chart = alt.layer(bars, labels, data=long).properties(width=220, height=50).facet(
        facet=alt.Facet("name:N", title=None, sort=order), columns=3,
    ).resolve_scale(x="independent")
    return _with_title(chart, title)

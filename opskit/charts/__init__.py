"""Charts: pure Altair builders for opskit's tidy KPI frames, and the house theme.

Every function takes a tidy frame as an opskit KPI function returns it and
gives back an Altair chart: it displays nothing, reads no globals and does no
metric arithmetic (it only picks, labels and formats columns). Titles, axis
labels and tooltips are in English or Chinese (``lang="en"|"zh"``).

Importing the module registers and enables one Altair theme, ``"opskit"``: a
CJK-capable font stack (:data:`FONT`), a calm categorical palette
(:data:`PALETTE`) and light axes. ``alt.theme.enable("default")`` turns it off.

Text that comes from the data (channel names, segments, campaign names) is
only ever placed in the chart's data: Vega draws it as SVG text and the
tooltips show it as plain values, so it is never interpreted as HTML.
"""

from __future__ import annotations

from opskit.charts._attribution import (
    attribution_comparison,
    channel_economics,
    lookback_lines,
    path_lengths,
    removal_effect_bars,
    time_to_convert_bars,
)
from opskit.charts._base import ALERT_COLOR, FONT, PALETTE, theme
from opskit.charts._business import funnel_bars, mrr_bridge, mrr_movement_bars
from opskit.charts._explorer import segment_bars
from opskit.charts._retention import (
    churn_line,
    cohort_heatmap,
    nday_bars,
    new_vs_returning,
    retention_curves,
)
from opskit.charts._review import anomaly_lines

__all__ = [
    "ALERT_COLOR",
    "FONT",
    "PALETTE",
    "anomaly_lines",
    "attribution_comparison",
    "channel_economics",
    "churn_line",
    "cohort_heatmap",
    "funnel_bars",
    "lookback_lines",
    "mrr_bridge",
    "mrr_movement_bars",
    "nday_bars",
    "new_vs_returning",
    "path_lengths",
    "removal_effect_bars",
    "retention_curves",
    "segment_bars",
    "theme",
    "time_to_convert_bars",
]

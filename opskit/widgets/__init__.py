"""Explorers for JupyterLab: change a control, see the answer at once (ipywidgets).

Three explorers, each a thin object around KPI functions and charts:

- :func:`retention_explorer`: cohort heatmap, curves and headline retention;
- :func:`attribution_explorer`: attribution models side by side;
- :func:`segment_explorer`: two segments side by side on the headline metrics.

Each returns an object with ``.widget`` (the ``ipywidgets.VBox`` to show; the
object itself displays as it), ``.controls`` (by name), ``.frames`` (the
latest results, as the KPI functions return them), ``.status``, ``.error``,
``.seconds``, ``.refresh()`` and ``.prepare()``. Expensive aggregates are computed
once and cached, and in a Jupyter kernel the views most likely asked for next
are computed while the kernel is idle (:meth:`Explorer.prepare`);
docs/explorers.md says what each control change costs.

Importing :mod:`opskit` does not import ipywidgets; importing this package does.
"""

from __future__ import annotations

from opskit.widgets._base import Explorer
from opskit.widgets.attribution import AttributionExplorer, attribution_explorer
from opskit.widgets.retention import RetentionExplorer, retention_explorer
from opskit.widgets.segments import SegmentExplorer, segment_explorer

__all__ = ["AttributionExplorer", "Explorer", "RetentionExplorer", "SegmentExplorer",
           "attribution_explorer", "retention_explorer", "segment_explorer"]

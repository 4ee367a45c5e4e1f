"""opskit: operations analytics on Ibis, from exports to shared reports.

The public surface: :func:`load` and :func:`validate` turn exports into a
validated :class:`Dataset`; KPI families live in their modules
(:mod:`opskit.activity`, :mod:`opskit.retention`, :mod:`opskit.attribution`,
:mod:`opskit.channels`, :mod:`opskit.saas`, :mod:`opskit.consumer`,
:mod:`opskit.compare`, ...); :mod:`opskit.report`
renders the notebook templates to offline HTML; :mod:`opskit.demo` generates a
realistic dataset to try everything on. Charts (:mod:`opskit.charts`) and
sentences (:mod:`opskit.narrative`) are imported on demand.
"""

from importlib.metadata import PackageNotFoundError, version

from opskit import (
    activity,
    attribution,
    channels,
    compare,
    consumer,
    demo,
    engine,
    report,
    retention,
    saas,
    schema,
)
from opskit.dataset import Dataset
from opskit.errors import DataError, Finding, OpskitError
from opskit.io import Validation, load, validate

try:
    __version__ = version("opskit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "DataError",
    "Dataset",
    "Finding",
    "OpskitError",
    "Validation",
    "__version__",
    "activity",
    "attribution",
    "channels",
    "compare",
    "consumer",
    "demo",
    "engine",
    "load",
    "report",
    "retention",
    "saas",
    "schema",
    "validate",
]

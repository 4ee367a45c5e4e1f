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
    anomalies,
    attribution,
    channels,
    compare,
    consumer,
    demo,
    engine,
    experiments,
    funnels,
    goals,
    growth,
    lifecycle,
    ltv,
    report,
    retention,
    review,
    saas,
    schema,
    segments,
    service,
)
from opskit.dataset import Dataset
from opskit.diagnose import diagnose
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
    "anomalies",
    "attribution",
    "channels",
    "compare",
    "consumer",
    "demo",
    "diagnose",
    "engine",
    "experiments",
    "funnels",
    "goals",
    "growth",
    "lifecycle",
    "load",
    "ltv",
    "report",
    "retention",
    "review",
    "saas",
    "schema",
    "segments",
    "service",
    "validate",
]

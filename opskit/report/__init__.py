"""Reports: parameterised notebook templates rendered to offline HTML.

A report travels through one module per stage, as in papermill:

=================  ================================================================
``templates``      find a template by name or path, read its parameters
``params``         declared types, and conversion of given values
``execute``        papermill on a kernel of the current interpreter
``export``         nbconvert to one self-contained, offline HTML page
``sanitize``       escaping of every HTML sink
``publish``        atomic writes; the failed notebook kept beside the output
``run``            the whole path: :func:`run`
``display``        what templates call: :func:`publish_meta`, :func:`markdown`
``schedule``       read and check a batch schedule: :func:`read_schedule`
``batch``          many reports per run, a process per job: :func:`run_batch`
``index``          the batch output's ``index.html``
=================  ================================================================

Examples
--------
>>> import opskit.report
>>> [t.name for t in opskit.report.list_templates()]  # doctest: +SKIP
['retention']
>>> opskit.report.run("retention", {"data": "demo-data", "lang": "zh"}, "reports").html  # doctest: +SKIP
PosixPath('reports/retention.html')
>>> opskit.report.run_batch("examples/schedule.toml", "reports", jobs=2).exit_code  # doctest: +SKIP
0
"""

from opskit.report.batch import DEFAULT_JOB_TIMEOUT, BatchResult, JobResult, run_batch
from opskit.report.display import META_MIMETYPE, escape_markdown, markdown, publish_meta
from opskit.report.errors import ExecutionError, ParameterError, ReportError, TemplateError
from opskit.report.params import ParamType
from opskit.report.run import DEFAULT_TIMEOUT, Report, run
from opskit.report.schedule import Job, Schedule, ScheduleError, read_schedule
from opskit.report.templates import Parameter, Template, find_template, list_templates, template_dirs

__all__ = [
    "DEFAULT_JOB_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "META_MIMETYPE",
    "BatchResult",
    "ExecutionError",
    "Job",
    "JobResult",
    "ParamType",
    "Parameter",
    "ParameterError",
    "Report",
    "ReportError",
    "Schedule",
    "ScheduleError",
    "Template",
    "TemplateError",
    "escape_markdown",
    "find_template",
    "list_templates",
    "markdown",
    "publish_meta",
    "read_schedule",
    "run",
    "run_batch",
    "template_dirs",
]

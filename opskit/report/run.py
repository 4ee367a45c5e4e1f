"""Run a template end to end: find, check parameters, execute, export, publish."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from opskit.report import publish
from opskit.report.errors import ExecutionError, ReportError
from opskit.report.templates import Template, find_template

__all__ = ["DEFAULT_TIMEOUT", "Report", "run"]

DEFAULT_TIMEOUT = 600.0
"""Default per-cell execution limit, in seconds."""

Format = Literal["html", "ipynb", "both"]


@dataclass(frozen=True)
class Report:
    """What a run wrote.

    Attributes
    ----------
    template
        Template name.
    html
        The HTML report, when one was written.
    notebook
        The executed notebook, when one was written (``format`` "ipynb" or "both").
    params
        Every parameter's value for the run (defaults overlaid with the given values).
    seconds
        Wall time of the run.
    """

    template: str
    html: Path | None
    notebook: Path | None
    params: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def paths(self) -> tuple[Path, ...]:
        """The files written, HTML first."""
        return tuple(p for p in (self.html, self.notebook) if p is not None)


def _interactive() -> bool:
    return all(getattr(s, "isatty", lambda: False)() for s in (sys.stdout, sys.stderr))


def run(template: str | Path | Template, params: Mapping[str, Any] | None = None,
        out: str | os.PathLike[str] = "reports", *, format: Format = "html",
        timeout: float | None = DEFAULT_TIMEOUT, progress: bool | None = None,
        log_output: bool = False) -> Report:
    """Render a template into ``out``.

    Parameters
    ----------
    template
        Template name (``"retention"``), path to an ``.ipynb``, or a :class:`Template`.
    params
        Parameter values; strings are converted by the declared types, as on
        the command line. Unknown names and values that do not convert are
        refused before anything runs.
    out
        Output folder (created when missing).
    format
        ``"html"`` writes ``OUT/<template>.html``; ``"ipynb"`` the executed
        ``OUT/<template>.ipynb``; ``"both"`` both.
    timeout
        Per-cell execution limit in seconds; ``None`` for none.
    progress
        Progress bar over cells; by default only when stdout and stderr are terminals.
    log_output
        Log every cell's output (the CLI's ``--verbose``).

    Returns
    -------
    Report
        The paths written (``.html``, ``.notebook``, ``.paths``) and the parameters used.

    Raises
    ------
    TemplateError
        No such template, or its parameters cell cannot be read.
    ParameterError
        Unknown parameter names or values of the wrong type (nothing ran).
    ExecutionError
        A cell failed, timed out or the kernel died. The previous report is
        untouched and the executed notebook is kept as ``OUT/<template>.failed.ipynb``.
    """
    from opskit.report.execute import execute

    if format not in ("html", "ipynb", "both"):
        raise ReportError(f"format must be 'html', 'ipynb' or 'both', not {format!r}")
    if timeout is not None and timeout <= 0:
        timeout = None
    started = time.perf_counter()
    tmpl = template if isinstance(template, Template) else find_template(template)
    values = tmpl.convert(dict(params or {}))
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    targets = publish.output_paths(folder, tmpl.name)
    scratch = publish.scratch_path(folder, tmpl.name)
    try:
        try:
            execute(tmpl, values, scratch, timeout=timeout,
                    progress=_interactive() if progress is None else progress, log_output=log_output)
        except ExecutionError as exc:
            raise exc.with_notebook(publish.keep_failed(scratch, folder, tmpl.name)) from None
        except BaseException:  # interrupted, or papermill itself failed: keep what ran
            publish.keep_failed(scratch, folder, tmpl.name)
            raise
        import nbformat

        nb = nbformat.read(scratch, as_version=4)
        nb.metadata.setdefault("papermill", {})["output_path"] = str(targets["ipynb"])
        effective = tmpl.effective(values)
        html = notebook = None
        try:
            if format in ("html", "both"):
                from opskit.report.export import export_html

                page = export_html(nb, template=tmpl.name, params=effective, resources_path=tmpl.path.parent)
                html = publish.write_atomic(targets["html"], page)
            if format in ("ipynb", "both"):
                notebook = publish.write_atomic(targets["ipynb"], nbformat.writes(nb) + "\n")
        except BaseException:
            publish.keep_failed(scratch, folder, tmpl.name)
            raise
        with contextlib.suppress(OSError):
            targets["failed"].unlink(missing_ok=True)  # a stale failure no longer describes the report
        return Report(tmpl.name, html, notebook, effective, time.perf_counter() - started)
    finally:
        with contextlib.suppress(OSError):
            scratch.unlink(missing_ok=True)

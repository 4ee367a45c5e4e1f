"""Exceptions raised by the report pipeline.

They live here rather than in :mod:`opskit.errors` so the pipeline is one
package; all of them derive from :class:`opskit.errors.OpskitError`, so
``except opskit.OpskitError`` still catches every error opskit raises on purpose.
"""

from __future__ import annotations

from pathlib import Path

from opskit.errors import OpskitError

__all__ = ["ExecutionError", "ParameterError", "ReportError", "TemplateError"]


class ReportError(OpskitError):
    """Root of the errors of the report pipeline."""


class TemplateError(ReportError, ValueError):
    """A template that cannot be found, or whose parameters cell cannot be read."""


class ParameterError(ReportError, ValueError):
    """Parameters refused before execution: unknown names or values of the wrong type.

    Attributes
    ----------
    template
        Template name.
    problems
        One sentence per refused parameter.
    """

    def __init__(self, template: str, problems: list[str]):
        self.template = template
        self.problems = list(problems)
        if len(self.problems) == 1:
            message = f"report {template!r}: {self.problems[0]}"
        else:
            listed = "\n".join(f"  {i}. {p}" for i, p in enumerate(self.problems, 1))
            message = f"report {template!r}: {len(self.problems)} problems with the parameters:\n{listed}"
        super().__init__(message)


class ExecutionError(ReportError, RuntimeError):
    """A template cell failed, timed out or lost its kernel.

    The message is one line: template, cell, exception name and value, and
    where the executed notebook with the traceback was kept.

    Attributes
    ----------
    template
        Template name.
    cell_index
        0-based index of the failing cell in the executed notebook (which has
        papermill's ``injected-parameters`` cell), ``None`` when unknown.
    execution_count
        The ``In [n]`` number of the failing cell, ``None`` when unknown.
    ename, evalue
        Exception name and value raised in the kernel.
    notebook
        The kept ``<template>.failed.ipynb``, ``None`` when none was written.
    """

    def __init__(self, template: str, *, cell_index: int | None, execution_count: int | None,
                 ename: str, evalue: str, notebook: Path | None = None):
        self.template = template
        self.cell_index = cell_index
        self.execution_count = execution_count
        self.ename = ename
        self.evalue = evalue
        self.notebook = notebook
        super().__init__(self._message())

    def _message(self) -> str:
        where = "at an unknown cell" if self.cell_index is None else f"at cell {self.cell_index}"
        if self.execution_count is not None:
            where += f" (In [{self.execution_count}])"
        value = " ".join(str(self.evalue).split())  # one line, whatever the kernel said
        if len(value) > 300:
            value = value[:297] + "..."
        text = f"report {self.template!r} failed {where}: {self.ename}" + (f": {value}" if value else "")
        if self.notebook is not None:
            text += f"; executed notebook kept at {self.notebook}"
        return text

    def with_notebook(self, notebook: Path | None) -> ExecutionError:
        """Return a copy that names the kept notebook."""
        return ExecutionError(self.template, cell_index=self.cell_index,
                              execution_count=self.execution_count, ename=self.ename,
                              evalue=self.evalue, notebook=notebook)

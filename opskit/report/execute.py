"""Execute a template with papermill, on a kernel of the current interpreter.

The kernel is not looked up among the kernelspecs a machine has installed
(a user-level ``python3`` kernel may belong to another Python). The kernel
manager :class:`InterpreterKernelManager` always starts
``sys.executable -m ipykernel_launcher``: the environment opskit is installed
in. No kernelspec is written anywhere and no environment variable is changed.

At start-up the kernel runs :func:`opskit.report.display.setup_kernel`, which
switches Altair to its ``mimetype`` renderer (charts arrive as Vega-Lite
JSON, which the exporter inlines) and makes pandas' ``Styler`` escape HTML.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager

from opskit.report.errors import ExecutionError
from opskit.report.templates import Template

__all__ = ["InterpreterKernelManager", "execute", "interpreter_kernel_spec"]

KERNEL_SETUP = "__import__('opskit.report.display', fromlist=['setup_kernel']).setup_kernel()"


def interpreter_kernel_spec(log_level: str = "CRITICAL") -> KernelSpec:
    """The kernelspec of an IPython kernel on ``sys.executable`` with opskit's set-up line.

    Parameters
    ----------
    log_level
        The kernel process's own log level. Cell output and errors travel
        through messages whatever it is; its log is start-up chatter, and
        shutdown noise after a timeout.
    """
    import zmq

    metadata: dict[str, Any] = {}
    if zmq.has("curve"):  # the manager provisions CurveZMQ keys; no plain-text TCP
        metadata["supported_encryption"] = ["curve"]
    return KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
              f"--IPKernelApp.exec_lines={KERNEL_SETUP}", f"--IPKernelApp.log_level={log_level}"],
        display_name=f"Python {sys.version_info.major}.{sys.version_info.minor} (opskit: {sys.executable})",
        language="python",
        metadata=metadata,
    )


class InterpreterKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel always runs on the current interpreter.

    nbclient creates it with the notebook's kernel name; the name is kept
    (papermill reads it to pick the Python translator) but never looked up.
    """

    kernel_log_level = "CRITICAL"

    @property
    def kernel_spec(self) -> KernelSpec:
        if self._kernel_spec is None:
            self._kernel_spec = interpreter_kernel_spec(self.kernel_log_level)
            if self._kernel_spec.metadata.get("supported_encryption"):
                self.transport_encryption = "auto"
        return self._kernel_spec


class _VerboseKernelManager(InterpreterKernelManager):
    kernel_log_level = "WARN"


def _last_started_cell(path: Path) -> tuple[int | None, int | None]:
    """Index and execution count of the last cell papermill started, from the saved notebook."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # the notebook may not have been written at all
        return None, None
    started = [i for i, cell in enumerate(nb.cells)
               if cell.get("metadata", {}).get("papermill", {}).get("start_time")]
    if not started:
        return None, None
    index = started[-1]
    return index, nb.cells[index].get("execution_count")


def _note_failure(path: Path, index: int | None, ename: str, evalue: str) -> None:
    """Record an error the kernel did not report (timeout, dead kernel) in the saved notebook."""
    import nbformat

    if index is None or not path.exists():
        return
    nb = nbformat.read(path, as_version=4)
    cell = nb.cells[index]
    cell.setdefault("outputs", []).append(nbformat.v4.new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]))
    cell.metadata.setdefault("papermill", {})["exception"] = True
    nb.metadata.setdefault("papermill", {})["exception"] = True
    nbformat.write(nb, path)


def execute(template: Template, parameters: Mapping[str, Any], output: Path, *,
            timeout: float | None = None, progress: bool = False, log_output: bool = False,
            start_timeout: float = 60) -> None:
    """Run ``template`` with ``parameters`` and save the executed notebook at ``output``.

    The notebook is saved whatever happens, with the traceback of a failing
    cell in it.

    Parameters
    ----------
    template
        The template to run.
    parameters
        Converted values to inject (see :meth:`Template.convert`).
    output
        Where papermill writes the executed notebook.
    timeout
        Per-cell execution limit in seconds; ``None`` for none.
    progress
        Show papermill's progress bar over cells (on stderr).
    log_output
        Log each cell's output through the ``papermill`` logger.
    start_timeout
        Seconds to wait for the kernel to start.

    Raises
    ------
    ExecutionError
        When a cell raises, times out or the kernel dies; ``notebook`` is not
        set (the caller decides where the notebook is kept).
    """
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    # papermill's logger also carries nbclient's messages; our own error says what failed.
    logging.getLogger("papermill").setLevel(logging.INFO if log_output else logging.CRITICAL)
    try:
        papermill.execute_notebook(
            str(template.path), str(output), parameters=dict(parameters),
            kernel_name="python3", language="python",
            progress_bar={"desc": template.name, "leave": False} if progress else False,
            log_output=log_output, execution_timeout=timeout, start_timeout=start_timeout,
            kernel_manager_class=_VerboseKernelManager if log_output else InterpreterKernelManager,
        )
    except PapermillExecutionError as exc:
        raise ExecutionError(template.name, cell_index=exc.cell_index, execution_count=exc.exec_count,
                             ename=exc.ename, evalue=exc.evalue) from None
    except CellTimeoutError:
        index, count = _last_started_cell(output)
        value = f"the cell did not finish within {timeout:g} s (raise the per-cell timeout with --timeout)"
        _note_failure(output, index, "CellTimeoutError", value)
        raise ExecutionError(template.name, cell_index=index, execution_count=count,
                             ename="CellTimeoutError", evalue=value) from None
    except DeadKernelError as exc:
        index, count = _last_started_cell(output)
        value = f"the kernel died ({' '.join(str(exc).split())}); out of memory?"
        _note_failure(output, index, "DeadKernelError", value)
        raise ExecutionError(template.name, cell_index=index, execution_count=count,
                             ename="DeadKernelError", evalue=value) from None
    except (RuntimeError, TimeoutError) as exc:  # nbclient's words for "the kernel did not start"
        index, count = _last_started_cell(output)
        if index is not None:
            raise
        value = " ".join(str(exc).split()) or type(exc).__name__
        raise ExecutionError(template.name, cell_index=None, execution_count=None, ename="KernelStartError",
                             evalue=f"{value} (kernel: {sys.executable} -m ipykernel_launcher)") from None

"""One batch job, in its own process: ``python -m opskit.report._job SPEC.json``.

:mod:`opskit.report.batch` starts this module in a new session (its own
process group) with the job's working directory as the current directory,
so a wall-clock timeout can kill the job, kernel included, and a job cannot
disturb its peers. ``SPEC.json`` holds ``template`` (the notebook path) and
``params`` (converted values). The report is rendered with
:func:`opskit.report.run` into the working directory (``format="both"``:
the executed notebook is read for the report's data range), and the outcome is
written to ``result.json`` beside the spec::

    {"status": "ok" | "failed", "ename": ..., "error": "one line"}

The parent moves the files into the run folder. Exit code 0 when the report
rendered, 1 when it failed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _write(path: Path, result: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result), encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str]) -> int:
    spec_path = Path(argv[0]).resolve()
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    result_path = spec_path.with_name("result.json")
    from opskit.report.errors import ExecutionError, ReportError
    from opskit.report.run import run

    try:
        run(spec["template"], spec["params"], spec_path.parent, format="both", timeout=None, progress=False)
    except ExecutionError as exc:
        _write(result_path, {"status": "failed", "ename": exc.ename, "error": str(exc.with_notebook(None))})
        return 1
    except ReportError as exc:
        message = " ".join(str(exc).split())
        _write(result_path, {"status": "failed", "ename": type(exc).__name__, "error": message})
        return 1
    except Exception as exc:
        message = " ".join(f"{type(exc).__name__}: {exc}".split())
        _write(result_path, {"status": "failed", "ename": type(exc).__name__, "error": message})
        raise
    _write(result_path, {"status": "ok", "ename": None, "error": None})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

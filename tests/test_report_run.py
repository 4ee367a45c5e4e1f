"""Running templates: the kernel, failures, timeouts, interruptions and atomic publishing.

The tests of this module share one output folder and run in order: a good report, a failing
run, a timed-out run, then a good run again (tests/templates/failing.ipynb, parameter `mode`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest

from opskit.cli import main
from opskit.errors import OpskitError
from opskit.report import ExecutionError, ReportError, publish, run
from opskit.report import execute as execute_module

FAILING = Path(__file__).parent / "templates" / "failing.ipynb"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def good(out) -> bytes:
    """A first, good report; returns its bytes."""
    report = run(FAILING, {"mode": "ok"}, out, format="both")
    assert report.paths == (out / "failing.html", out / "failing.ipynb")
    return report.html.read_bytes()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_kernel_runs_on_this_interpreter(out, good):
    nb = nbformat.read(out / "failing.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert f"first cell ran on {sys.executable}\n" in printed
    assert "second cell ran" in printed and "done" in printed


def test_kernel_spec_is_the_current_interpreter():
    spec = execute_module.interpreter_kernel_spec()
    assert spec.argv[:3] == [sys.executable, "-m", "ipykernel_launcher"]
    assert any("setup_kernel" in arg for arg in spec.argv) and spec.language == "python"


def test_a_failing_cell_keeps_the_previous_report(out, good, capfd):
    code = main(["report", "run", str(FAILING), "--out", str(out), "-p", "mode", "raise", "--quiet"])
    assert code == 1
    captured = capfd.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err  # one line, nothing from papermill or the kernel
    assert lines[0] == ("opskit: error: report 'failing' failed at cell 4 (In [4]): ValueError: "
                        "boom <b>at</b> second line; "
                        f"executed notebook kept at {out / 'failing.failed.ipynb'}")
    assert (out / "failing.html").read_bytes() == good
    failed = nbformat.read(out / "failing.failed.ipynb", as_version=4)
    errors = [o for c in failed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert [(e.ename, e.evalue) for e in errors] == [("ValueError", "boom <b>at</b>\nsecond line")]
    assert any("Traceback" in line or "ValueError" in line for line in errors[0].traceback)
    assert _leftovers(out) == []


def test_the_error_carries_template_cell_and_cause(out, good):
    with pytest.raises(ExecutionError) as caught:
        run(FAILING, {"mode": "raise"}, out)
    error = caught.value
    assert isinstance(error, ReportError) and isinstance(error, OpskitError)
    assert isinstance(error, RuntimeError)
    where = (error.template, error.cell_index, error.execution_count, error.ename)
    assert where == ("failing", 4, 4, "ValueError")
    assert error.notebook == out / "failing.failed.ipynb"
    assert (out / "failing.html").read_bytes() == good


def test_a_cell_over_the_timeout_fails_the_run(out, good):
    with pytest.raises(ExecutionError) as caught:
        run(FAILING, {"mode": "sleep"}, out, timeout=2)
    error = caught.value
    assert (error.cell_index, error.ename) == (4, "CellTimeoutError")
    assert "did not finish within 2 s" in str(error) and "\n" not in str(error)
    assert (out / "failing.html").read_bytes() == good
    failed = nbformat.read(out / "failing.failed.ipynb", as_version=4)
    assert any(o.get("ename") == "CellTimeoutError" for o in failed.cells[4].outputs)
    assert _leftovers(out) == []


def test_an_interrupted_run_keeps_the_previous_report(out, good, monkeypatch):
    def interrupted(template, parameters, output, **kwargs):
        output.write_text('{"cells": []}', encoding="utf-8")  # what had been saved so far
        raise KeyboardInterrupt

    monkeypatch.setattr(execute_module, "execute", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(FAILING, {"mode": "ok"}, out)
    assert (out / "failing.html").read_bytes() == good
    assert (out / "failing.failed.ipynb").read_text(encoding="utf-8") == '{"cells": []}'
    assert _leftovers(out) == []


def test_the_cli_reports_an_interruption(out, good, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(execute_module, "execute", interrupted)
    assert main(["report", "run", str(FAILING), "--out", str(out)]) == 130
    assert "interrupted; the previous report, if any, is unchanged" in capsys.readouterr().err
    assert (out / "failing.html").read_bytes() == good


def test_a_good_run_replaces_the_report_and_clears_the_failure(out, good, capsys):
    assert (out / "failing.failed.ipynb").exists()
    assert main(["report", "run", str(FAILING), "--out", str(out), "--format", "ipynb", "--quiet"]) == 0
    assert capsys.readouterr().out == f"{out / 'failing.ipynb'}\n"
    assert (out / "failing.html").read_bytes() == good  # format=ipynb leaves the HTML alone
    assert not (out / "failing.failed.ipynb").exists()
    assert _leftovers(out) == []


def test_write_atomic_never_leaves_a_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "r.html"
    publish.write_atomic(target, "old")
    assert target.read_text() == "old" and oct(target.stat().st_mode & 0o777) == "0o644"

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        publish.write_atomic(target, "new" * 1000)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_the_report_error_root_catches_everything():
    assert issubclass(ExecutionError, ReportError) and issubclass(ReportError, OpskitError)

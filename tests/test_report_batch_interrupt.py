"""A batch stopped from outside (Airflow's execution_timeout sends SIGTERM, Ctrl-C sends SIGINT).

The run must still say what happened: exit status 130, status.json "interrupted" with the
running report killed and the queued one skipped, an index that lists the run, and no job
process or kernel left running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opskit.report.batch import run_ids

BATCH = Path(__file__).parent / "templates" / "batch.ipynb"
SCHEDULE = f"""
[[reports]]
name = "sleeper"
template = "{BATCH}"
params = {{ mode = "sleep" }}
[[reports]]
name = "queued"
template = "{BATCH}"
"""


def _processes_in(folder: Path) -> list[str]:
    left = []
    for proc in Path("/proc").iterdir():
        try:
            if os.readlink(proc / "cwd").startswith(str(folder)):
                left.append(proc.name)
        except OSError:
            continue
    return left


def _wait_for(condition, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the batch")
        time.sleep(0.2)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_batch_says_so_and_leaves_nothing_running(tmp_path, sig):
    (tmp_path / "s.toml").write_text(SCHEDULE, encoding="utf-8")
    out = tmp_path / "out"
    batch = subprocess.Popen([sys.executable, "-m", "opskit.cli", "report", "batch", str(tmp_path / "s.toml"),
                              "--out", str(out), "--jobs", "1", "--quiet"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: run_ids(out))
        status_path = out / run_ids(out)[0] / "status.json"

        def sleeping() -> bool:  # the first report's kernel has reached its 600 s cell
            try:
                job = json.loads(status_path.read_text(encoding="utf-8"))["jobs"][0]
            except (OSError, ValueError):
                return False
            return job["status"] == "running" and len(_processes_in(out)) >= 2

        _wait_for(sleeping)
        time.sleep(2)
        batch.send_signal(sig)
        _, err = batch.communicate(timeout=60)
    finally:
        if batch.poll() is None:
            batch.kill()
    assert batch.returncode == 130, err
    status = json.loads(status_path.read_text(encoding="utf-8"))
    assert status["state"] == "interrupted" and status["finished"]
    jobs = {j["name"]: j for j in status["jobs"]}
    assert jobs["sleeper"]["status"] == "failed"
    assert jobs["sleeper"]["error"] == "interrupted: the batch was stopped while the job ran"
    assert jobs["queued"]["status"] == "skipped"
    assert jobs["queued"]["error"] == "not started: the batch was interrupted"
    assert "interrupted" in err  # the one line on stderr
    assert status["failed"] == 2 and status["ok"] == 0
    assert "interrupted" in (out / "index.html").read_text(encoding="utf-8").lower()
    assert not (out / "latest" / "sleeper.html").exists()
    _wait_for(lambda: not _processes_in(out), seconds=10)  # job and kernel are gone

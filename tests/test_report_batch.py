"""Batch runs: one failure among peers, a timeout, the retry on a kernel start failure, keep N, the hook.

The module shares one output folder. A first run renders `beta`; the second run (the one under
test) has `beta` failing, `gamma` sleeping past its 25 s limit, `delta` whose kernel fails to start
once (tests/templates/kernel_hook/sitecustomize.py) and renders on the retry. Before the second run
two fake old runs are planted: one finished (pruned by keep=3) and one still in progress (its
`.running` lock held by this test: never pruned).
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import sys
from pathlib import Path

import pytest

from opskit.report.batch import new_run_id, prune, run_batch, run_ids

TEMPLATES = Path(__file__).parent / "templates"
BATCH = TEMPLATES / "batch.ipynb"
FIRST = f"""
[defaults]
title = "first run"
[[reports]]
name = "beta"
template = "{BATCH}"
"""
SECOND = f"""
[defaults]
title = "second run"
[[reports]]
name = "beta"
template = "{BATCH}"
params = {{ mode = "raise" }}
[[reports]]
name = "gamma"
template = "{BATCH}"
params = {{ mode = "sleep" }}
timeout = 25
[[reports]]
name = "delta"
template = "{BATCH}"
"""
HOOK = ("import json, os, sys; from pathlib import Path; "
        "Path(os.environ['HOOK_LOG']).write_text(json.dumps([sys.argv[-1], os.environ['OPSKIT_STATUS']]))")


def fake_run(out: Path, run_id: str) -> Path:
    folder = out / run_id
    folder.mkdir(parents=True)
    (folder / "status.json").write_text(json.dumps({"run_id": run_id, "state": "finished", "jobs": []}))
    return folder


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """(out, first result, second result, hook log path, id of the in-progress fake run)."""
    root = tmp_path_factory.mktemp("batch")
    out = root / "out"
    (root / "first.toml").write_text(FIRST, encoding="utf-8")
    (root / "second.toml").write_text(SECOND, encoding="utf-8")
    first = run_batch(root / "first.toml", out, jobs=1)
    fake_run(out, "20200101T000000Z-0000")
    running = fake_run(out, "20200101T000001Z-0000")
    hook_log = root / "hook.json"
    paths = (str(TEMPLATES / "kernel_hook"), os.environ.get("PYTHONPATH"))
    env = {"PYTHONPATH": os.pathsep.join(p for p in paths if p),
           "OPSKIT_TEST_KERNEL_FAIL_ONCE": str(root / "kernel-failed-once"),
           "OPSKIT_TEST_KERNEL_FAIL_JOB": "delta", "HOOK_LOG": str(hook_log)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    with open(running / ".running", "wb") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # a run in progress, as run_batch holds it
        try:
            second = run_batch(root / "second.toml", out, jobs=3, keep=3,
                               on_failure=shlex.join([sys.executable, "-c", HOOK]))
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return out, first, second, hook_log, running.name


def jobs_by_name(result) -> dict:
    status = json.loads(result.status_path.read_text(encoding="utf-8"))
    return {j["name"]: j for j in status["jobs"]}


def test_the_failure_does_not_stop_its_peers(batch):
    out, first, second, _, _ = batch
    assert first.exit_code == 0 and second.exit_code == 1
    statuses = [(j.name, j.status) for j in second.jobs]
    assert statuses == [("beta", "failed"), ("gamma", "timeout"), ("delta", "ok")]
    assert (second.folder / "delta.html").is_file()
    assert (out / "latest" / "delta.html").read_bytes() == (second.folder / "delta.html").read_bytes()


def test_status_json_says_what_failed(batch):
    out, _, second, _, _ = batch
    status = json.loads(second.status_path.read_text(encoding="utf-8"))
    assert status["run_id"] == second.run_id and status["state"] == "finished"
    assert (status["ok"], status["failed"]) == (1, 2)
    assert status["schedule"].endswith("second.toml") and status["host"] and status["opskit_version"]
    assert status["started"].endswith("Z") and status["finished"] >= status["started"]
    beta = jobs_by_name(second)["beta"]
    assert beta["error"] == "report 'batch' failed at cell 4 (In [4]): ValueError: planted failure"
    assert beta["failed_notebook"] == f"{second.run_id}/beta.failed.ipynb"
    assert (out / beta["failed_notebook"]).is_file() and beta["html"] is None
    assert beta["params"]["title"] == "second run" and beta["params"]["mode"] == "raise"
    assert beta["given"] == ["title", "mode"]  # the schedule's; the rest are template defaults
    assert beta["data_range"] == {"first": "2025-01-01", "last": "2025-03-31"}  # published before the failure
    assert jobs_by_name(second)["delta"]["html"] == f"{second.run_id}/delta.html"


def test_the_previous_latest_of_the_failed_report_is_intact(batch):
    out, first, _, _, _ = batch
    assert (out / "latest" / "beta.html").read_bytes() == (first.folder / "beta.html").read_bytes()
    assert "first run" in (out / "latest" / "beta.html").read_text(encoding="utf-8")
    manifest = json.loads((out / "latest" / "manifest.json").read_text(encoding="utf-8"))["reports"]
    assert manifest["beta"]["run_id"] == first.run_id
    assert manifest["delta"]["run_id"] == batch[2].run_id


def test_index_says_what_failed(batch):
    out, first, second, _, _ = batch
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'class="badge s-failed">Failed<' in page and 'class="badge s-timeout">Timed out<' in page
    assert f'href="{second.run_id}/beta.failed.ipynb"' in page
    assert 'href="latest/beta.html"' in page and 'href="latest/delta.html"' in page
    assert "ValueError: planted failure" in page and first.run_id in page and second.run_id in page
    # the parameters the schedule set are listed; the template's defaults are folded away
    beta_row = page.split("<td><b>beta</b></td>")[1].split("</tr>")[0]
    shown, folded = beta_row.split("<details>")
    assert "<b>mode</b> = raise" in shown and "<b>title</b> = second run" in shown
    assert "<b>delay</b>" in folded and "<b>delay</b>" not in shown
    assert "<script" not in page


def test_a_timeout_kills_the_job_and_its_kernel(batch):
    out, _, second, _, _ = batch
    gamma = jobs_by_name(second)["gamma"]
    assert gamma["attempts"] == 1 and 25 <= gamma["seconds"] < 45
    assert "did not finish within 25 s and was killed" in gamma["error"]
    left = []
    for proc in Path("/proc").iterdir():
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if cwd.startswith(str(out)):
            left.append((proc.name, cwd))
    assert left == []  # no job process or kernel still runs in a job's working directory
    # the kernel was running the sleeping cell when the job was killed: what papermill had saved is kept
    kept = (out / gamma["failed_notebook"]).read_text(encoding="utf-8")
    assert "JobTimeout" in kept and "time.sleep(600)" in kept


def test_retry_on_kernel_start_failure_only(batch):
    _, _, second, _, _ = batch
    jobs = jobs_by_name(second)
    assert jobs["delta"]["attempts"] == 2 and jobs["delta"]["status"] == "ok"
    assert jobs["beta"]["attempts"] == 1 and jobs["gamma"]["attempts"] == 1


def test_keep_prunes_the_oldest_runs_but_never_one_in_progress(batch):
    out, first, second, _, running = batch
    assert run_ids(out) == [running, first.run_id, second.run_id]  # 20200101T000000Z-0000 pruned
    assert not any(p.name.startswith((".pruning", ".work")) for p in out.rglob("*"))
    assert not (second.folder / ".running").exists()


def test_the_hook_receives_the_status_path(batch):
    _, _, second, hook_log, _ = batch
    assert json.loads(hook_log.read_text()) == [str(second.status_path)] * 2
    status = json.loads(second.status_path.read_text(encoding="utf-8"))
    assert status["hook"]["exit_code"] == 0 and status["hook"]["error"] is None


def test_prune_skips_locked_runs(tmp_path):
    for i in range(4):
        fake_run(tmp_path, f"20250101T00000{i}Z-0000")
    with open(tmp_path / "20250101T000000Z-0000" / ".running", "wb") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        assert prune(tmp_path, 2) == ["20250101T000001Z-0000"]
    assert prune(tmp_path, 2) == ["20250101T000000Z-0000"]  # its process ended: the lock is gone
    assert run_ids(tmp_path) == ["20250101T000002Z-0000", "20250101T000003Z-0000"]


def test_run_ids_only_grow():
    ids: list[str] = []
    for _ in range(5):
        ids.append(new_run_id(ids))
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert new_run_id(["29991231T235959Z-00ff"]) == "29991231T235959Z-0100"  # a clock behind the newest run


def test_bad_options_are_refused(tmp_path):
    for kwargs, match in [({"jobs": 0}, "jobs must be"), ({"keep": 0}, "keep must be"),
                          ({"timeout": -1}, "timeout must be")]:
        with pytest.raises(ValueError, match=match):
            run_batch(tmp_path / "none.toml", tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_real_template_in_a_batch_of_two(tmp_path):
    """retention on `opskit demo --users 2000`, weekly in English and monthly in Chinese."""
    from opskit.cli import main

    assert main(["demo", "--out", str(tmp_path / "demo-data"), "--users", "2000", "--seed", "7"]) == 0
    (tmp_path / "schedule.toml").write_text(
        '[defaults]\ndata = "demo-data"\n[[reports]]\nname = "weekly"\ntemplate = "retention"\n'
        '[[reports]]\nname = "monthly-zh"\ntemplate = "retention"\n'
        'params = { period = "month", lang = "zh" }\n',
        encoding="utf-8")
    result = run_batch(tmp_path / "schedule.toml", tmp_path / "out", jobs=2)
    outcomes = [(j.name, j.status, j.error) for j in result.jobs]
    assert outcomes == [("weekly", "ok", None), ("monthly-zh", "ok", None)]
    assert all(j.data_range and j.data_range["first"].startswith("2025-") for j in result.jobs)
    monthly = (tmp_path / "out" / "latest" / "monthly-zh.html").read_text(encoding="utf-8")
    assert '<html lang="zh-Hans"' in monthly

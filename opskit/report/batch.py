"""Run a schedule of reports: a bounded pool of job processes, a per-run folder, an index.

Layout of the output folder ``OUT``::

    OUT/index.html                  every report: latest attempt, last success, run history
    OUT/<run id>/status.json        machine-readable outcome of one run (written as it goes)
    OUT/<run id>/<name>.html        the reports that rendered in that run
    OUT/<run id>/<name>.failed.ipynb   the executed notebook of a report that failed
    OUT/latest/<name>.html          the newest successful version of each report
    OUT/latest/manifest.json        which run each file of latest/ comes from

A run:

1. the schedule is read and checked as a whole (:func:`read_schedule`);
   nothing is written when it is refused;
2. under the output folder's lock (``OUT/.lock``, ``fcntl.flock``) a run id is
   allocated, sortable and larger than every run id already there
   (``20261123T014500Z-3f9a``: UTC start, then 4 hex digits), and the run
   folder is created; the run holds ``OUT/<run id>/.running`` locked until
   it ends, which is how other runs know it is in progress;
3. jobs run in a pool of at most ``jobs`` processes
   (``python -m opskit.report._job``), each in a new session with its own
   working directory ``OUT/<run id>/.work/<name>/`` and its own kernel; a job
   over its wall-clock limit is killed with its whole process group and the
   kernel's; a job whose kernel failed to start (``KernelStartError``) is
   tried once more, and no other failure is;
4. under the lock, the publish phase: each report that rendered is copied to
   ``latest/`` unless ``latest/`` already holds a version from a newer run,
   runs beyond the newest ``keep`` are removed (never one in progress), and
   ``index.html`` is rewritten; every file is replaced atomically;
5. when a job did not succeed, the ``on_failure`` command runs with the path
   of ``status.json`` as its last argument and in ``OPSKIT_STATUS``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opskit.report import publish
from opskit.report.schedule import Job, Schedule, read_schedule

__all__ = ["DEFAULT_JOB_TIMEOUT", "BatchResult", "JobResult", "run_batch"]

DEFAULT_JOB_TIMEOUT = 1800.0
"""Default wall-clock limit of one job, in seconds."""
HOOK_TIMEOUT = 300.0
"""Seconds the ``on_failure`` command may take before it is killed."""
RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{4,}$")
FINAL = ("ok", "failed", "timeout", "skipped")
_POLL = 0.2


@dataclass
class JobResult:
    """The outcome of one job, as written in ``status.json``.

    Attributes
    ----------
    name, template
        Output name and template name.
    params
        Every parameter's value for the run (template defaults overlaid).
    given
        The names of the parameters the schedule set (``[defaults]`` and the job's
        ``params``); the others are the template's defaults.
    status
        ``pending`` or ``running`` while the run goes on; then ``ok``,
        ``failed``, ``timeout`` or ``skipped`` (not started: the batch was interrupted).
    attempts
        Times the job was started (2 after a kernel that failed to start).
    started
        UTC ISO time of the first start, ``None`` when it never started.
    seconds
        Wall time over all attempts.
    html, failed_notebook
        Paths relative to ``OUT`` (``<run id>/<name>.html``), or ``None``.
    error
        One line: what failed, ``None`` when the job succeeded.
    data_range
        ``{"first": day, "last": day}`` from the report's ``publish_meta``, else ``None``.
    """

    name: str
    template: str
    params: dict[str, Any]
    given: list[str] = field(default_factory=list)
    status: str = "pending"
    attempts: int = 0
    started: str | None = None
    seconds: float = 0.0
    html: str | None = None
    failed_notebook: str | None = None
    error: str | None = None
    data_range: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "template": self.template, "params": _jsonable(self.params),
                "given": list(self.given), "status": self.status, "attempts": self.attempts,
                "started": self.started, "seconds": round(self.seconds, 3), "html": self.html,
                "failed_notebook": self.failed_notebook, "error": self.error, "data_range": self.data_range}


@dataclass
class BatchResult:
    """What a batch run did.

    Attributes
    ----------
    run_id
        The run's id, also its folder name.
    folder
        ``OUT/<run id>``.
    status_path
        ``OUT/<run id>/status.json``.
    jobs
        One :class:`JobResult` per report, in schedule order.
    hook
        The ``on_failure`` command's outcome (``command``, ``exit_code``,
        ``error``), ``None`` when it did not run.
    """

    run_id: str
    folder: Path
    status_path: Path
    jobs: list[JobResult] = field(default_factory=list)
    hook: dict[str, Any] | None = None

    @property
    def ok(self) -> int:
        """Jobs that rendered."""
        return sum(j.status == "ok" for j in self.jobs)

    @property
    def failed(self) -> int:
        """Jobs that did not render (failed, timed out or skipped)."""
        return len(self.jobs) - self.ok

    @property
    def exit_code(self) -> int:
        """0 when every job rendered, else 1 (the CLI's exit status)."""
        return 0 if self.failed == 0 else 1


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold ``OUT/.lock`` exclusively (``fcntl.flock``); blocks until the other run's publish ends."""
    with open(out / ".lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def run_ids(out: Path) -> list[str]:
    """The run folders in ``out``, oldest first."""
    if not out.is_dir():
        return []
    return sorted(p.name for p in out.iterdir() if p.is_dir() and RUN_ID.match(p.name))


def new_run_id(existing: Sequence[str], now: dt.datetime | None = None) -> str:
    """A run id for a run starting ``now``, larger than every id in ``existing``.

    Examples
    --------
    >>> import datetime as dt
    >>> start = dt.datetime(2026, 11, 23, 1, 45, tzinfo=dt.UTC)
    >>> new_run_id(["20261123T014500Z-7fff"], start)  # the same second: one more than the newest
    '20261123T014500Z-8000'
    >>> new_run_id([], start)[:17]
    '20261123T014500Z-'
    """
    stamp = (now or _now()).strftime("%Y%m%dT%H%M%SZ")
    candidate = f"{stamp}-{secrets.randbelow(0x8000):04x}"  # room above for runs in the same second
    last = max(existing, default="")
    if candidate <= last:  # same second (or a clock that went back): follow the newest run
        last_stamp, suffix = last.split("-", 1)
        candidate = f"{last_stamp}-{int(suffix, 16) + 1:04x}"
    return candidate


def in_progress(run_folder: Path) -> bool:
    """Whether a run is going on: its ``.running`` file is locked by the process running it."""
    marker = run_folder / ".running"
    if not marker.exists():
        return False
    with open(marker, "rb") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


def prune(out: Path, keep: int) -> list[str]:
    """Remove the oldest runs beyond the newest ``keep``, never one in progress; call under the lock.

    Returns the run ids removed.
    """
    removed = []
    for run_id in run_ids(out)[:-keep] if keep > 0 else []:
        folder = out / run_id
        if in_progress(folder):
            continue
        trash = out / f".pruning-{run_id}"
        os.replace(folder, trash)  # a half-removed folder never looks like a run
        shutil.rmtree(trash, ignore_errors=True)
        removed.append(run_id)
    return removed


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (the kernel runs in a session of its own)."""
    children: dict[int, list[int]] = {}
    proc = Path("/proc")
    if proc.is_dir():
        for entry in proc.iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    else:  # macOS and other POSIX systems
        listing = subprocess.run(["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True,
                                 check=False)
        for line in listing.stdout.splitlines():
            child, parent = map(int, line.split())
            children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the job's process group and every descendant's group (its kernel's session)."""
    below = _descendants(proc.pid)
    own = os.getpgrp()
    for pid in [proc.pid, *below]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            group = os.getpgid(pid)
            if group != own:
                os.killpg(group, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _date_range(notebook: Path) -> dict[str, str] | None:
    """``{"first", "last"}`` days from the ``publish_meta`` output of an executed notebook."""
    if not notebook.is_file():
        return None
    import nbformat

    from opskit.report.export import _take_meta

    try:
        meta = _take_meta(nbformat.read(notebook, as_version=4))
    except Exception:
        return None
    found = meta.get("date_range")
    if not isinstance(found, list | tuple) or len(found) != 2 or None in found:
        return None
    return {"first": str(found[0])[:10], "last": str(found[1])[:10]}


def _job_env() -> dict[str, str]:
    env = dict(os.environ)
    package_parent = Path(__file__).resolve().parents[2]
    if (package_parent / "pyproject.toml").is_file():  # a source tree: make sure the job finds it
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(package_parent)) if p)
    return env


class _Runner:
    """One batch run: the run folder, its status file and its jobs."""

    def __init__(self, schedule: Schedule, out: Path, run_id: str, *, jobs: int, timeout: float | None,
                 echo: Callable[[str], None] | None):
        self.schedule, self.out, self.run_id = schedule, out, run_id
        self.folder = out / run_id
        self.jobs, self.timeout, self.echo = jobs, timeout, echo
        self.results = [JobResult(j.name, j.template.name, _jsonable(j.effective), list(j.params))
                        for j in schedule.jobs]
        self.started = _now()
        self.finished: dt.datetime | None = None
        self.state = "running"
        self.hook: dict[str, Any] | None = None
        self.cancel = threading.Event()
        self._write_lock = threading.Lock()

    # status.json ---------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        import opskit

        finished = self.finished
        return {
            "format": 1, "run_id": self.run_id, "state": self.state,
            "started": _iso(self.started), "finished": _iso(finished) if finished else None,
            "seconds": round(((finished or _now()) - self.started).total_seconds(), 3),
            "schedule": str(self.schedule.path), "lang": self.schedule.lang,
            "opskit_version": opskit.__version__, "host": socket.gethostname(),
            "jobs_limit": self.jobs, "timeout": self.timeout,
            "ok": sum(r.status == "ok" for r in self.results),
            "failed": sum(r.status in ("failed", "timeout", "skipped") for r in self.results),
            "jobs": [r.to_json() for r in self.results], "hook": self.hook,
        }

    def write_status(self) -> Path:
        with self._write_lock:
            text = json.dumps(self.status(), ensure_ascii=False, indent=2) + "\n"
            return publish.write_atomic(self.folder / "status.json", text)

    # one job -------------------------------------------------------------------
    def run_job(self, job: Job, result: JobResult) -> None:
        if self.cancel.is_set():
            result.status, result.error = "skipped", "not started: the batch was interrupted"
            return
        began = time.monotonic()
        result.started, result.status = _iso(_now()), "running"
        self.write_status()
        limit = job.timeout if job.timeout is not None else self.timeout
        limit = limit or None  # 0: no limit
        work = self.folder / ".work" / job.name
        try:
            while True:
                result.attempts += 1
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir(parents=True)
                outcome = self._attempt(job, work, limit, began)
                retry = outcome.get("ename") == "KernelStartError" and result.attempts == 1
                if retry and not self.cancel.is_set():
                    continue  # the only failure tried again: a kernel that did not start
                break
            self._collect(job, result, work, outcome)
        finally:
            result.seconds = time.monotonic() - began
            shutil.rmtree(work, ignore_errors=True)
        self.write_status()
        if self.echo:
            where = result.html or result.error or ""
            self.echo(f"{result.status:<8} {job.name}  {result.seconds:.1f} s  {where}")

    def _attempt(self, job: Job, work: Path, limit: float | None, began: float) -> dict[str, Any]:
        spec = work / "spec.json"
        spec_json = {"template": str(job.template.path), "params": _jsonable(dict(job.params))}
        spec.write_text(json.dumps(spec_json, ensure_ascii=False), encoding="utf-8")
        with open(work / "job.log", "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "opskit.report._job", str(spec)], cwd=work,
                                    env=_job_env(), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            try:
                while proc.poll() is None:
                    if self.cancel.is_set():
                        kill_tree(proc)
                        return {"status": "failed", "ename": "Interrupted",
                                "error": "interrupted: the batch was stopped while the job ran"}
                    if limit is not None and time.monotonic() - began > limit:
                        kill_tree(proc)
                        return {"status": "timeout", "ename": "JobTimeout",
                                "error": f"the job did not finish within {limit:g} s and was killed "
                                         "(raise --timeout, or timeout = ... for this report)"}
                    time.sleep(_POLL)
            except BaseException:
                kill_tree(proc)
                raise
        result_file = work / "result.json"
        if result_file.is_file():
            return json.loads(result_file.read_text(encoding="utf-8"))
        lines = [ln for ln in (work / "job.log").read_text(encoding="utf-8", errors="replace").splitlines()
                 if ln.strip()]
        last = " ".join(lines[-1].split())[:300] if lines else "no output"
        return {"status": "failed", "ename": "JobError",
                "error": f"the job process exited with code {proc.returncode} without a result: {last}"}

    def _collect(self, job: Job, result: JobResult, work: Path, outcome: dict[str, Any]) -> None:
        """Move the job's files into the run folder and fill in ``result``."""
        stem = job.template.path.stem
        result.status = outcome.get("status", "failed")
        result.error = outcome.get("error")
        if result.status == "ok":
            os.replace(work / f"{stem}.html", self.folder / f"{job.name}.html")
            result.html = f"{self.run_id}/{job.name}.html"
            result.data_range = _date_range(work / f"{stem}.ipynb")
            return
        failed = work / f"{stem}.failed.ipynb"
        if not failed.is_file():  # killed: what papermill had saved so far
            running = sorted(work.glob(f".{stem}.*.running.ipynb"))
            if running and running[0].stat().st_size:
                from opskit.report.execute import _last_started_cell, _note_failure

                failed = running[0]
                with contextlib.suppress(Exception):
                    _note_failure(failed, _last_started_cell(failed)[0], outcome.get("ename") or "Error",
                                  result.error or "")
        if failed.is_file() and failed.stat().st_size:
            target = self.folder / f"{job.name}.failed.ipynb"
            os.replace(failed, target)
            with contextlib.suppress(OSError):
                os.chmod(target, 0o644)
            result.failed_notebook = f"{self.run_id}/{job.name}.failed.ipynb"
            result.data_range = _date_range(target)

    def run_all(self) -> None:
        pairs = list(zip(self.schedule.jobs, self.results, strict=True))
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="opskit-batch") as pool:
            futures = [pool.submit(self.run_job, job, result) for job, result in pairs]
            try:
                for future in futures:
                    while not future.done():
                        time.sleep(_POLL)
                    future.result()
            except BaseException:
                self.cancel.set()
                self.state = "interrupted"
                raise
            finally:
                pool.shutdown(wait=True)
                for result in self.results:
                    if result.status in ("pending", "running"):
                        result.status = "skipped"
                        result.error = result.error or "not started: the batch was interrupted"
        with contextlib.suppress(OSError):
            (self.folder / ".work").rmdir()

    # publish -------------------------------------------------------------------
    def publish(self, keep: int) -> None:
        """Under the lock: latest/ (never backwards), prune, index.html."""
        from opskit.report.index import write_index

        latest = self.out / "latest"
        latest.mkdir(exist_ok=True)
        manifest_path = latest / "manifest.json"
        with output_lock(self.out):
            manifest = read_manifest(self.out)
            changed = False
            for result in self.results:
                if result.status != "ok":
                    continue
                held = manifest.get(result.name)
                if held and held.get("run_id", "") > self.run_id:
                    continue  # a newer run already published this report
                page = (self.out / result.html).read_bytes()
                publish.write_atomic(latest / f"{result.name}.html", page)
                manifest[result.name] = {"run_id": self.run_id, "template": result.template,
                                         "started": result.started, "seconds": round(result.seconds, 3),
                                         "params": result.params, "data_range": result.data_range,
                                         "html": f"latest/{result.name}.html"}
                changed = True
            if changed:
                text = json.dumps({"format": 1, "reports": manifest}, ensure_ascii=False, indent=2) + "\n"
                publish.write_atomic(manifest_path, text)
            prune(self.out, keep)
            write_index(self.out, lang=self.schedule.lang)

    def run_hook(self, command: str, status_path: Path) -> None:
        env = dict(os.environ, OPSKIT_STATUS=str(status_path), OPSKIT_RUN_DIR=str(self.folder))
        began = time.monotonic()
        hook: dict[str, Any] = {"command": command, "exit_code": None, "error": None}
        try:
            done = subprocess.run([*shlex.split(command), str(status_path)], env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=HOOK_TIMEOUT, check=False)
        except (OSError, ValueError) as exc:
            hook["error"] = f"could not start: {exc}"
        except subprocess.TimeoutExpired:
            hook["error"] = f"killed after {HOOK_TIMEOUT:g} s"
        else:
            hook["exit_code"] = done.returncode
            if done.returncode != 0:
                tail = " ".join((done.stderr or done.stdout or "").split())[-300:]
                hook["error"] = f"exited with code {done.returncode}" + (f": {tail}" if tail else "")
        hook["seconds"] = round(time.monotonic() - began, 3)
        self.hook = hook
        if hook["error"] and self.echo:
            self.echo(f"on-failure hook failed ({hook['error']}); the batch's own status stands")


def read_manifest(out: Path) -> dict[str, dict[str, Any]]:
    """``OUT/latest/manifest.json``'s reports: name to the run it came from and its details."""
    path = out / "latest" / "manifest.json"
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")).get("reports", {}))
    except (OSError, ValueError):
        return {}


def run_batch(schedule: str | os.PathLike[str] | Schedule, out: str | os.PathLike[str], *,
              jobs: int | None = None, timeout: float | None = DEFAULT_JOB_TIMEOUT, keep: int = 10,
              on_failure: str | None = None, echo: Callable[[str], None] | None = None) -> BatchResult:
    """Run every report of a schedule into a new run folder of ``out``.

    Parameters
    ----------
    schedule
        A schedule file (``.toml``, ``.yaml``) or a :class:`~opskit.report.schedule.Schedule`.
    out
        Output folder (created when missing); see the module docstring for its layout.
    jobs
        Reports rendered at the same time (default: the number of CPU cores).
    timeout
        Wall-clock limit of each job in seconds (a report's own ``timeout``
        overrides it); ``None`` or 0 for none. A job over it is killed,
        kernel included, and has status ``timeout``.
    keep
        Run folders kept in ``out``; older ones are removed (never a run in progress).
    on_failure
        A command run when a job did not render; it receives the path of
        ``status.json`` as its last argument and in ``OPSKIT_STATUS``. Split
        with ``shlex``, run without a shell. Its failure is reported (stderr,
        ``status.json``'s ``hook``) and does not change the run's outcome.
    echo
        Called with one line per finished job (the CLI prints them on stderr).

    Returns
    -------
    BatchResult
        The run id, folder, ``status.json`` path, one result per job, and ``exit_code``.

    Raises
    ------
    ScheduleError
        The schedule was refused; nothing was written.
    ValueError
        For ``jobs`` or ``keep`` below 1, or a negative ``timeout``.
    KeyboardInterrupt
        After the running jobs were killed and the status and index written
        (state ``interrupted``, jobs not started ``skipped``).

    Examples
    --------
    >>> result = run_batch("examples/schedule.toml", "reports", jobs=2)  # doctest: +SKIP
    >>> result.exit_code, result.status_path  # doctest: +SKIP
    (0, PosixPath('reports/20261123T014500Z-3f9a/status.json'))
    """
    if jobs is None:
        jobs = os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, not {jobs!r}")
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValueError(f"keep must be an integer >= 1 (runs kept), not {keep!r}")
    if timeout is not None and timeout < 0:
        raise ValueError(f"timeout must be >= 0 seconds (0: none), not {timeout!r}")
    checked = schedule if isinstance(schedule, Schedule) else read_schedule(schedule)
    folder = Path(out).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    with output_lock(folder):
        run_id = new_run_id(run_ids(folder))
        (folder / run_id).mkdir()
        marker = open(folder / run_id / ".running", "wb")  # noqa: SIM115 - held for the whole run
        fcntl.flock(marker.fileno(), fcntl.LOCK_EX)
    runner = _Runner(checked, folder, run_id, jobs=jobs, timeout=timeout or None, echo=echo)
    try:
        status_path = runner.write_status()
        interrupted: BaseException | None = None
        try:
            runner.run_all()
        except KeyboardInterrupt as exc:
            interrupted = exc
        runner.finished = _now()
        if runner.state == "running":
            runner.state = "finished"
        runner.write_status()
        runner.publish(keep)
        if on_failure and any(r.status != "ok" for r in runner.results):
            runner.run_hook(on_failure, status_path)
            runner.write_status()
        if interrupted is not None:
            raise interrupted
    finally:
        marker.close()
        with contextlib.suppress(OSError):
            (folder / run_id / ".running").unlink()
    return BatchResult(run_id, folder / run_id, status_path, runner.results, runner.hook)

"""Two `opskit report batch` processes writing to the same OUT at the same time.

Run A starts first and its report `shared` waits 8 s before finishing; run B starts once A has
its run folder, so B is the newer run but finishes first. latest/shared.html must be B's and
stay B's when A publishes later.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from opskit.report.batch import run_ids

BATCH = Path(__file__).parent / "templates" / "batch.ipynb"


def schedule(folder: Path, label: str, delay: float) -> Path:
    path = folder / f"{label}.toml"
    path.write_text(f'[defaults]\ntitle = "from run {label}"\n'
                    f'[[reports]]\nname = "shared"\ntemplate = "{BATCH}"\nparams = {{ delay = {delay} }}\n',
                    encoding="utf-8")
    return path


def start(path: Path, out: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "opskit.cli", "report", "batch", str(path), "--out", str(out),
               "--jobs", "1", "--quiet"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_concurrent_runs(tmp_path):
    out = tmp_path / "out"
    older = start(schedule(tmp_path, "A", delay=8), out)
    deadline = time.monotonic() + 60
    while not run_ids(out) and time.monotonic() < deadline:
        time.sleep(0.1)
    newer = start(schedule(tmp_path, "B", delay=0), out)
    results = [p.communicate(timeout=240) for p in (older, newer)]
    assert [p.returncode for p in (older, newer)] == [0, 0], results
    a_status, b_status = (Path(stdout.strip()) for stdout, _ in results)
    id_a, id_b = a_status.parent.name, b_status.parent.name
    assert run_ids(out) == [id_a, id_b]  # A allocated its id first, so it sorts first

    statuses = {}
    for path in (a_status, b_status):
        status = json.loads(path.read_text(encoding="utf-8"))
        assert status["state"] == "finished" and (status["ok"], status["failed"]) == (1, 0)
        assert all((out / job["html"]).is_file() for job in status["jobs"])
        statuses[status["run_id"]] = status
    # B finished first; A published after it and did not move latest/shared.html backwards
    assert statuses[id_a]["finished"] >= statuses[id_b]["finished"]
    manifest = json.loads((out / "latest" / "manifest.json").read_text(encoding="utf-8"))["reports"]
    assert {name: entry["run_id"] for name, entry in manifest.items()} == {"shared": id_b}
    shared = (out / "latest" / "shared.html").read_bytes()
    assert shared == (out / id_b / "shared.html").read_bytes() and b"from run B" in shared

    page = (out / "index.html").read_text(encoding="utf-8")
    assert id_a in page and id_b in page
    assert 'href="latest/shared.html"' in page
    assert f'href="{id_a}/shared.html"' in page and f'href="{id_b}/shared.html"' in page
    stray = sorted(str(p.relative_to(out)) for p in out.rglob("*")
                   if p.name.startswith(".") and p.name != ".lock")
    assert stray == []  # no temp file, work folder or run lock left behind

"""`opskit report batch`: options, exit codes (0, 1, 2) and what it prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from opskit.cli import main

BATCH = Path(__file__).parent / "templates" / "batch.ipynb"


def test_help_lists_the_options_and_exit_codes(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["report", "batch", "--help"])
    assert caught.value.code == 0
    text = capsys.readouterr().out
    for option in ("--out", "--jobs N", "--timeout SECONDS", "--keep N", "--on-failure COMMAND", "--quiet"):
        assert option in text
    assert "0  every report rendered" in text and "2  the schedule was refused" in text


def test_a_refused_schedule_exits_2_and_writes_nothing(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text('[[reports]]\nname = "a/b"\ntemplate = "nope"\n[[reports]]\ntemplate = "retention"\n',
                    encoding="utf-8")
    assert main(["report", "batch", str(path), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[0] == f"opskit: error: schedule {path} refused, nothing ran (3 problems):"
    assert "is not a safe file name" in lines[1] and "no template named 'nope'" in lines[2]
    assert "missing name" in lines[3]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("option", "value"), [("--jobs", "0"), ("--keep", "-1"), ("--timeout", "-5"),
                                               ("--jobs", "two")])
def test_bad_options_exit_2(tmp_path, capsys, option, value):
    with pytest.raises(SystemExit) as caught:
        main(["report", "batch", str(tmp_path / "s.toml"), "--out", str(tmp_path / "out"), option, value])
    assert caught.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err


def test_a_failed_job_exits_1_and_a_failing_hook_does_not_hide_it(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(f'[[reports]]\nname = "good"\ntemplate = "{BATCH}"\n'
                    f'[[reports]]\nname = "bad"\ntemplate = "{BATCH}"\nparams = {{ mode = "raise" }}\n',
                    encoding="utf-8")
    hook = f"{sys.executable} -c 'import sys; sys.exit(3)'"
    script = Path(sys.executable).with_name("opskit")
    done = subprocess.run([script, "report", "batch", path, "--out", tmp_path / "out", "--jobs", "2",
                           "--keep", "1", "--timeout", "120", "--on-failure", hook, "--quiet"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    status_path = Path(done.stdout.strip())
    assert status_path.name == "status.json" and status_path.parent.parent == tmp_path / "out"
    err = done.stderr.splitlines()
    assert err == [f"opskit report batch: 1 of 2 reports did not render: bad (failed); see {status_path}",
                   "opskit report batch: the --on-failure command failed: exited with code 3"]
    status = json.loads(status_path.read_text(encoding="utf-8"))
    assert [(j["name"], j["status"]) for j in status["jobs"]] == [("good", "ok"), ("bad", "failed")]
    assert status["hook"]["exit_code"] == 3 and status["timeout"] == 120
    assert (tmp_path / "out" / "latest" / "good.html").is_file()
    assert not (tmp_path / "out" / "latest" / "bad.html").exists()

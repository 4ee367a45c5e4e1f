"""The `opskit` command: demo, validate, exit codes and messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from opskit.cli import main


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--users", "2000", "--seed", "7"]) == 0
    return out


def test_demo_writes_one_parquet_file_per_table(demo_dir, capsys):
    names = sorted(p.stem for p in demo_dir.glob("*.parquet"))
    assert names == sorted(["users", "events", "touchpoints", "conversions", "spend",
                            "subscriptions", "opportunities", "tickets", "targets"])


def test_validate_demo_exits_zero(demo_dir, capsys):
    assert main(["validate", str(demo_dir)]) == 0
    out = capsys.readouterr().out
    assert "events.parquet -> events:" in out and "OK: 0 error(s)" in out


def test_console_script_round_trip(tmp_path):
    """The README's claim, as a user types it: demo then validate, through the installed script."""
    script = Path(sys.executable).with_name("opskit")
    demo = subprocess.run([script, "demo", "--out", tmp_path, "--users", "300"],
                          capture_output=True, text=True, check=False)
    assert demo.returncode == 0, demo.stderr
    assert "events" in demo.stdout and "wrote 9 tables" in demo.stdout
    check = subprocess.run([script, "validate", tmp_path], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def _copy(demo_dir: Path, tmp_path: Path) -> Path:
    for path in demo_dir.glob("*.parquet"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    return tmp_path


def test_validate_fails_on_a_renamed_column(demo_dir, tmp_path, capsys):
    folder = _copy(demo_dir, tmp_path)
    events = pd.read_parquet(folder / "events.parquet").rename(columns={"user_id": "uid"})
    events.to_parquet(folder / "events.parquet", index=False)
    assert main(["validate", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "required column `user_id` is missing" in out and "did you mean `uid`?" in out
    assert "FAILED: 1 error(s)" in out


def test_validate_fails_on_a_corrupted_timestamp(demo_dir, tmp_path, capsys):
    folder = _copy(demo_dir, tmp_path)
    events = pd.read_parquet(folder / "events.parquet")
    events["event_at"] = events["event_at"].astype(str)
    events.loc[4, "event_at"] = "2025-02-30 25:61"
    events.to_parquet(folder / "events.parquet", index=False)
    assert main(["validate", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "events.event_at: 1 of" in out and "row 5: '2025-02-30 25:61'" in out


def test_validate_reads_a_mapping_file(tmp_path, capsys):
    (tmp_path / "events.csv").write_text("uid,ts,event\nu1,2025-01-01,x\n", encoding="utf-8")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[mapping.events]\nuid = "user_id"\nts = "event_at"\n', encoding="utf-8")
    assert main(["validate", str(tmp_path / "events.csv"), "--mapping", str(mapping)]) == 0


def test_missing_folder_is_a_clean_error(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope")]) == 1
    assert "does not exist" in capsys.readouterr().err

"""The wheel a `pip install opskit` user gets carries the report templates."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_ships_templates_and_the_console_script(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stderr
    wheel = next(tmp_path.glob("opskit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.removeprefix("opskit/templates/") for n in names if n.startswith("opskit/templates/")}
    expected = {p.relative_to(ROOT / "templates").as_posix()
                for p in (ROOT / "templates").rglob("*") if p.is_file()}
    assert expected and shipped == expected
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "opskit = opskit.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()

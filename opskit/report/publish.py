"""Write reports into the output folder without ever leaving a half-written file.

Every file is written to a temporary file in the same folder and renamed over
the target with ``os.replace`` (atomic on one file system). A failed or
interrupted run therefore leaves the previous ``<template>.html`` as it was;
its executed notebook, traceback included, is kept as
``<template>.failed.ipynb``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["failed_path", "keep_failed", "output_paths", "scratch_path", "write_atomic"]


def output_paths(out: Path, name: str) -> dict[str, Path]:
    """Where a run of template ``name`` writes: ``html``, ``ipynb`` and ``failed``."""
    return {"html": out / f"{name}.html", "ipynb": out / f"{name}.ipynb", "failed": failed_path(out, name)}


def failed_path(out: Path, name: str) -> Path:
    """The executed notebook of a failed run: ``OUT/<name>.failed.ipynb``."""
    return out / f"{name}.failed.ipynb"


def scratch_path(out: Path, name: str) -> Path:
    """A fresh hidden path in ``out`` for the notebook being executed."""
    fd, path = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".running.ipynb")
    os.close(fd)
    return Path(path)


def write_atomic(target: Path, data: str | bytes) -> Path:
    """Write ``data`` to ``target`` through a temporary file and ``os.replace``.

    Parameters
    ----------
    target
        The file to create or replace.
    data
        Text (written as UTF-8) or bytes.

    Returns
    -------
    Path
        ``target``.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; a report is meant to be shared
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def keep_failed(scratch: Path, out: Path, name: str) -> Path | None:
    """Move the executed notebook of a failed run to ``<name>.failed.ipynb``; ``None`` if there is none."""
    if not scratch.exists() or scratch.stat().st_size == 0:
        return None
    target = failed_path(out, name)
    os.replace(scratch, target)
    with contextlib.suppress(OSError):
        os.chmod(target, 0o644)
    return target

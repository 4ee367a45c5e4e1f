"""Text encodings of CSV exports: UTF-8 (with or without BOM) and GBK/GB18030."""

from __future__ import annotations

import codecs
import gzip
import tempfile
from pathlib import Path
from typing import BinaryIO

from opskit.errors import DataError

__all__ = ["detect_encoding", "utf8_copy"]

_CHUNK = 1 << 20
_CANDIDATES = ("utf-8", "gb18030")


def _open(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def detect_encoding(path: Path, table: str = "?") -> str:
    """Return ``"utf-8"``, ``"utf-8-sig"`` or ``"gb18030"`` for a (possibly gzipped) text file.

    The whole file is decoded incrementally: a file that is valid UTF-8 is
    UTF-8 (GBK text is almost never valid UTF-8); otherwise it must decode as
    GB18030, the superset of GBK and GB2312 that Chinese Excel writes.
    """
    with _open(path) as fh:
        head = fh.read(3)
    if head == codecs.BOM_UTF8:
        return "utf-8-sig"
    for encoding in _CANDIDATES:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with _open(path) as fh:
                while chunk := fh.read(_CHUNK):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise DataError.single(
        table, None, "unknown_encoding", 0,
        "the file is neither UTF-8 nor GBK/GB18030 text",
        "re-save it as UTF-8 CSV (Excel: 'CSV UTF-8')", source=str(path))


def utf8_copy(path: Path, encoding: str) -> Path:
    """Write ``path`` decoded from ``encoding`` as plain UTF-8 (no BOM) into a temporary file."""
    fd, name = tempfile.mkstemp(suffix=".csv", prefix="opskit-")
    out = Path(name)
    with _open(path) as src, open(fd, "wb") as dst:
        reader = codecs.getreader(encoding)(src)
        while chunk := reader.read(_CHUNK):
            dst.write(chunk.encode("utf-8"))
    return out

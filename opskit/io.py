"""``load()``: turn the exports an analyst already has into a validated Dataset.

Sources: a folder whose files are named after tables (``events.csv``,
``users.parquet``, ...), a single file (taken as ``events``), a DuckDB
database file, or an Ibis backend connection. Files are read by DuckDB,
never through pandas (except Excel workbooks, which have no DuckDB reader
here).
"""

from __future__ import annotations

import tomllib
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from opskit import engine
from opskit._encoding import detect_encoding, utf8_copy
from opskit.dataset import Dataset, findings_frame
from opskit.errors import DataError, Finding
from opskit.schema import TABLES
from opskit.validation import prepare, resolve_columns

__all__ = ["FORMATS", "Validation", "load", "load_tables", "validate"]

#: File endings opskit reads, and the reader used for each.
FORMATS: dict[str, str] = {
    ".csv": "csv", ".csv.gz": "csv", ".txt": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".jsonl.gz": "jsonl", ".json": "jsonl",
    ".xlsx": "excel", ".xlsm": "excel",
}
_DATABASE_ENDINGS = (".duckdb", ".ddb", ".db")
_CONFIG = "opskit.toml"


def _split_name(path: Path) -> tuple[str, str] | None:
    """``events.csv.gz`` -> ``("events", ".csv.gz")``; None for files opskit does not read."""
    name = path.name.lower()
    for ending in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(ending):
            return path.name[: -len(ending)], ending
    if path.is_dir() and any(path.glob("*.parquet")):
        return path.name, ".parquet"
    return None


@dataclass
class Validation:
    """What :func:`validate` found: per-table row counts and findings.

    Attributes
    ----------
    findings
        Every error and warning, in table order.
    rows
        ``{table: rows after cleaning}`` for the tables that could be read.
    sources
        ``{table: file}``.
    dataset
        The Dataset, when there were no errors.
    """

    findings: list[Finding] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    dataset: Dataset | None = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_frame(self) -> pd.DataFrame:
        """Findings as a frame (columns as :meth:`Dataset.report`)."""
        return findings_frame(self.findings)


def load(source: Any, /, *, mapping: dict[str, dict[str, str]] | None = None,
         timezone: str = "UTC") -> Dataset:
    """Load and validate the canonical tables of an export.

    Parameters
    ----------
    source
        A folder of files named after tables (``events.csv``,
        ``events.csv.gz``, ``events.parquet``, ``events.jsonl``,
        ``events.xlsx``, or a folder ``events/`` of Parquet parts); a single
        such file (taken as ``events``); a DuckDB database file
        (``.duckdb``/``.db``) whose tables are named after canonical tables;
        or an Ibis backend connection (tables are used where they are).
    mapping
        Per-table column renames, ``{"events": {"uid": "user_id"}}``. An
        ``opskit.toml`` in the folder may hold ``[mapping.events]`` too;
        entries given here win.
    timezone
        IANA zone of naive timestamps (``"Asia/Shanghai"``). Aware values and
        text with an offset are converted from their own offset. Every
        timestamp ends up tz-naive UTC. An ``opskit.toml`` ``timezone = ...``
        applies when this is left at ``"UTC"``.

    Returns
    -------
    Dataset
        Tables by attribute and key; warnings in ``ds.report()``.

    Raises
    ------
    DataError
        On any error finding (missing required column, unparseable value,
        empty key, negative money, end before start, ...); the message lists
        every one with table, column, row count, examples and fix.

    Examples
    --------
    >>> import opskit, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "events.csv").write_text(
    ...     "uid,ts,event\\nu1,2025/01/05 09:00,login\\n", encoding="utf-8")
    >>> ds = opskit.load(folder, mapping={"events": {"uid": "user_id", "ts": "event_at"}},
    ...                  timezone="Asia/Shanghai")
    >>> ds.to_pandas("events")["event_at"].iloc[0]
    Timestamp('2025-01-05 01:00:00')
    """
    result = validate(source, mapping=mapping, timezone=timezone)
    if not result.ok:
        raise DataError(findings=result.errors)
    return result.dataset


def validate(source: Any, /, *, mapping: dict[str, dict[str, str]] | None = None,
             timezone: str = "UTC") -> Validation:
    """Like :func:`load`, but return every finding instead of raising."""
    check_timezone(timezone)
    if isinstance(source, ibis.BaseBackend):
        con = source
        raws = {name: con.table(name) for name in con.list_tables() if name in TABLES}
        return _validate(con, raws, {}, mapping, timezone, meta={}, as_view={})
    path = Path(source)
    if not path.exists():
        raise DataError.single(
            "events", None, "missing_source", 0, f"{path} does not exist",
            "pass a folder of exports, a data file or a DuckDB database file")
    config = _read_config(path.parent if path.is_file() else path)
    mapping = {**config.get("mapping", {}), **(mapping or {})}
    if timezone == "UTC":
        timezone = check_timezone(config.get("timezone", "UTC"))
    meta = dict(config.get("meta", {}))
    con = engine.connect()
    if path.is_file() and path.name.lower().endswith(_DATABASE_ENDINGS):
        tables = engine.read_duckdb_file(con, path)
        raws = {n: t for n, t in tables.items() if n in TABLES}
        sources = {n: f"{path.name}:{n}" for n in raws}
        return _validate(con, raws, sources, mapping, timezone, meta, as_view=dict.fromkeys(raws, True))
    files = {"events": path} if path.is_file() else _discover(path)
    raws, sources, as_view, findings = {}, {}, {}, []
    for name, file in files.items():
        try:
            raws[name] = _read(con, name, file, mapping.get(name))
        except DataError as exc:
            findings.extend(exc.findings)
            continue
        sources[name] = file.name
        as_view[name] = _split_name(file)[1] in (".parquet", ".pq")
    result = _validate(con, raws, sources, mapping, timezone, meta, as_view)
    result.findings[:0] = findings
    if findings:
        result.dataset = None
    return result


def check_timezone(zone: str) -> str:
    """Return ``zone`` if it is an IANA time-zone name; else raise a ValueError naming close ones."""
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        import difflib

        close = difflib.get_close_matches(str(zone), sorted(zoneinfo.available_timezones()), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(
            f"timezone={zone!r} is not an IANA time-zone name{hint}; use e.g. 'Asia/Shanghai' or 'UTC'"
        ) from None
    return zone


def load_tables(con: ibis.BaseBackend, raws: dict[str, ir.Table], *, mapping=None,
                timezone: str = "UTC", meta=None, materialise_as_view=None) -> Dataset:
    """Validate raw engine tables into a Dataset, raising a DataError on errors."""
    check_timezone(timezone)
    result = _validate(con, raws, {}, mapping or {}, timezone, meta or {}, materialise_as_view or {})
    if not result.ok:
        raise DataError(findings=result.errors)
    return result.dataset


def _read_config(folder: Path) -> dict[str, Any]:
    config = folder / _CONFIG
    if not config.is_file():
        return {}
    try:
        return tomllib.loads(config.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DataError.single(
            "events", None, "bad_config", 0, f"{config} is not valid TOML ({exc})",
            "fix the file (see docs/data.md for its keys)") from None


def _discover(folder: Path) -> dict[str, Path]:
    found: dict[str, list[Path]] = {}
    for entry in sorted(folder.iterdir()):
        split = _split_name(entry)
        if split and not entry.name.startswith((".", "~$")):
            found.setdefault(split[0], []).append(entry)
    for name, paths in found.items():
        if len(paths) > 1:
            raise DataError.single(
                name, None, "ambiguous_table", 0,
                f"{len(paths)} files could be `{name}` "
                f"({', '.join(p.name for p in paths)})",
                "keep one file per table in the folder")
    if "events" not in found:
        names = ", ".join(p[0].name for p in found.values()) or "no data files"
        import difflib

        guess = difflib.get_close_matches("events", list(found), n=1, cutoff=0.5)
        hint = f"did you mean `{found[guess[0]][0].name}`? rename it events.* ; " if guess else ""
        raise DataError.single(
            "events", None, "missing_table", 0,
            f"`events` is required but {folder} has no events file "
            f"(found: {names})",
            f"{hint}name the event log events.csv / events.parquet / events.jsonl / events.xlsx")
    return {name: paths[0] for name, paths in found.items()}


def _read(con: ibis.BaseBackend, name: str, file: Path, mapping: dict[str, str] | None) -> ir.Table:
    ending = _split_name(file)[1]
    fmt = FORMATS.get(ending, "parquet")
    if fmt == "excel":
        frame = pd.read_excel(file, engine="openpyxl")
        return engine.register_frame(con, frame)
    if fmt == "parquet":
        return engine.read_file(con, file, "parquet")
    encoding = detect_encoding(file, name)
    readable = file if encoding == "utf-8" else utf8_copy(file, encoding)
    try:
        if fmt == "jsonl":
            return engine.read_file(con, readable, "jsonl")
        return engine.read_file(con, readable, "csv",
                                text_columns=_parsed_columns(con, name, readable, mapping))
    except Exception as exc:  # DuckDB's reader errors: name the file and the fix
        if isinstance(exc, DataError):
            raise
        raise DataError.single(
            name, None, "unreadable_file", 0,
            f"DuckDB could not read the file ({str(exc).splitlines()[0]})",
            "check that it is a well-formed file of its type", source=file.name) from exc
    finally:
        if readable != file:
            readable.unlink(missing_ok=True)


def _parsed_columns(con, name: str, path: Path, mapping: dict[str, str] | None) -> tuple[str, ...]:
    """CSV columns opskit coerces itself, so DuckDB reads them as text."""
    spec = TABLES.get(name)
    if spec is None:
        return ()
    header = engine.csv_columns(con, path)
    renames, _ = resolve_columns(name, header, mapping)
    return tuple(src for src, new in renames.items() if spec.column(new) is not None)


def _validate(con, raws: dict[str, ir.Table], sources: dict[str, str], mapping, timezone: str,
              meta: dict[str, Any], as_view: dict[str, bool]) -> Validation:
    result = Validation(sources=dict(sources))
    tables: dict[str, ir.Table] = {}
    for name, raw in raws.items():
        if name not in TABLES:
            tables[name] = raw.drop(engine.ROW) if engine.ROW in raw.columns else raw
            continue
        prepared = prepare(raw, name, mapping=(mapping or {}).get(name), timezone=timezone,
                           source=sources.get(name))
        result.findings.extend(prepared.findings)
        if prepared.table is not None:
            tables[name] = prepared.table
            result.rows[name] = prepared.rows
            if prepared.duplicates:  # a view would repeat the DISTINCT in every query
                as_view = {**as_view, name: False}
    if "events" not in raws:
        result.findings.append(Finding(
            "events", None, "error", "missing_table", 0,
            "`events` is required but was not given",
            "pass events=... (columns user_id, event_at, event)"))
    if not result.ok:
        return result
    if con.name == "duckdb":
        tables = {n: engine.materialise(con, t, view=as_view.get(n, False)) for n, t in tables.items()}
        engine.release_sources(con)
    result.findings.extend(_cross_checks(tables))
    ordered = {n: tables[n] for n in [*TABLES, *tables] if n in tables}
    result.dataset = Dataset(ordered, meta=meta, findings=list(result.findings),
                             sources=sources, backend=con, rows=result.rows)
    return result


def _cross_checks(tables: dict[str, ir.Table]) -> list[Finding]:
    """Warnings that need two tables: event users missing from ``users``."""
    if "users" not in tables:
        return []
    events, users = tables["events"], tables["users"]
    missing = events.select("user_id").distinct().anti_join(users, "user_id")
    stats = engine.to_pandas(missing.aggregate(n=missing.count()))
    n = int(stats["n"].iloc[0])
    if not n:
        return []
    examples = engine.to_pandas(missing.order_by("user_id").limit(3))["user_id"].tolist()
    return [Finding("events", "user_id", "warning", "orphan_users", n,
                    "appear in events but not in users (kept; segment/channel breakdowns "
                    "leave them out)", "export the users table for the same period",
                    examples=tuple((None, str(u)) for u in examples))]

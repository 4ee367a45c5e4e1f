"""``Dataset``: the validated canonical tables of one data export."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from opskit import engine
from opskit.errors import DataError, Finding
from opskit.schema import TABLES

__all__ = ["Dataset"]


class Dataset(Mapping):
    """Canonical tables by attribute and by key: ``ds.events``, ``ds["events"]``.

    Each table is an Ibis table on the dataset's engine (an in-process DuckDB
    unless another Ibis backend was given). Build one with
    :func:`opskit.load` or :meth:`from_frames`.

    Attributes
    ----------
    tables
        ``{name: ibis.Table}``; canonical tables first, then any extra table.
    meta
        Free metadata; ``meta["currency"]`` is the currency of every money column.
    findings
        Warnings found while loading (errors never reach a Dataset).
    sources
        ``{name: file}`` where a table came from a file.
    backend
        The Ibis backend the tables live on.

    Examples
    --------
    >>> import pandas as pd
    >>> import opskit
    >>> events = pd.DataFrame({"user_id": ["u1", "u2"], "event": ["login", "login"],
    ...                        "event_at": ["2025-01-05 09:00", "2025/01/06"]})
    >>> ds = opskit.Dataset.from_frames(events=events)
    >>> ds.events.count().execute()
    2
    """

    def __init__(self, tables: dict[str, ir.Table], *, meta: dict[str, Any] | None = None,
                 findings: list[Finding] | None = None, sources: dict[str, str] | None = None,
                 backend: ibis.BaseBackend | None = None, rows: dict[str, int] | None = None):
        self.tables = dict(tables)
        self.meta = dict(meta or {})
        self.findings = list(findings or [])
        self.sources = dict(sources or {})
        self.backend = backend
        self._rows = dict(rows or {})

    @classmethod
    def from_frames(cls, *, meta: dict[str, Any] | None = None, timezone: str = "UTC",
                    backend: ibis.BaseBackend | None = None, **frames: pd.DataFrame) -> Dataset:
        """Validate pandas DataFrames named after canonical tables into a Dataset.

        Frames go through exactly the checks of :func:`opskit.load`; a frame
        named after no canonical table is kept as an extra table, unchecked.
        """
        from opskit.io import load_tables

        con = engine.connect(backend)
        raws = {name: engine.register_frame(con, frame) for name, frame in frames.items()}
        return load_tables(con, raws, mapping=None, timezone=timezone, meta=meta,
                           materialise_as_view={name: False for name in raws})

    # --- mapping protocol -------------------------------------------------------------
    def __getitem__(self, name: str) -> ir.Table:
        try:
            return self.tables[name]
        except KeyError:
            raise DataError.single(
                name, None, "missing_table", 0,
                f"the dataset has no `{name}` table "
                f"(tables: {', '.join(self.tables) or 'none'})",
                f"add a file named {name}.csv / {name}.parquet to the folder, or pass "
                f"{name}=... to Dataset.from_frames") from None

    def __getattr__(self, name: str) -> ir.Table:
        if name.startswith("_") or name in ("tables", "meta", "findings", "sources", "backend"):
            raise AttributeError(name)
        if name in self.tables or name in TABLES:
            return self[name]
        raise AttributeError(f"Dataset has no attribute or table {name!r}")

    def get(self, name: str, default: Any = None) -> Any:
        """Table ``name``, or ``default`` when the dataset has none."""
        return self.tables.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self.tables

    def __iter__(self) -> Iterator[str]:
        return iter(self.tables)

    def __len__(self) -> int:
        return len(self.tables)

    def __repr__(self) -> str:
        parts = [f"{n} ({self._rows[n]:,} rows)" if n in self._rows else n for n in self.tables]
        return f"<opskit.Dataset: {', '.join(parts)}>"

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.tables))

    # --- reading ------------------------------------------------------------------------
    def to_pandas(self, name: str) -> pd.DataFrame:
        """The whole table ``name`` as a pandas DataFrame (mind its size)."""
        return engine.to_pandas(self[name])

    def report(self) -> pd.DataFrame:
        """The warnings found on load, one row each.

        Columns: ``table``, ``column``, ``level``, ``check``, ``rows``,
        ``message``. Empty when the data was clean.
        """
        return findings_frame(self.findings)

    def summary(self) -> pd.DataFrame:
        """One row per table: ``table``, ``rows``, ``columns``, ``first``, ``last``, ``source``.

        ``first``/``last`` are the range of the table's main time column.
        """
        out = []
        for name, table in self.tables.items():
            spec = TABLES.get(name)
            time_col = next((c.name for c in spec.columns if c.required and c.kind in
                             ("timestamp", "date")), None) if spec else None
            aggs = {"rows": table.count()}
            if time_col:
                aggs |= {"first": table[time_col].min(), "last": table[time_col].max()}
            stats = engine.to_pandas(table.aggregate(**aggs)).iloc[0]
            out.append({"table": name, "rows": int(stats["rows"]),
                        "columns": len(table.columns),
                        "first": stats.get("first"), "last": stats.get("last"),
                        "source": self.sources.get(name, "")})
        return pd.DataFrame(out, columns=["table", "rows", "columns", "first", "last", "source"])

    def require(self, name: str, columns: list[str] | tuple[str, ...] = ()) -> ir.Table:
        """Table ``name``, checked to have ``columns``; a DataError names what is missing."""
        return require_columns(self[name], name, columns)


def require_columns(table: ir.Table, name: str, columns: list[str] | tuple[str, ...]) -> ir.Table:
    """Raise a DataError naming ``name`` and the first column of ``columns`` it lacks."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError.single(
            name, missing[0], "missing_column", 0,
            f"this calculation needs `{name}` column(s) "
            f"{', '.join(f'`{c}`' for c in missing)} (columns found: {', '.join(table.columns)})",
            f"add the column to {name}, or rename yours with opskit.load(..., mapping=...)")
    return table


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    """Findings as a tidy frame (see :meth:`Dataset.report`)."""
    return pd.DataFrame(
        [{"table": f.table, "column": f.column, "level": f.level, "check": f.check,
          "rows": f.rows, "message": f.describe()} for f in findings],
        columns=["table", "column", "level", "check", "rows", "message"],
    )

"""Exceptions raised by opskit.

One root, :class:`OpskitError`; each subclass also inherits the builtin a
caller would naturally catch (``DataError`` is a ``ValueError``), as ibis does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DataError", "Finding", "OpskitError"]


class OpskitError(Exception):
    """Root of every error opskit raises on purpose."""


@dataclass(frozen=True)
class Finding:
    """One result of validating a table: an error or a warning.

    Attributes
    ----------
    table
        Canonical table name (``"events"``).
    column
        Column concerned, or ``None`` for a table-level finding.
    level
        ``"error"`` (the data cannot be used as it is) or ``"warning"``
        (the data was used; the count tells how much was affected).
    check
        Short identifier of the rule, e.g. ``"unparseable_timestamp"``.
    rows
        How many rows (or, for ``orphan_users``, how many users) are concerned;
        0 for a problem of the whole table or file (a missing column).
    total
        How many rows the table has (``None`` when unknown).
    examples
        Up to three ``(row, value)`` pairs; ``row`` is the 1-based data row
        in the source file (header not counted), ``None`` when the source
        has no row order (a database table).
    problem
        What is wrong, in words.
    fix
        How to fix it.
    source
        The file the table was read from, when it was a file.
    """

    table: str
    column: str | None
    level: str
    check: str
    rows: int
    problem: str
    fix: str
    total: int | None = None
    examples: tuple[tuple[int | None, str | None], ...] = field(default_factory=tuple)
    source: str | None = None

    @property
    def where(self) -> str:
        return f"{self.table}.{self.column}" if self.column else self.table

    def describe(self) -> str:
        """The finding as one self-contained sentence."""
        if self.rows or self.total is not None:
            count = f"{self.rows:,}" + (f" of {self.total:,}" if self.total is not None else "")
            unit = "users" if self.check == "orphan_users" else "rows"
            text = f"{self.where}: {count} {unit} {self.problem}"
        else:  # a problem of the whole table or file, not of some rows
            text = f"{self.where}: {self.problem}"
        if self.examples:
            shown = ", ".join(
                (f"row {row}: " if row is not None else "") + ("null" if value is None else repr(value))
                for row, value in self.examples
            )
            text += f", e.g. {shown}"
        text += f". Fix: {self.fix}"
        if self.source:
            text += f" (file: {self.source})"
        return text


class DataError(OpskitError, ValueError):
    """Input data that opskit cannot use as it is.

    The message names the table, the column, how many rows are affected, up
    to three example values with their row numbers, and the fix. When
    several problems were found at once, ``findings`` holds all of them and
    the message lists every one.

    Attributes
    ----------
    findings
        The :class:`Finding` objects behind the error.
    table, column
        Table and column of the first finding (convenience for callers).
    """

    def __init__(self, message: str | None = None, *, findings: list[Finding] | None = None):
        self.findings = list(findings or [])
        if message is None:
            lines = [f.describe() for f in self.findings]
            if len(lines) == 1:
                message = lines[0]
            else:
                message = f"{len(lines)} problems in the data:\n" + "\n".join(
                    f"  {i}. {line}" for i, line in enumerate(lines, 1)
                )
        super().__init__(message)
        first = self.findings[0] if self.findings else None
        self.table = first.table if first else None
        self.column = first.column if first else None

    @classmethod
    def single(cls, table: str, column: str | None, check: str, rows: int, problem: str,
               fix: str, **extra) -> DataError:
        """Build a DataError carrying one error finding."""
        return cls(findings=[Finding(table, column, "error", check, rows, problem, fix, **extra)])

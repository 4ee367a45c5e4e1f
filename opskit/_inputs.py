"""How KPI functions accept their inputs: a Dataset, an Ibis table or a pandas frame."""

from __future__ import annotations

from typing import Any

import ibis.expr.types as ir
import pandas as pd

from opskit import engine
from opskit.dataset import Dataset, require_columns
from opskit.errors import DataError
from opskit.schema import TABLES
from opskit.validation import prepare

__all__ = ["table_arg"]


def table_arg(obj: Any, name: str, columns: tuple[str, ...]) -> ir.Table:
    """Return ``obj`` as the canonical table ``name`` with ``columns``.

    A Dataset gives its table ``name``; a pandas DataFrame is validated as
    :func:`opskit.load` would (string timestamps parse, bad values raise a
    DataError); an Ibis table is taken as already canonical and only checked
    for the columns.
    """
    if isinstance(obj, Dataset):
        obj = obj[name]
    elif isinstance(obj, pd.DataFrame):
        prepared = prepare(engine.frame_table(obj), name)
        errors = [f for f in prepared.findings if f.level == "error"]
        if errors:
            raise DataError(findings=errors)
        obj = prepared.table
    elif not isinstance(obj, ir.Table):
        raise TypeError(
            f"`{name}` must be an opskit.Dataset, an Ibis table or a pandas DataFrame, "
            f"not {type(obj).__name__}")
    table = require_columns(obj, name, columns)
    _check_types(table, name, columns)
    return table


_ACCEPTS = {
    "timestamp": ("timestamp", lambda t: t.is_timestamp()),
    "date": ("date", lambda t: t.is_date() or t.is_timestamp()),
    "money": ("number", lambda t: t.is_numeric()),
    "count": ("number", lambda t: t.is_numeric()),
    "number": ("number", lambda t: t.is_numeric()),
    "rating": ("number", lambda t: t.is_numeric()),
}


def _check_types(table: ir.Table, name: str, columns: tuple[str, ...]) -> None:
    """An Ibis table is used as it is: its contract columns must already have their types."""
    spec = TABLES.get(name)
    for col in columns:
        column = spec.column(col) if spec else None
        if column is None or column.kind not in _ACCEPTS:
            continue
        wanted, ok = _ACCEPTS[column.kind]
        dtype = table.schema()[col]
        if not ok(dtype):
            raise DataError.single(
                name, col, "wrong_type", 0,
                f"is {dtype} in this Ibis table, but this calculation needs a {wanted}",
                f"pass the table through opskit.load(...) (or Dataset.from_frames), which parses "
                f"and checks it, or cast `{col}` in the database")

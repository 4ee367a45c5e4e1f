"""How KPI functions accept their inputs: a Dataset, an Ibis table or a pandas frame."""

from __future__ import annotations

from typing import Any

import ibis.expr.types as ir
import pandas as pd

from opskit import engine
from opskit.dataset import Dataset, require_columns
from opskit.errors import DataError
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
    return require_columns(obj, name, columns)

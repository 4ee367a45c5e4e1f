"""Where computation runs: the only module that knows about DuckDB or Spark.

KPI code builds backend-free Ibis expressions; this module opens the
in-process DuckDB connection, turns files and pandas frames into Ibis tables,
supplies the few operations whose spelling differs between engines (parsing
timestamp text, converting time zones) and runs expressions to pandas with
stable dtypes.

Examples
--------
>>> import pandas as pd
>>> from opskit import engine
>>> t = engine.as_table(pd.DataFrame({"user_id": ["a", "b"]}))
>>> engine.to_pandas(t.aggregate(users=t.user_id.nunique()))["users"].tolist()
[2]
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd

from opskit.errors import OpskitError

__all__ = [
    "ROW",
    "as_table",
    "backend_name",
    "cached",
    "connect",
    "drop",
    "frame_table",
    "local_to_utc",
    "materialise",
    "parse_text_timestamp",
    "read_duckdb_file",
    "read_file",
    "register_frame",
    "release_sources",
    "to_pandas",
]

#: Name of the column holding each row's 1-based position in its source.
ROW = "__opskit_row"

_names = itertools.count(1)


def connect(backend: Any = None) -> ibis.BaseBackend:
    """Return ``backend`` if given, else a new in-process DuckDB connection.

    The DuckDB session runs in UTC, so that ``now()`` and casts of aware
    values agree with opskit's convention (tz-naive timestamps are UTC).
    """
    if backend is not None:
        return backend
    con = ibis.duckdb.connect()
    con.raw_sql("SET TimeZone = 'UTC'")
    con.raw_sql("SET enable_progress_bar = false")
    return con


def backend_name(obj: ibis.BaseBackend | ir.Expr) -> str:
    """``"duckdb"``, ``"pyspark"``, ... for a backend or an expression bound to one."""
    if isinstance(obj, ir.Expr):
        try:
            obj = obj.get_backend()
        except Exception:  # an unbound memtable runs on ibis's default backend
            return ibis.get_backend().name
    return obj.name


def as_table(obj: Any) -> ir.Table:
    """Wrap a pandas DataFrame (or pyarrow Table) as an Ibis table; pass tables through."""
    if isinstance(obj, ir.Table):
        return obj
    if isinstance(obj, pd.DataFrame):
        return ibis.memtable(_arrow_safe(obj))
    try:
        import pyarrow as pa

        if isinstance(obj, pa.Table):
            return ibis.memtable(obj)
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pass
    raise TypeError(
        f"expected an Ibis table or a pandas DataFrame, got {type(obj).__name__}"
    )


def to_pandas(expr: ir.Expr) -> pd.DataFrame:
    """Execute ``expr`` and return a DataFrame with stable dtypes.

    Timestamps come back tz-naive UTC as ``datetime64[ns]`` (DuckDB gives
    microseconds, Spark nanoseconds, aware values are converted to UTC);
    dates come back as ``datetime64[ns]`` at midnight.
    """
    if isinstance(expr, (ir.Column, ir.Scalar)):
        expr = expr.as_table()
    frame = expr.execute()
    schema = expr.schema()
    for name in frame.columns:
        dtype = schema.get(name)
        series = frame[name]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        if dtype is not None and (dtype.is_timestamp() or dtype.is_date()):
            series = pd.to_datetime(series).astype("datetime64[ns]")
        frame[name] = series
    return frame


def _arrow_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn object columns holding mixed Python types into text, so Arrow accepts them."""
    fixed = {}
    for name in frame.columns:
        series = frame[name]
        if series.dtype == object:
            kinds = {type(v) for v in series.dropna().head(10_000)}
            if len(kinds) > 1:
                fixed[name] = series.map(lambda v: None if pd.isna(v) else str(v))
    return frame.assign(**fixed) if fixed else frame


# --- DuckDB: reading files -------------------------------------------------------------


def _sql_string(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _fresh(prefix: str) -> str:
    return f"_opskit_{prefix}_{next(_names)}"


def _require_duckdb(con: ibis.BaseBackend) -> None:
    if con.name != "duckdb":
        raise OpskitError(f"reading files needs the DuckDB engine, not {con.name}")


def read_file(con: ibis.BaseBackend, path: Path, fmt: str, *,
              text_columns: tuple[str, ...] = ()) -> ir.Table:
    """Read a data file into DuckDB and return it with a :data:`ROW` column.

    Parameters
    ----------
    con
        A DuckDB backend from :func:`connect`.
    path
        The file (CSV already transcoded to UTF-8).
    fmt
        ``"csv"``, ``"parquet"`` or ``"jsonl"``.
    text_columns
        CSV columns to read as text whatever they look like (opskit parses
        them itself, so a bad value deep in the file is reported, not fatal).

    CSV and JSON Lines are parsed once into a DuckDB table (file order kept
    in ``rowid``); Parquet stays a view over the file, so a large file never
    passes through Python memory.
    """
    _require_duckdb(con)
    raw = _fresh("raw")
    src = _sql_string(str(path))
    if fmt == "parquet":
        glob = _sql_string(str(path / "*.parquet")) if path.is_dir() else src
        con.raw_sql(
            f"CREATE VIEW {raw} AS SELECT * EXCLUDE (file_row_number), "
            f"file_row_number + 1 AS {ROW} FROM read_parquet({glob}, file_row_number = true)"
        )
        return con.table(raw)
    if fmt == "csv":
        options = "header = true, sample_size = 20480"
        if text_columns:
            types = ", ".join(f"{_sql_string(c)}: 'VARCHAR'" for c in text_columns)
            options += f", types = {{{types}}}"
        reader = f"read_csv({src}, {options})"
    elif fmt == "jsonl":
        reader = f"read_json({src}, format = 'newline_delimited', sample_size = -1)"
    else:  # pragma: no cover - callers pass known formats
        raise ValueError(fmt)
    con.raw_sql(f"CREATE TABLE {raw} AS SELECT * FROM {reader}")
    return con.sql(f"SELECT *, rowid + 1 AS {ROW} FROM {raw}")


def csv_columns(con: ibis.BaseBackend, path: Path) -> list[str]:
    """The header of a CSV file as DuckDB's sniffer reads it."""
    _require_duckdb(con)
    rows = con.raw_sql(f"DESCRIBE SELECT * FROM read_csv({_sql_string(str(path))}, header = true)")
    return [r[0] for r in rows.fetchall()]


def frame_table(frame: pd.DataFrame) -> ir.Table:
    """An unbound Ibis table of ``frame`` with a :data:`ROW` column (index order)."""
    import pyarrow as pa

    arrow = pa.Table.from_pandas(_arrow_safe(frame), preserve_index=False)
    arrow = arrow.append_column(ROW, pa.array(range(1, len(frame) + 1), type=pa.int64()))
    return ibis.memtable(arrow)


def register_frame(con: ibis.BaseBackend, frame: pd.DataFrame) -> ir.Table:
    """Copy a pandas frame into the engine as a table, with a :data:`ROW` column."""
    return con.create_table(_fresh("frame"), frame_table(frame))


def read_duckdb_file(con: ibis.BaseBackend, path: Path) -> dict[str, ir.Table]:
    """Attach a DuckDB database file read-only; its tables by name."""
    _require_duckdb(con)
    alias = _fresh("db")
    con.raw_sql(f"ATTACH {_sql_string(str(path))} AS {alias} (READ_ONLY)")
    rows = con.raw_sql(
        "SELECT table_name FROM information_schema.tables "
        f"WHERE table_catalog = {_sql_string(alias)} AND table_schema = 'main'"
    ).fetchall()
    return {name: con.table(name, database=(alias, "main")) for (name,) in rows}


def materialise(con: ibis.BaseBackend, expr: ir.Table, *, view: bool) -> ir.Table:
    """Store ``expr`` in the engine as a table (or a view) and return it."""
    name = _fresh("t")
    if view:
        return con.create_view(name, expr)
    return con.create_table(name, expr)


def drop(table: ir.Table) -> None:
    """Drop a table (or view) made by :func:`materialise` from its engine, to free its memory.

    Only opskit's own tables can be dropped (their names start with ``_opskit_``);
    dropping one twice is a no-op. Expressions built on the table fail afterwards.

    Examples
    --------
    >>> import ibis
    >>> con = ibis.duckdb.connect()
    >>> t = materialise(con, ibis.memtable({"a": [1, 2]}), view=False)
    >>> drop(t); drop(t)
    >>> t.op().name in con.list_tables()
    False
    """
    name = table.op().name  # unqualified (get_name() adds the catalog and database)
    if not re.fullmatch(r"_opskit_\w+", name):
        raise ValueError(f"engine.drop only drops tables made by opskit (named _opskit_...), not {name!r}")
    con = table.get_backend()
    if con.name == "duckdb":
        views = con.raw_sql("SELECT view_name FROM duckdb_views() WHERE view_name = "
                            f"{_sql_string(name)}").fetchall()
        con.raw_sql(f"DROP {'VIEW' if views else 'TABLE'} IF EXISTS {_ident(name)}")
        return
    # ibis 12's drop_table/drop_view SQL fails on Spark; the name is a plain identifier
    if name in con.list_tables():
        try:
            con.raw_sql(f"DROP TABLE IF EXISTS {name}")
        except Exception:  # a view
            con.raw_sql(f"DROP VIEW IF EXISTS {name}")


def release_sources(con: ibis.BaseBackend) -> None:
    """Drop the copies of CSV, JSON and frames once their canonical tables exist."""
    if con.name != "duckdb":
        return
    rows = con.raw_sql(
        "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '\\_opskit\\_raw\\_%' ESCAPE '\\' "
        "OR table_name LIKE '\\_opskit\\_frame\\_%' ESCAPE '\\'"
    ).fetchall()
    for (name,) in rows:
        con.raw_sql(f"DROP TABLE {_ident(name)}")


@contextlib.contextmanager
def cached(expr: ir.Table) -> Iterator[ir.Table]:
    """Compute ``expr`` once for several queries; drop the copy afterwards.

    DuckDB gets a temporary table (ibis 12's ``Table.cache`` fails on duckdb 1.5
    when it drops the copy); other engines use ``Table.cache`` (Spark: a cached
    DataFrame).
    """
    try:
        con = expr.get_backend()
    except Exception:  # an unbound memtable runs on ibis's default backend
        con = ibis.get_backend()
    if con.name != "duckdb":
        with expr.cache() as table:
            yield table
        return
    name = _fresh("cache")
    table = con.create_table(name, expr, temp=True)
    try:
        yield table
    finally:
        con.raw_sql(f"DROP TABLE IF EXISTS {_ident(name)}")  # ibis's drop_table SQL fails here


# --- engine-specific spellings ------------------------------------------------------------

_TEXT_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d",
    "%Y%m%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
)
_SPARK_FORMATS = (
    "yyyy-M-d H:mm:ss",
    "yyyy-M-d H:mm",
    "yyyy-M-d'T'H:mm:ss",
    "yyyy-M-d",
    "yyyy/M/d H:mm:ss",
    "yyyy/M/d H:mm",
    "yyyy/M/d",
    "yyyy.M.d H:mm:ss",
    "yyyy.M.d",
    "yyyyMMdd",
    "yyyy年M月d日 H:mm:ss",
    "yyyy年M月d日",
)


@ibis.udf.scalar.builtin(name="try_strptime", signature=((dt.string, dt.string), dt.timestamp))
def _duckdb_try_strptime(text, fmt): ...


_AWARE = dt.Timestamp(timezone="UTC")


@ibis.udf.scalar.builtin(name="timezone", signature=((dt.string, dt.timestamp), _AWARE))
def _duckdb_wall_clock_in(zone, ts):
    """DuckDB ``timezone(zone, naive)``: the instant whose wall clock in ``zone`` is ``ts``."""


@ibis.udf.scalar.builtin(name="timezone", signature=((dt.string, _AWARE), dt.timestamp))
def _duckdb_wall_clock_of(zone, ts):
    """DuckDB ``timezone(zone, aware)``: the wall clock of instant ``ts`` in ``zone``."""


@ibis.udf.scalar.builtin(name="try_to_timestamp", signature=((dt.string, dt.string), dt.timestamp))
def _spark_try_to_timestamp(text, fmt): ...


@ibis.udf.scalar.builtin(name="to_utc_timestamp", signature=((dt.timestamp, dt.string), dt.timestamp))
def _spark_to_utc_timestamp(ts, zone): ...


_OFFSET = r"(Z|z|[+-]\d{2}:?\d{2})$"


def parse_text_timestamp(text: ir.StringValue, zone: str, engine: str) -> ir.TimestampValue:
    """Parse timestamp text to tz-naive UTC.

    Text with an offset (``Z``, ``+08:00``) is converted from that offset;
    text without one is read as local time in ``zone``. Accepted: ISO 8601,
    ``2024/01/05``, ``2024.01.05``, ``20240105``, ``2024年1月5日`` (with
    optional ``HH:MM[:SS]``), 10-digit epoch seconds and 13-digit epoch
    milliseconds. Anything else becomes NULL (the caller reports it).
    """
    text = text.strip()
    digits = text.re_search(r"^\d{10}(\.\d+)?$") | text.re_search(r"^\d{13}$")
    epoch = epoch_to_timestamp(text.cast("float64"), "s")
    epoch_ms = epoch_to_timestamp(text.cast("float64"), "ms")
    if engine == "duckdb":
        local = ibis.coalesce(
            text.try_cast("timestamp"),
            *[_duckdb_try_strptime(text, f) for f in _TEXT_FORMATS],
        )
        with_offset = _duckdb_wall_clock_of("UTC", text.try_cast(_AWARE))
    elif engine == "pyspark":
        local = ibis.coalesce(*[_spark_try_to_timestamp(text, ibis.literal(f)) for f in _SPARK_FORMATS])
        with_offset = _spark_try_to_timestamp(text, ibis.literal("yyyy-M-d'T'H:mm:ss[.SSS]XXX"))
    else:
        raise OpskitError(
            f"opskit parses timestamp text on DuckDB and Spark only; on {engine}, cast the "
            "column to a timestamp in the database first"
        )
    return ibis.cases(
        (digits & (text.length() == 13), epoch_ms),
        (digits, epoch),
        (text.re_search(_OFFSET), with_offset),
        else_=local_to_utc(local, zone, engine),
    )


def local_to_utc(ts: ir.TimestampValue, zone: str, engine: str) -> ir.TimestampValue:
    """Interpret naive ``ts`` as wall-clock time in ``zone``; return naive UTC."""
    if zone.upper() == "UTC":
        return ts
    if engine == "duckdb":
        return _duckdb_wall_clock_of("UTC", _duckdb_wall_clock_in(zone, ts))
    if engine == "pyspark":
        return _spark_to_utc_timestamp(ts, zone)
    raise OpskitError(f"time-zone conversion is implemented for DuckDB and Spark, not {engine}")


def aware_to_utc(ts: ir.TimestampValue, engine: str) -> ir.TimestampValue:
    """Drop the zone of an aware timestamp after converting it to UTC."""
    if engine == "duckdb":
        return _duckdb_wall_clock_of("UTC", ts)
    return ts.cast(dt.timestamp)


def epoch_to_timestamp(value: ir.NumericValue, unit: str) -> ir.TimestampValue:
    """Seconds (``"s"``), milliseconds (``"ms"``) since 1970, or Excel serial days (``"excel"``)."""
    origin, per_unit = {
        "s": ("1970-01-01 00:00:00", 1_000_000),
        "ms": ("1970-01-01 00:00:00", 1_000),
        "us": ("1970-01-01 00:00:00", 1),
        "excel": ("1899-12-30 00:00:00", 86_400_000_000),
    }[unit]
    micros = (value.cast("float64") * per_unit).round().cast("int64")
    return ibis.timestamp(origin) + micros.as_interval("us")

"""Turn a raw table into a canonical one, and say what is wrong with it.

:func:`prepare` renames columns (the user's mapping, then case and spacing),
coerces every contract column to its kind (see :mod:`opskit.schema`) with
Ibis expressions, and checks the rules of the contract in one aggregate
query per table. It never raises for bad values: it returns
:class:`~opskit.errors.Finding` objects, and the caller decides (``load``
raises :class:`~opskit.errors.DataError` on any error finding).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import pandas as pd

from opskit import engine
from opskit.errors import Finding
from opskit.schema import ORDERED_PAIRS, TABLES, Column, closest_column

__all__ = ["Prepared", "prepare", "resolve_columns"]

_RAW = "__opskit_raw__"
_EDGE = "__opskit_edge__"
_TIMESTAMP_FIX = (
    "write timestamps as ISO 8601 ('2024-01-05 13:00:00', optionally with an offset like "
    "'+08:00'), '2024/01/05', '2024年1月5日', epoch seconds/milliseconds or Excel serial dates; "
    "correct or remove those rows"
)
_NUMBER_FIX = (
    "write plain numbers (e.g. 1234.5; thousands separators and ¥/$ are stripped); "
    "correct or remove those rows"
)


@dataclass
class Prepared:
    """A table after :func:`prepare`: the canonical expression and the findings."""

    name: str
    table: ir.Table | None
    findings: list[Finding] = field(default_factory=list)
    rows: int | None = None
    duplicates: int = 0

    @property
    def ok(self) -> bool:
        return self.table is not None and not any(f.level == "error" for f in self.findings)


def resolve_columns(name: str, columns: list[str], mapping: dict[str, str] | None,
                    source: str | None = None) -> tuple[dict[str, str], list[Finding]]:
    """Decide which source column becomes which canonical column.

    Returns ``{source column: new name}`` for every column (extras keep their
    name, stripped of surrounding spaces) and the findings (missing required
    columns, mapping entries naming absent columns).
    """
    spec = TABLES[name]
    mapping = dict(mapping or {})
    findings: list[Finding] = []
    renames: dict[str, str] = {}
    stripped = {c: c.strip().lstrip("\ufeff") for c in columns}
    for src in mapping:
        if src not in columns and src not in stripped.values():
            findings.append(Finding(
                name, src, "error", "mapping_unknown_column", 0,
                f"the mapping renames `{src}`, which is not a column "
                f"(columns found: {', '.join(columns)})",
                f"correct the mapping for `{name}`", source=source))
    for col in columns:
        clean = stripped[col]
        renames[col] = mapping.get(col, mapping.get(clean, clean))
    taken = set(renames.values())
    lowered = {new.lower(): src for src, new in renames.items() if new not in spec.names}
    for canon in spec.names:
        if canon not in taken and canon.lower() in lowered:
            renames[lowered[canon.lower()]] = canon
            taken.add(canon)
    for canon in spec.required:
        if canon in taken:
            continue
        candidates = [c for c in columns if renames[c] not in spec.names]
        guess = closest_column(canon, candidates)
        hint = f"did you mean `{guess}`? " if guess else ""
        example = guess or "your_column"
        findings.append(Finding(
            name, canon, "error", "missing_column", 0,
            f"required column `{canon}` is missing (columns found: "
            f"{', '.join(columns) or 'none'})",
            f"{hint}pass mapping={{'{name}': {{'{example}': '{canon}'}}}} to opskit.load "
            "(or put it under [mapping.{name}] in opskit.toml)".replace("{name}", name),
            source=source))
    seen: dict[str, str] = {}
    for src, new in renames.items():
        if new in seen:
            findings.append(Finding(
                name, new, "error", "duplicate_column", 0,
                f"both `{seen[new]}` and `{src}` would become `{new}`",
                "drop one of them or map it to another name", source=source))
        seen[new] = src
    return renames, findings


def _edge_space(text: ir.StringValue) -> ir.BooleanValue:
    """Text that is empty, or starts or ends with a space or control character.

    Only such text can change when trimmed. Comparing with ``"!"`` (the first
    printable ASCII character) tests the first character as bytes: this is 5x
    faster in DuckDB than comparing the text with its trimmed self.
    """
    return (text < "!") | (text.right(1) < "!")


def _blank(col: ir.Value, edge: ir.BooleanValue | None) -> ir.BooleanValue:
    """Missing: NULL, or text of nothing but spaces (``edge`` is :func:`_edge_space` of it)."""
    if edge is not None:
        return col.isnull() | ibis.cases((edge, col.strip() == ""), else_=False)
    return col.isnull()


def _needs_cleaning(raw: ir.Value, column: Column, edge: ir.BooleanValue | None) -> ir.BooleanValue | None:
    """Rows whose text the coercion would change (spaces, empty, case); None if not text."""
    if column.kind not in ("id", "text") or edge is None:
        return None
    return edge | (raw != raw.lower()) if column.name == "segment" else edge


def _numeric_timestamp_unit(col: ir.NumericValue) -> str:
    """Guess whether numbers are Excel serial days, epoch seconds, ms or µs."""
    stats = engine.to_pandas(col.as_table().aggregate(hi=col.abs().max()))
    hi = stats["hi"].iloc[0]
    if hi is None or hi != hi or hi <= 2_958_465:  # 9999-12-31 as an Excel serial
        return "excel"
    if hi < 1e11:
        return "s"
    if hi < 1e14:
        return "ms"
    return "us"


def _coerce(col: ir.Value, column: Column, zone: str, eng: str) -> ir.Value:
    """``col`` as the contract's kind; values that do not parse become NULL."""
    kind, dtype = column.kind, col.type()
    if kind in ("id", "text"):
        if dtype.is_string():
            out = col.strip().nullif("")
        elif dtype.is_floating():
            out = ibis.cases((col == col.floor(), col.cast("int64").cast("string")),
                             else_=col.cast("string"))
        else:
            out = col.cast("string")
        return out.lower() if column.name == "segment" else out
    if kind in ("timestamp", "date"):
        if dtype.is_timestamp():
            if dtype.timezone is not None:
                out = engine.aware_to_utc(col, eng)
            else:
                out = col if kind == "date" else engine.local_to_utc(col, zone, eng)
        elif dtype.is_date():
            out = col.cast("timestamp")
            if kind == "timestamp":
                out = engine.local_to_utc(out, zone, eng)
        elif dtype.is_numeric():
            unit = _numeric_timestamp_unit(col)
            out = engine.epoch_to_timestamp(col, unit)
            low = "1900-01-01" if unit == "excel" else "1970-01-02"
            out = ibis.cases((out.between(ibis.timestamp(low), ibis.timestamp("2200-01-01")), out),
                             else_=ibis.null("timestamp"))
            if unit == "excel" and kind == "timestamp":
                out = engine.local_to_utc(out, zone, eng)
        elif dtype.is_string():
            zone_for_text = "UTC" if kind == "date" else zone
            out = engine.parse_text_timestamp(col, zone_for_text, eng)
        else:
            out = ibis.null("timestamp")
        return out.date() if kind == "date" else out
    if kind == "bool":
        if dtype.is_boolean():
            return col
        if dtype.is_numeric():
            return col != 0
        text = col.cast("string").strip().lower()
        return ibis.cases(
            (text.isin(["true", "t", "1", "yes", "y", "是", "真"]), True),
            (text.isin(["false", "f", "0", "no", "n", "否", "假"]), False),
            else_=ibis.null("boolean"),
        )
    # money, count, number, rating
    if dtype.is_numeric() or dtype.is_boolean():
        return col.cast("float64")
    if dtype.is_string():
        cleaned = col.re_replace(r"[,\s¥￥$€£]", "")
        return cleaned.try_cast("float64")
    return ibis.null("float64")


def _rules(t: ir.Table, spec_cols: list[Column], name: str, now: _dt.datetime):
    """Yield (check, column, level, predicate, problem, fix) for every rule that applies."""
    for column in spec_cols:
        c, raw = t[column.name], t[_RAW + column.name]
        blank = _blank(raw, t[_EDGE + column.name] if _EDGE + column.name in t.columns else None)
        if column.required:
            yield ("missing_value", column.name, "error", blank,
                   "are empty, but every row needs this column",
                   "fill the value or remove those rows")
        parse_problem, parse_fix = {
            "timestamp": ("have timestamps that could not be parsed", _TIMESTAMP_FIX),
            "date": ("have dates that could not be parsed", _TIMESTAMP_FIX),
            "bool": ("are not true/false (also accepted: 1/0, yes/no, 是/否)",
                     "use true/false"),
        }.get(column.kind, ("are not numbers", _NUMBER_FIX))
        if column.kind not in ("id", "text"):
            check = "unparseable_" + ("timestamp" if column.kind == "date" else
                                      column.kind if column.kind in ("timestamp", "bool") else
                                      "number")
            yield (check, column.name, "error", ~blank & c.isnull(), parse_problem, parse_fix)
        if column.kind == "money":
            yield ("negative_money", column.name, "error", c < 0,
                   "have negative amounts",
                   "record refunds and discounts in their own rows or column, amounts >= 0")
        elif column.kind == "count":
            yield ("negative_count", column.name, "error", c < 0,
                   "have negative values", "counts and durations must be >= 0")
        elif column.kind == "rating":
            yield ("rating_out_of_range", column.name, "error", ~c.between(1, 5),
                   "are outside the 1-5 scale", "use scores from 1 to 5 (or leave them empty)")
        if column.kind == "timestamp":
            yield ("future_timestamp", column.name, "warning", c > ibis.timestamp(now),
                   "are in the future (kept)",
                   "check the export's clock and time zone (opskit.load(..., timezone=...))")
    names = {c.name for c in spec_cols}
    for table, early, late in ORDERED_PAIRS:
        if table == name and early in names and late in names:
            yield (f"{late}_before_{early}", late, "error", t[late] < t[early],
                   f"have `{late}` before `{early}`",
                   f"check the two columns (swapped?); `{late}` must be on or after `{early}`")


def prepare(raw: ir.Table, name: str, *, mapping: dict[str, str] | None = None,
            timezone: str = "UTC", source: str | None = None,
            now: _dt.datetime | None = None) -> Prepared:
    """Canonicalise and validate one table.

    Parameters
    ----------
    raw
        The table as read (it may carry :data:`opskit.engine.ROW`).
    name
        Canonical table name, a key of :data:`opskit.schema.TABLES`.
    mapping
        ``{source column: canonical column}`` renames.
    timezone
        Zone of naive timestamps (IANA name, e.g. ``"Asia/Shanghai"``).
    source
        File name shown in findings.
    now
        Instant after which timestamps count as in the future (default: now, UTC).

    Returns
    -------
    Prepared
        ``table`` is ``None`` when required columns are missing; otherwise a
        lazy expression with contract columns first (coerced), then the
        extra columns, exact duplicate rows removed.
    """
    spec = TABLES[name]
    eng = engine.backend_name(raw)
    now = now or _dt.datetime.now(_dt.UTC).replace(tzinfo=None)
    columns = [c for c in raw.columns if c != engine.ROW]
    renames, findings = resolve_columns(name, columns, mapping, source)
    if any(f.level == "error" for f in findings):
        return Prepared(name, None, findings)
    has_row = engine.ROW in raw.columns
    t = raw.rename({new: old for old, new in renames.items() if new != old})
    present = [c for c in spec.columns if c.name in t.columns]
    extras = [c for c in t.columns if spec.column(c) is None and c != engine.ROW]
    coerced = {c.name: _coerce(t[c.name], c, timezone, eng) for c in present}
    typed = t.select(
        *[coerced[c.name].name(c.name) for c in present],
        *extras,
        *[t[c.name].name(_RAW + c.name) for c in present],
        # computed once per text column, read by the missing-value and cleaning checks
        *[_edge_space(t[c.name]).name(_EDGE + c.name) for c in present if t[c.name].type().is_string()],
        *([t[engine.ROW]] if has_row else []),
    )
    rules = list(_rules(typed, present, name, now))
    edges = {c.name: typed[_EDGE + c.name] if _EDGE + c.name in typed.columns else None for c in present}
    needs_cleaning = {c.name: _needs_cleaning(typed[_RAW + c.name], c, edges[c.name]) for c in present}
    needs_cleaning = {n: pred for n, pred in needs_cleaning.items() if pred is not None}
    counts = engine.to_pandas(typed.aggregate(
        __total=typed.count(),
        **{f"r{i}": rule[3].fill_null(False).cast("int64").sum() for i, rule in enumerate(rules)},
        **{f"w_{n}": pred.fill_null(False).cast("int64").sum() for n, pred in needs_cleaning.items()},
    )).iloc[0]
    total = int(counts["__total"])
    for i, (check, col, level, pred, problem, fix) in enumerate(rules):
        n = int(counts[f"r{i}"] or 0)
        if n:
            findings.append(Finding(name, col, level, check, n, problem, fix, total=total,
                                    examples=_examples(typed, pred, col, check, has_row),
                                    source=source))
    # Text columns that are already clean are passed through untouched, so that
    # every later query on a Parquet view does not trim millions of strings again.
    clean = t.select(
        *[(t[c.name] if c.name in needs_cleaning and not counts[f"w_{c.name}"] else coerced[c.name])
          .name(c.name) for c in present],
        *extras,
    )
    distinct = clean.distinct()
    dupes = total - int(engine.to_pandas(distinct.count().as_table()).iloc[0, 0])
    if dupes:
        findings.append(Finding(name, None, "warning", "duplicate_rows", dupes,
                                "were exact duplicates of another row and were dropped",
                                "nothing to do if the export repeats rows; otherwise check it",
                                total=total, source=source))
        clean = distinct
    return Prepared(name, clean, findings, rows=total - dupes, duplicates=dupes)


def _examples(t: ir.Table, pred: ir.BooleanValue, col: str, check: str,
              has_row: bool) -> tuple[tuple[int | None, str | None], ...]:
    shown = t[_RAW + col]
    if "_before_" in check:
        early = check.split("_before_")[1]
        shown = (t[early].cast("string") + " -> " + t[col].cast("string"))
    rows = t.filter(pred.fill_null(False))
    if has_row:
        rows = rows.order_by(engine.ROW)
    picked = rows.select(
        row=t[engine.ROW] if has_row else ibis.null("int64"),
        value=shown.cast("string"),
    ).limit(3)
    frame = engine.to_pandas(picked)
    return tuple(
        (None if pd.isna(row) else int(row), None if pd.isna(value) else str(value))
        for row, value in zip(frame["row"], frame["value"], strict=True)
    )

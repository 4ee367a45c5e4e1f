"""Typed template parameters: declared types, and conversion of given values.

papermill injects whatever it is given and only warns about unknown names;
``-p start 2024-01-01`` or ``-p segments "[1,2]"`` reach the notebook as
strings. Here every value is converted to the type the template declares,
and refused with a sentence that says how to fix it when it does not convert.

Declared types are read from the parameters cell:

- an annotation, ``periods: int = 12`` (also ``float``, ``bool``, ``str``,
  ``list``, ``list[str]``, ``dict``, ``Optional[str]``, ``str | None``); or
- the default, ``periods = 12`` (``None`` declares a value of any type);
- a ``str`` parameter is a *date* when its default is an ISO date or its help
  comment says "date" (or 日期): values stay ISO strings but must parse.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import numbers
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ParamType", "convert", "infer_type", "parse_literal"]

_BASES = ("int", "float", "bool", "str", "date", "list", "dict", "any")
_ANNOTATION_NAMES = {
    "int": "int", "float": "float", "bool": "bool", "str": "str",
    "date": "date", "datetime": "date",
    "list": "list", "List": "list", "tuple": "list", "Tuple": "list", "Sequence": "list",
    "dict": "dict", "Dict": "dict", "Mapping": "dict",
    "Any": "any", "object": "any",
}
_DATE_WORD = re.compile(r"\bdates?\b|日期", re.IGNORECASE)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}
_NONE = {"none", "null"}


@dataclass(frozen=True)
class ParamType:
    """The declared type of a template parameter.

    Attributes
    ----------
    base
        One of ``int``, ``float``, ``bool``, ``str``, ``date`` (an ISO string
        that must parse), ``list``, ``dict`` or ``any``.
    item
        Element type of a ``list`` (``None``: any element).
    optional
        Whether ``None`` is accepted.
    """

    base: str
    item: str | None = None
    optional: bool = False

    def __str__(self) -> str:
        text = f"list[{self.item}]" if self.base == "list" and self.item else self.base
        return f"{text} | None" if self.optional and self.base != "any" else text


class _RefusedError(ValueError):
    """A value that does not convert; the message is the reason and the fix."""


def parse_literal(text: str) -> Any:
    """Read a Python literal (the default of a parameter, a ``-p`` value); raise ``ValueError``."""
    return ast.literal_eval(text.strip())


def _annotation_type(annotation: str) -> ParamType | None:
    """Turn an annotation's text into a ParamType; ``None`` when it is not one opskit knows."""
    try:
        node = ast.parse(annotation.strip().strip("'\""), mode="eval").body
    except SyntaxError:
        return None
    return _node_type(node)


def _node_type(node: ast.expr) -> ParamType | None:
    if isinstance(node, ast.Name | ast.Attribute):
        name = node.id if isinstance(node, ast.Name) else node.attr
        base = _ANNOTATION_NAMES.get(name)
        return ParamType(base) if base else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # X | None
        sides = [node.left, node.right]
        nones = [s for s in sides if isinstance(s, ast.Constant) and s.value is None]
        others = [s for s in sides if s not in nones]
        if len(nones) == 1 and len(others) == 1:
            inner = _node_type(others[0])
            return ParamType(inner.base, inner.item, optional=True) if inner else None
        return None
    if isinstance(node, ast.Subscript):
        outer = node.value.id if isinstance(node.value, ast.Name) else getattr(node.value, "attr", "")
        if outer == "Optional":
            inner = _node_type(node.slice)
            return ParamType(inner.base, inner.item, optional=True) if inner else None
        base = _ANNOTATION_NAMES.get(outer)
        if base == "list":
            item_node = node.slice.elts[0] if isinstance(node.slice, ast.Tuple) else node.slice
            item = _node_type(item_node)
            if item is None or item.base in {"list", "dict"}:
                return ParamType("list")
            return ParamType("list", None if item.base == "any" else item.base)
        if base == "dict":
            return ParamType("dict")
    return None


def infer_type(name: str, annotation: str | None, default: str, help_text: str) -> ParamType:
    """Declared type of a parameter from its annotation, default and help comment.

    Parameters
    ----------
    name
        Parameter name (for the error message).
    annotation
        Annotation or ``# type:`` comment text, ``None`` when there is none.
    default
        Source text of the default value.
    help_text
        The help comment.

    Raises
    ------
    ValueError
        For an annotation that is not one of the supported types.
    """
    try:
        value = parse_literal(default)
        literal = True
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value, literal = None, False
    if annotation:
        declared = _annotation_type(annotation)
        if declared is None:
            raise ValueError(
                f"parameter {name!r} is annotated {annotation!r}, which opskit cannot convert to; "
                "use int, float, bool, str, list, list[str], dict, or Optional[...] of one of them")
        if literal and value is None and not declared.optional and declared.base != "any":
            declared = ParamType(declared.base, declared.item, optional=True)
    elif not literal or value is None:
        declared = ParamType("any", optional=True)
    elif isinstance(value, bool):
        declared = ParamType("bool")
    elif isinstance(value, int):
        declared = ParamType("int")
    elif isinstance(value, float):
        declared = ParamType("float")
    elif isinstance(value, str):
        declared = ParamType("str")
    elif isinstance(value, list | tuple):
        kinds = {type(v) for v in value}
        names = {str: "str", int: "int", float: "float", bool: "bool"}
        item = names.get(kinds.pop()) if len(kinds) == 1 else None
        declared = ParamType("list", item)
    elif isinstance(value, dict):
        declared = ParamType("dict")
    else:
        declared = ParamType("any", optional=True)
    if declared.base in {"str", "any"} and (
            _DATE_WORD.search(help_text or "") or (isinstance(value, str) and _ISO_DATE.match(value))):
        declared = ParamType("date", optional=declared.optional or value is None)
    return declared


def _parse_date(text: str) -> str:
    try:
        dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise _RefusedError(f"expects an ISO date such as 2025-01-31, got {text!r}") from None
    return text.strip()


def _from_text(kind: ParamType, text: str) -> Any:
    stripped = text.strip()
    if kind.optional and stripped.lower() in _NONE:
        return None
    base = kind.base
    if base == "str":
        return text
    if base == "date":
        return _parse_date(text)
    if base == "int":
        try:
            return int(stripped)
        except ValueError:
            raise _RefusedError(f"expects a whole number (int), got {text!r}") from None
    if base == "float":
        try:
            return float(stripped)
        except ValueError:
            raise _RefusedError(f"expects a number (float), got {text!r}") from None
    if base == "bool":
        if stripped.lower() in _TRUE:
            return True
        if stripped.lower() in _FALSE:
            return False
        raise _RefusedError(f"expects true or false, got {text!r}")
    if base == "list":
        if stripped.startswith("["):  # JSON (or a Python list literal)
            value = _structured(text, list, "a list such as [\"a\", \"b\"] or a,b")
        else:  # the shell-friendly spelling: a,b,c
            value = [part.strip() for part in stripped.split(",")] if stripped else []
            if kind.item and kind.item != "str":
                return [_from_text(ParamType(kind.item), part) for part in value]
            return value
        return _from_python(kind, value)
    if base == "dict":
        return _structured(text, dict, "a JSON object such as {\"B2B\": 0.6}")
    # any: a literal when it reads as one, the text otherwise
    try:
        return parse_literal(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _structured(text: str, want: type, example: str) -> Any:
    for reader in (json.loads, parse_literal):
        try:
            value = reader(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, tuple) and want is list:
            value = list(value)
        if isinstance(value, want):
            return value
        break
    raise _RefusedError(f"expects {example}, got {text!r}")


def _from_python(kind: ParamType, value: Any) -> Any:
    base = kind.base
    if value is None:
        if kind.optional or base == "any":
            return None
        raise _RefusedError(f"does not accept None (declared {kind})")
    if isinstance(value, str):
        return _from_text(kind, value)
    if base == "any":
        return value
    if base == "str" and isinstance(value, os.PathLike):
        return os.fspath(value)
    if base == "date" and isinstance(value, dt.date):
        return value.isoformat()
    if base == "int" and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if base == "float" and isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if base == "bool" and isinstance(value, bool):
        return value
    if base == "list" and isinstance(value, list | tuple):
        if kind.item:
            return [_from_python(ParamType(kind.item), v) for v in value]
        return list(value)
    if base == "dict" and isinstance(value, Mapping):
        return dict(value)
    raise _RefusedError(f"expects {kind}, got {type(value).__name__} {value!r}")


def convert(kind: ParamType, value: Any) -> Any:
    """Convert ``value`` to the declared type ``kind``.

    Strings (from the command line or from Python) are parsed by the declared
    type; other Python values must already be of that type (an ``int`` passes
    for a ``float``, a ``datetime.date`` for a date, a path for a ``str``).

    Raises
    ------
    ValueError
        With the reason and the expected form, e.g. ``expects a whole number
        (int), got '12.5'``.

    Examples
    --------
    >>> convert(ParamType("int"), "12")
    12
    >>> convert(ParamType("list", "str"), "B2B,B2C")
    ['B2B', 'B2C']
    >>> convert(ParamType("date", optional=True), "None") is None
    True
    """
    try:
        return _from_python(kind, value)
    except _RefusedError as exc:
        raise ValueError(str(exc)) from None

"""Find report templates and read their parameters.

A template is a notebook with a cell tagged ``parameters``. Templates are
looked up by name (the notebook's stem, ``retention`` for
``retention.ipynb``) in the folders of :func:`template_dirs`; an explicit path
to an ``.ipynb`` file works too. Parameters come from
``papermill.inspect_notebook`` and get a declared type
(:func:`opskit.report.params.infer_type`).
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import opskit
from opskit.report.errors import ParameterError, TemplateError
from opskit.report.params import ParamType, convert, infer_type, parse_literal

__all__ = ["Parameter", "Template", "find_template", "list_templates", "template_dirs", "template_paths"]


@dataclass(frozen=True)
class Parameter:
    """One parameter of a template, as declared in its ``parameters`` cell.

    Attributes
    ----------
    name
        Variable name.
    type
        Declared type (see :class:`opskit.report.params.ParamType`).
    default
        Default value when it is a literal, else its source text.
    default_text
        Source text of the default, as written in the cell.
    help
        The ``# comment`` after the assignment.
    """

    name: str
    type: ParamType
    default: Any
    default_text: str
    help: str = ""


@dataclass(frozen=True)
class Template:
    """A report template: a notebook and its declared parameters.

    Attributes
    ----------
    name
        The notebook's stem; the report is written as ``<name>.html``.
    path
        The notebook file.
    parameters
        Declared parameters by name, in cell order.
    """

    name: str
    path: Path
    parameters: Mapping[str, Parameter] = field(default_factory=dict)

    def convert(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Check and convert given values by the declared types.

        Parameters
        ----------
        values
            Parameter name to value; strings are parsed by the declared type.

        Returns
        -------
        dict
            The converted values, in the order given.

        Raises
        ------
        ParameterError
            Listing every unknown name (with the closest declared one) and
            every value that does not convert.
        """
        problems, converted = [], {}
        known = list(self.parameters)
        for name, value in values.items():
            param = self.parameters.get(name)
            if param is None:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                listed = ", ".join(known) if known else "none"
                problems.append(f"unknown parameter {name!r}{hint} (the template declares: {listed})")
                continue
            try:
                converted[name] = convert(param.type, value)
            except ValueError as exc:
                problems.append(f"parameter {name!r} {exc}")
        if problems:
            raise ParameterError(self.name, problems)
        return converted

    def effective(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Every parameter's value for a run: the defaults overlaid with converted ``values``."""
        merged = {name: p.default for name, p in self.parameters.items()}
        merged.update(values)
        return merged


def template_dirs() -> list[Path]:
    """Folders searched for templates by name, in order.

    The installed package's ``opskit/templates`` (the wheel ships the
    repository's ``templates/`` there), then, for a source tree or an
    editable install, the repository's ``templates/``.
    """
    package = Path(opskit.__file__).resolve().parent
    candidates = [package / "templates"]
    if (package.parent / "pyproject.toml").is_file():  # a source tree, not site-packages
        candidates.append(package.parent / "templates")
    return [d for d in dict.fromkeys(candidates) if d.is_dir()]


def template_paths() -> dict[str, Path]:
    """Template name to notebook path for every template found by name (first folder wins)."""
    found: dict[str, Path] = {}
    for folder in template_dirs():
        for path in sorted(folder.glob("*.ipynb")):
            if not path.name.startswith(("_", ".")):
                found.setdefault(path.stem, path)
    return found


def _cell_targets(source: str) -> list[str]:
    """Names assigned at the top level of the parameters cell, by Python's own parser."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"the parameters cell is not valid Python ({exc.msg}, line {exc.lineno})") from None
    names = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            names.append(node.target.id)
    return names


def _read_parameters(path: Path) -> dict[str, Parameter]:
    import nbformat
    import papermill

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for a broken file
        raise TemplateError(f"template {path} is not a readable notebook: {exc}") from None
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        return {}
    inspected = papermill.inspect_notebook(str(path))
    try:
        missed = [n for n in _cell_targets(cells[0].source) if n not in inspected]
        if missed:
            raise ValueError(
                f"papermill cannot read the declaration of {', '.join(map(repr, missed))}: write one "
                "assignment per line as `name: type = value  # help`, with Optional[X] rather than X | None")
        params = {}
        for name, item in inspected.items():
            annotation = None if item["inferred_type_name"] == "None" else item["inferred_type_name"]
            kind = infer_type(name, annotation, item["default"], item["help"])
            try:
                default = parse_literal(item["default"])
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                default = item["default"]
            params[name] = Parameter(name, kind, default, item["default"], item["help"])
    except ValueError as exc:
        raise TemplateError(f"template {path.stem!r} ({path}): {exc}") from None
    return params


def find_template(template: str | Path) -> Template:
    """Find a template by name or path and read its parameters.

    Parameters
    ----------
    template
        A name (``"retention"``) looked up in :func:`template_dirs`, or a path
        to an ``.ipynb`` file.

    Raises
    ------
    TemplateError
        When no such template exists (naming the templates that do), or its
        parameters cell cannot be read.
    """
    text = str(template)
    path = Path(text).expanduser()
    looks_like_path = isinstance(template, Path) or text.endswith(".ipynb") or "/" in text or "\\" in text
    if looks_like_path and path.is_file():
        if path.suffix != ".ipynb":
            raise TemplateError(f"template {text!r} is not a notebook (.ipynb)")
        path = path.resolve()
        return Template(path.stem, path, _read_parameters(path))
    available = template_paths()
    name = path.stem if looks_like_path and path.suffix == ".ipynb" and path.parent == Path() else text
    if name in available:
        return Template(name, available[name], _read_parameters(available[name]))
    if looks_like_path:
        raise TemplateError(f"template file {text!r} does not exist")
    close = difflib.get_close_matches(name, list(available), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(available) or "none"
    folders = ", ".join(str(d) for d in template_dirs()) or "no template folder"
    raise TemplateError(f"no template named {name!r}{hint} (available: {listed}; searched {folders}). "
                        "Fix: pass one of those names, or a path to an .ipynb file")


def list_templates() -> list[Template]:
    """Every template found by name, with its parameters, sorted by name.

    Raises
    ------
    TemplateError
        When a template's parameters cell cannot be read.
    """
    return [Template(name, path, _read_parameters(path)) for name, path in sorted(template_paths().items())]


"""Helpers for the template tests: the static checks every template passes, running a
template through opskit.report.run, and reading an executed notebook's outputs."""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

import nbformat
import papermill

import opskit.report

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
VEGA_LITE = re.compile(r"^application/vnd\.vegalite\.v\d+\+json$")
#: Text that would mean metric logic or raw HTML in a template.
BANNED = (".groupby(", ".agg(", ".sum(", ".mean(", ".count(", "/ ", ".style", "HTML(", "<")


def assert_committed_clean(template: Path) -> None:
    """Committed without outputs, execution counts or papermill metadata."""
    nb = nbformat.read(template, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        assert "papermill" not in cell.metadata and "execution" not in cell.metadata


def assert_parameters(template: Path, expected: dict[str, tuple[str, str]]) -> None:
    """The first code cell alone is tagged `parameters`; each is typed, defaulted and documented."""
    nb = nbformat.read(template, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["parameters"]
    assert not any("parameters" in c.metadata.get("tags", []) for c in code[1:])
    found = papermill.inspect_notebook(str(template))
    assert list(found) == list(expected)
    for name, (annotation, default) in expected.items():
        assert (found[name]["inferred_type_name"], found[name]["default"]) == (annotation, default), name
        assert found[name]["help"], f"{name} has no help comment"
    for line in code[0].source.splitlines():  # one parameter per line: `name: type = default  # help`
        node = ast.parse(line).body[0] if line.strip() and not line.startswith("#") else None
        if isinstance(node, ast.AnnAssign):
            assert "  # " in line, line


def assert_thin(template: Path) -> None:
    """No metric logic in the template: no aggregation, arithmetic on KPI columns or HTML."""
    nb = nbformat.read(template, as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for banned in BANNED:
        assert banned not in source, banned
    assert "opskit.load(data)" in source
    assert len(max((c.source for c in nb.cells), key=len).splitlines()) <= 16  # short cells


def execute(template: Path, params: dict, out: Path) -> nbformat.NotebookNode:
    """Run ``template`` with the report pipeline and return the executed notebook."""
    opskit.report.run(template, params, out, format="both")
    return nbformat.read(out / f"{template.stem}.ipynb", as_version=4)


def outputs(nb: nbformat.NotebookNode) -> tuple[list[str], list[dict], list[str]]:
    """Markdown texts, Vega-Lite specs and error names of an executed notebook."""
    markdown, specs, errors = [], [], []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                errors.append(f"{output.ename}: {output.evalue}")
            data = output.get("data", {})
            markdown += [data["text/markdown"]] if "text/markdown" in data else []
            specs += [v for k, v in data.items() if VEGA_LITE.match(k)]
    return markdown, specs, errors


def plain(md: str) -> str:
    """Rendered text of escaped Markdown: backslash escapes and HTML entities undone."""
    return html.unescape(re.sub(r"\\(.)", r"\1", md))

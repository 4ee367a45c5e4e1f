"""templates/retention.ipynb: committed clean, parameters papermill can read, and it runs in en and zh."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

import opskit
from opskit.narrative import escape_markdown

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "retention.ipynb"
PARAMETERS = {
    "data": ("str", '"demo-data"'), "start": ("Optional[str]", "None"), "end": ("Optional[str]", "None"),
    "period": ("str", '"week"'), "mode": ("str", '"on"'), "kind": ("str", '"first_time"'),
    "start_event": ("Optional[str]", "None"), "return_event": ("Optional[str]", "None"),
    "segment_by": ("str", '"segment"'), "lang": ("str", '"en"'), "title": ("str", '""'),
}
VEGA_LITE = re.compile(r"^application/vnd\.vegalite\.v\d+\+json$")


# --- the committed notebook (fast) -----------------------------------------------------
def test_template_is_committed_without_outputs():
    nb = nbformat.read(TEMPLATE, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        assert "papermill" not in cell.metadata and "execution" not in cell.metadata


def test_parameters_cell_is_tagged_typed_and_documented():
    nb = nbformat.read(TEMPLATE, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["parameters"]
    assert not any("parameters" in c.metadata.get("tags", []) for c in code[1:])
    found = papermill.inspect_notebook(str(TEMPLATE))
    assert list(found) == list(PARAMETERS)
    for name, (annotation, default) in PARAMETERS.items():
        assert (found[name]["inferred_type_name"], found[name]["default"]) == (annotation, default), name
        assert found[name]["help"], f"{name} has no help comment"
    for line in code[0].source.splitlines():  # one parameter per line: `name: type = default  # help`
        node = ast.parse(line).body[0] if line.strip() and not line.startswith("#") else None
        if isinstance(node, ast.AnnAssign):
            assert "  # " in line, line


def test_notebook_only_loads_calls_charts_and_narrates():
    """No metric logic in the template: no aggregation, arithmetic on KPI columns or HTML."""
    nb = nbformat.read(TEMPLATE, as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for banned in (".groupby(", ".agg(", ".sum(", ".mean(", ".count(", "/ ", ".style", "HTML(", "<"):
        assert banned not in source, banned
    assert "opskit.load(data)" in source
    assert len(max((c.source for c in nb.cells), key=len).splitlines()) <= 16  # short cells


def test_template_is_found_by_the_report_pipeline():
    templates = pytest.importorskip("opskit.report.templates")
    found = templates.find_template(TEMPLATE)
    assert list(found.parameters) == list(PARAMETERS)


# --- execution on demo data (slow) -----------------------------------------------------
@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    for name, frame in opskit.demo.generate_frames(users=2_000, seed=7).items():
        frame.to_parquet(out / f"{name}.parquet", index=False)
    return out


def _kernel_setup() -> str:
    """What the report runner runs when its kernel starts (Vega-Lite charts as +json outputs)."""
    try:
        from opskit.report.execute import KERNEL_SETUP
    except ImportError:
        return ("import altair as alt; alt.renderers.register('vl', lambda spec, **_: "
                "{'application/vnd.vegalite.v6+json': spec, 'text/plain': '<chart>'}); "
                "alt.renderers.enable('vl')")
    return KERNEL_SETUP


def _execute(params: dict, out: Path) -> nbformat.NotebookNode:
    """Run the template through opskit.report.run when the pipeline has it, else papermill
    on a kernelspec of this interpreter (never a machine's own ``python3`` kernel)."""
    report = importlib.import_module("opskit.report")
    if hasattr(report, "run"):
        kwargs = {"format": "both"} if "format" in inspect.signature(report.run).parameters else {}
        report.run(TEMPLATE, params, out, **kwargs)
        return nbformat.read(out / f"{TEMPLATE.stem}.ipynb", as_version=4)
    spec_dir = out / "jupyter" / "kernels" / "opskit-test"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 f"--IPKernelApp.exec_lines={_kernel_setup()}"],
        "display_name": "opskit test", "language": "python"}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(out / "jupyter"))
        papermill.execute_notebook(str(TEMPLATE), str(out / "retention.ipynb"), parameters=params,
                                   kernel_name="opskit-test", progress_bar=False, cwd=str(out))
    return nbformat.read(out / "retention.ipynb", as_version=4)


def _outputs(nb: nbformat.NotebookNode) -> tuple[list[str], list[dict], list[str]]:
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


@pytest.mark.slow
def test_english_report_runs_on_demo_data(demo_dir, tmp_path):
    nb = _execute({"data": str(demo_dir), "lang": "en"}, tmp_path)
    markdown, specs, errors = _outputs(nb)
    assert errors == []
    assert len(specs) == 6  # headline bars, heatmap, segment and channel curves, new vs returning, churn
    text = "\n".join(markdown)
    order = ["Headline: D1, D7 and D30 retention", "Cohort retention", "Retention curves", "By segment",
             "By acquisition channel", "New and returning users", "Churn of paying accounts", "Findings"]
    positions = [text.index(f"# {heading}") for heading in order]
    assert positions == sorted(positions)
    findings = markdown[-1]
    for pattern in (r"D1 retention is [\d.]+ %", r"D7 retention is", r"D30 retention is",
                    r"At week \d+, b2b retains",  # the segment curves compared
                    r"New users retain worse than returning users",  # planted: new_users_retain_worse
                    r"b2c churns [\d.]+x faster than b2b",  # planted: b2c_vs_b2b_churn (10x at this size)
                    r"(No week's churn was abnormal|churn was [\d.]+ %, above the normal)"):
        assert re.search(pattern, findings), pattern


@pytest.mark.slow
def test_chinese_report_reads_in_chinese(demo_dir, tmp_path):
    nb = _execute({"data": str(demo_dir), "lang": "zh", "start": "2025-02-01"}, tmp_path)
    markdown, specs, errors = _outputs(nb)
    assert errors == [] and len(specs) == 6
    data_words = [escape_markdown(w) for w in (*opskit.demo.CHANNELS, "b2b", "b2c")]
    for md in markdown:  # every heading and paragraph is Chinese; Latin only in data, dates and numbers
        prose = re.sub("|".join(map(re.escape, data_words)), "", md)
        assert re.search(r"[\u4e00-\u9fff]", md) and not re.findall(r"[A-Za-z]{2,}", prose), md
    assert any(md.startswith("## 主要发现") for md in markdown)
    findings = markdown[-1]
    assert "新用户的留存低于老用户" in findings  # planted: new_users_retain_worse
    assert re.search(r"b2c 的流失速度是 b2b 的 [\d\\.]+ 倍", findings)  # planted: b2c_vs_b2b_churn
    titles = {spec["layer"][0]["encoding"].get("y", {}).get("title") for spec in specs} | {
        spec.get("encoding", {}).get("y", {}).get("title") for spec in specs}
    assert {"留存率", "流失率", "同期群"} <= titles
    heatmap = next(s for s in specs if s["layer"][0]["mark"]["type"] == "rect")
    cohorts = {row["cohort"] for rows in heatmap["datasets"].values() for row in rows}
    assert min(cohorts) >= "2025-02-01"  # `start` bounds the cohorts

"""The exporter on hand-made notebooks (no kernel): what is kept, dropped, and how charts are embedded."""

from __future__ import annotations

import json
import re

import nbformat
import pytest

from opskit.report.display import META_MIMETYPE
from opskit.report.export import export_html

SPEC = {"$schema": "https://vega.github.io/schema/vega-lite/v6.4.1.json", "mark": "bar",
        "data": {"values": [{"a": "</script><b>x</b>", "b": 1}]},
        "encoding": {"x": {"field": "a", "type": "nominal"}, "y": {"field": "b", "type": "quantitative"}}}


def _output(data: dict, kind: str = "display_data") -> nbformat.NotebookNode:
    if kind == "execute_result":
        return nbformat.v4.new_output("execute_result", data=data, execution_count=1)
    return nbformat.v4.new_output("display_data", data=data)


def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell
    removed = code("secret_source = 1", outputs=[_output({"text/plain": "REMOVED CELL"})])
    removed.metadata["tags"] = ["remove-cell"]
    silenced = code("x = 2", outputs=[_output({"text/plain": "REMOVED OUTPUT"})])
    silenced.metadata["tags"] = ["remove-output"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("## Overview\n\n<script>alert(1)</script>Intro with <b>bold</b>."),
        code("meta()", outputs=[_output({META_MIMETYPE: {"title": "Hand-made", "date_range": ["2025-01-01",
                                                                                            "2025-02-01"]},
                                         "text/plain": "meta"})]),
        code("chart", outputs=[_output({"application/vnd.vegalite.v6+json": SPEC, "text/plain": "<chart>"},
                                       "execute_result")]),
        code("chart2", outputs=[_output({"application/vnd.vegalite.v5+json": {**SPEC, "$schema":
                                         "https://vega.github.io/schema/vega-lite/v5.20.1.json"}})]),
        code("print()", outputs=[nbformat.v4.new_output("stream", name="stdout", text="visible stdout\n"),
                                 nbformat.v4.new_output("stream", name="stderr", text="hidden warning\n")]),
        code("w", outputs=[_output({"application/vnd.jupyter.widget-view+json": {"model_id": "m"},
                                    "text/plain": "HBox(WIDGET)"})]),
        code("js", outputs=[_output({"application/javascript": "window.evil = 1"})]),
        code("png", outputs=[_output({"image/png": "iVBORw0KGgo=\n", "text/plain": "<Figure>"})]),
        removed, silenced,
        nbformat.v4.new_markdown_cell("### 细节 <i>details</i>"),
    ]
    return nb


@pytest.fixture(scope="module")
def html() -> str:
    return export_html(_notebook(), template="hand", params={"lang": "en", "n": 3})


def test_meta_becomes_the_header(html):
    assert "<title>Hand-made</title>" in html and "2025-01-01 – 2025-02-01" in html
    assert '<tr><th scope="row">n</th><td><code>3</code></td></tr>' in html
    assert META_MIMETYPE not in html


def test_charts_of_two_vega_lite_versions_share_one_bundle(html):
    charts = re.findall(r'<script type="application/json" data-opskit-chart="([^"]+)">(.*?)</script>', html)
    assert [mode for mode, _ in charts] == ["vega-lite", "vega"]  # the v5 chart is compiled to Vega
    assert html.count("<script>") == 2
    assert "\\u003c/script\\u003e\\u003cb\\u003ex" in charts[0][1]
    assert json.loads(charts[0][1])["data"]["values"][0]["a"] == "</script><b>x</b>"
    assert "<chart>" not in html and "&lt;chart&gt;" not in html


def test_what_is_kept_and_what_is_left_out(html):
    assert "visible stdout" in html
    for gone in ("hidden warning", "WIDGET", "window.evil", "REMOVED CELL", "REMOVED OUTPUT", "secret_source",
                 "alert(1)"):
        assert gone not in html, gone
    assert '<img alt="" src="data:image/png;base64,iVBORw0KGgo=">' in html
    assert "Intro with <b>bold</b>." in html


def test_toc_covers_markdown_headings(html):
    toc = re.search(r'<nav class="opskit-toc".*?</nav>', html).group(0)
    assert re.findall(r'<li class="opskit-toc-(\d)"><a href="#[^"]+">([^<]+)</a></li>', toc) == [
        ("2", "Overview"), ("3", "细节 details")]


def test_a_notebook_without_charts_has_no_script():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## Only text")]
    page = export_html(nb, template="plain", params={})
    assert "<script" not in page and "script-src &#x27;none&#x27;" in page  # the CSP, attribute-escaped
    assert "<title>plain</title>" in page

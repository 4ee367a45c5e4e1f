"""Export an executed notebook to one self-contained, offline HTML file.

nbconvert's ``HTMLExporter`` renders the notebook with opskit's own template
(``assets/nbconvert/opskit``), not JupyterLab's, which would load require.js,
MathJax and the widget manager from CDNs. On the way:

- code inputs and prompts are left out; Markdown, tables, text and charts stay;
  ``stderr`` streams and widget or JavaScript outputs are left out; cells
  tagged ``remove-cell`` are dropped and cells tagged ``remove-output`` lose
  their outputs;
- the header output published by :func:`opskit.report.publish_meta` is taken
  out of the body and drawn at the top, with the parameters used and the
  data's date range; a table of contents is built from the body's headings;
  the generation time and opskit's version close the page;
- every Vega-Lite/Vega chart becomes a ``<figure>`` with its spec in a
  ``<script type="application/json">`` (escaped with
  :func:`opskit.report.sanitize.script_json`); the Vega, Vega-Lite and
  vega-embed JavaScript from ``vl_convert.javascript_bundle`` is inlined once
  at the end, with a small script that draws every chart (SVG, tooltips,
  selections);
- every HTML fragment passes :func:`opskit.report.sanitize.clean_html`, and a
  Content-Security-Policy allows only opskit's two scripts (by SHA-256) and no
  fetch at all.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import functools
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat

from opskit.report.display import META_MIMETYPE
from opskit.report.sanitize import clean_html, script_json

__all__ = ["CHART_MIMETYPE", "FONT_STACK", "export_html"]

ASSETS = Path(__file__).parent / "assets"
CHART_MIMETYPE = "application/vnd.opskit.chart+json"
"""Mimetype the exporter gives chart outputs before rendering (internal to the page)."""
FONT_STACK = ('"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", '
              '"WenQuanYi Micro Hei", sans-serif')
"""Font stack of the page and of chart text: CJK fonts first, so Chinese renders."""

_VEGA_MIME = re.compile(r"^application/vnd\.vega(?P<lite>lite)?\.v(?P<major>\d+)(\.\d+)*[+.]json$")
_WIDGET_MIMES = ("application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json")
_PRIORITY = [CHART_MIMETYPE, "text/html", "text/markdown", "image/svg+xml", "image/png", "image/jpeg",
             "text/latex", "text/plain"]
_LABELS = {
    "en": {"date_range": "Data", "template": "Template", "params": "Parameters", "toc": "Contents",
           "generated": "Generated"},
    "zh": {"date_range": "数据范围", "template": "模板", "params": "参数", "toc": "目录",
           "generated": "生成于"},
}
_HTML_LANG = {"zh": "zh-Hans", "en": "en"}


@functools.cache
def _bundle(vl_version: str) -> str:
    """The Vega + Vega-Lite + vega-embed JavaScript, safe to inline in a ``<script>``."""
    import vl_convert

    js = vl_convert.javascript_bundle(vl_version=vl_version)
    # '</script' cannot occur in a script element; '<\/script' means the same in JS strings and regexes.
    return re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)


def _vl_versions() -> list[str]:
    import vl_convert

    return list(vl_convert.get_vegalite_versions())


def _spec_version(spec: Mapping[str, Any], major: str) -> str:
    """Vega-Lite ``major.minor`` of a spec, from its ``$schema``."""
    match = re.search(r"/v(\d+)\.(\d+)", str(spec.get("$schema", "")))
    return f"{match.group(1)}.{match.group(2)}" if match else f"{major}"


def _pick(version: str, supported: list[str]) -> str:
    """The supported Vega-Lite version to bundle for a spec's version."""
    if version in supported:
        return version
    same_major = [v for v in supported if v.split(".")[0] == version.split(".")[0]]
    return (same_major or supported)[-1]


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and value != value:  # NaN has no JSON spelling
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _take_meta(nb: nbformat.NotebookNode) -> dict[str, Any]:
    """Remove the outputs published by ``publish_meta``; return their merged content."""
    meta: dict[str, Any] = {}
    for cell in nb.cells:
        outputs = cell.get("outputs")
        if not outputs:
            continue
        kept = []
        for output in outputs:
            data = output.get("data", {})
            if META_MIMETYPE in data:
                value = data[META_MIMETYPE]
                meta.update(json.loads(value) if isinstance(value, str) else dict(value))
            elif not any(m in data for m in _WIDGET_MIMES):
                kept.append(output)
        cell.outputs = kept
    return meta


def _take_charts(nb: nbformat.NotebookNode) -> str | None:
    """Turn chart outputs into CHART_MIMETYPE outputs; return the Vega-Lite version to bundle."""
    charts: list[tuple[Any, str, dict[str, Any], str]] = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for mime, spec in output.get("data", {}).items():
                match = _VEGA_MIME.match(mime)
                if match:
                    spec = json.loads(spec) if isinstance(spec, str) else copy.deepcopy(dict(spec))
                    mode = "vega-lite" if match.group("lite") else "vega"
                    charts.append((output, mode, spec, _spec_version(spec, match.group("major"))))
                    break
    if not charts:
        return None
    supported = _vl_versions()
    lite = [_pick(version, supported) for _, mode, _, version in charts if mode == "vega-lite"]
    # the most common version; on a tie the newest, so the choice never depends on set order
    bundled = supported[-1]
    if lite:
        bundled = max(lite, key=lambda v: (lite.count(v), tuple(map(int, v.split(".")))))
    for n, (output, mode, spec, version) in enumerate(charts, 1):
        if mode == "vega-lite" and _pick(version, supported) != bundled:
            import vl_convert  # a chart of another Vega-Lite version: compile it to Vega here

            spec, mode = vl_convert.vegalite_to_vega(spec, vl_version=_pick(version, supported)), "vega"
        output["data"] = {CHART_MIMETYPE: {"id": f"opskit-chart-{n}", "mode": mode, "spec": _jsonable(spec)}}
        output["metadata"] = {}
    return bundled


def _drop_unshown(nb: nbformat.NotebookNode) -> None:
    """Remove display outputs with nothing the page shows (JavaScript-only, unknown mimetypes)."""
    for cell in nb.cells:
        if cell.get("outputs"):
            cell.outputs = [o for o in cell.outputs
                            if "data" not in o or any(m in o["data"] for m in _PRIORITY)]


class _Headings(HTMLParser):
    """Collect (level, id, text) of the h1-h4 headings of the body."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str, str]] = []
        self._current: tuple[int, str] | None = None
        self._text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"h1", "h2", "h3", "h4"}:
            ident = dict(attrs).get("id")
            self._current = (int(tag[1]), ident) if ident else None
            self._text = []
        elif tag == "a" and self._current and "anchor-link" in (dict(attrs).get("class") or ""):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._skip:
            self._skip -= 1
        elif tag in {"h1", "h2", "h3", "h4"} and self._current:
            text = " ".join("".join(self._text).split())
            if text:
                self.found.append((self._current[0], self._current[1], text))
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current and not self._skip:
            self._text.append(data)


def _toc(body: str, title: str) -> str:
    parser = _Headings()
    parser.feed(body)
    parser.close()
    if not parser.found:
        return ""
    from html import escape

    items = "".join(
        f'<li class="opskit-toc-{level}"><a href="#{escape(ident, quote=True)}">{escape(text)}</a></li>'
        for level, ident, text in parser.found)
    return (f'<nav class="opskit-toc" aria-label="{escape(title, quote=True)}">'
            f"<h2>{escape(title)}</h2><ul>{items}</ul></nav>")


def _show(value: Any) -> str:
    """A parameter's value as the header shows it."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def _csp(scripts: list[str]) -> str:
    script_src = " ".join([*map(_sha256, scripts), "'unsafe-eval'"]) if scripts else "'none'"
    # Vega compiles its expressions with Function(): 'unsafe-eval'. Nothing may be fetched.
    return ("default-src 'none'; "
            f"script-src {script_src}; "
            "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
            "connect-src 'none'; base-uri 'none'; form-action 'none'")


def _exporter_class() -> type:
    from nbconvert import HTMLExporter, TemplateExporter

    class OpskitHTMLExporter(HTMLExporter):
        """HTMLExporter without its final BeautifulSoup pass.

        That pass re-serialises the whole page (adding ``alt`` and ``tabindex``
        attributes); the page must reach the file exactly as the template wrote
        it, so that the script hashes of its Content-Security-Policy hold.
        """

        def from_notebook_node(self, nb, resources=None, **kw):  # type: ignore[override]
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return OpskitHTMLExporter


def export_html(nb: nbformat.NotebookNode, *, template: str, params: Mapping[str, Any],
                resources_path: Path | None = None, generated: dt.datetime | None = None) -> str:
    """Render an executed notebook as one offline HTML page.

    Parameters
    ----------
    nb
        The executed notebook (not modified).
    template
        Template name: the fallback title and a header fact.
    params
        Every parameter's value for the run (shown in the header unless the
        template published its own ``params``).
    resources_path
        Folder that relative Markdown image paths are read from (the template's).
    generated
        Generation time for the footer; now, in local time, by default.

    Returns
    -------
    str
        The HTML document.
    """
    from traitlets.config import Config

    import opskit

    nb = copy.deepcopy(nb)
    meta = _take_meta(nb)
    bundled = _take_charts(nb)
    _drop_unshown(nb)
    lang = str(meta.get("lang") or params.get("lang") or "en").lower()
    labels = _LABELS.get(lang.split("-")[0], _LABELS["en"])
    shown = meta.get("params", params)
    date_range = meta.get("date_range")
    generated = (generated or dt.datetime.now()).astimezone()

    scripts = []
    init_js = ""
    bundle = ""
    if bundled:
        bundle = _bundle(bundled)
        init_js = (ASSETS / "charts.js").read_text(encoding="utf-8")
        init_js = init_js.replace("FONT_STACK", json.dumps(FONT_STACK))
        scripts = [bundle, init_js]
    marker = f"<!--opskit-toc-{uuid.uuid4().hex}-->"
    page = {
        "title": str(meta.get("title") or template),
        "subtitle": meta.get("subtitle"),
        "template": template,
        "params": [(str(k), _show(v)) for k, v in (shown or {}).items()],
        "date_range": " – ".join(str(d) for d in date_range) if date_range else None,
        "lang": _HTML_LANG.get(lang, lang),
        "labels": labels,
        "generated": generated.isoformat(timespec="seconds"),
        "generated_text": generated.strftime("%Y-%m-%d %H:%M %Z").strip(),
        "version": opskit.__version__,
        "css": (ASSETS / "report.css").read_text(encoding="utf-8"),
        "csp": _csp(scripts),
        "bundle": bundle,
        "init_js": init_js,
        "toc_marker": marker,
    }

    config = Config()
    config.HTMLExporter.template_name = "opskit"
    config.HTMLExporter.extra_template_basedirs = [str(ASSETS / "nbconvert")]
    config.HTMLExporter.exclude_input = True
    config.HTMLExporter.exclude_input_prompt = True
    config.HTMLExporter.exclude_output_prompt = True
    config.HTMLExporter.embed_images = True
    config.NbConvertBase.display_data_priority = _PRIORITY  # read by the exporter and its DataTypeFilter
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {"remove-cell", "remove_cell"}
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output", "remove_output"}
    exporter = _exporter_class()(config=config)
    exporter.register_filter("opskit_clean", clean_html)
    exporter.register_filter("opskit_script_json", script_json)
    resources = {"opskit": page, "metadata": {"name": template,
                                              "path": str(resources_path) if resources_path else ""}}
    html, _ = exporter.from_notebook_node(nb, resources=resources)
    head, _, body = html.partition(marker)
    return head + _toc(body, labels["toc"]) + body

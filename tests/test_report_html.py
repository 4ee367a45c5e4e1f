"""The exported HTML: one offline file, one Vega bundle, no code, header/TOC/footer, escaped data.

One report is rendered for the whole module from tests/templates/channels.ipynb, whose data
(tests/templates/data/channels.csv) puts script-injection strings into channel and campaign
names that reach a chart, two tables and two Markdown sentences.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

import opskit
from opskit.report import run
from opskit.report.export import _bundle

HERE = Path(__file__).parent / "templates"
X1 = "<img src=x onerror=alert(1)>"
X2 = "</script><script>alert(2)</script>"
X3 = "<svg/onload=window.__pwned=1>"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    result = run(HERE / "channels.ipynb", {"data": str(HERE / "data"), "lang": "zh", "top": "4"}, out,
                 format="both")
    return result


@pytest.fixture(scope="module")
def html(report) -> str:
    return report.html.read_text(encoding="utf-8")


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text of every script element."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._script: dict | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_data(self, data):
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None


@pytest.fixture(scope="module")
def parsed(html) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


def test_writes_html_and_executed_notebook(report):
    assert report.paths == (report.html, report.notebook)
    assert report.html.name == "channels.html" and report.notebook.name == "channels.ipynb"
    assert not (report.html.parent / "channels.failed.ipynb").exists()
    assert [p.name for p in report.html.parent.iterdir() if p.name.startswith(".")] == []  # no temp files
    nb = nbformat.read(report.notebook, as_version=4)
    assert nb.metadata.papermill.parameters == {"data": str(HERE / "data"), "lang": "zh", "top": 4}
    assert nb.metadata.papermill.output_path == str(report.notebook)


def test_the_vega_bundle_is_inlined_once_with_two_charts(html, parsed):
    charts = [a for a, _ in parsed.scripts if "data-opskit-chart" in a]
    assert len(charts) == 2
    bundle = _bundle("6.4")
    assert html.count(bundle[:4000]) == 1 and html.count(bundle[-4000:]) == 1
    plain = [text for attrs, text in parsed.scripts if not attrs]
    assert len(plain) == 2 and plain[0] == bundle  # the bundle, then the chart initialiser
    assert len(html.encode()) < len(bundle.encode()) + 300_000  # one bundle (~0.9 MB), not one per chart


def test_nothing_is_loaded_from_anywhere(html, parsed):
    assert not [attrs for tag, attrs in parsed.tags if tag == "script" and "src" in attrs]
    assert not [attrs for tag, attrs in parsed.tags if tag in {"link", "iframe", "img"}
                and not str(attrs.get("src", "data:")).startswith("data:")]
    lowered = html.lower()
    for needle in ("cdn", "unpkg", "require.js", "requirejs", "mathjax", "jsdelivr", 'http-equiv="refresh"'):
        assert needle not in lowered, needle


def test_content_security_policy_allows_only_our_scripts(html, parsed):
    csp = next(a["content"] for t, a in parsed.tags
               if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp
    assert "'unsafe-inline'" not in csp.split(";")[1]  # script-src: hashes only
    hashes = re.findall(r"'sha256-([^']+)'", csp)
    plain = [text for attrs, text in parsed.scripts if not attrs]
    digests = [base64.b64encode(hashlib.sha256(t.encode()).digest()).decode() for t in plain]
    assert sorted(hashes) == sorted(digests)


def test_code_cells_are_hidden(html):
    outside_params = html.split('<details class="opskit-params"')[0] + html.split("</header>")[1]
    for source in ("publish_meta(", "alt.Chart(", "import altair", "groupby(", "In&nbsp;[", "jp-InputArea",
                   "injected-parameters", "show_table"):
        assert source not in outside_params, source


def test_header_has_title_parameters_and_date_range(html):
    header = html.split("</header>")[0]
    assert '<html lang="zh-Hans">' in html and '<meta charset="utf-8">' in html
    assert "<title>Channel report</title>" in header
    assert '<h1 class="opskit-title">Channel report</h1>' in header
    assert '<dd class="opskit-date-range">2025-01-01 – 2025-01-05</dd>' in header
    assert "<dt>数据范围</dt>" in header and "<summary>参数</summary>" in header  # lang=zh labels
    assert '<tr><th scope="row">top</th><td><code>4</code></td></tr>' in header
    assert ('<tr><th scope="row">segments</th><td><code>[&quot;B2B&quot;, &quot;B2C&quot;]</code></td></tr>'
            in header)
    assert "opskit report meta" not in html  # the meta output is read, not shown


def test_table_of_contents_links_the_headings(html):
    toc = re.search(r'<nav class="opskit-toc".*?</nav>', html).group(0)
    links = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', toc)
    assert [text for _, text in links] == ["Channels", "每日趋势 (daily trend)", "Tables", "Findings"]
    for ident, _ in links:
        assert f'id="{ident}"' in html


def test_footer_has_time_and_version(html):
    footer = html.split('<footer class="opskit-footer">')[1].split("</footer>")[0]
    assert f"opskit {opskit.__version__}" in footer
    assert re.search(r'生成于 <time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d">', footer)


def test_cjk_fonts_and_text(html):
    assert '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei"' in html
    assert '"WenQuanYi Micro Hei"' in html
    assert "微信" in html and "春节 campaign" in html


def test_data_text_is_escaped_in_every_sink(html, parsed):
    for raw in (X1, X2, X3, "alert(1)>", "<script>alert"):
        assert raw not in html, raw
    # no element carries an event handler; the only scripts are opskit's own
    assert not [(t, a) for t, a in parsed.tags if any(k.startswith("on") for k in a)]
    assert all(not attrs or "data-opskit-chart" in attrs for attrs, _ in parsed.scripts)
    assert not [t for t, _ in parsed.tags if t in {"svg", "iframe", "object", "embed"}]
    # table: shown literally
    assert "<td>&lt;img src=x onerror=alert(1)&gt;</td>" in html
    assert "<td>&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;</td>" in html
    # chart spec: the JSON keeps the names, with < and > as \u003c \u003e
    specs = [json.loads(text) for attrs, text in parsed.scripts if "data-opskit-chart" in attrs]
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in html
    channels = {row["channel"] for rows in specs[0]["datasets"].values() for row in rows}
    assert {X1, X2, "微信"} <= channels
    # markdown built with opskit.report.markdown(): escaped and visible
    assert "&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in html.split("Escaped sentence")[1]
    # markdown built naively with IPython's Markdown(): the sanitizer removed the markup
    naive = html.split("Naive sentence")[1].split("</p>")[0]
    assert "<img" not in naive and "<script" not in naive and "<svg" not in naive


def test_stdout_stays_and_chart_fallback_text_does_not(html):
    assert '<pre class="opskit-output opskit-text">20 rows, segments [&#39;B2B&#39;, &#39;B2C&#39;]' in html
    assert "&lt;Vega-Lite 6 chart" not in html and "<Vega-Lite" not in html

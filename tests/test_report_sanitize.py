"""Every HTML sink is rebuilt from an allow-list; JSON in scripts cannot close its element."""

from __future__ import annotations

import json

import pytest

from opskit.report.display import escape_markdown, markdown, meta_json
from opskit.report.sanitize import clean_html, safe_css, script_json

X1 = "<img src=x onerror=alert(1)>"
X2 = "</script><script>alert(2)</script>"


@pytest.mark.parametrize(("fragment", "expected"), [
    (X1, ""),
    (X2, ""),
    (f"<td>{X2}</td>", "<td></td>"),  # script dropped with its content
    ("<p>a<script>alert(1)</script>b</p>", "<p>ab</p>"),
    ('<a href="javascript:alert(1)">x</a>', "<a>x</a>"),
    ('<a href="jav&#x61;script:alert(1)">x</a>', "<a>x</a>"),
    ('<a href="#sec" onclick="x()">x</a>', '<a href="#sec">x</a>'),
    ('<a href="https://example.org">x</a>', '<a href="https://example.org">x</a>'),
    ('<img src="//evil.example/x.png">', ""),
    ('<img src="data:image/png;base64,iVBORw0KGgo=" alt="a">',
     '<img src="data:image/png;base64,iVBORw0KGgo=" alt="a">'),
    ('<iframe src="https://evil.example"></iframe>after', "after"),
    ("<svg><script>alert(1)</script></svg>ok", "ok"),
    ('<div style="background: url(https://evil.example)">x</div>', "<div>x</div>"),
    ('<div style="color: red">x</div>', '<div style="color: red">x</div>'),
    ("<style>@import url(https://evil.example/a.css);</style>x", "x"),
    ("<style>#T_1 td { color: red }</style>", "<style>#T_1 td { color: red }</style>"),
    ("<!-- comment --><b>x</b>", "<b>x</b>"),
    ('<div id="opskit-chart-1" class="opskit-chart dataframe">x</div>', '<div class="dataframe">x</div>'),
    ("<b>unclosed", "<b>unclosed</b>"),
    ("a &lt;b&gt; &amp; c", "a &lt;b&gt; &amp; c"),
    ("<h2 id=\"x\">微信<a class=\"anchor-link\" href=\"#x\">¶</a></h2>",
     "<h2 id=\"x\">微信<a class=\"anchor-link\" href=\"#x\">¶</a></h2>"),
    ('<table border="1" class="dataframe"><tr style="text-align: right;"><th>a</th></tr></table>',
     '<table border="1" class="dataframe"><tr style="text-align: right;"><th>a</th></tr></table>'),
    ('<p title="&quot;><script>">x</p>', '<p title="&quot;&gt;&lt;script&gt;">x</p>'),
    ("<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></p></noscript>z", "z"),
])
def test_clean_html(fragment, expected):
    assert clean_html(fragment) == expected


def test_clean_html_never_emits_scripts_or_handlers():
    nasty = "".join([X1, X2, "<body onload=alert(3)>", "<math><mi xlink:href=javascript:alert(4)>",
                     "<object data=x>", "<form action=x><button formaction=y>", "<link rel=import href=x>",
                     "<meta http-equiv=refresh content='0;url=x'>", "<base href=//evil>"])
    cleaned = clean_html(nasty).lower()
    for needle in ("<script", "onerror", "onload", "javascript:", "<iframe", "<object", "<form", "<link",
                   "<meta", "<base", "<svg", "<math"):
        assert needle not in cleaned


@pytest.mark.parametrize("css", ["a { b: url(x) }", "@import 'x';", "x { y: expression(1) }",
                                 "x { y: \\75rl(x) }", "</style><script>"])
def test_unsafe_css(css):
    assert not safe_css(css)


def test_script_json_cannot_close_the_script_element():
    text = script_json({"channel": X2, "campaign": "<!-- x -->", "amp": "a&b", "line": "a\u2028b"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"channel": X2, "campaign": "<!-- x -->", "amp": "a&b", "line": "a\u2028b"}


def test_markdown_helper_escapes_values_not_the_template():
    shown = markdown("Top: **{name}** ({share:.0%})", name=X1, share=0.5)
    assert shown.data == "Top: **&lt;img src=x onerror=alert\\(1\\)&gt;** (50%)"
    assert "<img" not in shown.data
    assert escape_markdown("a\nb  c") == "a b  c".replace("  ", " ")
    assert escape_markdown("[x](javascript:alert(1))") == "\\[x\\]\\(javascript:alert\\(1\\)\\)"


def test_meta_json_is_plain_json():
    import datetime as dt

    import numpy as np
    import pandas as pd

    meta = meta_json(title="留存", params={"n": np.int64(3), "day": pd.Timestamp("2025-01-02")},
                     date_range=(dt.date(2025, 1, 1), pd.Timestamp("2025-03-31")))
    assert meta == {"title": "留存", "params": {"n": 3, "day": "2025-01-02T00:00:00"},
                    "date_range": ["2025-01-01", "2025-03-31T00:00:00"]}
    json.dumps(meta)

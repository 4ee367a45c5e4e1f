"""Escaping for every sink of the exported HTML.

Two defences, so a template mistake cannot run code or reach the network:

1. :func:`clean_html` rebuilds every HTML fragment of the body (HTML
   outputs, rendered Markdown, Markdown cells) from an allow-list: only the
   listed tags and attributes are written back, every text and attribute value
   is escaped again, ``<script>``/``<iframe>``/... are dropped with their
   content, images must be ``data:`` URIs and CSS must not load anything.
   ``DataFrame.style`` output and ``IPython.display.Markdown`` built from data
   go through it.
2. :func:`script_json` embeds JSON (chart specs) in
   ``<script type="application/json">`` with ``<``, ``>`` and ``&`` written as
   ``\\u003c`` ..., so ``</script>`` or ``<!--`` in a channel name cannot end
   or bend the script element.

The page itself carries a Content-Security-Policy that lets only opskit's own
two scripts run (by hash) and forbids every fetch (see :mod:`opskit.report.export`).
"""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from typing import Any

__all__ = ["clean_html", "safe_css", "script_json"]

_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd", "del",
    "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small",
    "span", "strong", "style", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "time", "tr", "u", "ul", "var", "wbr",
})
_VOID = frozenset({"br", "col", "hr", "img", "wbr"})
# Dropped together with everything inside them.
_DROP_WITH_CONTENT = frozenset({
    "script", "iframe", "object", "embed", "noscript", "template", "textarea", "select", "svg",
    "math", "frame", "frameset", "noembed", "noframes", "xmp", "plaintext", "title", "head", "applet",
    "audio", "video", "canvas", "form", "button", "input", "link", "meta", "base",
})
_GLOBAL_ATTRS = frozenset({"class", "id", "title", "lang", "dir", "align", "style"})
_TAG_ATTRS = {
    "a": {"href", "rel"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "headers", "valign"},
    "th": {"colspan", "rowspan", "headers", "scope", "valign"},
    "table": {"border", "cellpadding", "cellspacing"},
    "ol": {"start", "type", "reversed"},
    "li": {"value"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "time": {"datetime"},
    "details": {"open"},
    "style": {"type"},
}
_SAFE_HREF = re.compile(r"^(#|https?://|mailto:)", re.IGNORECASE)
_SAFE_IMG = re.compile(r"^data:image/(png|jpe?g|gif|webp|svg\+xml);base64,[a-z0-9+/=\s]*$", re.IGNORECASE)
_UNSAFE_CSS = re.compile(
    r"url\s*\(|@import|expression\s*\(|javascript:|behavior\s*:|-moz-binding|[\\<]|image-set|src\s*\(",
    re.IGNORECASE)
_RESERVED = re.compile(r"^opskit-", re.IGNORECASE)  # ids and classes the exporter itself uses


def safe_css(css: str) -> bool:
    """Whether CSS loads nothing and cannot leave its element: no ``url()``, ``@import``, ``\\``, ``<``."""
    return not _UNSAFE_CSS.search(css)


class _Cleaner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.dropping: list[str] = []  # tags whose content is being dropped
        self.style: list[str] | None = None

    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> str:
        allowed = _GLOBAL_ATTRS | _TAG_ATTRS.get(tag, set())
        parts = []
        for name, value in attrs:
            name = name.lower()
            value = "" if value is None else value
            if name not in allowed:
                continue
            if name == "href" and not _SAFE_HREF.match(value.strip()):
                continue
            if name == "style" and not safe_css(value):
                continue
            if name == "id" and _RESERVED.match(value):
                continue
            if name == "class":
                value = " ".join(c for c in value.split() if not _RESERVED.match(c))
            parts.append(f' {name}="{html.escape(value, quote=True)}"')
        return "".join(parts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.dropping:
            if tag not in _VOID and tag in _DROP_WITH_CONTENT:
                self.dropping.append(tag)
            return
        if tag in _DROP_WITH_CONTENT:
            if tag not in {"input", "link", "meta", "base"}:  # void elements have no content to drop
                self.dropping.append(tag)
            return
        if tag not in _TAGS:
            return
        if tag == "img":
            src = dict(attrs).get("src") or ""
            if not _SAFE_IMG.match(src.strip()):
                return
        if tag == "style":
            self.style = []
            return
        self.out.append(f"<{tag}{self._attrs(tag, attrs)}>")
        if tag not in _VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and not self.dropping and self.open and self.open[-1] == tag:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.dropping:
            if tag == self.dropping[-1]:
                self.dropping.pop()
            return
        if tag == "style" and self.style is not None:
            css = "".join(self.style)
            if safe_css(css):
                self.out.append(f"<style>{css}</style>")
            self.style = None
            return
        if tag in self.open:
            while self.open:
                top = self.open.pop()
                self.out.append(f"</{top}>")
                if top == tag:
                    break

    def handle_data(self, data: str) -> None:
        if self.dropping:
            return
        if self.style is not None:
            self.style.append(data)
            return
        self.out.append(html.escape(data, quote=False))

    def close(self) -> None:
        super().close()
        if self.style is not None:  # an unterminated <style>: drop it
            self.style = None
        while self.open:
            self.out.append(f"</{self.open.pop()}>")


def clean_html(fragment: str | bytes) -> str:
    """Rebuild an HTML fragment from the allow-list; everything else is dropped or escaped.

    Parameters
    ----------
    fragment
        HTML from an output or from rendered Markdown.

    Returns
    -------
    str
        HTML in which only allow-listed tags and attributes remain, all text
        is escaped, and nothing can run script or fetch a resource.

    Examples
    --------
    >>> clean_html('<b>微信</b><img src=x onerror=alert(1)><script>alert(2)</script>')
    '<b>微信</b>'
    >>> clean_html('<td>&lt;/script&gt;</td>')
    '<td>&lt;/script&gt;</td>'
    """
    text = fragment.decode("utf-8") if isinstance(fragment, bytes) else str(fragment)
    parser = _Cleaner()
    parser.feed(text)
    parser.close()
    return "".join(parser.out)


def script_json(value: Any) -> str:
    """JSON for a ``<script type="application/json">`` element, safe against ``</script>``.

    Examples
    --------
    >>> script_json({"channel": "</script><script>alert(2)</script>"})
    '{"channel": "\\\\u003c/script\\\\u003e\\\\u003cscript\\\\u003ealert(2)\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=str)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))

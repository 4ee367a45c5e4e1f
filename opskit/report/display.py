"""What a template calls, inside its kernel, to put things into the report.

- :func:`publish_meta` sends the report header (title, parameters, the
  data's date range) as one output of mimetype :data:`META_MIMETYPE`; the
  exporter reads it, removes it from the body and draws the header.
- :func:`markdown` and :func:`escape_markdown` show text that contains data
  (channel names, campaign names) without letting it become HTML or
  Markdown syntax.
- :func:`setup_kernel` is run by the report runner when the kernel starts;
  templates do not call it.

This module imports nothing heavy, so templates can import it cheaply.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["META_MIMETYPE", "escape_markdown", "markdown", "meta_json", "publish_meta", "setup_kernel"]

META_MIMETYPE = "application/vnd.opskit.meta+json"
"""Mimetype of the output that carries the report header."""

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>$])")  # $ starts maths


def _jsonable(value: Any) -> Any:
    """Values as JSON the exporter can show: dates as ISO strings, the rest via ``str``."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "isoformat") and callable(value.isoformat):  # pandas Timestamp, numpy datetime64
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return str(value)


def publish_meta(*, title: str | None = None, params: Mapping[str, Any] | None = None,
                 date_range: Sequence[Any] | None = None, subtitle: str | None = None) -> None:
    """Publish the report header from a template cell.

    The exporter shows ``title`` (and ``subtitle``) at the top of the report,
    then the parameters and ``date_range``. Call it once, early, in a cell of
    its own; when called more than once, later values win key by key. Keys
    left out fall back to the runner's: the template name as title and every
    parameter's value as passed.

    Parameters
    ----------
    title
        The report's title (also the HTML ``<title>``).
    params
        Parameters to show, when they should read differently from the
        values passed (e.g. resolved defaults, human labels).
    date_range
        ``(first, last)`` of the data the report covers: dates, timestamps or
        ISO strings.
    subtitle
        A line under the title.

    Examples
    --------
    In a template cell (outside a kernel it does nothing):

    >>> publish_meta(title="Retention", date_range=("2025-01-01", "2025-12-31"))
    """
    meta = meta_json(title=title, params=params, date_range=date_range, subtitle=subtitle)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return
    if get_ipython() is not None:
        display({META_MIMETYPE: meta, "text/plain": f"opskit report meta: {meta.get('title', '')}"}, raw=True)


def meta_json(*, title: str | None = None, params: Mapping[str, Any] | None = None,
              date_range: Sequence[Any] | None = None, subtitle: str | None = None) -> dict[str, Any]:
    """The JSON that :func:`publish_meta` publishes.

    Examples
    --------
    >>> import datetime
    >>> meta_json(title="留存", date_range=(datetime.date(2025, 1, 1), "2025-12-31"))
    {'title': '留存', 'date_range': ['2025-01-01', '2025-12-31']}
    """
    meta: dict[str, Any] = {}
    if title is not None:
        meta["title"] = str(title)
    if subtitle is not None:
        meta["subtitle"] = str(subtitle)
    if params is not None:
        meta["params"] = _jsonable(dict(params))
    if date_range is not None:
        first, last = date_range
        meta["date_range"] = [_jsonable(first), _jsonable(last)]
    json.dumps(meta)  # fail here, in the template, rather than in the exporter
    return meta


def escape_markdown(value: Any) -> str:
    """Text of ``value`` safe to put into Markdown: no HTML, no Markdown syntax, one line.

    HTML special characters become entities; Markdown punctuation (and ``$``,
    which starts maths) is backslash-escaped; newlines become spaces.

    Examples
    --------
    >>> escape_markdown("<img src=x onerror=alert(1)>")
    '&lt;img src=x onerror=alert\\\\(1\\\\)&gt;'
    >>> escape_markdown("**微信** #1")
    '\\\\*\\\\*微信\\\\*\\\\* \\\\#1'
    """
    text = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def markdown(text: str, /, **values: Any):
    """Markdown with data values escaped: ``text.format(**values)`` after :func:`escape_markdown`.

    ``text`` is the template author's Markdown; only the values are escaped.
    Numbers are passed as they are, so format specs such as ``{share:.1%}``
    work; everything else is escaped as text. Use it for every sentence that
    contains data, instead of ``IPython.display.Markdown(f"...")``.

    Examples
    --------
    >>> markdown("Top channel: **{name}** ({share:.0%})", name="</script><b>x</b>", share=0.42).data
    'Top channel: **&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;** (42%)'
    """
    from IPython.display import Markdown

    safe = {k: v if isinstance(v, numbers.Number) and not isinstance(v, bool) else escape_markdown(v)
            for k, v in values.items()}
    return Markdown(text.format(**safe))


def _vegalite_renderer(spec: dict, **metadata: Any) -> dict[str, Any]:
    """Altair renderer: the spec under the standard ``+json`` Vega-Lite mimetype."""
    import altair as alt

    major = str(alt.SCHEMA_VERSION).lstrip("v").split(".")[0]
    title = spec.get("title") if isinstance(spec.get("title"), str) else ""
    return {f"application/vnd.vegalite.v{major}+json": spec,
            "text/plain": f"<Vega-Lite {major} chart{': ' + title if title else ''}>"}


def setup_kernel() -> None:
    """Prepare a report kernel; the runner calls this when the kernel starts.

    - Altair charts become Vega-Lite JSON outputs
      (``application/vnd.vegalite.v6+json``), which the exporter inlines; the
      default ``html`` renderer would load Vega from a CDN, and Altair 6's own
      ``mimetype`` renderer uses the key ``application/vnd.vegalite.v6.json``,
      which nbformat refuses for a JSON object.
    - pandas ``Styler`` escapes HTML in cell values (``styler.format.escape``).
    """
    try:
        import altair as alt
    except ImportError:  # pragma: no cover - altair is a dependency
        pass
    else:
        alt.renderers.register("opskit", _vegalite_renderer)
        alt.renderers.enable("opskit")
    try:
        import pandas as pd

        pd.set_option("styler.format.escape", "html")
    except ImportError:  # pragma: no cover
        pass

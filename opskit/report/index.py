"""``OUT/index.html``: every report of a batch output folder on one offline page.

The page is built from the ``status.json`` of every kept run and
``latest/manifest.json``. It has two tables:

- **Reports**: one row per report name: its latest attempt (status in
  colour and in words, time, duration, data range, the error and a link to
  the failed notebook when it failed), its last success with a link to
  ``latest/<name>.html``, its template and parameters;
- **Runs**: the history of the kept runs, newest first, each with its
  reports and a link to its ``status.json``.

One file, inline CSS, no script, no network (a Content-Security-Policy
forbids both); every text that comes from a schedule, a template or the data
passes through :func:`html.escape`; link targets are percent-encoded.
Labels are in English or Chinese (``lang`` of the schedule's ``[defaults]``).
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from opskit.report.export import FONT_STACK

__all__ = ["render_index", "write_index"]

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
_LABELS = {
    "en": {"title": "Reports", "reports": "Reports", "runs": "Runs", "report": "Report",
           "template": "Template",
           "latest": "Latest attempt", "time": "Started (UTC)", "duration": "Duration",
           "data": "Data range", "success": "Last success", "params": "Parameters", "run": "Run",
           "state": "State", "counts": "OK / not OK", "jobs": "Reports of the run", "never": "never",
           "failed_nb": "failed notebook", "updated": "Updated", "kept": "runs kept", "none": "—",
           "kept_one": "run kept", "defaults": "{n} template defaults",
           "empty": "No run yet."},
    "zh": {"title": "报表", "reports": "报表", "runs": "运行记录", "report": "报表", "template": "模板",
           "latest": "最近一次", "time": "开始时间 (UTC)", "duration": "耗时", "data": "数据范围",
           "success": "最近成功", "params": "参数", "run": "运行", "state": "状态", "counts": "成功 / 未成功",
           "jobs": "本次报表", "never": "从未成功", "failed_nb": "失败的 notebook", "updated": "更新于",
           "kept": "次运行已保留", "kept_one": "次运行已保留", "none": "—", "empty": "还没有运行。",
           "defaults": "其余 {n} 个模板默认参数"},
}
_STATUS = {
    "en": {"ok": "OK", "failed": "Failed", "timeout": "Timed out", "skipped": "Skipped", "running": "Running",
           "pending": "Pending", "finished": "Finished", "interrupted": "Interrupted"},
    "zh": {"ok": "成功", "failed": "失败", "timeout": "超时", "skipped": "跳过", "running": "运行中",
           "pending": "等待中", "finished": "完成", "interrupted": "已中断"},
}
_CSS = """
body { font-family: %s; margin: 0; color: #1f2328; background: #fff; }
main { max-width: 1280px; margin: 0 auto; padding: 24px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; } h2 { font-size: 1.2rem; margin: 28px 0 8px; }
p.meta { color: #59636e; margin: 0 0 12px; font-size: .9rem; }
table { border-collapse: collapse; width: 100%%; font-size: .9rem; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid #d1d9e0; }
th { background: #f6f8fa; font-weight: 600; white-space: nowrap; }
details summary { color: #59636e; cursor: pointer; font-size: .85rem; }
td.num { white-space: nowrap; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; font-size: .85rem;
         white-space: nowrap; border: 1px solid transparent; }
.s-ok, .s-finished { background: #dafbe1; color: #116329; border-color: #4ac26b; }
.s-failed { background: #ffebe9; color: #a40e26; border-color: #ff8182; }
.s-timeout { background: #fff1e5; color: #9a4600; border-color: #fb8f44; }
.s-skipped, .s-pending { background: #f6f8fa; color: #59636e; border-color: #d1d9e0; }
.s-running { background: #ddf4ff; color: #0550ae; border-color: #54aeff; }
.s-interrupted { background: #fff8c5; color: #7d4e00; border-color: #d4a72c; }
.error { color: #a40e26; font-size: .85rem; margin-top: 4px; overflow-wrap: anywhere; }
ul.params { list-style: none; margin: 0; padding: 0; font-size: .82rem; color: #393f46; }
ul.params li { overflow-wrap: anywhere; } ul.params b { font-weight: 600; }
ul.jobs { list-style: none; margin: 0; padding: 0; } ul.jobs li { margin: 2px 0; }
a { color: #0969da; }
code { font-size: .85rem; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _href(relative: str) -> str:
    return _e(quote(relative, safe="/"))


def _when(iso: str | None) -> str:
    if not iso:
        return "—"
    try:
        moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _badge(status: str, lang: str) -> str:
    word = _STATUS[lang].get(status, status)
    return f'<span class="badge s-{_e(status)}">{_e(word)}</span>'


def _range(found: Any) -> str:
    if isinstance(found, dict) and found.get("first"):
        return f"{_e(found['first'])} – {_e(found.get('last'))}"
    return "—"


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _params(params: Any, given: Any, lang: str) -> str:
    """The parameters the schedule set, then the template defaults folded under a summary."""
    if not isinstance(params, dict) or not params:
        return "—"
    named = [k for k in given if k in params] if isinstance(given, list) else list(params)

    def items(keys: list[str]) -> str:
        return "".join(f"<li><b>{_e(k)}</b> = {_e(_value(params[k]))}</li>" for k in keys)

    out = f'<ul class="params">{items(named)}</ul>' if named else ""
    rest = [k for k in params if k not in named]
    if rest:
        summary = _LABELS[lang]["defaults"].format(n=len(rest))
        out += f'<details><summary>{_e(summary)}</summary><ul class="params">{items(rest)}</ul></details>'
    return out


def _reports(runs: list[dict[str, Any]], manifest: dict[str, Any], lang: str) -> str:
    words = _LABELS[lang]
    latest: dict[str, tuple[dict, dict]] = {}
    order: list[str] = []
    for status in runs:  # newest first
        for job in status.get("jobs", []):
            name = job.get("name")
            if not isinstance(name, str):
                continue
            if name not in order:
                order.append(name)
            if name not in latest and job.get("status") in ("ok", "failed", "timeout", "skipped"):
                latest[name] = (status, job)
    order += sorted(n for n in manifest if n not in order)
    if not order:
        return f"<p>{_e(words['empty'])}</p>"
    head = "".join(f"<th>{_e(words[k])}</th>" for k in
                   ("report", "latest", "time", "duration", "data", "success", "template", "params"))
    rows = []
    for name in order:
        run, job = latest.get(name, ({}, {}))
        good = manifest.get(name)
        if job:
            cell = _badge(job.get("status", ""), lang)
            if job.get("status") != "ok" and job.get("error"):
                error = str(job["error"])
                cell += f'<div class="error">{_e(error[:400] + ("…" if len(error) > 400 else ""))}</div>'
            if job.get("failed_notebook"):
                cell += f'<div><a href="{_href(job["failed_notebook"])}">{_e(words["failed_nb"])}</a></div>'
            cell += f'<div class="meta"><code>{_e(run.get("run_id"))}</code></div>'
        else:
            cell = _badge("running", lang)
        if good:
            success = (f'<a href="{_href(good.get("html", f"latest/{name}.html"))}">{_e(name)}.html</a>'
                       f'<div><code>{_e(good.get("run_id"))}</code></div>')
        else:
            success = _e(words["never"])
        source = job or good or {}
        rows.append(
            f"<tr><td><b>{_e(name)}</b></td><td>{cell}</td>"
            f"<td class=num>{_e(_when(source.get('started')))}</td>"
            f"<td class=num>{_e(_duration(source.get('seconds')))}</td>"
            f"<td class=num>{_range(source.get('data_range'))}</td><td>{success}</td>"
            f"<td>{_e(source.get('template'))}</td>"
            f"<td>{_params(source.get('params'), source.get('given'), lang)}</td></tr>")
    return f'<table class="reports"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _runs(runs: list[dict[str, Any]], lang: str) -> str:
    words = _LABELS[lang]
    if not runs:
        return f"<p>{_e(words['empty'])}</p>"
    head = "".join(f"<th>{_e(words[k])}</th>" for k in ("run", "state", "time", "duration", "counts", "jobs"))
    rows = []
    for status in runs:
        run_id = str(status.get("run_id", ""))
        jobs = []
        for job in status.get("jobs", []):
            link = job.get("html") or job.get("failed_notebook")
            label = _e(job.get("name"))
            named = f'<a href="{_href(link)}">{label}</a>' if link else label
            jobs.append(f"<li>{_badge(job.get('status', ''), lang)} {named} "
                        f"<span class=num>{_e(_duration(job.get('seconds')))}</span></li>")
        rows.append(
            f'<tr><td><a href="{_href(run_id + "/status.json")}"><code>{_e(run_id)}</code></a></td>'
            f"<td>{_badge(str(status.get('state', '')), lang)}</td>"
            f"<td class=num>{_e(_when(status.get('started')))}</td>"
            f"<td class=num>{_e(_duration(status.get('seconds')))}</td>"
            f"<td class=num>{_e(status.get('ok'))} / {_e(status.get('failed'))}</td>"
            f'<td><ul class="jobs">{"".join(jobs)}</ul></td></tr>')
    return f'<table class="runs"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def render_index(runs: list[dict[str, Any]], manifest: dict[str, Any], *, lang: str = "en") -> str:
    """The index page for ``runs`` (``status.json`` contents, newest first) and the ``latest/`` manifest.

    Examples
    --------
    >>> page = render_index([], {}, lang="zh")
    >>> '<html lang="zh-Hans">' in page and "还没有运行" in page and "<script" not in page
    True
    """
    import opskit

    lang = lang if lang in _LABELS else "en"
    words = _LABELS[lang]
    updated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    kept = "kept_one" if len(runs) == 1 else "kept"
    return (
        f'<!DOCTYPE html>\n<html lang="{"zh-Hans" if lang == "zh" else "en"}">\n'
        '<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{_e(words['title'])}</title>\n<style>{_CSS % FONT_STACK}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{_e(words['title'])}</h1>\n"
        f'<p class="meta">{_e(words["updated"])} {_e(updated)} · {len(runs)} {_e(words[kept])} · '
        f"opskit {_e(opskit.__version__)}</p>\n"
        f"<h2>{_e(words['reports'])}</h2>\n{_reports(runs, manifest, lang)}\n"
        f"<h2>{_e(words['runs'])}</h2>\n{_runs(runs, lang)}\n</main>\n</body>\n</html>\n")


def write_index(out: Path, *, lang: str = "en") -> Path:
    """Rewrite ``OUT/index.html`` atomically from the kept runs; call under the output lock."""
    from opskit.report.batch import read_manifest, run_ids
    from opskit.report.publish import write_atomic

    runs = []
    for run_id in reversed(run_ids(out)):
        try:
            runs.append(json.loads((out / run_id / "status.json").read_text(encoding="utf-8")))
        except (OSError, ValueError):
            runs.append({"run_id": run_id, "state": "running", "jobs": []})
    return write_atomic(out / "index.html", render_index(runs, manifest=read_manifest(out), lang=lang))

"""Read a batch schedule (TOML, or YAML) and check all of it before anything runs.

A schedule is a list of report jobs with shared defaults::

    [defaults]            # any template parameter, applied to every job
    data = "exports/2025-11"
    lang = "zh"

    [[reports]]
    name = "retention-weekly"     # output name: OUT/<run id>/retention-weekly.html
    template = "retention"
    params = { period = "week" }  # overrides defaults
    timeout = 900                 # optional: this job's wall-clock limit in seconds

:func:`read_schedule` refuses the whole file, with one :class:`ScheduleError`
listing every problem, when anything is wrong: unknown keys, missing or
duplicate names, names that are not safe file names, unknown templates,
parameters a template does not declare or values that do not convert. A
relative ``data`` path, and a template given as a relative path, are read
from the schedule file's folder, so a crontab can run the batch from anywhere.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opskit.report.errors import ParameterError, ReportError, TemplateError
from opskit.report.templates import Template, find_template

__all__ = ["Job", "Schedule", "ScheduleError", "read_schedule"]

_TOP_KEYS = ("defaults", "reports")
_JOB_KEYS = ("name", "template", "params", "timeout")
_NAME = re.compile(r"^\w[\w.-]*$")  # letters (any script), digits, _ . - ; no path separators
_NAME_MAX = 100


class ScheduleError(ReportError, ValueError):
    """A schedule refused before anything ran; ``problems`` lists every one.

    Attributes
    ----------
    path
        The schedule file.
    problems
        One sentence per problem, each naming the report it concerns.
    """

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = Path(path)
        self.problems = list(problems)
        listed = "\n".join(f"  {i}. {p}" for i, p in enumerate(self.problems, 1))
        count = "1 problem" if len(self.problems) == 1 else f"{len(self.problems)} problems"
        super().__init__(f"schedule {self.path} refused, nothing ran ({count}):\n{listed}")


@dataclass(frozen=True)
class Job:
    """One report of a schedule, checked.

    Attributes
    ----------
    name
        Output name: the report is written as ``<name>.html``.
    template
        The template (its notebook path is ``template.path``).
    params
        The values given for the job, converted: ``[defaults]`` the template
        declares, overlaid with the job's ``params``.
    timeout
        This job's wall-clock limit in seconds, ``None`` for the batch's.
    """

    name: str
    template: Template
    params: Mapping[str, Any] = field(default_factory=dict)
    timeout: float | None = None

    @property
    def effective(self) -> dict[str, Any]:
        """Every parameter's value for the run: the template's defaults overlaid with ``params``."""
        return self.template.effective(self.params)


@dataclass(frozen=True)
class Schedule:
    """A checked schedule.

    Attributes
    ----------
    path
        The schedule file (absolute).
    defaults
        The ``[defaults]`` table as written (``data`` made absolute).
    jobs
        The reports, in file order.
    """

    path: Path
    defaults: Mapping[str, Any]
    jobs: tuple[Job, ...]

    @property
    def lang(self) -> str:
        """``lang`` of ``[defaults]`` when it is ``zh`` or ``en``, else ``"en"``."""
        lang = str(self.defaults.get("lang", "en")).lower()
        return lang if lang in ("en", "zh") else "en"


def _load(path: Path) -> Any:
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8")
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ScheduleError(path, ["YAML schedules need PyYAML (pip install pyyaml); "
                                       "or write the schedule as TOML"]) from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ScheduleError(path, [f"not valid YAML: {' '.join(str(exc).split())}"]) from None
    if suffix != ".toml":
        raise ScheduleError(path, [f"unknown schedule format {suffix or '(no suffix)'!r}: "
                                   "name the file .toml (or .yaml/.yml)"])
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScheduleError(path, [f"not valid TOML: {exc}"]) from None


def _unknown(keys: Mapping[str, Any], known: tuple[str, ...], where: str) -> list[str]:
    problems = []
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"{where}: unknown key {key!r}{hint} (allowed: {', '.join(known)})")
    return problems


def _resolve_data(value: Any, folder: Path) -> Any:
    """A relative ``data`` path read from the schedule's folder; URLs and non-strings as they are."""
    if not isinstance(value, str) or "://" in value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (folder / path).resolve())


def _find(template: str, folder: Path) -> Template:
    looks_like_path = template.endswith(".ipynb") or "/" in template or "\\" in template
    if looks_like_path and not Path(template).expanduser().is_absolute():
        relative = folder / template
        if relative.is_file():
            return find_template(relative)
    return find_template(template)


def _check_job(index: int, entry: Any, defaults: Mapping[str, Any], folder: Path,
               cache: dict[str, Template | Exception]) -> tuple[Job | None, list[str], set[str]]:
    """One ``[[reports]]`` entry: the job (``None`` when refused), problems, default keys it used."""
    where = f"reports[{index}]"
    if not isinstance(entry, Mapping):
        return None, [f"{where}: must be a table with name, template and params"], set()
    name = entry.get("name")
    if isinstance(name, str):
        where = f"{where} ({name!r})"
    problems = _unknown(entry, _JOB_KEYS, where)
    if name is None:
        problems.append(f"{where}: missing name (the output name, e.g. name = \"retention-weekly\")")
    elif not isinstance(name, str) or not _NAME.match(name) or len(name) > _NAME_MAX or name.endswith("."):
        problems.append(f"{where}: name {name!r} is not a safe file name: use letters, digits, '_', '-' "
                        f"and '.', at most {_NAME_MAX} characters, no path separator or leading dot")
    params = entry.get("params", {})
    if not isinstance(params, Mapping):
        problems.append(f"{where}: params must be a table, e.g. params = {{ period = \"week\" }}")
        params = {}
    timeout = entry.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)
                                or timeout < 0):
        problems.append(f"{where}: timeout must be a number of seconds >= 0 (0: none), not {timeout!r}")
    template_name = entry.get("template")
    if not isinstance(template_name, str) or not template_name:
        problems.append(f"{where}: missing template (a name from `opskit report list` or a path "
                        "to an .ipynb)")
        return None, problems, set()
    if template_name not in cache:
        try:
            cache[template_name] = _find(template_name, folder)
        except TemplateError as exc:
            cache[template_name] = exc
    template = cache[template_name]
    if isinstance(template, Exception):
        return None, [*problems, f"{where}: {template}"], set()
    used = {k for k in defaults if k in template.parameters and k not in params}
    given = {k: defaults[k] for k in used} | dict(params)
    if "data" in given:
        given["data"] = _resolve_data(given["data"], folder)
        data = given["data"]
        if isinstance(data, str) and "://" not in data and not Path(data).exists():
            problems.append(f"{where}: data {data!r} does not exist (a relative path is read from the "
                            f"schedule's folder {folder})")
    try:
        converted = template.convert(given)
    except ParameterError as exc:
        problems += [f"{where}: {p}" for p in exc.problems]
        converted = None
    if problems or converted is None:
        return None, problems, used
    return Job(name, template, converted, None if timeout is None else float(timeout)), [], used


def read_schedule(path: str | os.PathLike[str]) -> Schedule:
    """Read and check a batch schedule.

    Parameters
    ----------
    path
        A ``.toml`` file, or ``.yaml``/``.yml`` (needs PyYAML).

    Returns
    -------
    Schedule
        The defaults and the checked jobs, in file order.

    Raises
    ------
    ScheduleError
        Listing every problem of the file (nothing is run or written).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "batch.toml").write_text('''
    ... [[reports]]
    ... name = "../x"
    ... template = "no-such-template"
    ... ''')
    >>> read_schedule(folder / "batch.toml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    opskit.report.schedule.ScheduleError: schedule ... refused, nothing ran (2 problems):
      1. reports[0] ('../x'): name '../x' is not a safe file name: ...
      2. reports[0] ('../x'): no template named 'no-such-template'...
    """
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise ScheduleError(file, ["the schedule file does not exist"])
    raw = _load(file)
    if not isinstance(raw, Mapping):
        raise ScheduleError(file, ["the schedule must be a table with [defaults] and [[reports]]"])
    problems = _unknown(raw, _TOP_KEYS, "schedule")
    defaults = raw.get("defaults", {})
    if not isinstance(defaults, Mapping):
        problems.append("[defaults] must be a table of template parameters")
        defaults = {}
    defaults = dict(defaults)
    if "data" in defaults:
        defaults["data"] = _resolve_data(defaults["data"], file.parent)
    entries = raw.get("reports")
    if not isinstance(entries, list) or not entries:
        problems.append("no reports: add at least one [[reports]] table with name and template")
        entries = []
    jobs, used, seen = [], set(), {}
    cache: dict[str, Template | Exception] = {}
    for index, entry in enumerate(entries):
        job, job_problems, job_used = _check_job(index, entry, defaults, file.parent, cache)
        problems += job_problems
        used |= job_used
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if isinstance(name, str):
            key = name.casefold()  # two names differing only in case collide on macOS and Windows
            if key in seen:
                problems.append(f"reports[{index}] ({name!r}): the name is already used by "
                                f"reports[{seen[key]}]; every report needs its own name")
            seen.setdefault(key, index)
        if job is not None:
            jobs.append(job)
    checked = [t for t in cache.values() if isinstance(t, Template)]
    if checked and len(checked) == len(cache):  # only judge defaults when every template was found
        for key in defaults:
            if key not in used and not any(key in t.parameters for t in checked):
                problems.append(f"[defaults]: {key!r} is not a parameter of any template in the schedule")
    if problems:
        raise ScheduleError(file, problems)
    return Schedule(file, defaults, tuple(jobs))

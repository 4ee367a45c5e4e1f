"""Reading batch schedules: defaults and overrides, relative paths, YAML, and every refusal at once.

Nothing here executes a notebook: a schedule is checked against the templates' declared parameters.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from opskit.report import ParameterError, ReportError
from opskit.report.schedule import ScheduleError, read_schedule

TEMPLATES = Path(__file__).parent / "templates"
EXAMPLE = Path(__file__).parents[1] / "examples" / "schedule.toml"


@pytest.fixture
def folder(tmp_path) -> Path:
    """A schedule folder with the test template beside it and a data folder."""
    shutil.copy(TEMPLATES / "batch.ipynb", tmp_path / "batch.ipynb")
    (tmp_path / "exports" / "2025-11").mkdir(parents=True)
    return tmp_path


def write(folder: Path, text: str, name: str = "batch.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
[defaults]
data = "exports/2025-11"
lang = "zh"
title = "默认标题"

[[reports]]
name = "weekly"
template = "batch.ipynb"
params = { delay = 1, first = 2025-02-01 }

[[reports]]
name = "月报"
template = "batch.ipynb"
params = { lang = "en", mode = "raise" }
timeout = 90
"""


def test_defaults_apply_and_params_override(folder):
    schedule = read_schedule(write(folder, GOOD))
    assert [j.name for j in schedule.jobs] == ["weekly", "月报"]
    data = str((folder / "exports" / "2025-11").resolve())
    weekly, monthly = schedule.jobs
    # defaults first, then the job's params, converted by the declared types (TOML dates become ISO text)
    assert dict(weekly.params) == {"data": data, "lang": "zh", "title": "默认标题", "delay": 1.0,
                                   "first": "2025-02-01"}
    assert dict(monthly.params) == {"data": data, "lang": "en", "title": "默认标题", "mode": "raise"}
    assert (weekly.timeout, monthly.timeout) == (None, 90.0)
    assert weekly.effective["last"] == "2025-03-31" and weekly.effective["mode"] == "ok"
    assert weekly.template.path == (folder / "batch.ipynb").resolve()
    assert schedule.lang == "zh" and schedule.path == (folder / "batch.toml").resolve()


def test_relative_paths_are_read_from_the_schedule_folder(folder, monkeypatch, tmp_path_factory):
    path = write(folder, GOOD)
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))  # as cron runs it: from anywhere
    schedule = read_schedule(path)
    assert schedule.jobs[0].params["data"] == str((folder / "exports" / "2025-11").resolve())


def test_yaml_reads_like_toml(folder):
    pytest.importorskip("yaml")
    text = """
defaults: {data: exports/2025-11, lang: zh, title: 默认标题}
reports:
  - {name: weekly, template: batch.ipynb, params: {delay: 1, first: 2025-02-01}}
  - name: 月报
    template: batch.ipynb
    params: {lang: en, mode: raise}
    timeout: 90
"""
    toml_jobs = read_schedule(write(folder, GOOD)).jobs
    yaml_jobs = read_schedule(write(folder, text, "batch.yaml")).jobs
    assert [(j.name, dict(j.params), j.timeout) for j in yaml_jobs] == \
           [(j.name, dict(j.params), j.timeout) for j in toml_jobs]


def test_yaml_without_pyyaml_is_a_clear_error(folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml raises ImportError
    with pytest.raises(ScheduleError, match=r"YAML schedules need PyYAML \(pip install pyyaml\)"):
        read_schedule(write(folder, "reports: []", "batch.yml"))


BAD = """
[defaults]
data = "exports/2025-11"
colour = "red"

[schedule]
when = "daily"

[[reports]]
name = "../escape"
template = "batch.ipynb"

[[reports]]
name = "dup"
template = "batch.ipynb"
parms = { mode = "raise" }

[[reports]]
name = "DUP"
template = "batch.ipynb"
params = { delay = "soon", modes = "x" }

[[reports]]
name = "missing-template"
template = "no_such_template"

[[reports]]
template = "batch.ipynb"
timeout = -1

[[reports]]
name = "no-data"
template = "batch.ipynb"
params = { data = "exports/2099-01" }
"""


def test_every_problem_is_listed_in_one_error(folder):
    with pytest.raises(ScheduleError) as caught:
        read_schedule(write(folder, BAD))
    problems = caught.value.problems
    text = "\n".join(problems)
    expected = [
        "schedule: unknown key 'schedule'",
        "reports[0] ('../escape'): name '../escape' is not a safe file name",
        "reports[1] ('dup'): unknown key 'parms'; did you mean 'params'?",
        "reports[2] ('DUP'): the name is already used by reports[1]",
        "reports[2] ('DUP'): parameter 'delay'",
        "reports[2] ('DUP'): unknown parameter 'modes'; did you mean 'mode'?",
        "reports[3] ('missing-template'): no template named 'no_such_template'",
        "reports[4]: missing name",
        "reports[4]: timeout must be a number of seconds >= 0",
        "reports[5] ('no-data'): data '",
    ]
    for fragment in expected:
        assert fragment in text, fragment
    assert "does not exist (a relative path is read from the schedule's folder" in text
    assert len(problems) == len(expected)  # the unknown default waits until every template is found
    message = str(caught.value)
    head = f"schedule {folder / 'batch.toml'} refused, nothing ran ({len(expected)} problems):"
    assert message.startswith(head)
    assert isinstance(caught.value, ReportError) and isinstance(caught.value, ValueError)


def test_a_default_no_template_declares_is_refused(folder):
    path = write(folder, '[defaults]\ncolour = "red"\nlang = "en"\n'
                         '[[reports]]\nname = "a"\ntemplate = "batch.ipynb"\n')
    with pytest.raises(ScheduleError) as caught:
        read_schedule(path)
    assert caught.value.problems == [
        "[defaults]: 'colour' is not a parameter of any template in the schedule"]


def test_a_default_some_template_declares_is_used_where_declared(folder):
    shutil.copy(TEMPLATES / "failing.ipynb", folder / "failing.ipynb")  # declares data and mode only
    path = write(folder, '[defaults]\ntitle = "T"\n[[reports]]\nname = "a"\ntemplate = "batch.ipynb"\n'
                         '[[reports]]\nname = "b"\ntemplate = "failing.ipynb"\n')
    first, second = read_schedule(path).jobs
    assert first.params == {"title": "T"} and second.params == {}


@pytest.mark.parametrize("name", ["a/b", "a\\b", ".hidden", "x.", "", "a b", "x" * 101, 7])
def test_unsafe_names_are_refused(folder, name):
    value = f'"{name}"' if isinstance(name, str) else str(name)
    value = value.replace("\\", "\\\\")  # a TOML basic string escapes the backslash
    path = write(folder, f'[[reports]]\nname = {value}\ntemplate = "batch.ipynb"\n')
    with pytest.raises(ScheduleError, match="is not a safe file name"):
        read_schedule(path)


@pytest.mark.parametrize(("text", "problem"), [
    ("", "no reports: add at least one [[reports]] table"),
    ("reports = []", "no reports"),
    ('defaults = "x"\n[[reports]]\nname = "a"\ntemplate = "batch.ipynb"', "[defaults] must be a table"),
    ('[[reports]]\nname = "a"\ntemplate = "batch.ipynb"\nparams = 3', "params must be a table"),
    ('[[reports]]\nname = "a"', "missing template"),
    ("[[reports]\n", "not valid TOML"),
])
def test_malformed_files_are_refused(folder, text, problem):
    with pytest.raises(ScheduleError) as caught:
        read_schedule(write(folder, text))
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_missing_file_and_unknown_format(folder):
    with pytest.raises(ScheduleError, match="the schedule file does not exist"):
        read_schedule(folder / "nope.toml")
    with pytest.raises(ScheduleError, match=r"unknown schedule format '.json'"):
        read_schedule(write(folder, "{}", "batch.json"))


def test_values_are_converted_like_the_command_line(folder):
    path = write(folder, '[[reports]]\nname = "a"\ntemplate = "batch.ipynb"\nparams = { delay = "2.5" }\n')
    assert read_schedule(path).jobs[0].params == {"delay": 2.5}
    assert issubclass(ScheduleError, ValueError) and not issubclass(ScheduleError, ParameterError)


def test_the_example_schedule_is_valid(tmp_path):
    """examples/schedule.toml, next to a demo-data folder as in the repository."""
    (tmp_path / "examples").mkdir()
    (tmp_path / "demo-data").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "examples" / "schedule.toml")
    schedule = read_schedule(tmp_path / "examples" / "schedule.toml")
    assert [(j.name, j.template.name) for j in schedule.jobs] == [
        ("retention-weekly", "retention"), ("retention-monthly-zh", "retention"),
        ("attribution", "attribution"), ("b2b-vs-b2c", "b2b_vs_b2c"), ("ops-review", "ops_review")]
    assert {j.params["data"] for j in schedule.jobs} == {str((tmp_path / "demo-data").resolve())}
    assert schedule.jobs[1].params["lang"] == "zh" and schedule.jobs[0].params["lang"] == "en"

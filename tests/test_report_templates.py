"""Template discovery, parameter inspection, `opskit report list` and refusals (no kernel)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

import opskit
from opskit.cli import main
from opskit.report import ParameterError, TemplateError, find_template, list_templates, run
from opskit.report import templates as templates_module

HERE = Path(__file__).parent / "templates"


def _notebook(path: Path, parameters: str | None, body: str = "x = 1") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = []
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        cells.append(cell)
    cells.append(nbformat.v4.new_code_cell(body))
    nb.cells = cells
    nbformat.write(nb, path)
    return path


@pytest.fixture
def fixture_dirs(monkeypatch):
    """Look templates up by name in tests/templates only."""
    monkeypatch.setattr(templates_module, "template_dirs", lambda: [HERE])


def test_template_dirs_are_the_package_and_the_source_tree():
    dirs = templates_module.template_dirs()
    package = Path(opskit.__file__).resolve().parent
    # this checkout is an editable install: the repository's templates/ is searched
    assert package.parent / "templates" in dirs
    assert all(d.is_dir() for d in dirs)


def test_find_by_name_and_by_path(fixture_dirs):
    by_name = find_template("channels")
    by_path = find_template(HERE / "channels.ipynb")
    by_text = find_template(str(HERE / "channels.ipynb"))
    assert by_name.name == by_path.name == by_text.name == "channels"
    assert by_name.path == by_path.path == (HERE / "channels.ipynb").resolve()
    assert find_template("channels.ipynb").name == "channels"


def test_declared_parameters_are_read_from_the_parameters_cell(fixture_dirs):
    params = find_template("channels").parameters
    assert list(params) == ["data", "lang", "title", "start", "end", "top", "threshold", "segments",
                            "weights", "show_table"]
    described = {p.name: (str(p.type), p.default, p.help) for p in params.values()}
    assert described["top"] == ("int", 3, "how many channels to list")
    assert described["start"] == ("date", "2025-01-01", "first day, ISO date")
    assert described["end"] == ("date | None", None, "last day (date); None: the last day of the data")
    assert described["segments"] == ("list[str]", ["B2B", "B2C"], "segments to show")
    assert described["show_table"][:2] == ("bool", True)


def test_unknown_template_names_the_available_ones(fixture_dirs):
    with pytest.raises(TemplateError, match=r"no template named 'channel'; did you mean 'channels'\? "
                                            r"\(available: batch, channels, failing; searched .*templates\)"):
        find_template("channel")
    with pytest.raises(TemplateError, match=r"template file 'nope/x\.ipynb' does not exist"):
        find_template("nope/x.ipynb")


def test_list_templates_sorted(fixture_dirs):
    assert [t.name for t in list_templates()] == ["batch", "channels", "failing"]


def test_a_declaration_papermill_cannot_read_is_a_template_error(tmp_path):
    path = _notebook(tmp_path / "bad.ipynb", "a: int = 1\nb: str | None = None  # papermill skips this\n")
    with pytest.raises(TemplateError, match=r"papermill cannot read the declaration of 'b'.*Optional\[X\]"):
        find_template(path)


def test_an_unconvertible_annotation_is_a_template_error(tmp_path):
    path = _notebook(tmp_path / "odd.ipynb", "when: Path = None  # a path\n")
    with pytest.raises(TemplateError, match=r"template 'odd' .*annotated 'Path'"):
        find_template(path)


def test_a_template_without_parameters_refuses_any(tmp_path):
    template = find_template(_notebook(tmp_path / "plain.ipynb", None))
    assert template.parameters == {}
    with pytest.raises(ParameterError, match=r"unknown parameter 'data' \(the template declares: none\)"):
        run(template, {"data": "x"}, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # refused before anything ran or was created


def test_report_list_shows_parameters(fixture_dirs, capsys):
    assert main(["report", "list"]) == 0
    out = capsys.readouterr().out
    assert out.index("channels  (") < out.index("failing  (")
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("top "))
    assert line.split() == ["top", "int", "3", "how", "many", "channels", "to", "list"]
    assert any(ln.split()[:4] == ["end", "date", "|", "None"] for ln in out.splitlines())


def test_report_list_flags_a_broken_template(monkeypatch, tmp_path, capsys):
    _notebook(tmp_path / "good.ipynb", "n: int = 1  # a number\n")
    _notebook(tmp_path / "broken.ipynb", "when: Path = None\n")
    monkeypatch.setattr(templates_module, "template_dirs", lambda: [tmp_path])
    assert main(["report", "list"]) == 1
    out = capsys.readouterr().out
    assert "broken  (" in out and "error: template 'broken'" in out
    assert "good  (" in out and "n  int  1  a number" in out


def test_report_list_of_the_project_templates_runs(capsys):
    """Whatever templates/ holds now, listing it never crashes."""
    assert main(["report", "list"]) in (0, 1)
    assert "Traceback" not in capsys.readouterr().out


def test_cli_refuses_parameters_before_running(fixture_dirs, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["report", "run", "channels", "--data", str(HERE / "data"), "--out", str(out),
                 "-p", "top", "2.5", "-p", "colour", "red"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("opskit: error: report 'channels': 2 problems with the parameters:")
    assert "parameter 'top' expects a whole number (int), got '2.5'" in err
    assert "unknown parameter 'colour'" in err
    assert not out.exists()


def test_cli_checks_data_and_duplicates(fixture_dirs, tmp_path, capsys):
    code = main(["report", "run", "channels", "--data", str(tmp_path / "missing"), "--out", str(tmp_path),
                 "-p", "data", "x", "-p", "top", "1", "-p", "top", "2"])
    assert code == 1
    err = capsys.readouterr().err
    assert "parameter 'top' is given twice with -p" in err
    assert "parameter 'data' is given both with --data and with -p" in err
    assert "does not exist. Fix: pass the folder of your export" in err


def test_cli_refuses_an_unknown_template(fixture_dirs, tmp_path, capsys):
    assert main(["report", "run", "nope", "--out", str(tmp_path)]) == 1
    assert "no template named 'nope'" in capsys.readouterr().err


def test_run_refuses_an_unknown_format(tmp_path):
    with pytest.raises(opskit.OpskitError, match="format must be 'html', 'ipynb' or 'both'"):
        run(HERE / "channels.ipynb", {}, tmp_path, format="pdf")

"""Declared parameter types and the conversion of given values (no kernel)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opskit.errors import OpskitError
from opskit.report import ParameterError, ParamType, Template
from opskit.report.params import convert, infer_type
from opskit.report.templates import Parameter


@pytest.mark.parametrize(("annotation", "default", "help_text", "expected"), [
    ("int", "12", "", "int"),
    ("float", "0.5", "", "float"),
    ("bool", "True", "", "bool"),
    ("str", '"week"', "cohort period", "str"),
    ("list[str]", '["B2B"]', "", "list[str]"),
    ("List[int]", "[1]", "", "list[int]"),
    ("list", "[]", "", "list"),
    ("dict", "{}", "", "dict"),
    ("Optional[str]", "None", "event name", "str | None"),
    ("str | None", "None", "", "str | None"),
    ("Optional[str]", "None", "last day (date)", "date | None"),
    ("str", '"2025-01-01"', "first day", "date"),
    ("str", "None", "", "str | None"),  # a None default makes any declared type None-able
    (None, "12", "", "int"),
    (None, "1.5", "", "float"),
    (None, "False", "", "bool"),
    (None, '"en"', "", "str"),
    (None, '"2025-01-01"', "", "date"),
    (None, "None", "first day, ISO date", "date | None"),
    (None, "None", "anything", "any"),
    (None, '["a", "b"]', "", "list[str]"),
    (None, "[1, 'a']", "", "list"),
    (None, '{"a": 1}', "", "dict"),
    (None, "os.environ['X']", "", "any"),
])
def test_declared_type(annotation, default, help_text, expected):
    assert str(infer_type("p", annotation, default, help_text)) == expected


def test_an_annotation_opskit_cannot_convert_to_is_refused():
    with pytest.raises(ValueError, match=r"annotated 'Path'.*use int, float, bool, str"):
        infer_type("p", "Path", "None", "")


@pytest.mark.parametrize(("kind", "text", "expected"), [
    (ParamType("int"), "12", 12),
    (ParamType("int"), " -3 ", -3),
    (ParamType("float"), "0.25", 0.25),
    (ParamType("float"), "3", 3.0),
    (ParamType("bool"), "true", True),
    (ParamType("bool"), "No", False),
    (ParamType("bool"), "0", False),
    (ParamType("str"), "2024-01-01", "2024-01-01"),
    (ParamType("date"), "2024-01-01", "2024-01-01"),
    (ParamType("date"), "2024-01-01T08:30", "2024-01-01T08:30"),
    (ParamType("date", optional=True), "None", None),
    (ParamType("str", optional=True), "null", None),
    (ParamType("list"), "[1,2]", [1, 2]),
    (ParamType("list", "str"), "B2B, B2C", ["B2B", "B2C"]),
    (ParamType("list", "str"), '["a,b", "c"]', ["a,b", "c"]),
    (ParamType("list", "int"), "1,2,3", [1, 2, 3]),
    (ParamType("list", "int"), "[1, 2]", [1, 2]),
    (ParamType("list"), "", []),
    (ParamType("dict"), '{"B2B": 0.6}', {"B2B": 0.6}),
    (ParamType("dict"), "{'a': 1}", {"a": 1}),
    (ParamType("any", optional=True), "[1,2]", [1, 2]),
    (ParamType("any", optional=True), "3", 3),
    (ParamType("any", optional=True), "hello world", "hello world"),
])
def test_text_converts_by_declared_type(kind, text, expected):
    value = convert(kind, text)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(("kind", "text", "message"), [
    (ParamType("int"), "12.5", "expects a whole number (int), got '12.5'"),
    (ParamType("int"), "twelve", "expects a whole number"),
    (ParamType("float"), "abc", "expects a number (float)"),
    (ParamType("bool"), "maybe", "expects true or false"),
    (ParamType("date"), "2024-13-01", "expects an ISO date such as 2025-01-31, got '2024-13-01'"),
    (ParamType("date"), "yesterday", "expects an ISO date"),
    (ParamType("dict"), "[1, 2]", "expects a JSON object"),
    (ParamType("dict"), "a=1", "expects a JSON object"),
    (ParamType("list"), "[1, 2", "expects a list"),
    (ParamType("list", "int"), "1,x", "expects a whole number"),
    (ParamType("int"), "None", "expects a whole number"),  # not None-able
])
def test_text_that_does_not_convert_is_refused(kind, text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        convert(kind, text)


def test_python_values_are_checked_not_parsed():
    assert convert(ParamType("str"), Path("demo-data")) == "demo-data"
    assert convert(ParamType("date"), dt.date(2025, 3, 1)) == "2025-03-01"
    assert convert(ParamType("float"), 2) == 2.0
    assert convert(ParamType("list", "str"), ("a", "b")) == ["a", "b"]
    assert convert(ParamType("any", optional=True), {"x": [1]}) == {"x": [1]}
    with pytest.raises(ValueError, match="expects int, got bool True"):
        convert(ParamType("int"), True)
    with pytest.raises(ValueError, match="does not accept None"):
        convert(ParamType("str"), None)
    with pytest.raises(ValueError, match="expects list"):
        convert(ParamType("list"), {"a": 1})


@given(st.integers())
def test_integers_round_trip_through_text(value):
    assert convert(ParamType("int"), str(value)) == value


_WORD = st.text(st.characters(exclude_characters=",", exclude_categories=("Cs", "Zs", "Zl", "Zp", "Cc")),
                min_size=1)


@given(st.lists(_WORD, min_size=1).filter(lambda words: not words[0].startswith("[")))
def test_comma_lists_of_words_round_trip(words):
    """Any comma list reads back, except one starting with "[", which is read as JSON."""
    assert convert(ParamType("list", "str"), ",".join(words)) == [w.strip() for w in words]


def test_parentheses_do_not_make_a_list_literal():
    assert convert(ParamType("list", "str"), "(paid) search,organic") == ["(paid) search", "organic"]


def _template() -> Template:
    def param(name, kind, default):
        return Parameter(name, kind, default, repr(default))

    return Template("t", Path("t.ipynb"), {
        "period": param("period", ParamType("str"), "week"),
        "periods": param("periods", ParamType("int"), 12),
        "start": param("start", ParamType("date", optional=True), None),
    })


def test_unknown_names_and_bad_values_are_refused_together_before_running():
    with pytest.raises(ParameterError) as caught:
        _template().convert({"perod": "month", "periods": "12.5", "start": "2025-02-30"})
    error = caught.value
    assert isinstance(error, OpskitError) and isinstance(error, ValueError)
    assert error.template == "t" and len(error.problems) == 3
    text = str(error)
    assert "report 't': 3 problems with the parameters:" in text
    assert ("unknown parameter 'perod'; did you mean 'period'? "
            "(the template declares: period, periods, start)") in text
    assert "parameter 'periods' expects a whole number (int), got '12.5'" in text
    assert "parameter 'start' expects an ISO date" in text


def test_one_problem_is_one_line():
    with pytest.raises(ParameterError) as caught:
        _template().convert({"periods": "x"})
    assert "\n" not in str(caught.value)
    assert str(caught.value) == "report 't': parameter 'periods' expects a whole number (int), got 'x'"


def test_effective_values_overlay_defaults():
    template = _template()
    effective = template.effective(template.convert({"periods": "8"}))
    assert effective == {"period": "week", "periods": 8, "start": None}

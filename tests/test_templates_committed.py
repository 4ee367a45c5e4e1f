"""Every report template as committed: no outputs, a typed and documented parameters cell, thin.

The execution tests of each template (its story, its planted findings, en and zh) are in
tests/test_template_<name>.py; these checks are the same for every template, so they are
written once, with each template's declared parameters.
"""

from __future__ import annotations

import pytest
from template_checks import TEMPLATES, assert_committed_clean, assert_parameters, assert_thin

from opskit.report import templates

ALL_MODELS = ('["first_touch", "last_touch", "last_non_direct", "linear", "position_based", '
              '"time_decay", "markov", "shapley"]')
#: Per template: every parameter's declared type and default, in the order of the cell.
PARAMETERS = {
    "retention": {
        "data": ("str", '"demo-data"'), "start": ("Optional[str]", "None"),
        "end": ("Optional[str]", "None"), "period": ("str", '"week"'), "mode": ("str", '"on"'),
        "kind": ("str", '"first_time"'), "start_event": ("Optional[str]", "None"),
        "return_event": ("Optional[str]", "None"), "segment_by": ("str", '"segment"'),
        "lang": ("str", '"en"'), "title": ("str", '""'),
    },
    "attribution": {
        "data": ("str", '"demo-data"'), "start": ("Optional[str]", "None"),
        "end": ("Optional[str]", "None"), "lookback_days": ("int", "30"),
        "models": ("list[str]", ALL_MODELS), "model": ("str", '"markov"'),
        "conversion_kinds": ("list[str]", "[]"), "half_life_days": ("float", "7.0"),
        "position_weights": ("list[float]", "[0.4, 0.2, 0.4]"), "lang": ("str", '"en"'),
        "title": ("str", '""'),
    },
    "b2b_vs_b2c": {
        "data": ("str", '"demo-data"'), "start": ("Optional[str]", "None"),
        "end": ("Optional[str]", "None"), "segment_column": ("str", '"segment"'),
        "segments": ("list[str]", '["b2b", "b2c"]'), "promo_start": ("Optional[str]", "None"),
        "promo_end": ("Optional[str]", "None"), "promo_discount": ("float", "0.2"),
        "gross_margin": ("float", "0.8"), "activation_event": ("str", '"create_doc"'),
        "referral_event": ("Optional[str]", '"invite_member"'), "lang": ("str", '"en"'),
        "title": ("str", '""'),
    },
    "ops_review": {
        "data": ("str", '"demo-data"'), "period": ("str", '"2025-Q3"'),
        "compare_to": ("str", '"previous"'), "activation_event": ("str", '"create_doc"'),
        "lang": ("str", '"en"'), "title": ("str", '""'),
    },
}
NAMES = list(PARAMETERS)


def test_every_template_is_checked_here():
    assert sorted(p.stem for p in TEMPLATES.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_template_is_committed_without_outputs(name):
    assert_committed_clean(TEMPLATES / f"{name}.ipynb")


@pytest.mark.parametrize("name", NAMES)
def test_parameters_cell_is_tagged_typed_and_documented(name):
    assert_parameters(TEMPLATES / f"{name}.ipynb", PARAMETERS[name])


@pytest.mark.parametrize("name", NAMES)
def test_notebook_only_loads_calls_charts_and_narrates(name):
    assert_thin(TEMPLATES / f"{name}.ipynb")


@pytest.mark.parametrize("name", NAMES)
def test_template_is_found_by_the_report_pipeline(name):
    assert list(templates.find_template(name).parameters) == list(PARAMETERS[name])

"""The attribution explorer: compare() restricted to the chosen channels, journeys built once."""

from __future__ import annotations

import pandas as pd
import pytest

import opskit
from opskit import attribution
from opskit.widgets import attribution_explorer

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def ds(demo_ds):
    return demo_ds


@pytest.fixture(scope="module")
def ex(ds):
    return attribution_explorer(ds, models=["last_touch", "linear", "position_based", "time_decay",
                                            "markov"])


def _expected(ds, ex):
    wide = attribution.compare(ds, ds, **ex.arguments)
    chosen = list(ex.controls["channels"].value)
    return wide[wide["channel"].isin(chosen)].reset_index(drop=True)


@pytest.mark.parametrize("name, value", [
    ("half_life_days", 3.0), ("position_weights", (0.2, 0.4)), ("lookback_days", 14),
    ("models", ("first_touch", "shapley")), ("channels", ("微信", "email", "(none)"))])
def test_a_control_change_gives_what_compare_gives(ds, ex, name, value):
    ex.controls[name].value = value
    assert ex.error is None, ex.error
    pd.testing.assert_frame_equal(ex.frames["comparison"], _expected(ds, ex))


def test_position_weights_are_first_middle_last(ex):
    ex.controls["position_weights"].value = (0.2, 0.4)  # J-shaped: 0.2, 0.2, 0.6
    assert ex.arguments["weights"] == (0.2, 0.2, 0.6)


def test_model_options_and_channels_do_not_rebuild_journeys(ds, monkeypatch):
    ex = attribution_explorer(ds, models=["last_touch", "time_decay", "position_based"])
    built, heuristics = [], []
    real_journeys, real_credit = attribution.journeys, attribution.credit_by_channel
    monkeypatch.setattr(attribution, "journeys", lambda *a, **k: built.append(k) or real_journeys(*a, **k))
    monkeypatch.setattr(attribution, "credit_by_channel",
                        lambda t, m, **o: heuristics.append(m) or real_credit(t, m, **o))
    ex.controls["half_life_days"].value = 2.0
    assert heuristics == ["time_decay"]  # only the model that takes the option
    ex.controls["position_weights"].value = (0.3, 0.5)
    ex.controls["channels"].value = ex.controls["channels"].options[:2]
    ex.controls["half_life_days"].value = 7.0  # seen before: nothing computed
    assert built == [] and heuristics == ["time_decay", "position_based"]
    ex.controls["lookback_days"].value = 10
    assert len(built) == 1
    ex.controls["lookback_days"].value = 30  # the first window is kept
    assert len(built) == 1


def test_journeys_object_gives_the_same_compare(ds):
    built = attribution.journeys(ds, ds, lookback_days=14)
    models = ["first_touch", "linear", "time_decay", "markov"]
    pd.testing.assert_frame_equal(attribution.compare(built, models=models, half_life_days=3),
                                  attribution.compare(ds, ds, models=models, lookback_days=14,
                                                      half_life_days=3))


def test_empty_choices_are_shown_not_raised(ds):
    ex = attribution_explorer(ds, models=["last_touch"])
    before = ex.frames
    ex.controls["channels"].value = ()
    assert ex.error and "choose at least one" in ex.error
    assert "opskit-error" in ex.status._dom_classes and ex.frames is before
    ex.controls["channels"].value = ("email",)
    assert ex.error is None and "opskit-error" not in ex.status._dom_classes
    ex.controls["models"].value = ()
    assert "Models" in ex.error


def test_status_chinese_and_hostile_channel(demo_frames):
    frames = dict(demo_frames(300, 3))
    tp = frames["touchpoints"].copy()
    tp["channel"] = tp["channel"].replace({"email": HOSTILE})
    frames["touchpoints"] = tp
    ex = attribution_explorer(opskit.Dataset.from_frames(**frames), lang="zh",
                              models=["last_touch", "linear"])
    assert ex.error is None
    assert ex.status.value.startswith("2 个模型 · ")
    assert ex.controls["models"].description == "归因模型"
    assert HOSTILE in set(ex.frames["comparison"]["channel"])
    assert "<img" not in ex.status.value and "<img" not in ex.headline.value
    spec = ex.charts[0].to_dict()
    assert spec["mark"]["type"] == "bar"
    # the table beside the chart: narrative's escaped Markdown, model names in Chinese
    table = ex.charts[1].data
    assert "末次触达" in table and "<img" not in table and "&lt;img src=x" in table


def test_planted_finding_wechat_converts_best(ds):
    # docs/demo.md finding 3: 微信 converts best; every model credits it the most conversions
    ex = attribution_explorer(ds, models=["first_touch", "last_touch", "linear", "markov"])
    assert ex.frames["comparison"]["channel"].iloc[0] == "微信"

"""Rule-based attribution and the journey rule, on journeys small enough to check by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from opskit import attribution
from opskit.attribution import NO_TOUCH, attribute, attribute_paths, compare, paths
from opskit.errors import DataError


def _touches(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "touched_at", "channel"])


def _conversions(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "converted_at", "value"])


def _credit(frame: pd.DataFrame, column: str = "conversions") -> dict[str, float]:
    return dict(zip(frame["channel"], frame[column].round(10), strict=True))


# One converting journey of four touches: 百度搜索, 微信, direct, email (conversion on day 10).
FOUR = _touches(("u", "2025-01-01", "百度搜索"), ("u", "2025-01-03", "微信"),
                ("u", "2025-01-05", "direct"), ("u", "2025-01-10", "email"))
SALE = _conversions(("u", "2025-01-10 12:00", 100.0))


@pytest.mark.parametrize(("model", "options", "expected"), [
    ("first_touch", {}, {"百度搜索": 1.0}),
    ("last_touch", {}, {"email": 1.0}),
    ("linear", {}, {"百度搜索": .25, "微信": .25, "direct": .25, "email": .25}),
    ("position_based", {}, {"百度搜索": .4, "微信": .1, "direct": .1, "email": .4}),
    ("position_based", {"weights": (.2, .2, .6)}, {"百度搜索": .2, "微信": .1, "direct": .1, "email": .6}),
    ("position_based", {"weights": (.6, .2, .2)}, {"百度搜索": .6, "微信": .1, "direct": .1, "email": .2}),
])
def test_rule_based_models_on_a_four_touch_journey(model, options, expected):
    result = attribute(FOUR, SALE, model=model, **options)
    assert _credit(result) == pytest.approx(expected)
    assert _credit(result, "value") == pytest.approx({k: 100 * v for k, v in expected.items()})
    assert result["share"].sum() == pytest.approx(1.0)


def test_time_decay_halves_the_weight_every_half_life():
    # touches 9.5, 7.5, 5.5 and 0.5 days before the conversion; half-life 2 days
    result = attribute(FOUR, SALE, model="time_decay", half_life_days=2)
    raw = {c: 2 ** (-d / 2) for c, d in {"百度搜索": 9.5, "微信": 7.5, "direct": 5.5, "email": .5}.items()}
    total = sum(raw.values())
    assert _credit(result) == pytest.approx({c: w / total for c, w in raw.items()})


def test_time_decay_default_half_life_is_seven_days():
    sale = _conversions(("u", "2025-01-15", 0.0))
    two = _touches(("u", "2025-01-01", "a"), ("u", "2025-01-08", "b"))
    result = attribute(two, sale, model="time_decay")
    assert _credit(result) == pytest.approx({"a": 1 / 3, "b": 2 / 3})


def test_last_non_direct_skips_direct_unless_it_is_all_there_is():
    ends_direct = _touches(("u", "2025-01-01", "微信"), ("u", "2025-01-02", "Direct"))
    only_direct = _touches(("v", "2025-01-01", "direct"), ("v", "2025-01-02", "(direct)"))
    sales = _conversions(("u", "2025-01-03", 1.0), ("v", "2025-01-03", 1.0))
    result = attribute(pd.concat([ends_direct, only_direct]), sales, model="last_non_direct")
    assert _credit(result) == {"微信": 1.0, "(direct)": 1.0}


@pytest.mark.parametrize("model", ["first_touch", "last_touch", "last_non_direct", "linear",
                                   "position_based", "time_decay"])
def test_a_single_touch_gets_everything(model):
    result = attribute(_touches(("u", "2025-01-01", "KOL")), SALE, model=model)
    assert _credit(result) == {"KOL": 1.0}


def test_two_touches_split_first_and_last_in_the_ratio_of_their_weights():
    two = _touches(("u", "2025-01-01", "a"), ("u", "2025-01-02", "b"))
    assert _credit(attribute(two, SALE, model="position_based")) == {"a": .5, "b": .5}
    j = attribute(two, SALE, model="position_based", weights=(.2, .2, .6))
    assert _credit(j) == pytest.approx({"a": .25, "b": .75})


def test_linear_counts_repeats_and_first_touch_takes_the_earliest():
    repeated = _touches(("u", "2025-01-01", "微信"), ("u", "2025-01-02", "微信"),
                        ("u", "2025-01-03", "email"))
    assert _credit(attribute(repeated, SALE, model="linear")) == pytest.approx(
        {"微信": 2 / 3, "email": 1 / 3})


def test_journey_rule_lookback_previous_conversion_and_touchless_conversions():
    touches = _touches(
        ("u", "2024-12-01", "old"),          # 40 days before the first sale: outside 30 days
        ("u", "2024-12-20", "a"),            # in the first sale's journey ...
        ("u", "2025-01-05", "b"),            # ... which ends here
        ("u", "2025-01-11", "d"),            # after the first sale: the second sale's journey
        ("u", "2025-01-20", "late"),         # after the last sale: a non-converting journey
        ("w", "2025-01-02", "c"))            # w never converts: non-converting journey
    sales = _conversions(("u", "2025-01-10", 10.0), ("u", "2025-01-12", 20.0),
                         ("x", "2025-01-11", 5.0))   # x has no touch at all
    result = attribute(touches, sales, model="last_touch")
    assert _credit(result) == {"b": 1.0, "d": 1.0, NO_TOUCH: 1.0}
    assert _credit(result, "value") == {"b": 10.0, "d": 20.0, NO_TOUCH: 5.0}
    journeys = paths(touches, sales).set_index("path")
    assert journeys.loc["late", "nulls"] == 1 and journeys.loc["c", "nulls"] == 1
    assert "old" not in journeys.index
    longer = attribute(touches, sales, model="first_touch", lookback_days=60)
    assert _credit(longer) == {"old": 1.0, "d": 1.0, NO_TOUCH: 1.0}
    assert journeys.loc["a > b", "conversions"] == 1 and journeys.loc["d", "conversions"] == 1


def test_touches_at_the_moment_of_conversion_count_and_ties_order_by_channel():
    touches = _touches(("u", "2025-01-10", "z"), ("u", "2025-01-10", "y"))
    sale = _conversions(("u", "2025-01-10", 1.0))
    assert _credit(attribute(touches, sale, model="last_touch")) == {"z": 1.0}
    assert _credit(attribute(touches, sale, model="first_touch")) == {"y": 1.0}


def test_start_end_and_kinds_choose_the_conversions():
    touches = _touches(("u", "2025-01-01", "a"), ("u", "2025-02-01", "b"))
    sales = _conversions(("u", "2025-01-02", 1.0), ("u", "2025-02-02", 1.0)).assign(
        kind=["trial", "paid"])
    feb = attribute(touches, sales, start="2025-02-01", end="2025-03-01", model="first_touch")
    assert _credit(feb) == {"b": 1.0}
    paid = attribute(touches, sales, kinds=["paid"], model="first_touch", lookback_days=40)
    assert _credit(paid) == {"a": 1.0}  # the trial no longer cuts the journey


def test_value_false_leaves_value_empty_and_totals_hold():
    result = attribute(FOUR, SALE, model="linear", value=False)
    assert result["value"].isna().all() and result["conversions"].sum() == pytest.approx(1.0)


def test_attribute_paths_parses_trims_and_keeps_inner_spaces():
    frame = pd.DataFrame({"path": ["  organic search >paid  search ", "email"],
                          "conversions": [3, 1], "value": [30.0, 5.0]})
    result = attribute_paths(frame, model="last_touch")
    assert _credit(result) == {"paid  search": 3.0, "email": 1.0}
    assert _credit(result, "value") == {"paid  search": 30.0, "email": 5.0}
    custom = attribute_paths(frame.assign(path=["a|b", "c"]), model="first_touch", sep="|")
    assert _credit(custom) == {"a": 3.0, "c": 1.0}


def test_bad_paths_and_options_are_refused_clearly():
    with pytest.raises(DataError, match=r"paths.path: 1 of 2 rows have an empty channel"):
        attribute_paths(pd.DataFrame({"path": ["a > > b", "c"], "conversions": [1, 1]}))
    with pytest.raises(DataError, match=r"paths.conversions: 1 of 1 rows are not non-negative"):
        attribute_paths(pd.DataFrame({"path": ["a"], "conversions": [-1]}))
    with pytest.raises(DataError, match=r"paths.conversions.*is required"):
        attribute_paths(pd.DataFrame({"path": ["a"]}))
    with pytest.raises(ValueError, match="unknown attribution model 'u_shaped'"):
        attribute(FOUR, SALE, model="u_shaped")
    with pytest.raises(TypeError, match="'linear' takes no options; got half_life_days"):
        attribute(FOUR, SALE, model="linear", half_life_days=3)
    with pytest.raises(ValueError, match="must be non-negative and sum to 1"):
        attribute(FOUR, SALE, model="position_based", weights=(.5, .5, .5))
    with pytest.raises(ValueError, match="time_decay needs the time of every touch"):
        attribute_paths(pd.DataFrame({"path": ["a"], "conversions": [1]}), model="time_decay")
    with pytest.raises(DataError, match=r"touchpoints\.channel"):
        attribute(FOUR.drop(columns="channel"), SALE)


def test_compare_puts_models_side_by_side_with_the_spread():
    frame = pd.DataFrame({"path": ["a > b", "b", "a > c"], "conversions": [2, 1, 1],
                          "nulls": [1, 2, 3]})
    wide = compare(frame, models=["first_touch", "last_touch", "linear", "markov", "shapley"])
    assert list(wide.columns) == ["channel", "first_touch", "last_touch", "linear", "markov",
                                  "shapley", "min", "max", "spread"]
    assert wide[["first_touch", "last_touch", "linear", "markov", "shapley"]].sum().round(9).eq(4).all()
    b = wide.set_index("channel").loc["b"]
    assert (b["min"], b["max"], b["spread"]) == (1.0, 3.0, 2.0)
    with pytest.raises(TypeError, match=r"unknown options \['half_life'\]"):
        compare(frame, models=["linear"], half_life=3)
    assert compare(frame, models=["linear"], weights=(.2, .2, .6)).equals(
        compare(frame, models=["linear"]))  # options of other models are ignored


def test_models_list_is_the_contract():
    assert attribution.MODELS == ("first_touch", "last_touch", "last_non_direct", "linear",
                                  "position_based", "time_decay", "markov", "shapley")

"""Markov-chain attribution: chains solved by hand, then properties against a plain reference."""

from __future__ import annotations

import warnings
from itertools import groupby, pairwise

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opskit import _markov
from opskit._markov import markov, removal_effects
from opskit.errors import DataError


def frame(*rows: tuple[str, float, float]) -> pd.DataFrame:
    """Rows of ``("a>b", conversions, nulls)``; value = 10 × conversions."""
    return pd.DataFrame({
        "path": [tuple(path.split(">")) for path, _, _ in rows],
        "conversions": [float(conv) for _, conv, _ in rows],
        "value": [10.0 * conv for _, conv, _ in rows],
        "nulls": [float(nulls) for _, _, nulls in rows],
    })


def effects(paths: pd.DataFrame, order: int = 1) -> dict[str, float]:
    return dict(removal_effects(paths, order=order).itertuples(index=False))


def attributed(paths: pd.DataFrame, order: int = 1) -> dict[str, float]:
    """``{"a conversions": ..., "a value": ...}`` for every channel."""
    out = markov(paths, order=order).set_index("channel")
    return {f"{channel} {column}": v for (channel, column), v in out.stack().items()}


# --- solved by hand ------------------------------------------------------------------------------

def test_two_paths_by_hand():
    # start->a 2/3, start->b 1/3; a->b 1/2, a->null 1/2; b->conversion 1.
    # P = 2/3 · 1/2 + 1/3 = 2/3. Without a: 1/3, effect 1/2. Without b: 0, effect 1.
    paths = frame(("a>b", 1, 0), ("a", 0, 1), ("b", 1, 0))
    out = removal_effects(paths)
    assert out.attrs["conversion_probability"] == pytest.approx(2 / 3)
    assert list(out["channel"]) == ["b", "a"]
    assert list(out["removal_effect"]) == pytest.approx([1, 1 / 2])
    # Shares 1 : 1/2 of 2 conversions and of 20 in value.
    assert attributed(paths) == pytest.approx({"b conversions": 4 / 3, "b value": 40 / 3,
                                               "a conversions": 2 / 3, "a value": 20 / 3})


def test_cycle_solved_exactly():
    # a>b>a converts, a does not: a->b 1/3, a->conversion 1/3, a->null 1/3, b->a 1.
    # x_a = 1/3 + x_a / 3, so P = 1/2. Without b: x_a = 1/3, effect 1 - (1/3)/(1/2) = 1/3.
    out = removal_effects(frame(("a>b>a", 1, 0), ("a", 0, 1)))
    assert out.attrs["conversion_probability"] == pytest.approx(1 / 2)
    assert effects(frame(("a>b>a", 1, 0), ("a", 0, 1))) == pytest.approx({"a": 1, "b": 1 / 3})


def test_one_touch_journeys_give_each_channel_its_own_conversions():
    # P = 1/2 · 1/2 + 1/2 · 1/4 = 3/8; without a 1/8 (effect 2/3), without b 1/4 (effect 1/3).
    paths = frame(("a", 2, 2), ("b", 1, 3))
    assert effects(paths) == pytest.approx({"a": 2 / 3, "b": 1 / 3})
    assert attributed(paths) == pytest.approx({"a conversions": 2, "a value": 20,
                                               "b conversions": 1, "b value": 10})


def test_consecutive_repeats_collapse():
    base = frame(("a>b", 1, 0), ("b", 0, 2), ("a", 1, 1))
    repeated = frame(("a>a>b", 1, 0), ("b>b>b", 0, 2), ("a>a", 1, 1))
    assert effects(repeated) == pytest.approx(effects(base))
    assert effects(repeated, order=2) == pytest.approx(effects(base, order=2))
    # Non-consecutive repeats are not collapsed: a>b>a is a different path.
    assert effects(frame(("a>b>a", 1, 0), ("a", 0, 1)))["b"] == pytest.approx(1 / 3)
    assert effects(frame(("a>b", 1, 0), ("a", 0, 1)))["b"] == pytest.approx(1)


def test_repeated_rows_are_summed_and_empty_rows_ignored():
    split = frame(("a>b", 1, 0), ("a>b", 2, 1), ("a", 0, 1), ("z", 0, 0))
    whole = frame(("a>b", 3, 1), ("a", 0, 1))
    assert effects(split) == pytest.approx(effects(whole))
    assert attributed(split) == pytest.approx(attributed(whole))


def test_all_paths_through_one_channel():
    # start->a 1; a->b, a->c, a->conversion 1/3 each; b->conversion 1; c->null 1.
    # P = 2/3; without a 0; without b 1/3 (effect 1/2); c is never on a converting path: 0.
    out = removal_effects(frame(("a>b", 1, 0), ("a>c", 0, 1), ("a", 1, 0)))
    assert dict(out.itertuples(index=False)) == pytest.approx({"a": 1, "b": 1 / 2, "c": 0})
    assert list(out["channel"]) == ["a", "b", "c"]
    assert effects(frame(("a", 3, 5))) == {"a": 1.0}


def test_order_two_by_hand():
    # Order 2 states: a>b>c walks (a) (a,b) (b,c); b>c walks (b) (b,c); a>c walks (a) (a,c).
    # x(b,c) = x(a,b) = 1/2, x(a,c) = 1, x(a) = 3/4, x(b) = 1/2; P = 2/3 · 3/4 + 1/3 · 1/2 = 2/3.
    # Without a: only (b) survives, P = 1/6, effect 3/4. Without b: x(a) = 1/2, P = 1/3, effect 1/2.
    paths = frame(("a>b>c", 1, 0), ("b>c", 0, 1), ("a>c", 1, 0))
    assert effects(paths, order=2) == pytest.approx({"a": 3 / 4, "b": 1 / 2, "c": 1})
    assert removal_effects(paths, order=2).attrs["conversion_probability"] == pytest.approx(2 / 3)
    # Order 1 cannot tell that b>c rarely converts after a: a and b tie at 2/3.
    assert effects(paths, order=1) == pytest.approx({"a": 2 / 3, "b": 2 / 3, "c": 1})
    # Order 3: a>b>c ends in (a,b,c), so without a nothing converts.
    assert effects(paths, order=3) == pytest.approx({"a": 1, "b": 1 / 2, "c": 1})


def test_nothing_converts_gives_zeros():
    out = markov(frame(("a>b", 0, 3), ("b", 0, 1)))
    assert out.attrs["conversion_probability"] == 0
    assert out[["conversions", "value"]].to_numpy().tolist() == [[0, 0], [0, 0]]


def test_without_nulls_warns():
    with pytest.warns(UserWarning, match="non-converting journeys"):
        removal_effects(frame(("a>b", 1, 0), ("b", 2, 0)))
    with pytest.warns(UserWarning, match="nulls"):
        markov(frame(("a", 1, 0)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        markov(frame(("a", 1, 0), ("b", 0, 1)))


def test_empty_frame():
    empty = frame()
    assert removal_effects(empty).columns.tolist() == ["channel", "removal_effect"]
    out = markov(empty)
    assert out.empty and out.columns.tolist() == ["channel", "conversions", "value"]
    assert out["conversions"].dtype == "float64"
    assert markov(frame(("a", 0, 0))).empty


def test_bad_order_and_too_many_states(monkeypatch):
    with pytest.raises(ValueError, match="order"):
        markov(frame(("a", 1, 1)), order=0)
    monkeypatch.setattr(_markov, "MAX_STATES", 3)
    with pytest.raises(DataError, match="Markov states"):
        markov(frame(("a>b>c", 1, 1), ("c>d", 1, 1)))


# --- properties ----------------------------------------------------------------------------------

def reference(paths: pd.DataFrame, order: int) -> tuple[float, dict[str, float]]:
    """P(conversion) and removal effects, built row by row with dicts and solved per removal."""
    counts: dict[tuple, dict[object, float]] = {}
    rows = zip(paths["path"], paths["conversions"], paths["nulls"], strict=True)
    rows = [(path, conv, nulls) for path, conv, nulls in rows if conv + nulls > 0]
    if not rows:
        return 0.0, {}
    for path, conv, nulls in rows:
        collapsed = [c for c, _ in groupby(path)]
        states = [("start",)] + [tuple(collapsed[max(0, i - order + 1): i + 1])
                                 for i in range(len(collapsed))]
        for a, b in pairwise(states):
            counts.setdefault(a, {}).setdefault(b, 0.0)
            counts[a][b] += conv + nulls
        end = counts.setdefault(states[-1], {})
        end["conversion"] = end.get("conversion", 0.0) + conv
        end["null"] = end.get("null", 0.0) + nulls
    transient = sorted((s for s in counts if sum(counts[s].values()) > 0), key=str)
    index = {s: i for i, s in enumerate(transient)}
    q, r = np.zeros((len(index), len(index))), np.zeros(len(index))
    for a, row in counts.items():
        if a in index:
            total = sum(row.values())
            for b, w in row.items():
                if b == "conversion":
                    r[index[a]] += w / total
                elif b != "null":
                    q[index[a], index[b]] += w / total

    def p_conversion(dropped: set) -> float:
        keep = np.array([not (set(s) & dropped) for s in transient])
        x = np.linalg.solve(np.eye(len(index)) - q * keep, r)
        return float(x[index[("start",)]])

    p = p_conversion(set())
    channels = {c for path, _, _ in rows for c in path}
    return p, {c: (1 - p_conversion({c}) / p if p > 0 else 0.0) for c in channels}


journeys = st.lists(
    st.tuples(st.lists(st.sampled_from("abcd"), min_size=1, max_size=5),
              st.integers(0, 3), st.integers(0, 3)),
    min_size=1, max_size=8,
).map(lambda rows: frame(*((">".join(p), c, n) for p, c, n in rows)))  # rows without journeys too


@settings(max_examples=60, deadline=None)
@given(journeys, st.integers(1, 3))
def test_matches_plain_reference(paths, order):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = removal_effects(paths, order=order)
    p, expected = reference(paths, order)
    assert out.attrs["conversion_probability"] == pytest.approx(p, abs=1e-9)
    assert dict(out.itertuples(index=False)) == pytest.approx(expected, abs=1e-9)
    assert out["removal_effect"].between(0, 1).all()


@settings(max_examples=60, deadline=None)
@given(journeys, st.integers(1, 2), st.permutations("abcd"))
def test_totals_kept_and_names_do_not_matter(paths, order, names):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = markov(paths, order=order)
        effect = removal_effects(paths, order=order)
        rename = dict(zip("abcd", names, strict=True))
        renamed = paths.assign(path=[tuple(rename[c] for c in p) for p in paths["path"]])
        again = markov(renamed, order=order)
    if (effect["removal_effect"] > 0).any():
        assert out["conversions"].sum() == pytest.approx(paths["conversions"].sum())
        assert out["value"].sum() == pytest.approx(paths["value"].sum())
    else:
        assert (out[["conversions", "value"]] == 0).all().all()
    mapped = {rename[c]: v for c, v in zip(out["channel"], out["conversions"], strict=True)}
    assert dict(zip(again["channel"], again["conversions"], strict=True)) == pytest.approx(mapped, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(journeys)
def test_effects_in_unit_interval_when_every_path_converts(paths):
    paths = paths.assign(conversions=paths["conversions"] + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = removal_effects(paths)
    assert out["removal_effect"].between(0, 1).all()
    assert out["removal_effect"].max() > 0
    assert list(out["removal_effect"]) == sorted(out["removal_effect"], reverse=True)

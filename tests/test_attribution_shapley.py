"""Shapley attribution: games solved by hand, then the fast forms against the classic formula."""

from __future__ import annotations

import time
from itertools import combinations
from math import factorial

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opskit._shapley import shapley
from opskit.errors import DataError


def frame(*rows: tuple[str, float, float]) -> pd.DataFrame:
    """Rows of ``("a>b", conversions, nulls)``; value = 10 × conversions."""
    return pd.DataFrame({
        "path": [tuple(path.split(">")) for path, _, _ in rows],
        "conversions": [float(conv) for _, conv, _ in rows],
        "value": [10.0 * conv for _, conv, _ in rows],
        "nulls": [float(nulls) for _, _, nulls in rows],
    })


def column(out: pd.DataFrame, name: str) -> dict[str, float]:
    return dict(zip(out["channel"], out[name], strict=True))


# --- solved by hand ------------------------------------------------------------------------------

def test_conversions_split_equally_among_distinct_channels():
    # a>a>b: a and b get half each (linear attribution would give a two thirds: repeats count there).
    out = shapley(frame(("a>a>b", 1, 0), ("b", 2, 0), ("c", 0, 4), ("a>b>c", 3, 1)))
    assert column(out, "conversions") == pytest.approx({"a": 1.5, "b": 3.5, "c": 1})
    assert column(out, "value") == pytest.approx({"a": 15, "b": 35, "c": 10})
    assert column(out, "shapley_value") == column(out, "conversions")
    assert list(out["channel"]) == ["b", "a", "c"]
    assert not out["negative"].any()
    assert out.attrs["grouped_into_other"] == []


def test_rate_game_by_hand():
    # Journeys: {a,b} 1 of 1 converts, {a} 0 of 1, {b} 1 of 1.
    # v(a) = 0, v(b) = 1, v(ab) = 2/3. phi_a = (0 + (2/3 - 1)) / 2 = -1/6, phi_b = (1 + 2/3) / 2 = 5/6.
    out = shapley(frame(("a>b", 1, 0), ("a", 0, 1), ("b", 1, 0)), worth="rate")
    assert column(out, "shapley_value") == pytest.approx({"a": -1 / 6, "b": 5 / 6})
    # Shares of sum(phi) = 2/3, times 2 conversions and 20 in value; the negative one is kept.
    assert column(out, "conversions") == pytest.approx({"a": -1 / 2, "b": 5 / 2})
    assert column(out, "value") == pytest.approx({"a": -5, "b": 25})
    assert column(out, "negative") == {"a": True, "b": False}


def test_min_journeys_zeroes_sparse_coalitions():
    # {a} and {b} own one journey each, under 2: v(a) = v(b) = 0, v(ab) = 2/3: phi 1/3 each.
    out = shapley(frame(("a>b", 1, 0), ("a", 0, 1), ("b", 1, 0)), worth="rate", min_journeys=2)
    assert column(out, "shapley_value") == pytest.approx({"a": 1 / 3, "b": 1 / 3})
    assert column(out, "conversions") == pytest.approx({"a": 1, "b": 1})
    # Nobody reaches 4 journeys: every v is 0, so are the attributions.
    out = shapley(frame(("a>b", 1, 0), ("a", 0, 1), ("b", 1, 0)), worth="rate", min_journeys=4)
    assert (out[["conversions", "value", "shapley_value"]] == 0).all().all()


def test_rare_channels_grouped_into_other():
    # Journeys containing: a 13, b 8, c 3, d 2, e 1.
    paths = frame(("a", 5, 5), ("b>a", 1, 2), ("b", 2, 3), ("c", 1, 2), ("d>e", 1, 0), ("d", 0, 1))
    out = shapley(paths, worth="rate", max_channels=3)
    assert sorted(out["channel"]) == ["a", "b", "other"]
    assert out.attrs["grouped_into_other"] == ["c", "d", "e"]
    assert out["conversions"].sum() == pytest.approx(10)
    # A channel really called "other" joins the group instead of clashing with it.
    named = paths.assign(path=[tuple("other" if c == "c" else c for c in p) for p in paths["path"]])
    again = shapley(named, worth="rate", max_channels=3)
    assert again.attrs["grouped_into_other"] == ["d", "e"]
    assert column(again, "shapley_value") == pytest.approx(column(out, "shapley_value"))
    assert shapley(paths, worth="rate", max_channels=5).attrs["grouped_into_other"] == []


def test_rate_needs_nulls_and_options_are_checked():
    with pytest.raises(DataError, match="nulls"):
        shapley(frame(("a>b", 1, 0), ("b", 2, 0)), worth="rate")
    with pytest.raises(ValueError, match="worth"):
        shapley(frame(("a", 1, 1)), worth="value")
    with pytest.raises(ValueError, match="min_journeys"):
        shapley(frame(("a", 1, 1)), min_journeys=5)
    with pytest.raises(ValueError, match="max_channels"):
        shapley(frame(("a", 1, 1)), worth="rate", max_channels=40)


def test_empty_frame():
    for worth in ("conversions", "rate"):
        out = shapley(frame(), worth=worth)
        assert out.empty
        assert out.columns.tolist() == ["channel", "conversions", "value", "shapley_value", "negative"]
    assert shapley(frame(("a", 0, 0))).empty


def test_fifteen_channels_rate_is_fast():
    names = [f"c{i}" for i in range(15)]
    paths = frame(*((f"{a}>{b}", (i + j) % 3, 1 + i % 2) for i, a in enumerate(names)
                    for j, b in enumerate(names)))
    start = time.perf_counter()
    out = shapley(paths, worth="rate")
    assert time.perf_counter() - start < 3
    assert len(out) == 15 and out.attrs["grouped_into_other"] == []
    converted = paths["conversions"].sum()  # sum(phi) = v(all channels) = the overall rate
    assert out["shapley_value"].sum() == pytest.approx(converted / (converted + paths["nulls"].sum()))


# --- properties ----------------------------------------------------------------------------------

def classic(paths: pd.DataFrame, worth: str, min_journeys: float = 0) -> dict[str, float]:
    """Shapley values by the textbook sum over every coalition, v(S) read off the rows."""
    rows = [(frozenset(p), conv, val, nulls) for p, conv, val, nulls
            in zip(paths["path"], paths["conversions"], paths["value"], paths["nulls"], strict=True)]
    players = sorted({c for s, conv, _, nulls in rows if conv + nulls > 0 for c in s})
    n = len(players)

    def v(coalition: frozenset) -> float:
        owned = [row for row in rows if row[0] <= coalition]
        if worth == "conversions":
            return sum(conv for _, conv, _, _ in owned)
        if worth == "value":
            return sum(val for _, _, val, _ in owned)
        converted = sum(conv for _, conv, _, _ in owned)
        journeys = converted + sum(nulls for _, _, _, nulls in owned)
        return converted / journeys if journeys > 0 and journeys >= min_journeys else 0.0

    phi = {}
    for c in players:
        others = [p for p in players if p != c]
        phi[c] = sum(factorial(k) * factorial(n - k - 1) / factorial(n)
                     * (v(frozenset(s) | {c}) - v(frozenset(s)))
                     for k in range(n) for s in combinations(others, k))
    return phi


def journeys(channels: str, max_rows: int = 12) -> st.SearchStrategy[pd.DataFrame]:
    row = st.tuples(st.lists(st.sampled_from(channels), min_size=1, max_size=6),
                    st.integers(0, 4), st.integers(0, 4))
    return st.lists(row, min_size=1, max_size=max_rows).map(
        lambda rows: frame(*((">".join(p), c, n) for p, c, n in rows)))


@settings(max_examples=30, deadline=None)
@given(journeys("abcdefghij", max_rows=14))
def test_closed_form_equals_classic_formula(paths):
    out = shapley(paths)
    assert column(out, "shapley_value") == pytest.approx(classic(paths, "conversions"), abs=1e-9)
    assert column(out, "value") == pytest.approx(classic(paths, "value"), abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(journeys("abcdef"), st.sampled_from([0, 2, 5]))
def test_rate_game_equals_classic_formula(paths, min_journeys):
    paths = paths.assign(nulls=paths["nulls"] + (paths["conversions"] > 0))  # some nulls are needed
    out = shapley(paths, worth="rate", min_journeys=min_journeys)
    expected = classic(paths, "rate", min_journeys)
    assert column(out, "shapley_value") == pytest.approx(expected, abs=1e-9)
    flags = column(out, "negative")
    assert all(flags[c] == (phi < 0) for c, phi in expected.items() if abs(phi) > 1e-9)


@settings(max_examples=50, deadline=None)
@given(journeys("abcde"), st.sampled_from(["conversions", "rate"]), st.permutations("abcde"))
def test_totals_kept_and_names_do_not_matter(paths, worth, names):
    paths = paths.assign(nulls=paths["nulls"] + 1)
    out = shapley(paths, worth=worth)
    if out["shapley_value"].sum() > 1e-12:
        assert out["conversions"].sum() == pytest.approx(paths["conversions"].sum())
        assert out["value"].sum() == pytest.approx(paths["value"].sum())
    rename = dict(zip("abcde", names, strict=True))
    again = shapley(paths.assign(path=[tuple(rename[c] for c in p) for p in paths["path"]]), worth=worth)
    for name in ("conversions", "shapley_value"):
        mapped = {rename[c]: x for c, x in column(out, name).items()}
        assert column(again, name) == pytest.approx(mapped, abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(journeys("abcde"))
def test_channel_never_on_a_converting_path_gets_nothing(paths):
    out = shapley(paths)
    rows = zip(paths["path"], paths["conversions"], strict=True)
    converting = {c for p, conv in rows if conv > 0 for c in p}
    for channel, conv in column(out, "conversions").items():
        assert (conv > 0) == (channel in converting)

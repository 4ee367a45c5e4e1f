"""What every explorer shares: display, classes, initial values, status and errors."""

from __future__ import annotations

import sys

import pytest

import opskit
from opskit import widgets
from opskit.widgets._base import LRU, vega_bundle, word


@pytest.fixture(scope="module")
def ds(demo_frames):
    return opskit.Dataset.from_frames(**demo_frames(300, 3))


@pytest.mark.parametrize("make", [widgets.retention_explorer, widgets.attribution_explorer,
                                  widgets.segment_explorer])
def test_contract(ds, make):
    ex = make(ds)
    assert "opskit-explorer" in ex.widget._dom_classes
    assert "opskit-status" in ex.status._dom_classes
    assert "opskit-chart" in ex.chart._dom_classes
    assert ex.widget._repr_mimebundle_() == ex._repr_mimebundle_()
    assert ex.error is None and ex.seconds > 0
    assert ex.status.value.endswith(" s") and ex.charts
    assert all(f"opskit-control-{n}" in c._dom_classes for n, c in ex.controls.items())
    bundle = vega_bundle(ex.charts[0])  # drawn offline by JupyterLab: Vega 5, not a CDN script
    assert bundle["application/vnd.vega.v5+json"]["$schema"].endswith("vega/v5.json")
    with pytest.raises(ValueError, match="unknown control"):
        make(ds, nope=1)
    ex.refresh()
    assert ex.error is None


def test_a_path_is_loaded(demo_parquet):
    ex = widgets.retention_explorer(str(demo_parquet(300, 3)), period="month")
    assert ex.error is None and ex.frames["cohorts"]["cohort"].nunique() == 12


def test_opskit_does_not_import_ipywidgets():
    import subprocess

    code = "import opskit, sys; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_words_and_memo():
    assert word("zh", "computing") == "计算中…" and word("en", "period") == "Period"
    with pytest.raises(ValueError, match="'en' or 'zh'"):
        word("fr", "period")
    memo = LRU(2)
    for key in "abca":
        memo.get(key, lambda key=key: key)
    assert memo.misses == 4 and "a" in memo and "b" not in memo


def test_errors_are_escaped(ds):
    ex = widgets.retention_explorer(ds)
    ex._fail(ValueError("<script>x</script>"))
    assert "<script>" not in ex.status.value and "&lt;script&gt;" in ex.status.value
    assert ex.error == "<script>x</script>"


def _opskit_tables(ds) -> set[str]:
    return {name for name in ds.backend.list_tables() if name.startswith("_opskit_")}


@pytest.mark.parametrize("make", [widgets.retention_explorer, widgets.attribution_explorer])
def test_close_drops_the_engine_tables_and_closes_the_widgets(demo_frames, make):
    ds = opskit.Dataset.from_frames(**demo_frames(300, 3))
    before = _opskit_tables(ds)
    ex = make(ds)
    ex.prepare(wait=True)  # compacted events for every period, or journeys for every window
    made = _opskit_tables(ds) - before
    assert made  # the explorer keeps materialised tables in the engine ...
    ex.close()
    assert not (_opskit_tables(ds) & made)  # ... until it is closed
    assert ex.widget.comm is None and all(c.comm is None for c in ex.controls.values())
    assert ex.pending == 0

"""The same attribution from a pandas frame, Parquet on DuckDB and a Spark table."""

from __future__ import annotations

import pandas as pd
import pytest

import opskit
from opskit.attribution import compare, paths

MODELS = ["first_touch", "last_touch", "last_non_direct", "linear", "position_based",
          "time_decay", "markov", "shapley"]


@pytest.fixture(scope="module")
def demo_folder(demo_parquet):
    return demo_parquet(400, 11)


def test_pandas_frames_and_parquet_agree(demo_folder):
    ds = opskit.load(demo_folder)
    touch = pd.read_parquet(demo_folder / "touchpoints.parquet")
    conv = pd.read_parquet(demo_folder / "conversions.parquet")
    pd.testing.assert_frame_equal(compare(touch, conv, models=MODELS),
                                  compare(ds, ds, models=MODELS))
    pd.testing.assert_frame_equal(paths(touch, conv), paths(ds, ds))


@pytest.mark.spark
def test_spark_gives_the_same_attribution(demo_folder, spark_backend):
    for name in ("touchpoints", "conversions", "events"):
        spark_backend.read_parquet(str(demo_folder / f"{name}.parquet"), table_name=name)
    on_spark = opskit.load(spark_backend)
    on_duckdb = opskit.load(demo_folder)
    pd.testing.assert_frame_equal(
        compare(on_spark, on_spark, models=MODELS, kinds=["paid"]),
        compare(on_duckdb, on_duckdb, models=MODELS, kinds=["paid"]))
    pd.testing.assert_frame_equal(paths(on_spark, on_spark), paths(on_duckdb, on_duckdb))

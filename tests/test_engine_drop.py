"""engine.drop: the tables opskit materialises can be given back to the engine."""

from __future__ import annotations

import ibis
import pytest

from opskit import engine


@pytest.fixture
def con():
    return ibis.duckdb.connect()


@pytest.mark.parametrize("view", [False, True])
def test_drop_removes_a_materialised_table_or_view(con, view):
    t = engine.materialise(con, ibis.memtable({"a": [1, 2, 3]}), view=view)
    name = t.op().name
    assert name in con.list_tables() and engine.to_pandas(t)["a"].sum() == 6
    engine.drop(t)
    assert name not in con.list_tables()
    engine.drop(t)  # twice: a no-op


def test_other_tables_are_kept(con):
    kept = engine.materialise(con, ibis.memtable({"a": [1]}), view=False)
    gone = engine.materialise(con, ibis.memtable({"a": [2]}), view=False)
    engine.drop(gone)
    assert kept.op().name in con.list_tables()
    assert engine.to_pandas(kept)["a"].tolist() == [1]


def test_only_opskit_tables_are_dropped(con):
    con.raw_sql("CREATE TABLE mine AS SELECT 1 AS a")
    with pytest.raises(ValueError, match="made by opskit"):
        engine.drop(con.table("mine"))
    assert "mine" in con.list_tables()


def test_attribution_journeys_release_their_table(demo_frames):
    import opskit
    from opskit import attribution

    ds = opskit.Dataset.from_frames(**demo_frames(300, 3))
    built = attribution.journeys(ds, ds, lookback_days=7)
    con = built.touch_table.get_backend()
    name = built.touch_table.op().name
    assert name in con.list_tables()
    engine.drop(built.touch_table)
    assert name not in con.list_tables()


@pytest.mark.spark
def test_drop_on_spark(spark_backend):
    t = engine.materialise(spark_backend, ibis.memtable({"a": [1, 2]}), view=False)
    name = t.op().name
    engine.drop(t)
    assert name not in spark_backend.list_tables()

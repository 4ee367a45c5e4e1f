"""opskit.engine: stable dtypes, and the same answers on Spark as on DuckDB."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

import opskit
from opskit import engine


def test_to_pandas_normalises_timestamps_to_naive_utc_ns():
    frame = pd.DataFrame({
        "aware": pd.to_datetime(["2025-01-05 09:00"]).tz_localize("Asia/Shanghai"),
        "naive": pd.to_datetime(["2025-01-05 09:00"]),
    })
    got = engine.to_pandas(ibis.memtable(frame))
    assert got["aware"].dtype == "datetime64[ns]" and got["naive"].dtype == "datetime64[ns]"
    assert got["aware"].iloc[0] == pd.Timestamp("2025-01-05 01:00")


def test_to_pandas_turns_dates_into_midnight_timestamps():
    t = ibis.memtable({"d": ["2025-01-05"]})
    got = engine.to_pandas(t.select(day=t.d.cast("date")))
    assert got["day"].dtype == "datetime64[ns]" and got["day"].iloc[0] == pd.Timestamp("2025-01-05")


def test_as_table_accepts_frames_and_tables_only():
    t = engine.as_table(pd.DataFrame({"a": [1]}))
    assert engine.as_table(t) is t
    with pytest.raises(TypeError, match="expected an Ibis table or a pandas DataFrame"):
        engine.as_table([1, 2])


def test_default_connection_runs_in_utc():
    con = engine.connect()
    assert con.raw_sql("SELECT current_setting('TimeZone')").fetchone()[0] == "UTC"


def test_epoch_and_excel_conversions():
    t = ibis.memtable({"s": [0.0, 86_400.5]})
    got = engine.to_pandas(t.select(
        s=engine.epoch_to_timestamp(t.s, "s"), excel=engine.epoch_to_timestamp(t.s / 86_400 + 2, "excel")))
    assert got["s"].tolist() == [pd.Timestamp("1970-01-01"), pd.Timestamp("1970-01-02 00:00:00.5")]
    assert got["excel"].iloc[0] == pd.Timestamp("1900-01-01")


@pytest.mark.spark
def test_demo_data_loads_into_spark_and_gives_duckdbs_answers(tmp_path, spark_backend):
    from opskit.cli import main

    assert main(["demo", "--out", str(tmp_path), "--users", "600", "--seed", "3"]) == 0
    on_duckdb = opskit.load(tmp_path)
    for path in sorted(tmp_path.glob("*.parquet")):
        spark_backend.read_parquet(str(path), table_name=path.stem)
    on_spark = opskit.load(spark_backend)

    assert engine.backend_name(on_spark.events) == "pyspark"
    assert list(on_spark) == list(on_duckdb)
    duck_summary = on_duckdb.summary().drop(columns="source")
    spark_summary = on_spark.summary().drop(columns="source")
    pd.testing.assert_frame_equal(spark_summary, duck_summary)
    for freq in ("day", "week", "month"):
        pd.testing.assert_frame_equal(
            opskit.activity.active_users(on_spark, freq=freq),
            opskit.activity.active_users(on_duckdb, freq=freq))
    # whole tables come back identical, dtypes included
    events_spark = on_spark.to_pandas("events").sort_values(["user_id", "event_at", "event"])
    events_duck = on_duckdb.to_pandas("events").sort_values(["user_id", "event_at", "event"])
    pd.testing.assert_frame_equal(events_spark.reset_index(drop=True), events_duck.reset_index(drop=True))


@pytest.mark.spark
def test_spark_text_timestamps_parse_like_duckdb(spark_backend):
    values = ["2024-01-05 13:00:00", "2024/1/5", "2024年1月5日", "2024-01-05T13:00:00+08:00",
              "1704459600", "nonsense"]
    frame = pd.DataFrame({"user_id": ["u"] * len(values), "event": ["e"] * len(values),
                          "event_at": values})
    spark_backend.create_view("events", ibis.memtable(frame), overwrite=True)
    spark = opskit.validate(spark_backend, timezone="Asia/Shanghai")
    duck_backend = engine.connect()
    duck_backend.create_table("events", ibis.memtable(frame))
    duck = opskit.validate(duck_backend, timezone="Asia/Shanghai")
    assert [f.examples for f in spark.errors] == [((None, "nonsense"),)]
    assert [(f.check, f.rows) for f in spark.errors] == [(f.check, f.rows) for f in duck.errors]

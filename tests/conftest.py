"""Shared fixtures: tiny exports whose numbers can be checked by hand."""

from __future__ import annotations

import os
import sys

import ibis
import pandas as pd
import pytest


@pytest.fixture
def events_frame() -> pd.DataFrame:
    """Four events of two users; times are naive wall-clock strings."""
    return pd.DataFrame({
        "user_id": ["u1", "u1", "u2", "u2"],
        "event_at": ["2025-01-05 09:00:00", "2025-01-06 10:30:00",
                     "2025-01-05 23:30:00", "2025-01-07 08:00:00"],
        "event": ["login", "view", "login", "purchase"],
        "revenue": [None, None, None, 99.0],
    })


@pytest.fixture
def users_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": ["u1", "u2"],
        "signup_at": ["2025-01-05 08:00:00", "2025-01-05 23:00:00"],
        "segment": ["B2B", "b2c"],
        "channel": ["微信", "百度搜索"],
    })


@pytest.fixture(scope="session")
def spark_backend(tmp_path_factory):
    pyspark = pytest.importorskip("pyspark.sql")
    # Spark's Python workers must use this interpreter (with pandas and pyarrow), not PATH's python3.
    os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (pyspark.SparkSession.builder.master("local[2]").appName("opskit-tests")
               .config("spark.sql.warehouse.dir", str(warehouse))
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "4")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield ibis.pyspark.connect(session)
    session.stop()

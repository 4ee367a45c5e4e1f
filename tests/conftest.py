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


@pytest.fixture(scope="session")
def demo_frames():
    """``demo_frames(users, seed)``: the demo's pandas frames, generated once per session.

    Treat them as read-only (copy a frame before changing it).
    """
    from opskit.demo import generate_frames

    cache: dict[tuple[int, int], dict[str, pd.DataFrame]] = {}

    def get(users: int, seed: int) -> dict[str, pd.DataFrame]:
        if (users, seed) not in cache:
            cache[(users, seed)] = generate_frames(users=users, seed=seed)
        return cache[(users, seed)]

    return get


@pytest.fixture(scope="module")
def demo_ds(demo_frames):
    """The demo Dataset of 2,000 users (seed 7), one per test module (its own engine tables)."""
    import opskit

    return opskit.Dataset.from_frames(**demo_frames(2000, 7))


@pytest.fixture(scope="session")
def demo_parquet(demo_frames, tmp_path_factory):
    """``demo_parquet(users, seed)``: a folder with one Parquet file per demo table, written once."""
    folders: dict[tuple[int, int], object] = {}

    def get(users: int, seed: int):
        if (users, seed) not in folders:
            folder = tmp_path_factory.mktemp(f"demo-{users}-{seed}")
            for name, frame in demo_frames(users, seed).items():
                frame.to_parquet(folder / f"{name}.parquet", index=False)
            folders[(users, seed)] = folder
        return folders[(users, seed)]

    return get

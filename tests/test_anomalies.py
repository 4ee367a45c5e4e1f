"""opskit.anomalies.flag: hand-computed baselines, MAD = 0, directions, groups, errors, a
plain reference, the demo's churn-spike week, and the same answer from Spark."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit.anomalies import flag
from opskit.retention import churn_alerts, subscriber_churn

WEEKS = pd.date_range("2025-01-06", periods=6, freq="W-MON")
NEW = ["baseline", "mad", "scale", "robust_z", "expected_low", "expected_high", "anomaly", "rule"]


def _series(values, **extra) -> pd.DataFrame:
    return pd.DataFrame({"period": pd.date_range("2025-01-06", periods=len(values), freq="W-MON"),
                         "value": values, **extra})


def test_trailing_median_and_mad_by_hand():
    got = flag(_series([100, 104, 96, 102, 98, 130]), window=5, min_periods=3)
    assert got.columns.tolist() == ["period", "value", *NEW]
    assert not got.loc[:2, "anomaly"].any() and got.loc[:2, "baseline"].isna().all()   # < 3 previous
    # week 4: previous 100, 104, 96 -> median 100, |dev| 0, 4, 4 -> MAD 4; z = 0.6745 * 2 / 4
    assert got.loc[3, ["baseline", "mad"]].tolist() == [100.0, 4.0]
    assert got.loc[3, "robust_z"] == pytest.approx(0.6745 * 2 / 4)
    # week 5: previous 100, 104, 96, 102 -> median 101, |dev| 1, 3, 5, 1 -> MAD 2
    assert got.loc[4, ["baseline", "mad"]].tolist() == [101.0, 2.0]
    assert got.loc[4, "robust_z"] == pytest.approx(0.6745 * -3 / 2)
    # week 6: previous five -> median 100, |dev| 0, 4, 4, 2, 2 -> MAD 2; z = 0.6745 * 30 / 2 = 10.12
    last = got.iloc[5]
    assert last["robust_z"] == pytest.approx(10.1175)
    assert last["scale"] == pytest.approx(2 / 0.6745)
    assert (last["expected_low"], last["expected_high"]) == pytest.approx((100 - 3.5 * 2 / 0.6745,
                                                                          100 + 3.5 * 2 / 0.6745))
    assert got["anomaly"].tolist() == [False] * 5 + [True]
    assert got["rule"].iloc[0].startswith("|modified z| > 3.5 against the median of the previous 5 points")


def test_the_current_point_is_not_in_its_own_baseline():
    # a window of 1: the baseline is the previous value; MAD 0 and mean deviation 0 -> scale 0
    got = flag(_series([5, 5, 6]), window=1, min_periods=1)
    assert got["baseline"].tolist()[1:] == [5.0, 5.0]
    assert got["robust_z"].tolist()[1:] == [0.0, math.inf]


def test_mad_zero_falls_back_to_the_mean_absolute_deviation():
    # previous 10, 10, 10, 12, 10: median 10, |dev| 0, 0, 0, 2, 0 -> MAD 0; mean |dev| = 0.4
    # scale = 1.253314 * 0.4 = 0.50133; z(12) = 2 / 0.50133 = 3.99 > 3.5
    got = flag(_series([10, 10, 10, 12, 10, 12]), window=5, min_periods=5).iloc[5]
    assert got["mad"] == 0.0
    assert got["scale"] == pytest.approx(1.253314 * 0.4)
    assert got["robust_z"] == pytest.approx(2 / (1.253314 * 0.4))
    assert got["anomaly"]


def test_a_constant_history_flags_any_move_unless_min_scale_allows_it():
    got = flag(_series([5.0, 5, 5, 5, 5, 6]), window=4, min_periods=4)
    assert got.loc[4, ["robust_z", "anomaly"]].tolist() == [0.0, False]   # 5 on a constant 5
    assert got.loc[5, "robust_z"] == math.inf and got.loc[5, "anomaly"]
    assert got.loc[5, ["expected_low", "expected_high"]].tolist() == [5.0, 5.0]
    # min_scale = 0.5: z = 1 / 0.5 = 2, inside 5 ± 3.5 x 0.5
    tolerant = flag(_series([5.0, 5, 5, 5, 5, 6]), window=4, min_periods=4, min_scale=0.5).iloc[5]
    assert tolerant["robust_z"] == pytest.approx(2.0) and not tolerant["anomaly"]
    assert tolerant["expected_high"] == pytest.approx(6.75)


def test_directions_test_one_side_and_open_the_other():
    frame = _series([100, 104, 96, 102, 98, 60])          # a fall: z = 0.6745 * -40 / 2 = -13.5
    assert flag(frame, window=5, min_periods=5)["anomaly"].iloc[5]
    up = flag(frame, window=5, min_periods=5, direction="up").iloc[5]
    assert not up["anomaly"] and up["expected_low"] == -math.inf
    assert up["rule"].startswith("modified z > 3.5 (rises only)")
    down = flag(frame, window=5, min_periods=5, direction="down").iloc[5]
    assert down["anomaly"] and down["expected_high"] == math.inf


def test_each_group_is_its_own_series_and_the_output_is_sorted():
    a = _series([1.0, 1, 1, 9], segment="a")
    b = _series([5.0, 6, 5, 6], segment="b")
    frame = pd.concat([b, a]).sample(frac=1, random_state=1)           # shuffled
    got = flag(frame, by="segment", window=3, min_periods=3)
    assert got["segment"].tolist() == ["a"] * 4 + ["b"] * 4
    assert got["period"].tolist() == list(a["period"]) * 2
    assert got["anomaly"].tolist() == [False, False, False, True, False, False, False, False]
    # b's last point: previous 5, 6, 5 -> median 5, MAD 0, mean |dev| 1/3 -> z = 1 / (1.253314 / 3)
    assert got["robust_z"].iloc[7] == pytest.approx(3 / 1.253314)


def test_missing_values_are_not_judged_and_not_in_baselines():
    # the NaN (an incomplete period) is skipped: week 5 sees 10, 12, 11 (3 present of the 4 rows)
    got = flag(_series([10.0, 12, np.nan, 11, 30]), window=4, min_periods=3)
    assert not got["anomaly"].iloc[2] and np.isnan(got["robust_z"].iloc[2])
    assert got["baseline"].iloc[2] != got["baseline"].iloc[2]            # only 2 present before it
    assert got.loc[4, ["baseline", "mad"]].tolist() == [11.0, 1.0]
    assert got["anomaly"].iloc[4]


def test_integer_series_and_other_column_names():
    frame = pd.DataFrame({"day": range(6), "active_users": [3, 4, 3, 4, 3, 20], "note": "x"})
    got = flag(frame, value="active_users", time="day", window=5, min_periods=5)
    assert got["anomaly"].tolist() == [False] * 5 + [True]
    assert got["note"].tolist() == ["x"] * 6


def test_bad_options_say_what_is_allowed():
    frame = _series([1.0, 2, 3])
    with pytest.raises(ValueError, match="direction must be one of 'both', 'up', 'down'"):
        flag(frame, direction="sideways")
    with pytest.raises(ValueError, match="min_periods must be at most window"):
        flag(frame, window=3, min_periods=4)
    with pytest.raises(ValueError, match="window must be >= 1"):
        flag(frame, window=0)
    with pytest.raises(TypeError, match="window must be a whole number"):
        flag(frame, window=2.5)
    with pytest.raises(ValueError, match="threshold must be > 0"):
        flag(frame, threshold=0)
    with pytest.raises(TypeError, match="must be a pandas DataFrame"):
        flag([1, 2, 3])
    with pytest.raises(ValueError, match="already has column"):
        flag(frame.assign(anomaly=True))


def test_bad_frames_raise_a_data_error_with_the_fix():
    with pytest.raises(opskit.DataError, match=r"series_frame\.churn_rate: is not a column"):
        flag(_series([1.0, 2]), value="churn_rate")
    with pytest.raises(opskit.DataError, match="must be numeric"):
        flag(_series(["1", "2"]))
    with pytest.raises(opskit.DataError, match="have no time"):
        flag(pd.DataFrame({"period": [pd.Timestamp("2025-01-06"), None], "value": [1.0, 2.0]}))
    two = pd.concat([_series([1.0, 2], segment="b2b"), _series([3.0, 4], segment="b2c")])
    with pytest.raises(opskit.DataError, match=r"4 of 4 rows repeat a period.*candidates: segment") as err:
        flag(two)
    assert err.value.table == "series_frame" and err.value.column == "period"


# --- a plain reference --------------------------------------------------------------------------


def reference(values: list[float | None], window: int, min_periods: int, threshold: float) -> list[tuple]:
    """Row by row, with the statistics module: (baseline, robust_z, anomaly)."""
    out = []
    for i, x in enumerate(values):
        past = [v for v in values[max(0, i - window):i] if v is not None]
        if len(past) < min_periods:
            out.append((None, None, False))
            continue
        med = statistics.median(past)
        dev = [abs(v - med) for v in past]
        mad = statistics.median(dev)
        scale = mad / 0.6745 if mad > 0 else 1.253314 * statistics.fmean(dev)
        if x is None:
            out.append((med, None, False))
            continue
        z = (x - med) / scale if scale > 0 else (0.0 if x == med else math.copysign(math.inf, x - med))
        out.append((med, z, abs(z) > threshold))
    return out


@settings(max_examples=25, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.integers(0, 6).map(float)), min_size=1, max_size=30),
       window=st.integers(1, 8), min_periods=st.integers(1, 8), threshold=st.sampled_from([1.0, 2.0, 3.5]))
def test_matches_the_reference_on_random_series(values, window, min_periods, threshold):
    min_periods = min(min_periods, window)
    frame = _series([np.nan if v is None else v for v in values])
    got = flag(frame, window=window, min_periods=min_periods, threshold=threshold)
    for (base, z, hit), (_, row) in zip(reference(values, window, min_periods, threshold), got.iterrows(),
                                        strict=True):
        assert (np.isnan(row["baseline"]) if base is None else row["baseline"] == pytest.approx(base))
        assert (np.isnan(row["robust_z"]) if z is None else row["robust_z"] == pytest.approx(z))
        assert row["anomaly"] == hit


# --- the demo's churn-spike week ------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_frames():
    return opskit.demo.generate_frames(users=20_000, seed=7)


def test_the_churn_spike_week_is_flagged(demo_frames):
    churn = subscriber_churn(demo_frames["subscriptions"], period="week", by="segment",
                             users=demo_frames["users"])
    got = flag(churn, value="churn_rate", by="segment")
    b2c = got[got["segment"] == "b2c"].set_index("period")
    spike = b2c.loc[opskit.demo.key_dates()["spike_week_start"]]          # 2025-07-07
    # 45 of 574 accounts = 7.8 % against a median of 4.8 % over the 8 weeks before (MAD 0.45 points)
    assert spike["churn_rate"] == pytest.approx(45 / 574)
    assert spike["baseline"] == pytest.approx(0.0478, abs=5e-4)
    assert spike["anomaly"] and spike["robust_z"] == pytest.approx(4.59, abs=0.01)
    assert spike["expected_high"] == pytest.approx(0.0711, abs=5e-4)
    assert spike["expected_high"] < spike["churn_rate"]
    # the only flagged B2C week whose 8 previous weeks are all inside 2025 (earlier weeks compare
    # with the pre-2025 base, whose churn the export cannot see)
    inside = b2c[b2c.index >= pd.Timestamp("2025-03-03")]
    assert inside.index[inside["anomaly"]].tolist() == [pd.Timestamp("2025-07-07")]
    # churn_alerts' binomial rule agrees on this week
    alerts = churn_alerts(churn[churn["segment"] == "b2c"].drop(columns="segment"))
    assert alerts.set_index("period").loc["2025-07-07", "alert"]


# --- the same answer from Spark ------------------------------------------------------------------


@pytest.mark.spark
def test_spark_gives_the_same_flags(tmp_path, spark_backend):
    from opskit.io import load_tables

    names = ("events", "subscriptions", "users")   # prefixed: other tests register the canonical names
    for name, frame in opskit.demo.generate_frames(users=400, seed=11).items():
        if name in names:
            frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
            spark_backend.read_parquet(str(tmp_path / f"{name}.parquet"), table_name=f"anomalies_{name}")
    spark = load_tables(spark_backend, {n: spark_backend.table(f"anomalies_{n}") for n in names})
    duck = opskit.load(tmp_path)
    on_spark, on_duckdb = (flag(subscriber_churn(ds, period="week", by="segment", users=ds.users),
                                value="churn_rate", by="segment", min_scale=0.01) for ds in (spark, duck))
    pd.testing.assert_frame_equal(on_spark, on_duckdb)

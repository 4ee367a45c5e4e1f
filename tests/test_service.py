"""opskit.service.service_levels: hand-computed weeks, a plain reference, engines, the demo's spike week."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit import engine
from opskit.retention import wilson
from opskit.service import service_levels

# Weeks start on Monday 6 and 13 Jan 2025; nothing happens in the week of 20 Jan; the
# last ticket is on 27 Jan, so the data end at 28 Jan 00:00 and that week is incomplete.
TICKETS = pd.DataFrame([
    # id, user, created, first response, resolved, rating, queue
    ("t1", "a", "2025-01-06 09:00", "2025-01-06 10:00", "2025-01-06 15:00", 5, "billing"),  # 1 h, 6 h
    ("t2", "b", "2025-01-06 10:00", "2025-01-06 13:00", "2025-01-07 10:00", 3, "billing"),  # 3 h, 24 h
    ("t3", "a", "2025-01-07 09:00", "2025-01-07 17:00", None, None, "tech"),               # 8 h, open
    ("t4", "c", "2025-01-08 12:00", None, None, None, "tech"),                             # unanswered
    ("t5", "b", "2025-01-14 08:00", "2025-01-14 08:30", "2025-01-14 20:00", 4, "tech"),    # 0.5 h, 12 h
    ("t6", "c", "2025-01-27 08:00", "2025-01-27 09:00", None, 1, "billing"),               # 1 h
], columns=["ticket_id", "user_id", "created_at", "first_response_at", "resolved_at", "satisfaction",
            "queue"])
USERS = pd.DataFrame({"user_id": ["a", "b", "c"], "signup_at": "2024-12-01",
                      "segment": ["b2b", "b2c", "b2c"]})
W1, W2, W3, W4 = pd.to_datetime(["2025-01-06", "2025-01-13", "2025-01-20", "2025-01-27"])
COLUMNS = ["period", "tickets", "answered", "first_response_mean_h", "first_response_median_h",
           "first_response_p90_h", "resolved", "resolution_rate", "resolution_median_h", "rated", "csat",
           "csat_ci_low", "csat_ci_high", "satisfaction_mean", "complete"]


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return [tuple(None if isinstance(v, float) and np.isnan(v) else v for v in row)
            for row in frame[columns].itertuples(index=False)]


def test_weeks_by_hand():
    got = service_levels(TICKETS)
    assert got.columns.tolist() == COLUMNS
    # week 1: responses 1, 3, 8 h -> mean 4, median 3, p90 = 3 + 0.8 x (8 - 3) = 7;
    # resolved 2 of 4 (6 and 24 h -> median 15); ratings 5 and 3 -> CSAT 1/2, mean 4
    assert _rows(got, ["period", "tickets", "answered", "first_response_mean_h", "first_response_median_h",
                       "first_response_p90_h", "resolved", "resolution_rate", "resolution_median_h"]) == [
        (W1, 4, 3, 4.0, 3.0, 7.0, 2, 0.5, 15.0),
        (W2, 1, 1, 0.5, 0.5, 0.5, 1, 1.0, 12.0),
        (W3, 0, 0, None, None, None, 0, None, None),   # an empty week is listed, with no figures
        (W4, 1, 1, 1.0, 1.0, 1.0, 0, 0.0, None),
    ]
    assert _rows(got, ["rated", "csat", "satisfaction_mean", "complete"]) == [
        (2, 0.5, 4.0, True), (1, 1.0, 4.0, True), (0, None, None, True), (1, 0.0, 1.0, False)]
    low, high = wilson([1], [2])
    assert (got.loc[0, "csat_ci_low"], got.loc[0, "csat_ci_high"]) == pytest.approx((low[0], high[0]))
    assert got[["tickets", "answered", "resolved", "rated"]].dtypes.eq("int64").all()
    assert got["complete"].dtype == bool and got["period"].dtype == "datetime64[ns]"


def test_months_and_start_end():
    month = service_levels(TICKETS, freq="month")
    assert _rows(month, ["period", "tickets", "answered", "first_response_median_h", "resolved"]) == [
        (pd.Timestamp("2025-01-01"), 6, 5, 1.0, 3)]     # responses 0.5, 1, 1, 3, 8 h
    assert month["complete"].tolist() == [False]      # January is cut on the 28th
    kept = service_levels(TICKETS, start="2025-01-13", end="2025-01-27")
    assert kept["period"].tolist() == [W2, W3]


def test_breakdown_by_a_tickets_column_and_a_users_column():
    by_queue = service_levels(TICKETS, by="queue")
    assert _rows(by_queue, ["queue", "period", "tickets", "answered", "resolved"]) == [
        ("billing", W1, 2, 2, 2), ("billing", W2, 0, 0, 0), ("billing", W3, 0, 0, 0),
        ("billing", W4, 1, 1, 0),
        ("tech", W1, 2, 1, 0), ("tech", W2, 1, 1, 1), ("tech", W3, 0, 0, 0), ("tech", W4, 0, 0, 0)]
    by_segment = service_levels(TICKETS, freq="month", by="segment", users=USERS)
    assert _rows(by_segment, ["segment", "tickets", "rated", "satisfaction_mean"]) == [
        ("b2b", 2, 1, 5.0), ("b2c", 4, 3, 8 / 3)]
    with pytest.raises(ValueError, match="pass users="):
        service_levels(TICKETS, by="segment")


def test_missing_optional_columns_read_as_empty():
    got = service_levels(TICKETS[["ticket_id", "user_id", "created_at"]], freq="month")
    assert _rows(got, ["tickets", "answered", "resolved", "resolution_rate", "rated", "csat"]) == [
        (6, 0, 0, 0.0, 0, None)]


def test_bad_input_and_options():
    twice = pd.concat([TICKETS, TICKETS.iloc[[0]].assign(queue="tech")])
    with pytest.raises(opskit.DataError, match="ticket_id") as err:
        service_levels(twice)
    assert err.value.findings[0].examples == ((None, "t1"),)
    with pytest.raises(ValueError, match="freq must be one of"):
        service_levels(TICKETS, freq="quarter")
    empty = service_levels(TICKETS.iloc[:0])
    assert empty.empty and empty.columns.tolist() == COLUMNS


# --- a plain reference on random tickets -----------------------------------------------------


def reference(tickets: pd.DataFrame, freq: str) -> pd.DataFrame:
    """pandas and numpy, as docs/metrics.md words the definitions."""
    t = tickets.copy()
    unit = {"day": "D", "week": "W-SUN", "month": "M"}[freq]   # pandas weeks named by their Sunday
    t["period"] = t["created_at"].dt.to_period(unit).dt.start_time
    t["fr"] = (t["first_response_at"] - t["created_at"]).dt.total_seconds() / 3600
    t["res"] = (t["resolved_at"] - t["created_at"]).dt.total_seconds() / 3600
    rows = []
    for period, g in t.groupby("period"):
        fr, res, sat = g["fr"].dropna(), g["res"].dropna(), g["satisfaction"].dropna()
        rows.append((period, len(g), len(fr), fr.mean() if len(fr) else np.nan,
                     np.quantile(fr, 0.5) if len(fr) else np.nan, np.quantile(fr, 0.9) if len(fr) else np.nan,
                     len(res), len(res) / len(g), np.quantile(res, 0.5) if len(res) else np.nan, len(sat),
                     (sat >= 4).mean() if len(sat) else np.nan, sat.mean() if len(sat) else np.nan))
    return pd.DataFrame(rows, columns=["period", "tickets", "answered", "first_response_mean_h",
                                       "first_response_median_h", "first_response_p90_h", "resolved",
                                       "resolution_rate", "resolution_median_h", "rated", "csat",
                                       "satisfaction_mean"])


_TICKET = st.tuples(st.integers(0, 60 * 24 * 60),                         # created, minutes after base
                    st.one_of(st.none(), st.integers(0, 3 * 24 * 60)),    # response delay
                    st.one_of(st.none(), st.integers(0, 9 * 24 * 60)),    # resolution delay
                    st.one_of(st.none(), st.integers(1, 5)))


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(_TICKET, min_size=1, max_size=30), freq=st.sampled_from(["day", "week", "month"]))
def test_matches_the_reference_on_random_tickets(rows, freq):
    base = pd.Timestamp("2025-03-30 17:00")
    minutes = lambda m: base + pd.Timedelta(minutes=m)  # noqa: E731
    tickets = pd.DataFrame({
        "ticket_id": [f"t{i}" for i in range(len(rows))], "user_id": "u",
        "created_at": [minutes(c) for c, _, _, _ in rows],
        "first_response_at": [pd.NaT if r is None else minutes(c + r) for c, r, _, _ in rows],
        "resolved_at": [pd.NaT if s is None else minutes(c + s) for c, _, s, _ in rows],
        "satisfaction": [np.nan if v is None else float(v) for *_, v in rows]})
    got = service_levels(engine.as_table(tickets), freq=freq)   # an Ibis table skips validation
    got = got[got["tickets"] > 0].reset_index(drop=True)
    expected = reference(tickets, freq)
    pd.testing.assert_frame_equal(got[expected.columns], expected, check_dtype=False, rtol=1e-9)


# --- engines and the demo --------------------------------------------------------------------

OPTIONS = [dict(freq="week"), dict(freq="month", by="segment")]


@pytest.mark.spark
def test_spark_gives_the_same_table(demo_parquet, spark_backend):
    folder = demo_parquet(400, 11)
    for path in folder.glob("*.parquet"):
        spark_backend.read_parquet(str(path), table_name=path.stem)
    on_spark, on_duckdb = opskit.load(spark_backend), opskit.load(folder)
    for options in OPTIONS:   # quantiles: Spark percentile and DuckDB quantile_cont agree exactly
        pd.testing.assert_frame_equal(service_levels(on_spark, users=on_spark, **options),
                                      service_levels(on_duckdb, users=on_duckdb, **options))


@pytest.mark.parametrize("seed", [7, 2024])
def test_the_churn_spike_week_is_the_worst_week_of_service(demo_frames, seed):
    # docs/demo.md, finding 1: 118 tickets against a median of 64 per week, median first
    # response 3.6 h against 1.5 h, mean satisfaction 3.45 against 3.94 (seed 7)
    weeks = service_levels(demo_frames(20_000, seed)["tickets"], freq="week")
    weeks = weeks[weeks["complete"]].set_index("period")
    spike = opskit.demo.key_dates()["spike_week_start"]
    assert len(weeks) == 51
    for column in ("tickets", "first_response_median_h", "first_response_p90_h"):
        assert weeks[column].idxmax() == spike, column
    assert weeks["satisfaction_mean"].idxmin() == spike and weeks["csat"].idxmin() == spike
    others = weeks.drop(spike)
    assert weeks.loc[spike, "tickets"] >= 1.6 * others["tickets"].median()
    assert weeks.loc[spike, "first_response_median_h"] >= 2 * others["first_response_median_h"].median()
    assert weeks.loc[spike, "satisfaction_mean"] <= others["satisfaction_mean"].median() - 0.3
    if seed == 7:
        assert weeks.loc[spike, "tickets"] == 118 and others["tickets"].median() == 64
        assert weeks.loc[spike, "first_response_median_h"] == pytest.approx(3.6, abs=0.05)
        assert weeks.loc[spike, "satisfaction_mean"] == pytest.approx(3.45, abs=0.005)

"""opskit._pipeline: pipeline, stage funnel and sales cycle by hand, against pandas, on Spark, on the demo."""

from __future__ import annotations

import math

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit._pipeline import STAGES, pipeline, sales_cycle, sales_cycle_distribution, stage_funnel
from opskit.retention import wilson

# Accounts A and C are "<50", B is ">200", D has no users row (a null group).
OPPS = pd.DataFrame([
    ("o1", "A", "2025-01-05", "won", True, "2025-01-15", 1000.0),        # won in 10 days
    ("o2", "B", "2025-01-10", "lost", False, "2025-01-30", 5000.0),      # lost in 20: reached lead only
    ("o3", "C", "2025-01-20", "proposal", False, "2025-02-04", 2000.0),  # lost at proposal, 15 days
    ("o4", "A", "2025-01-25", "negotiation", None, None, 3000.0),        # open
    ("o5", "D", "2025-03-03", "qualified", None, "2025-03-13", None),    # closed, no win: lost, 10 days
    ("o6", "B", "2025-03-10", "won", None, "2025-04-09 12:00", 8000.0),  # won by its stage, 30.5 days
    ("o7", "C", "2025-03-15", "lead", None, None, None),                 # open, no amount
], columns=["opportunity_id", "account_id", "created_at", "stage", "won", "closed_at", "amount"])
OPPS["won"] = OPPS["won"].astype("boolean")
USERS = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "account_id": ["A", "A", "B", "C"],
                      "signup_at": "2025-01-01", "company_size": ["<50", "<50", ">200", "<50"]})
JAN, FEB, MAR = (pd.Timestamp(d) for d in ("2025-01-01", "2025-02-01", "2025-03-01"))
COUNTS = ["created", *[f"reached_{s}" for s in STAGES], "won", "lost", "open"]


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return [tuple(None if isinstance(v, float) and math.isnan(v) else v for v in row)
            for row in frame[columns].itertuples(index=False)]


def test_pipeline_by_hand():
    got = pipeline(OPPS)
    assert got.columns.tolist() == ["period", *COUNTS, "win_rate", "ci_low", "ci_high", "acv",
                                    "pipeline_value"]
    # January: o2 reached lead only, o3 reached proposal, o4 negotiation, o1 everything.
    # February has no opportunity: listed with zeros. March: o5 reached qualified, o6 all, o7 lead.
    assert _rows(got, ["period", *COUNTS]) == [
        (JAN, 4, 4, 3, 3, 2, 1, 1, 2, 1),
        (FEB, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        (MAR, 3, 3, 2, 1, 1, 1, 1, 1, 1),
    ]
    # win rate 1/3 and 1/2; acv = the won amounts; pipeline_value = open amounts (o7 has none)
    assert _rows(got, ["win_rate", "acv", "pipeline_value"]) == [
        (pytest.approx(1 / 3), 1000.0, 3000.0), (None, None, 0.0), (0.5, 8000.0, None)]
    low, high = wilson([1, 0, 1], [3, 0, 2])
    np.testing.assert_allclose(got["ci_low"], low)
    np.testing.assert_allclose(got["ci_high"], high)
    assert all(got[c].dtype == "int64" for c in COUNTS)
    assert got["period"].dtype == "datetime64[ns]"


def test_pipeline_by_company_size_from_users():
    got = pipeline(OPPS, by="company_size", users=USERS)
    assert got.columns[-1] == "company_size" and len(got) == 9  # 3 months x (<50, >200, null)
    totals = got.groupby("company_size", dropna=False)[["created", "won", "lost", "open"]].sum()
    assert totals.loc["<50"].tolist() == [4, 1, 1, 2]    # o1, o3, o4, o7
    assert totals.loc[">200"].tolist() == [2, 1, 1, 0]   # o2, o6
    assert totals.loc[np.nan].tolist() == [1, 0, 1, 0]   # o5: account D has no users row


def test_pipeline_by_an_opportunities_column_and_period_window():
    opps = OPPS.assign(source=["web", "web", "event", "web", "event", "web", "web"])
    got = pipeline(opps, by="source", freq="week", start="2025-01-06", end="2025-03-03")
    # weeks starting 01-06 .. 01-20 hold o2, o3, o4 (o1 is in the week of 2024-12-30)
    assert got["created"].sum() == 3 and got["period"].min() == pd.Timestamp("2025-01-06")
    assert set(got["source"]) == {"web", "event"}
    empty = pipeline(OPPS, start="2026-01-01")
    assert empty.empty and empty["created"].dtype == "int64"


def test_stage_funnel_by_hand():
    got = stage_funnel(OPPS)
    assert got["stage"].tolist() == list(STAGES)
    assert got["opportunities"].tolist() == [7, 5, 4, 3, 2]
    np.testing.assert_allclose(got["share_of_first"], [1, 5 / 7, 4 / 7, 3 / 7, 2 / 7])
    np.testing.assert_allclose(got["conversion_from_previous"], [np.nan, 5 / 7, 4 / 5, 3 / 4, 2 / 3])
    by_size = stage_funnel(OPPS, by="company_size", users=USERS)
    assert by_size[by_size.company_size == ">200"]["opportunities"].tolist() == [2, 1, 1, 1, 1]


def test_custom_stages_and_a_lost_deal_at_an_unknown_stage():
    opps = OPPS.assign(stage=OPPS["stage"].replace({"proposal": "demo"}))
    got = stage_funnel(opps, stages=("lead", "qualified", "demo", "negotiation", "won"))
    assert got["opportunities"].tolist() == [7, 5, 4, 3, 2]
    # without "demo" in the path, lost o3 reached only the first stage
    got = stage_funnel(opps, stages=("lead", "qualified", "negotiation", "won"))
    assert got["opportunities"].tolist() == [7, 4, 3, 2]


def test_sales_cycle_by_hand():
    cols = ["deals", "median_days", "p25_days", "p75_days", "mean_days"]
    # won: 10 and 30.5 days; quantiles interpolate linearly: p25 = 10 + 0.25 * 20.5
    assert _rows(sales_cycle(OPPS), cols) == [(2, 20.25, 15.125, 25.375, 20.25)]
    # lost: 20, 15, 10
    assert _rows(sales_cycle(OPPS, outcome="lost"), cols) == [(3, 15.0, 12.5, 17.5, 15.0)]
    # closed: 10, 10, 15, 20, 30.5
    assert _rows(sales_cycle(OPPS, outcome="closed"), cols) == [(5, 15.0, 10.0, 20.0, 17.1)]
    by = sales_cycle(OPPS, by="company_size", users=USERS)
    assert _rows(by, ["company_size", *cols]) == [
        ("<50", 1, 10.0, 10.0, 10.0, 10.0), (">200", 1, 30.5, 30.5, 30.5, 30.5),
        (None, 0, None, None, None, None)]  # account D: no won deal, still listed
    assert by["deals"].dtype == "int64"


def test_sales_cycle_distribution_by_hand():
    got = sales_cycle_distribution(OPPS, outcome="lost", buckets=(10, 15))
    # 10 days is in [10, 15), 15 and 20 in [15, inf): buckets are closed on the left
    assert _rows(got, ["from_days", "to_days", "deals"]) == [
        (0.0, 10.0, 0), (10.0, 15.0, 1), (15.0, math.inf, 2)]
    np.testing.assert_allclose(got["share"], [0, 1 / 3, 2 / 3])
    by = sales_cycle_distribution(OPPS, by="company_size", users=USERS)
    assert len(by) == 3 * 7 and by.groupby("company_size", dropna=False)["deals"].sum().tolist() == [1, 1, 0]
    assert by[by.company_size.isna()]["share"].eq(0).all()


def test_optional_columns_may_be_missing():
    opps = ibis.memtable(OPPS[["opportunity_id", "account_id", "stage"]].assign(
        created_at=pd.to_datetime(OPPS["created_at"])))
    got = pipeline(opps)
    # without `won` and `closed_at` the stage decides: o1, o6 won, o2 lost, the others open
    assert _rows(got, ["won", "lost", "open"]) == [(1, 1, 2), (0, 0, 0), (1, 0, 2)]
    assert got["acv"].isna().all()
    assert sales_cycle(opps)["deals"].tolist() == [0]


def test_bad_data_is_refused_with_the_rows_and_the_fix():
    bad = OPPS.assign(won=OPPS["won"].mask(OPPS.opportunity_id == "o2", True))
    for fn in (pipeline, sales_cycle, sales_cycle_distribution):
        with pytest.raises(opskit.DataError, match=r"opportunities\.won: 1 of 7 rows.*o2: won=true"):
            fn(bad)
    unknown = OPPS.assign(stage=OPPS["stage"].replace({"negotiation": "contract"}))
    with pytest.raises(opskit.DataError, match=r"opportunities\.stage: 1 of 7 rows.*'contract'.*stages="):
        pipeline(unknown)
    assert sales_cycle(unknown)["deals"].tolist() == [2]  # the funnel's vocabulary is not needed here


@pytest.mark.parametrize("call, error", [
    (lambda: pipeline(OPPS, freq="quarter"), ValueError),
    (lambda: pipeline(OPPS, stages=()), ValueError),
    (lambda: pipeline(OPPS, stages=("lead", "lead")), ValueError),
    (lambda: pipeline(OPPS, stages=("lead", "lost")), ValueError),
    (lambda: pipeline(OPPS, stages="lead"), TypeError),
    (lambda: pipeline(OPPS, by="company_size"), ValueError),
    (lambda: sales_cycle(OPPS, outcome="open"), ValueError),
    (lambda: sales_cycle_distribution(OPPS, buckets=(30, 7)), ValueError),
    (lambda: sales_cycle_distribution(OPPS, buckets=(0, 7)), ValueError),
])
def test_bad_options_say_what_is_allowed(call, error):
    with pytest.raises(error):
        call()


# --- the same answers as a plain pandas reference ---------------------------------------

_DAY = pd.Timedelta(days=1)
_T0 = pd.Timestamp("2025-01-01")


@st.composite
def _opportunities(draw):
    n = draw(st.integers(1, 25))
    rows = []
    for i in range(n):
        stage = draw(st.sampled_from([*STAGES, "lost"]))
        won = draw(st.sampled_from({"won": [True, None], "lost": [False, None]}.get(stage, [None, False])))
        created = _T0 + draw(st.integers(0, 120 * 24)) * pd.Timedelta(hours=1)
        closes = stage in ("won", "lost") or won is False or draw(st.booleans())
        closed = created + draw(st.integers(0, 200 * 24)) * pd.Timedelta(hours=1) if closes else pd.NaT
        amount = draw(st.one_of(st.none(), st.integers(0, 50).map(lambda v: v * 100.0)))
        rows.append((f"o{i}", draw(st.sampled_from("ABCD")), created, stage, won, closed, amount))
    frame = pd.DataFrame(rows, columns=OPPS.columns)
    frame["won"] = frame["won"].astype("boolean")
    return frame


def _reference(opps: pd.DataFrame) -> pd.DataFrame:
    o = opps.copy()
    won = o["won"].fillna(o["stage"] == "won").astype(bool)
    lost = ~won & o["won"].eq(False).fillna(False) | ~won & ((o["stage"] == "lost") | o["closed_at"].notna())
    o["outcome"] = np.where(won, "won", np.where(lost, "lost", "open"))
    pos = o["stage"].map({s: i + 1 for i, s in enumerate(STAGES)}).fillna(0)
    o["reach"] = np.where(won, len(STAGES), np.where(pos > 0, pos, 1))
    o["period"] = o["created_at"].dt.to_period("M").dt.start_time
    o["days"] = (o["closed_at"] - o["created_at"]) / _DAY
    return o


@settings(max_examples=25, deadline=None)
@given(_opportunities())
def test_pipeline_matches_pandas(opps):
    ref = _reference(opps)
    got = pipeline(opps).set_index("period")
    for period, g in ref.groupby("period"):
        row = got.loc[period]
        assert row["created"] == len(g)
        for i, s in enumerate(STAGES):
            assert row[f"reached_{s}"] == (g["reach"] > i).sum()
        for o in ("won", "lost", "open"):
            assert row[o] == (g["outcome"] == o).sum()
        assert row["acv"] == pytest.approx(g.loc[g.outcome == "won", "amount"].mean(), nan_ok=True)
        value = g.loc[g.outcome == "open", "amount"]
        assert row["pipeline_value"] == pytest.approx(value.sum() if value.notna().any() or value.empty
                                                      else np.nan, nan_ok=True)
    assert got["created"].sum() == len(opps)


@settings(max_examples=25, deadline=None)
@given(_opportunities(), st.sampled_from(["won", "lost", "closed"]))
def test_sales_cycle_matches_numpy(opps, outcome):
    ref = _reference(opps)
    picked = ref["outcome"] != "open" if outcome == "closed" else ref["outcome"] == outcome
    days = ref.loc[picked & ref["closed_at"].notna(), "days"].to_numpy()
    got = sales_cycle(opps, outcome=outcome).iloc[0]
    assert got["deals"] == len(days)
    if len(days):
        expected = [np.median(days), *np.quantile(days, [0.25, 0.75]), days.mean()]
        assert got[["median_days", "p25_days", "p75_days", "mean_days"]].tolist() == pytest.approx(expected)
    dist = sales_cycle_distribution(opps, outcome=outcome)
    edges = [0, 7, 14, 30, 60, 90, 180, np.inf]
    assert dist["deals"].tolist() == np.histogram(days, bins=edges)[0].tolist()


# --- the same answer from every engine, and the demo's planted numbers ------------------


@pytest.fixture(scope="module")
def demo_folder(demo_parquet):
    return demo_parquet(2_000, 7)


@pytest.mark.spark
def test_spark_gives_the_same_tables(demo_folder, spark_backend):
    for path in demo_folder.glob("*.parquet"):
        spark_backend.read_parquet(str(path), table_name=path.stem)
    on_spark, on_duckdb = opskit.load(spark_backend), opskit.load(demo_folder)
    calls = [(pipeline, dict(by="company_size")), (stage_funnel, {}),
             (sales_cycle, dict(by="company_size")), (sales_cycle, dict(outcome="closed")),
             (sales_cycle_distribution, dict(by="company_size", outcome="lost"))]
    for fn, options in calls:
        pd.testing.assert_frame_equal(fn(on_spark, users=on_spark.users, **options),
                                      fn(on_duckdb, users=on_duckdb.users, **options))


def test_demo_pipeline_totals_and_cycle_by_company_size():
    frames = opskit.demo.generate_frames()  # the defaults: docs/demo.md's numbers
    opps, users = frames["opportunities"], frames["users"]
    totals = pipeline(opps)[["won", "lost", "open"]].sum()
    assert totals.tolist() == [147, 247, 50]
    cycle = sales_cycle(opps, by="company_size", users=users).set_index("company_size")
    medians = cycle["median_days"]
    assert medians["<50"] == pytest.approx(19, abs=1)
    assert medians["50-200"] == pytest.approx(37, abs=1)
    assert medians[">200"] == pytest.approx(57, abs=1)

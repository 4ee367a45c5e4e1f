"""opskit.ltv.simple_ltv and rfm_summary: hand-computed values, a pandas reference, engines, demo."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit import DataError
from opskit.ltv import fit_bgnbd, prob_alive, rfm_summary, simple_ltv

# --- simple LTV ------------------------------------------------------------------------


def test_simple_ltv_by_hand():
    # ¥50 a month, 5 % churn: 20 months expected, 80 % margin -> 50 x 0.8 x 20 = 800
    assert simple_ltv(50, 0.05, gross_margin=0.8) == pytest.approx(800.0)
    # discounted at 1 % a month: 40 x 1.01 / 0.06 = 673.33
    assert simple_ltv(50, 0.05, gross_margin=0.8, discount_rate=0.01) == pytest.approx(40 * 1.01 / 0.06)
    # the closed form is the sum of the geometric series of monthly payments
    months = np.arange(2000)
    assert simple_ltv(50, 0.05, discount_rate=0.01) == pytest.approx((50 * (0.95 / 1.01) ** months).sum())


def test_simple_ltv_keeps_the_shape_of_its_inputs():
    arpu = pd.Series([50.0, 300.0, 10.0], index=["b2c", "b2b", "free"])
    churn = pd.Series([0.2, 0.02, 0.0], index=["b2c", "b2b", "free"])
    got = simple_ltv(arpu, churn)
    assert got.name == "ltv" and got.index.tolist() == ["b2c", "b2b", "free"]
    assert got.iloc[:2].tolist() == [250.0, 15000.0] and np.isnan(got["free"])  # no churn: no finite LTV
    assert simple_ltv(10.0, 0.0, discount_rate=0.1) == pytest.approx(110.0)     # ... unless discounted
    np.testing.assert_allclose(simple_ltv(np.array([10.0, 20.0]), 0.5), [20.0, 40.0])
    assert np.isnan(simple_ltv(10.0, 0.0))


@pytest.mark.parametrize("kwargs, match", [
    (dict(arpu=10, churn_rate=1.5), "churn_rate must lie in"),
    (dict(arpu=10, churn_rate=0.1, gross_margin=80), "gross_margin"),
    (dict(arpu=10, churn_rate=0.1, discount_rate=-0.1), "discount_rate"),
])
def test_simple_ltv_refuses_bad_options(kwargs, match):
    arpu, churn = kwargs.pop("arpu"), kwargs.pop("churn_rate")
    with pytest.raises(ValueError, match=match):
        simple_ltv(arpu, churn, **kwargs)


# --- RFM summary -----------------------------------------------------------------------

# a buys on Mon 6 Jan 2025 (10), Wed 8 Jan 18:00 (20) and Mon 20 Jan (30), and on 3 Feb, after
# the end; b on Wed 15 Jan (5 and 7, the same day); c first buys on 1 Feb, after the end.
# ISO weeks: 6 Jan = week 0, 13 Jan = 1, 20 Jan = 2, 27 Jan = 3 (holds the end, Fri 31 Jan).
LOG = pd.DataFrame({
    "who": ["a", "a", "a", "a", "b", "b", "c"],
    "at": ["2025-01-06", "2025-01-08 18:00", "2025-01-20", "2025-02-03", "2025-01-15 09:00",
           "2025-01-15 23:59", "2025-02-01"],
    "paid": [10.0, 20.0, 30.0, 99.0, 5.0, 7.0, 1.0],
})
END = "2025-01-31"


def _rows(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(r) for r in frame.itertuples(index=False)]


def test_weekly_summary_by_hand():
    got = rfm_summary(LOG, customer="who", time="at", value="paid", observation_end=END)
    assert got.columns.tolist() == ["who", "frequency", "recency", "T", "monetary_value"]
    assert got.dtypes.astype(str).tolist()[1:] == ["int64", "float64", "float64", "float64"]
    # a: weeks 0 (10 + 20) and 2 (30) -> 1 repeat, recency 2, T 3, mean repeat value 30
    # b: week 1 only (both purchases) -> 0, 0, T 2, 0
    assert _rows(got) == [("a", 1, 2.0, 3.0, 30.0), ("b", 0, 0.0, 2.0, 0.0)]


def test_daily_and_monthly_summaries_by_hand():
    daily = rfm_summary(LOG, customer="who", time="at", value="paid", freq="D", observation_end=END)
    # a: days 6, 8, 20 Jan -> 2 repeats, recency 14, T 25 (6 -> 31 Jan), (20 + 30) / 2 = 25
    # b: one day (5 + 7) -> T 16
    assert _rows(daily) == [("a", 2, 14.0, 25.0, 25.0), ("b", 0, 0.0, 16.0, 0.0)]
    monthly = rfm_summary(LOG, customer="who", time="at", value="paid", freq="month")
    # no end given: the day of the last purchase (3 Feb); a: Jan (60) and Feb (99); c: Feb
    assert _rows(monthly) == [("a", 1, 1.0, 1.0, 99.0), ("b", 0, 0.0, 1.0, 0.0), ("c", 0, 0.0, 0.0, 0.0)]


def test_unit_turns_daily_purchases_into_weeks_of_ages():
    got = rfm_summary(LOG, customer="who", time="at", freq="D", unit="W", observation_end=END)
    assert got.columns.tolist() == ["who", "frequency", "recency", "T"]  # no value: no monetary_value
    assert _rows(got) == [("a", 2, 2.0, 25 / 7), ("b", 0, 0.0, 16 / 7)]
    weekly_in_days = rfm_summary(LOG, customer="who", time="at", unit="D", observation_end=END)
    assert weekly_in_days["recency"].tolist() == [14.0, 0.0]  # week starts 6 Jan -> 20 Jan


def test_an_ibis_table_with_dates_gives_the_same_summary():
    frame = LOG.assign(at=pd.to_datetime(LOG["at"], format="mixed").dt.date)
    got = rfm_summary(ibis.memtable(frame), customer="who", time="at", value="paid", freq="D",
                      observation_end=pd.Timestamp(END))
    assert _rows(got) == [("a", 2, 14.0, 25.0, 25.0), ("b", 0, 0.0, 16.0, 0.0)]


def test_end_before_every_purchase_gives_an_empty_summary():
    got = rfm_summary(LOG, customer="who", time="at", value="paid", observation_end="2024-12-31")
    assert got.empty and got.columns.tolist() == ["who", "frequency", "recency", "T", "monetary_value"]


def test_bad_transactions_are_refused_with_the_fix():
    with pytest.raises(DataError, match=r"transactions.price: is not a column.*customer=, time= and value="):
        rfm_summary(LOG, customer="who", time="at", value="price")
    with pytest.raises(DataError, match=r"transactions.at: 1 of 7 rows cannot be read as a time, e.g. row 2"):
        rfm_summary(LOG.assign(at=LOG["at"].where(LOG.index != 1, "soon")), customer="who", time="at")
    with pytest.raises(DataError, match=r"transactions.at: 1 of 7 rows have no purchase time.*'a'"):
        rfm_summary(LOG.assign(at=LOG["at"].where(LOG.index != 1)), customer="who", time="at")
    with pytest.raises(DataError, match=r"transactions.paid: 1 of 7 rows have no value"):
        rfm_summary(LOG.assign(paid=LOG["paid"].where(LOG.index != 0)), customer="who", time="at",
                    value="paid")
    with pytest.raises(DataError, match=r"transactions.at: is string.*must be timestamps"):
        rfm_summary(ibis.memtable(LOG), customer="who", time="at")
    with pytest.raises(ValueError, match="freq must be one of"):
        rfm_summary(LOG, customer="who", time="at", freq="Q")
    with pytest.raises(ValueError, match="unit must be one of"):
        rfm_summary(LOG, customer="who", time="at", unit="M")
    with pytest.raises(TypeError, match="DataFrame or an Ibis table"):
        rfm_summary(LOG.to_dict(), customer="who", time="at")


def reference(frame: pd.DataFrame, freq: str, end: pd.Timestamp | None, unit: str | None) -> list[tuple]:
    """Plain pandas, with pandas Periods: W-SUN weeks end on Sunday, i.e. start on Monday."""
    alias = {"D": "D", "W": "W-SUN", "M": "M"}[freq]
    end_day = (frame["t"].max() if end is None else end).normalize()
    kept = frame[frame["t"] < end_day + pd.Timedelta(days=1)]
    out = []
    for customer, rows in sorted(kept.groupby("c"), key=lambda kv: kv[0]):
        per = rows.groupby(rows["t"].dt.to_period(alias))["v"].sum().sort_index()
        first, last, stop = per.index[0], per.index[-1], end_day.to_period(alias)

        def age(a, b):
            if unit is None or unit == freq:
                return float((b - a).n)
            return (b.start_time - a.start_time).days / (7 if unit == "W" else 1)

        x = len(per) - 1
        out.append((customer, x, age(first, last), age(first, stop), per.iloc[1:].mean() if x else 0.0))
    return out


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3", "u4"]),
                            st.integers(min_value=0, max_value=150 * 24 * 60),
                            st.integers(min_value=0, max_value=100)), min_size=1, max_size=30),
    freq=st.sampled_from(["D", "W", "M"]),
    unit=st.sampled_from([None, "D", "W"]),
    end_day=st.one_of(st.none(), st.integers(min_value=-5, max_value=160)),
)
def test_matches_the_pandas_reference_on_random_logs(rows, freq, unit, end_day):
    base = pd.Timestamp("2024-12-29 17:00")
    frame = pd.DataFrame({"c": [c for c, _, _ in rows], "v": [float(v) for _, _, v in rows],
                          "t": [base + pd.Timedelta(minutes=m) for _, m, _ in rows]})
    end = None if end_day is None else base.normalize() + pd.Timedelta(days=end_day)
    got = rfm_summary(frame, customer="c", time="t", value="v", freq=freq, unit=unit, observation_end=end)
    expected = reference(frame, freq, end, unit)
    assert [r[:2] for r in _rows(got)] == [r[:2] for r in expected]
    if expected:
        np.testing.assert_allclose(got[["recency", "T", "monetary_value"]].to_numpy(),
                                   np.array([r[2:] for r in expected], dtype=float), rtol=1e-12)


# --- engines and the demo ---------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    for name, frame in opskit.demo.generate_frames(users=400, seed=11).items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def _purchases_summary(ds: opskit.Dataset) -> pd.DataFrame:
    events = ds["events"]
    return rfm_summary(events.filter(events.revenue > 0), value="revenue", freq="W")


def test_a_loaded_dataset_and_its_pandas_frame_agree(demo_folder):
    from_engine = _purchases_summary(opskit.load(demo_folder))
    frame = pd.read_parquet(demo_folder / "events.parquet")
    from_pandas = rfm_summary(frame[frame["revenue"] > 0], value="revenue")
    pd.testing.assert_frame_equal(from_pandas, from_engine, check_dtype=False)
    assert from_engine["frequency"].sum() > 0


@pytest.mark.spark
def test_spark_gives_the_same_summary(demo_folder, spark_backend):
    for path in demo_folder.glob("*.parquet"):
        spark_backend.read_parquet(str(path), table_name=path.stem)
    on_spark = _purchases_summary(opskit.load(spark_backend))
    on_duckdb = _purchases_summary(opskit.load(demo_folder))
    pd.testing.assert_frame_equal(on_spark, on_duckdb, check_dtype=False)


@pytest.fixture(scope="module")
def demo():
    return opskit.demo.generate_frames(users=2000, seed=7)


def test_demo_b2b_customers_are_worth_far_more_because_they_churn_far_less(demo):
    # planted finding b2c_vs_b2b_churn: ~22 % monthly logo churn for B2C against ~2 % for B2B
    summary = opskit.saas.summary(demo["subscriptions"], by="segment", users=demo["users"])
    ltv = simple_ltv(summary["arpa"], summary["logo_churn"], gross_margin=0.8)
    pd.testing.assert_series_equal(ltv, summary["ltv"], check_names=False)  # saas.summary agrees
    by_segment = dict(zip(summary["segment"], ltv, strict=True))
    churn = dict(zip(summary["segment"], summary["logo_churn"], strict=True))
    assert churn["b2c"] > 5 * churn["b2b"]
    assert by_segment["b2b"] > 20 * by_segment["b2c"]


def test_demo_lapsed_subscribers_are_less_likely_alive(demo):
    events, users, subs = demo["events"], demo["users"], demo["subscriptions"]
    b2c = users.loc[users["segment"] == "b2c", "user_id"]
    summary = rfm_summary(events[(events["revenue"] > 0) & events["user_id"].isin(b2c)], freq="M")
    alive = prob_alive(fit_bgnbd(summary), summary)
    subscribed = summary["user_id"].isin(subs.loc[subs["ended_at"].isna(), "user_id"])
    # ground truth from subscriptions: still paying at the end of the data, or not
    assert alive[subscribed].mean() > 0.8 > 0.5 > alive[~subscribed].mean()

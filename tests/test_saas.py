"""opskit.saas.mrr_movements: a hand-computed bridge, breakdowns, a plain reference, engines, demo."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit.saas import mrr_movements, nrr_cohorts, renewals, summary

# Six accounts, monthly. The latest date is 2025-04-02, so the data end at 2025-04-03 00:00:
# April is unfinished and its MRR is measured then.
#   n  new in January (100)
#   u  upgrade 50 -> 80 and d downgrade 120 -> 90, both on 10/12 February
#   c  starts exactly at 2024-12-01 00:00 (so it is already paying at December's start),
#      churns on 15 January, comes back on 3 March at 70: reactivation
#   o  two overlapping subscriptions: 40 from December, + 30 from 5 January to 20 February:
#      expansion in January, contraction (not churn) in February
#   b  pays 3 to 25 February only (no boundary sees it), then again from 2 April:
#      a reactivation, since it had MRR before
SUBS = pd.DataFrame([
    ("n", "2025-01-10", None, 100, "Pro"),
    ("u", "2024-12-05", "2025-02-10", 50, "Basic"), ("u", "2025-02-10", None, 80, "Pro"),
    ("d", "2024-12-07", "2025-02-12", 120, "Pro"), ("d", "2025-02-12", None, 90, "Basic"),
    ("c", "2024-12-01", "2025-01-15", 60, "Basic"), ("c", "2025-03-03", None, 70, "Basic"),
    ("o", "2024-12-10", None, 40, "Basic"), ("o", "2025-01-05", "2025-02-20", 30, "Addon"),
    ("b", "2025-02-03", "2025-02-25", 25, "Basic"), ("b", "2025-04-02", None, 25, "Basic"),
], columns=["account_id", "started_at", "ended_at", "mrr", "plan"])
USERS = pd.DataFrame({
    "user_id": ["u1", "u2", "u3", "u4", "u5", "u6", "u7"],
    "account_id": ["n", "u", "d", "c", "o", "b", "n"],
    # n has a user of each segment: it takes the smallest value, b2b
    "signup_at": ["2024-11-01", "2024-11-02", "2024-11-03", "2024-11-04", "2024-11-05", "2024-11-06",
                  "2024-12-01"],
    "segment": ["b2c", "b2b", "b2b", "b2c", "b2c", "b2c", "b2b"],
})
COLUMNS = ["period", "mrr_start", "new", "expansion", "contraction", "churned", "reactivation", "mrr_end",
           "customers_start", "customers_end", "complete"]
M = [pd.Timestamp(d) for d in ("2024-12-01", "2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01")]


def _rows(frame: pd.DataFrame, columns: list[str] = COLUMNS) -> list[tuple]:
    return list(frame[columns].itertuples(index=False, name=None))


def test_every_movement_by_hand():
    got = mrr_movements(SUBS)
    assert got.columns.tolist() == COLUMNS
    assert _rows(got) == [
        # Dec: c (60) at the start; u 50 + d 120 + o 40 new            60 + 210 = 270
        (M[0], 60.0, 210.0, 0.0, 0.0, 0.0, 0.0, 270.0, 1, 4, True),
        # Jan: n new 100, o +30, c churns 60                      270 + 100 + 30 - 60 = 340
        (M[1], 270.0, 100.0, 30.0, 0.0, 60.0, 0.0, 340.0, 4, 4, True),
        # Feb: u +30; d -30 and o -30 (one of two subscriptions ended): 340 + 30 - 60 = 310
        (M[2], 340.0, 0.0, 30.0, 60.0, 0.0, 0.0, 310.0, 4, 4, True),
        # Mar: c comes back at 70                                          310 + 70 = 380
        (M[3], 310.0, 0.0, 0.0, 0.0, 0.0, 70.0, 380.0, 4, 5, True),
        # Apr (to 3 April): b is back; its February blip makes it a reactivation
        (M[4], 380.0, 0.0, 0.0, 0.0, 0.0, 25.0, 405.0, 5, 6, False),
    ]
    assert got.dtypes[["mrr_start", "new", "customers_start", "complete"]].astype(str).tolist() == [
        "float64", "float64", "int64", "bool"]


def test_weeks_and_start_end():
    got = mrr_movements(SUBS, freq="week", start="2025-02-10", end="2025-02-24")
    # u's upgrade is at 2025-02-10 00:00, a week boundary: it belongs to the week ending there,
    # so the week of 10 February starts at n 100 + u 80 + d 120 + o 70 + b 25 = 395
    assert _rows(got, ["period", "mrr_start", "expansion", "contraction", "mrr_end"]) == [
        (pd.Timestamp("2025-02-10"), 395.0, 0.0, 30.0, 365.0),    # d's downgrade on the 12th
        (pd.Timestamp("2025-02-17"), 365.0, 0.0, 30.0, 335.0),    # o's second row ends on the 20th
    ]


def test_breakdown_by_plan_follows_each_row():
    got = mrr_movements(SUBS, by="plan")
    assert got.columns[:2].tolist() == ["plan", "period"]
    got = got.set_index(["plan", "period"])
    cols = ["mrr_start", "new", "churned", "reactivation", "mrr_end"]
    # February: u leaves Basic (churned 50) and is new in Pro (80); d leaves Pro (120), is new
    # in Basic (90); o's Addon row ends (churned 30)
    assert got.loc[("Basic", M[2]), cols].tolist() == [90.0, 90.0, 50.0, 0.0, 130.0]
    assert got.loc[("Pro", M[2]), cols].tolist() == [220.0, 80.0, 120.0, 0.0, 180.0]
    assert got.loc[("Addon", M[2]), cols].tolist() == [30.0, 0.0, 30.0, 0.0, 0.0]
    # the groups' MRR adds up to the total; their movements need not
    total = mrr_movements(SUBS).set_index("period")
    assert (got.groupby("period")["mrr_end"].sum() == total["mrr_end"]).all()


def test_breakdown_by_a_users_column_takes_the_accounts_smallest_value():
    got = mrr_movements(SUBS, by="segment", users=USERS)
    assert got.columns[0] == "segment"
    b2b = got[got.segment == "b2b"].set_index("period")
    # n (u1 is b2c, u7 b2b), u and d
    assert b2b.loc[M[1], "new"] == 100.0 and b2b.loc[M[4], "mrr_end"] == 270.0
    assert got[got.segment == "b2c"].set_index("period").loc[M[4], "mrr_end"] == 135.0


def test_bad_options_and_data():
    with pytest.raises(ValueError, match="freq must be one of"):
        mrr_movements(SUBS, freq="quarter")
    with pytest.raises(ValueError, match="pass users"):
        mrr_movements(SUBS, by="segment")
    with pytest.raises(ValueError, match="label column"):
        mrr_movements(SUBS, by="mrr")
    with pytest.raises(opskit.DataError, match=r"subscriptions\.mrr"):
        mrr_movements(SUBS.drop(columns="mrr"))
    with pytest.raises(opskit.DataError, match=r"users\.account_id"):
        mrr_movements(SUBS, by="segment", users=USERS.drop(columns="account_id"))


def test_no_rows_gives_an_empty_table():
    got = mrr_movements(SUBS.iloc[:0])
    assert got.empty and got.columns.tolist() == COLUMNS


# --- a plain pandas reference on random subscriptions -----------------------------------


def reference(subs: pd.DataFrame) -> pd.DataFrame:
    """The definition, account by account at every month boundary."""
    subs = subs.drop_duplicates()  # as opskit.load does
    last = max(subs.started_at.max(), subs.ended_at.max())
    horizon = last.normalize() + pd.Timedelta(days=1)
    starts = pd.date_range(subs.started_at.min().replace(day=1).normalize(), horizon, freq="MS")
    starts = [p for p in starts if p < horizon]
    live = subs[(subs.mrr > 0) & (subs.ended_at.isna() | (subs.ended_at > subs.started_at))]
    first = live.groupby("account_id").started_at.min()

    def mrr_at(t):
        on = live[(live.started_at <= t) & (live.ended_at.isna() | (live.ended_at > t))]
        return on.groupby("account_id").mrr.sum()

    out = []
    for p in starts:
        stop = min(p + pd.offsets.MonthBegin(1), horizon)
        s_all, e_all = mrr_at(p), mrr_at(stop)
        row = dict(period=p, mrr_start=float(s_all.sum()), new=0.0, expansion=0.0, contraction=0.0,
                   churned=0.0, reactivation=0.0, mrr_end=float(e_all.sum()),
                   customers_start=len(s_all), customers_end=len(e_all), complete=stop < horizon
                   or p + pd.offsets.MonthBegin(1) == horizon)
        for acc in set(s_all.index) | set(e_all.index):
            s, e = s_all.get(acc, 0.0), e_all.get(acc, 0.0)
            if s == 0 < e:
                row["new" if first[acc] >= p else "reactivation"] += e
            elif s > 0 == e:
                row["churned"] += s
            elif e > s:
                row["expansion"] += e - s
            elif e < s:
                row["contraction"] += s - e
        out.append(row)
    return pd.DataFrame(out)


ROWS = st.lists(st.tuples(
    st.sampled_from("abcd"), st.integers(0, 150), st.one_of(st.none(), st.integers(0, 120)),
    st.sampled_from([0, 10, 25, 40.5, 99.25])), min_size=1, max_size=12)


def _frame(rows):
    t0 = pd.Timestamp("2024-11-20 06:00")
    return pd.DataFrame({
        "account_id": [r[0] for r in rows],
        "started_at": [t0 + pd.Timedelta(days=r[1]) for r in rows],
        "ended_at": [pd.NaT if r[2] is None else t0 + pd.Timedelta(days=r[1] + r[2]) for r in rows],
        "mrr": [float(r[3]) for r in rows]})


@settings(max_examples=25, deadline=None)
@given(ROWS)
def test_matches_the_reference_and_the_bridge_adds_up_exactly(rows):
    subs = _frame(rows)
    got = mrr_movements(subs)
    pd.testing.assert_frame_equal(got, reference(subs)[COLUMNS], check_dtype=False)
    # amounts are multiples of 1/4: any float error would show
    bridge = (got.mrr_start + got.new + got.expansion + got.reactivation - got.contraction - got.churned)
    assert (bridge == got.mrr_end).all()
    assert (got.mrr_end.iloc[:-1].to_numpy() == got.mrr_start.iloc[1:].to_numpy()).all()


# --- the same answer from every engine; the demo ------------------------------------------


@pytest.fixture(scope="module")
def demo_folder(demo_parquet):
    return demo_parquet(400, 11)


def _all(ds):
    b2b = ["Basic", "Pro", "Enterprise"]
    return [mrr_movements(ds, by="plan", freq="week"),
            summary(ds, by="channel", users=ds.users, spend=ds.spend, as_of="2025-10-15"),
            nrr_cohorts(ds, months=6, by="segment", users=ds.users), renewals(ds, plans=b2b, by="plan")]


def test_parquet_and_frames_agree(demo_folder):
    ds = opskit.load(demo_folder)
    frames = {n: pd.read_parquet(demo_folder / f"{n}.parquet") for n in ("subscriptions", "users")}
    got = mrr_movements(frames["subscriptions"], by="segment", users=frames["users"])
    pd.testing.assert_frame_equal(got, mrr_movements(ds, by="segment", users=ds.users))


@pytest.mark.spark
def test_spark_gives_the_same_tables(demo_folder, spark_backend):
    for path in demo_folder.glob("*.parquet"):
        spark_backend.read_parquet(str(path), table_name=path.stem)
    for on_spark, on_duckdb in zip(_all(opskit.load(spark_backend)), _all(opskit.load(demo_folder)),
                                   strict=True):
        pd.testing.assert_frame_equal(on_spark, on_duckdb)


def test_demo_b2c_churns_ten_times_faster_than_b2b(demo_frames):
    frames = demo_frames(20_000, 7)
    got = summary(frames["subscriptions"], by="segment", users=frames["users"]).set_index("segment")
    # docs/demo.md finding 2: B2C 21.2 %, B2B 2.2 % per month over 2025
    assert got.loc["b2c", "logo_churn"] == pytest.approx(0.212, abs=0.005)
    assert got.loc["b2b", "logo_churn"] == pytest.approx(0.022, abs=0.003)
    assert got.loc["b2c", "ltv"] < got.loc["b2b", "ltv"] / 20
    moves = mrr_movements(frames["subscriptions"], start="2025-01-01")
    bridge = (moves.mrr_start + moves.new + moves.expansion + moves.reactivation - moves.contraction
              - moves.churned)
    assert bridge.to_numpy() == pytest.approx(moves.mrr_end.to_numpy(), abs=1e-6)

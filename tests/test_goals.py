"""opskit.goals: attainment and actuals — hand-computed tables, plain references, demo, engines."""

from __future__ import annotations

import math

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit.goals import METRICS, Metric, actuals, attainment

NAN = float("nan")
DAY = pd.Timedelta(days=1)

# Five users; u4 signed up before the data, u5 has no segment. Accounts: A1 (u1, u4: b2b),
# P2, P3, P5 personal. The last event is on 2025-04-05: the data end at 2025-04-06 00:00.
USERS = pd.DataFrame({
    "user_id": ["u1", "u2", "u3", "u4", "u5"],
    "signup_at": ["2025-01-05 10:00", "2025-01-20 08:00", "2025-02-10 12:00", "2024-12-01 09:00",
                  "2025-01-25 12:00"],
    "segment": ["b2b", "b2c", "b2c", "b2b", None],
    "account_id": ["A1", "P2", "P3", "A1", "P5"]})
EVENTS = pd.DataFrame([
    ("u4", "2025-01-01 09:00"), ("u1", "2025-01-05 10:00"), ("u1", "2025-01-05 11:00"),
    ("u1", "2025-01-06 09:00"), ("u1", "2025-02-10 09:00"),   # u1 back 36 days after signup
    ("u2", "2025-01-20 08:00"), ("u2", "2025-03-25 09:00"),   # u2 back only after 64 days
    ("u5", "2025-01-25 12:00"), ("u5", "2025-02-24 12:00"),   # exactly 30 days: day 30 counts
    ("u3", "2025-02-10 12:00"), ("u3", "2025-03-15 12:00"), ("u4", "2025-04-05 09:00"),
], columns=["user_id", "event_at"]).assign(event="use")
SUBS = pd.DataFrame({
    "account_id": ["A1", "A1", "P2", "P3", "P5"],
    "started_at": ["2024-12-01", "2025-02-15", "2025-01-20", "2025-02-10", "2025-01-31"],
    "ended_at": ["2025-02-15", None, "2025-02-19", None, "2025-02-01"],   # P5 ends at midnight
    "mrr": [300.0, 200.0, 39.0, 69.0, 50.0]})
JAN, FEB, APR, MAY = (pd.Timestamp(d) for d in ("2025-01-01", "2025-02-01", "2025-04-01", "2025-05-01"))
ENDS = {JAN: "2025-01-31", FEB: "2025-02-28", APR: "2025-04-30", MAY: "2025-05-31"}
TARGETS = pd.DataFrame([
    ("new_users", "b2b", JAN, 1.0), ("new_users", None, JAN, 4.0), ("new_users", "b2c", FEB, 1.0),
    ("new_users", None, APR, 6.0), ("new_users", None, MAY, 6.0),
    ("dau", None, JAN, 0.15), ("dau", None, FEB, 0.2), ("dau", None, APR, 0.25),
    ("mrr", "b2b", JAN, 300.0), ("mrr", "b2c", JAN, 40.0), ("mrr", None, FEB, 250.0),
    ("mrr", None, APR, 260.0), ("paying_users", None, JAN, 3.0),
    ("d30_retention", None, JAN, 0.6), ("d30_retention", "b2b", JAN, 1.0),
    ("d30_retention", None, FEB, 0.5),
], columns=["metric", "segment", "period_start", "target"])
TARGETS["period_end"] = TARGETS["period_start"].map(ENDS)


@pytest.fixture(scope="module")
def dataset():
    return opskit.Dataset.from_frames(users=USERS, events=EVENTS, subscriptions=SUBS, targets=TARGETS)


def _row(frame, metric, segment, start):
    seg = frame["segment"].isna() if segment is None else frame["segment"] == segment
    hit = frame[(frame["metric"] == metric) & seg & (frame["period_start"] == start)]
    assert len(hit) == 1, (metric, segment, start)
    return hit.iloc[0]


def _same(a, b):
    return (isinstance(a, float) and math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)


def test_actuals_by_hand(dataset):
    got = actuals(dataset)
    assert got.columns.tolist() == ["metric", "segment", "period_start", "period_end", "actual",
                                    "observed_until"]
    expected = {
        ("new_users", "b2b", JAN): 1,          # u1
        ("new_users", None, JAN): 3,           # u1, u2, u5 (no segment, still a user)
        ("new_users", "b2c", FEB): 1,          # u3
        ("new_users", None, APR): 0,
        ("dau", None, JAN): 5 / 31,            # user-days: 1/1 u4, 1/5 u1, 1/6 u1, 1/20 u2, 1/25 u5
        ("dau", None, FEB): 3 / 28,            # 2/10 u1 and u3, 2/24 u5
        ("dau", None, APR): 1 / 5,             # 1 to 5 April so far: 4/5 u4
        ("mrr", "b2b", JAN): 300,              # at 1 Feb 00:00: A1
        ("mrr", "b2c", JAN): 39,               # P2; P5 ended exactly at 1 Feb 00:00
        ("mrr", None, FEB): 269,               # at 1 Mar: A1 200 + P3 69 (P2 ended 19 Feb)
        ("mrr", None, APR): 269,               # no change since: the level holds
        ("paying_users", None, JAN): 2,        # A1, P2 (not P5: [started, ended) excludes the end)
        ("d30_retention", None, JAN): 2 / 3,   # u1 (day 36), u5 (day 30) of u1, u2, u5
        ("d30_retention", "b2b", JAN): 1.0,    # u1
        ("d30_retention", None, FEB): NAN,     # u3's 60 days end 11 April, after the data
    }
    for (metric, segment, start), value in expected.items():
        assert _same(_row(got, metric, segment, start)["actual"], value), (metric, segment, start)
    assert _row(got, "dau", None, APR)["observed_until"] == pd.Timestamp("2025-04-06")
    assert _row(got, "new_users", None, JAN)["observed_until"] == FEB
    assert _row(got, "new_users", None, MAY)["actual"] == 0   # May has not begun: nothing yet


def test_attainment_by_hand(dataset):
    got = attainment(dataset, actuals(dataset))
    assert got.columns.tolist() == ["metric", "segment", "period_start", "period_end", "kind", "target",
                                    "actual", "attainment", "gap", "status", "elapsed_share", "pace",
                                    "projected"]
    status = {(r.metric, r.segment, r.period_start): r.status for r in got.itertuples()}
    assert status == {
        ("new_users", "b2b", JAN): "hit", ("new_users", None, JAN): "missed",
        ("new_users", "b2c", FEB): "hit", ("new_users", None, APR): "behind",
        ("new_users", None, MAY): "not started",
        ("dau", None, JAN): "hit", ("dau", None, FEB): "missed", ("dau", None, APR): "behind",
        ("mrr", "b2b", JAN): "hit", ("mrr", "b2c", JAN): "missed", ("mrr", None, FEB): "hit",
        ("mrr", None, APR): "on track", ("paying_users", None, JAN): "missed",
        ("d30_retention", None, JAN): "hit", ("d30_retention", "b2b", JAN): "hit",
        ("d30_retention", None, FEB): "no data"}
    apr = _row(got, "mrr", None, APR)   # 5 of April's 30 days have passed by 6 April 00:00
    assert apr["elapsed_share"] == pytest.approx(5 / 30)
    assert apr["pace"] == pytest.approx(269 / 260) and apr["projected"] == 269   # a level: as is
    dau = _row(got, "dau", None, APR)
    assert dau["pace"] == pytest.approx(0.2 / 0.25)                              # an average: as is
    jan = _row(got, "new_users", None, JAN)
    assert (jan["attainment"], jan["gap"], jan["elapsed_share"]) == (0.75, -1.0, 1.0)
    assert np.isnan(jan["pace"])
    assert got["metric"].tolist()[:3] == ["d30_retention"] * 3      # sorted by metric
    assert got["segment"].tolist()[:2] == [None, None]               # overall first


def test_additive_pace_is_run_rate():
    targets = pd.DataFrame({"metric": ["new_users"], "period_start": ["2025-03-01"],
                            "period_end": ["2025-03-31"], "target": [310.0]})
    acts = pd.DataFrame({"metric": ["new_users"], "period_start": ["2025-03-01"], "actual": [120.0]})
    row = attainment(targets, acts, as_of="2025-03-11").iloc[0]
    # 10 of 31 days: 310 x 10/31 = 100 expected so far; 120 / 100 = 1.2; run rate 120 x 3.1 = 372
    assert row["elapsed_share"] == pytest.approx(10 / 31)
    assert row["pace"] == pytest.approx(1.2) and row["projected"] == pytest.approx(372)
    assert row["status"] == "on track"
    behind = attainment(targets, acts.assign(actual=90.0), as_of="2025-03-11").iloc[0]
    assert behind["pace"] == pytest.approx(0.9) and behind["status"] == "behind"


def test_lower_is_better_and_unknown_metrics():
    targets = pd.DataFrame({"metric": ["churn", "churn", "nps"], "target": [0.05, 0.05, 40.0],
                            "period_start": ["2025-01-01", "2025-02-01", "2025-01-01"],
                            "period_end": ["2025-01-31", "2025-02-28", "2025-01-31"]})
    acts = pd.DataFrame({"metric": ["churn", "churn", "nps"], "actual": [0.04, 0.06, 45.0],
                         "period_start": ["2025-01-01", "2025-02-01", "2025-01-01"]})
    got = attainment(targets, acts, as_of="2025-02-15", metrics={"churn": Metric("churn", "average", False)})
    assert got["status"].tolist() == ["hit", "behind", "hit"]     # 4 % <= 5 %; 6 % > 5 % so far
    assert got["kind"].tolist() == ["average", "average", "level"]   # nps: unknown, taken as a level


def test_observed_until_is_the_default_as_of():
    targets = pd.DataFrame({"metric": ["dau"], "period_start": ["2025-03-01"], "period_end": ["2025-03-31"],
                            "target": [100.0]})
    acts = pd.DataFrame({"metric": ["dau"], "period_start": ["2025-03-01"], "actual": [90.0],
                         "observed_until": [pd.Timestamp("2025-04-01")]})
    assert attainment(targets, acts)["status"].tolist() == ["missed"]
    later = attainment(targets, acts.drop(columns="observed_until"), as_of="2025-03-16")
    assert later["status"].tolist() == ["behind"] and later["elapsed_share"].iloc[0] == pytest.approx(15 / 31)


def test_bad_inputs():
    targets = TARGETS.head(2)
    acts = pd.DataFrame({"metric": ["new_users"] * 2, "segment": ["b2b"] * 2,
                         "period_start": [JAN, JAN], "actual": [1.0, 2.0]})
    with pytest.raises(opskit.DataError, match=r"actuals\.period_start: 2 of 2 rows"):
        attainment(targets, acts)
    with pytest.raises(opskit.DataError, match=r"actuals\.actual"):
        attainment(targets, acts.drop(columns="actual"))
    with pytest.raises(opskit.DataError, match=r"targets\.period_start"):
        attainment(pd.concat([targets, targets.assign(target=9.0)]), acts.head(1))
    with pytest.raises(ValueError, match="as_of"):
        attainment(targets, acts.head(1), as_of="soon")
    with pytest.raises(ValueError, match="kind"):
        Metric("x", "cumulative")
    with pytest.raises(TypeError, match="Dataset"):
        actuals(EVENTS)


def test_actuals_names_what_is_missing(dataset):
    with pytest.raises(ValueError, match="unknown metrics"):
        actuals(dataset, metrics=["arpu"])
    no_subs = opskit.Dataset.from_frames(users=USERS.drop(columns="segment"), events=EVENTS,
                                         targets=TARGETS)
    with pytest.raises(opskit.DataError, match=r"users\.segment"):
        actuals(no_subs, metrics=["new_users"])
    with pytest.raises(opskit.DataError, match="no `subscriptions` table"):
        actuals(no_subs, metrics=["mrr"])
    overall = actuals(no_subs, targets=TARGETS[TARGETS.segment.isna()])  # skips what it cannot measure
    assert set(overall["metric"]) == {"new_users", "dau", "d30_retention"}


# --- plain references -----------------------------------------------------------------------

KINDS = st.sampled_from([("new_users", "additive"), ("mrr", "level"), ("dau", "average")])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(KINDS, st.integers(0, 60), st.integers(1, 40), st.floats(0, 200),
                          st.one_of(st.none(), st.floats(0, 300))), min_size=1, max_size=8,
                unique_by=lambda r: (r[0][0], r[1])),
       st.integers(-5, 110))
def test_attainment_matches_a_plain_reference(rows, as_of_day):
    t0 = pd.Timestamp("2025-01-01")
    targets = pd.DataFrame([(m, t0 + DAY * s, t0 + DAY * (s + n - 1), tg) for (m, _), s, n, tg, _ in rows],
                           columns=["metric", "period_start", "period_end", "target"])
    acts = pd.DataFrame([(m, t0 + DAY * s, NAN if a is None else a) for (m, _), s, _, _, a in rows],
                        columns=["metric", "period_start", "actual"])
    as_of = t0 + DAY * as_of_day
    got = attainment(ibis.memtable(targets), acts, as_of=as_of).set_index(["metric", "period_start"])
    for (metric, kind), s, n, target, actual in rows:
        row = got.loc[(metric, t0 + DAY * s)]
        share = min(max((as_of_day - s) / n, 0.0), 1.0)
        actual = NAN if actual is None else actual
        if share == 0:
            status = "not started"
        elif math.isnan(actual):
            status = "no data"
        elif share == 1:
            status = "hit" if actual >= target else "missed"
        else:
            projected = actual / share if kind == "additive" else actual
            pace = projected / target if target else NAN
            assert _same(row["pace"], pace)
            status = "on track" if pace >= 1 or (not target and actual >= target) else "behind"
        assert row["status"] == status and row["elapsed_share"] == pytest.approx(share)
        assert _same(row["gap"], actual - target)


@settings(max_examples=12, deadline=None)  # each example runs six small queries
@given(st.lists(st.tuples(st.integers(0, 89), st.sampled_from(["a", "b"]), st.lists(st.integers(0, 89),
                                                                                  max_size=4)),
                min_size=1, max_size=12),
       # one target per metric and start: periods with distinct first days
       st.lists(st.tuples(st.integers(0, 80), st.integers(1, 30)), min_size=1, max_size=4,
                unique_by=lambda period: period[0]))
def test_new_users_and_dau_match_pandas(people, periods):
    t0 = pd.Timestamp("2025-01-01")
    users = pd.DataFrame({"user_id": [f"u{i}" for i in range(len(people))],
                          "signup_at": [t0 + DAY * d + pd.Timedelta(hours=5) for d, _, _ in people],
                          "segment": [s for _, s, _ in people]})
    events = pd.DataFrame([(f"u{i}", t0 + DAY * d + pd.Timedelta(hours=h % 24), "x")
                           for i, (_, _, days) in enumerate(people) for h, d in enumerate(days)]
                          + [("u0", t0, "x"), ("u0", t0 + DAY * 89, "x")],  # the data: 90 days
                          columns=["user_id", "event_at", "event"])
    targets = pd.DataFrame([(m, seg, t0 + DAY * s, t0 + DAY * (s + n - 1), 1.0)
                            for s, n in periods for m, seg in (("new_users", "a"), ("dau", None))],
                           columns=["metric", "segment", "period_start", "period_end", "target"])
    ds = opskit.Dataset({"users": ibis.memtable(users), "events": ibis.memtable(events)})
    got = actuals(ds, targets=ibis.memtable(targets))
    days = events.assign(day=events.event_at.dt.normalize()).groupby("day").user_id.nunique()
    days = days.reindex(pd.date_range(t0, t0 + DAY * 89), fill_value=0)
    for s, n in periods:
        lo, hi = t0 + DAY * s, t0 + DAY * (s + n)
        new = ((users.segment == "a") & (users.signup_at >= lo) & (users.signup_at < hi)).sum()
        assert _row(got, "new_users", "a", lo)["actual"] == new
        assert _row(got, "dau", None, lo)["actual"] == pytest.approx(days[(days.index >= lo)
                                                                          & (days.index < hi)].mean())


# --- the demo: targets set around the documented actuals ------------------------------------------


def test_demo_targets_are_hit_and_missed_as_documented():
    frames = opskit.demo.generate_frames(users=2000, seed=7)
    ds = opskit.Dataset.from_frames(**frames)
    got = attainment(ds, actuals(ds))
    users, subs, events = frames["users"], frames["subscriptions"], frames["events"]
    seg = users.set_index("user_id").segment

    def documented(row):  # docs/demo.md, "targets": the actual value of a month
        lo, hi = row.period_start, row.period_end + DAY
        if row.metric == "new_users":
            return ((users.segment == row.segment) & (users.signup_at >= lo) & (users.signup_at < hi)).sum()
        if row.metric in ("paying_users", "mrr"):
            at = hi - pd.Timedelta(seconds=1)          # the month's last instant
            on = subs[(subs.started_at <= at) & (subs.ended_at.isna() | (subs.ended_at > at))]
            on = on[on.user_id.map(seg) == row.segment]
            return on.account_id.nunique() if row.metric == "paying_users" else on.mrr.sum()
        if row.metric == "dau":
            inside = events[(events.event_at >= lo) & (events.event_at < hi)]
            return inside.groupby(inside.event_at.dt.normalize()).user_id.nunique().sum() / (hi - lo).days
        return NAN  # d30_retention: checked against the cohort table in tests of opskit.retention

    got["documented"] = [documented(r) for r in got.itertuples()]
    known = got["documented"].notna()
    assert ((got["actual"] - got["documented"]).abs() <= 1e-6 * got["documented"].abs())[known].all()
    assert ((got["status"] == "hit") == (got["documented"] >= got["target"]))[known].all()
    for (metric, segment), series in got.groupby(["metric", "segment"], dropna=False):
        assert {"hit", "missed"} <= set(series["status"]), (metric, segment)   # every series has both
    d30 = got[got["metric"] == "d30_retention"].set_index("period_start")["status"]
    assert d30.tail(2).tolist() == ["no data", "no data"]   # November, December: not measurable yet
    assert set(METRICS) == set(got["metric"])


# --- engines ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo_goals")
    for name, frame in opskit.demo.generate_frames(users=400, seed=11).items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


@pytest.mark.spark
def test_spark_gives_the_same_actuals(demo_folder, spark_backend):
    for path in demo_folder.glob("*.parquet"):
        spark_backend.read_parquet(str(path), table_name=path.stem)
    on_spark, on_duckdb = opskit.load(spark_backend), opskit.load(demo_folder)
    pd.testing.assert_frame_equal(attainment(on_spark, actuals(on_spark)),
                                  attainment(on_duckdb, actuals(on_duckdb)))

"""opskit.diagnose: a hand-built funnel, references, targets, ties, quarters, errors, a plain
reference on random funnels, the demo's weakest stage, and the same answer from Spark."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit.diagnose import diagnose

MONTHS = pd.date_range("2025-01-01", periods=5, freq="MS")
# Per signup month: signups, activated (create_doc on day 1), retained (an event on day 40),
# paid (a purchase on day 3). Rates: activation .5 .6 .5 .6 .2; retention .4 .4 .5 .4 .4;
# payer conversion .1 .2 .1 .2 .2.
SPEC = [(10, 5, 4, 1), (10, 6, 4, 2), (10, 5, 5, 1), (10, 6, 4, 2), (10, 2, 4, 2)]
STAGES = ["acquisition", "activation", "retention", "revenue"]


def _frames(spec, months=MONTHS, end="2025-08-01 10:00") -> dict[str, pd.DataFrame]:
    """User i of a month signs up i hours after midnight on the 1st; the first ones act."""
    users, events = [], []
    for month, (n, act, ret, paid) in zip(months, spec, strict=True):
        for i in range(n):
            uid, t0 = f"u{month:%m}{i:02d}", month + pd.Timedelta(hours=i)
            users.append((uid, t0, "b2b" if i < 4 else "b2c"))
            events.append((uid, t0, "signup", None))
            if i < act:
                events.append((uid, t0 + pd.Timedelta(days=1), "create_doc", None))
            if i < ret:
                events.append((uid, t0 + pd.Timedelta(days=40), "page_view", None))
            if i < paid:
                events.append((uid, t0 + pd.Timedelta(days=3), "purchase", 39.0))
    # the last event (a January user, outside every window) sets the end of the data: 2 August
    events.append((users[0][0], pd.Timestamp(end), "page_view", None))
    return {"users": pd.DataFrame(users, columns=["user_id", "signup_at", "segment"]),
            "events": pd.DataFrame(events, columns=["user_id", "event_at", "event", "revenue"])
            .astype({"revenue": "float64"})}


TARGETS = pd.DataFrame([
    # new users per segment (added up: 5 + 7 = 12 in May), retention overall
    ("new_users", "2025-04-01", "2025-04-30", 4, "b2b"), ("new_users", "2025-04-01", "2025-04-30", 6, "b2c"),
    ("new_users", "2025-05-01", "2025-05-31", 5, "b2b"), ("new_users", "2025-05-01", "2025-05-31", 7, "b2c"),
    ("new_users", "2025-06-01", "2025-06-30", 3, "b2b"), ("new_users", "2025-06-01", "2025-06-30", 5, "b2c"),
    ("d30_retention", "2025-04-01", "2025-04-30", 0.5, None),
    ("d30_retention", "2025-05-01", "2025-05-31", 0.5, None),
    ("d30_retention", "2025-06-01", "2025-06-30", 0.6, None),
    ("activation_rate", "2025-05-01", "2025-05-31", 0.9, "b2b"),   # a rate for one segment only: unused
    ("dau", "2025-05-01", "2025-05-31", 300, None),                  # not a funnel metric
], columns=["metric", "period_start", "period_end", "target", "segment"])


@pytest.fixture(scope="module")
def funnel():
    return opskit.Dataset.from_frames(**_frames(SPEC), targets=TARGETS)


def test_the_latest_complete_month_by_hand(funnel):
    got = diagnose(funnel)
    assert got.columns.tolist() == [
        "stage", "metric", "period", "value", "users", "eligible", "complete", "reference",
        "reference_period", "change", "z", "anomaly", "expected_low", "target", "attainment",
        "shortfall", "weakest", "evidence", "definition"]
    assert got["stage"].tolist() == STAGES
    assert got["metric"].tolist() == ["new_users", "activation_rate", "d30_retention", "payer_conversion"]
    # June and July have no signups: May is the latest month whose every stage is complete
    assert (got["period"] == pd.Timestamp("2025-05-01")).all() and got["complete"].all()
    assert got.attrs["label"] == "2025-05"
    assert got["value"].tolist() == pytest.approx([10, 0.2, 0.4, 0.2])
    assert got["users"].tolist() == [10, 2, 4, 2] and got["eligible"].tolist() == [10] * 4
    # against April: 10, .6, .4, .2
    assert got["reference"].tolist() == pytest.approx([10, 0.6, 0.4, 0.2])
    assert (got["reference_period"] == pd.Timestamp("2025-04-01")).all()
    assert got["change"].tolist() == pytest.approx([0, 0.2 / 0.6 - 1, 0, 0], abs=1e-12)
    # z against January-April. activation .5 .6 .5 .6: median .55, MAD .05 -> .6745 x -.35 / .05
    # new users 10 10 10 10: a constant history, and May is on it -> 0. retention .4 .4 .5 .4:
    # MAD 0, mean |dev| .025 -> May (.4) is on the median -> 0. revenue .1 .2 .1 .2 -> .6745
    assert got["z"].tolist() == pytest.approx([0, 0.6745 * -0.35 / 0.05, 0, 0.6745])
    assert got["anomaly"].tolist() == [False, True, False, False]
    assert got.loc[1, "expected_low"] == pytest.approx(0.55 - 3.5 * 0.05 / 0.6745)
    # targets: 5 + 7 new users; retention .5; activation has only a b2b row, so none
    assert got["target"].tolist()[:3:2] == [12.0, 0.5] and got["target"].isna().tolist() == [
        False, True, False, True]
    assert got["attainment"].tolist()[:3:2] == pytest.approx([10 / 12, 0.8])
    # shortfall = max(-change, 1 - attainment): 1/6, 2/3, 0.2, 0 -> activation is the weakest
    assert got["shortfall"].tolist() == pytest.approx([1 / 6, 2 / 3, 0.2, 0], abs=1e-12)
    assert got["weakest"].tolist() == [False, True, False, False]
    assert got.loc[1, "evidence"] == (
        "activation: activation_rate 20.0 % (2 of the 10 users who signed up in 2025-05); down 66.7 % "
        "(-40.0 points) from 60.0 % in 2025-04; modified z -4.7 against the median of the previous 8 "
        "periods, below its expected range (at least 29.1 %). Weakest stage: the largest shortfall, "
        "66.7 % below its reference.")
    assert got.loc[0, "evidence"].startswith("acquisition: 10 new users signed up in 2025-05; up 0.0 %")
    assert "83.3 % of its target of 12" in got.loc[0, "evidence"]
    assert got.loc[2, "definition"].startswith("any event from day 30 to before day 60")
    assert "largest relative shortfall" in got.attrs["rule"]


def test_trailing_median_as_the_reference(funnel):
    got = diagnose(funnel, compare_to="trailing")
    # medians of January-April: 10, .55, .4, .15
    assert got["reference"].tolist() == pytest.approx([10, 0.55, 0.4, 0.15])
    assert got["reference_period"].isna().all()
    assert got["change"].tolist() == pytest.approx([0, 0.2 / 0.55 - 1, 0, 1 / 3])
    assert "(the median of the previous 8 periods)" in got.loc[1, "evidence"]


def test_no_year_ago_leaves_targets_and_ties_go_to_the_earlier_stage(funnel):
    # no 2024 data: no reference. Targets 12.5 new users and .5 retention: both 20 % short.
    targets = pd.DataFrame({"metric": ["new_users", "d30_retention"], "period_start": "2025-05-01",
                            "period_end": "2025-05-31", "target": [12.5, 0.5]})
    got = diagnose(funnel, compare_to="year_ago", targets=targets)
    assert got["reference"].isna().all() and got["change"].isna().all()
    assert (got["reference_period"] == pd.Timestamp("2024-05-01")).all()
    assert got["shortfall"].tolist()[::2] == pytest.approx([0.2, 0.2])
    assert got["shortfall"].isna().tolist() == [False, True, False, True]
    assert got["weakest"].tolist() == [True, False, False, False]
    assert "no value in 2024-05 (a year earlier) to compare with" in got.loc[0, "evidence"]
    assert "20.0 % below its target" in got.loc[0, "evidence"]


def test_targets_false_ignores_the_table(funnel):
    got = diagnose(funnel, targets=False)
    assert got["target"].isna().all() and got["attainment"].isna().all()
    assert got["weakest"].tolist() == [False, True, False, False]


def test_a_quarter_adds_up_its_months(funnel):
    got = diagnose(funnel, freq="quarter")
    assert got.attrs["label"] == "2025-Q2" and (got["period"] == pd.Timestamp("2025-04-01")).all()
    # Q2 = April + May (June has no signups): 20 users; 8, 8 and 4 of them. Q1: 30; 16, 13, 4.
    assert got["users"].tolist() == [20, 8, 8, 4] and got["eligible"].tolist() == [20] * 4
    assert got["reference"].tolist() == pytest.approx([30, 16 / 30, 13 / 30, 4 / 30])
    assert got["z"].isna().all()                       # one earlier quarter: too little history
    # targets: 10 + 12 + 8 new users; retention .5, .5, .6 weighted by 30, 31, 30 days
    assert got.loc[0, "target"] == 30
    assert got.loc[2, "target"] == pytest.approx((0.5 * 30 + 0.5 * 31 + 0.6 * 30) / 91)
    # shortfalls: acquisition max(1/3, 1/3), activation .25, retention 1 - .4 / .53297 = .2495
    assert got["shortfall"].tolist()[:3] == pytest.approx([1 / 3, 0.25, 1 - 0.4 * 91 / 48.5])
    assert got["weakest"].tolist() == [True, False, False, False]
    pd.testing.assert_frame_equal(diagnose(funnel, freq="quarter", period="2025-Q2"), got)


def test_a_named_period_and_a_partial_one():
    # the data end on 15 June: May's retention (day 30-59) has not ended for anyone
    ds = opskit.Dataset.from_frames(**_frames(SPEC, end="2025-06-14 10:00"))
    assert diagnose(ds).attrs["label"] == "2025-04"
    got = diagnose(ds, period="2025-05-20")
    assert got["complete"].tolist() == [True, True, False, True]
    assert np.isnan(got.loc[2, "value"]) and got.loc[2, "eligible"] == 0
    assert "is not measurable yet" in got.loc[2, "evidence"]
    assert got["weakest"].tolist() == [False, True, False, False]


def test_bad_options_and_data():
    ds = opskit.Dataset.from_frames(**_frames(SPEC))
    with pytest.raises(ValueError, match="compare_to must be one of 'previous', 'year_ago', 'trailing'"):
        diagnose(ds, compare_to="last_year")
    with pytest.raises(ValueError, match="freq must be one of 'day', 'week', 'month', 'quarter'"):
        diagnose(ds, freq="year")
    with pytest.raises(ValueError, match="is a quarter: pass freq='quarter'"):
        diagnose(ds, period="2025-Q2")
    with pytest.raises(ValueError, match="2025-06 has no signups in the data"):
        diagnose(ds, period="2025-06")
    with pytest.raises(ValueError, match="period must be a date"):
        diagnose(ds, period="soon")
    with pytest.raises(TypeError, match=r"must be an opskit\.Dataset"):
        diagnose(_frames(SPEC)["events"])
    with pytest.raises(TypeError, match="targets must be True, False or a targets table"):
        diagnose(ds, targets="yes")
    short = opskit.Dataset.from_frames(**_frames(SPEC[:1], months=MONTHS[:1], end="2025-02-10"))
    with pytest.raises(opskit.DataError, match=r"events\.event_at: does not yet cover any whole signup"):
        diagnose(short)


# --- a plain reference on random funnels ----------------------------------------------------------


@settings(max_examples=8, deadline=None)
@given(spec=st.lists(st.tuples(st.integers(1, 6), st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)),
                     min_size=5, max_size=5).map(lambda rows: [(n, min(a, n), min(r, n), min(p, n))
                                                               for n, a, r, p in rows]),
       compare_to=st.sampled_from(["previous", "trailing"]))
def test_matches_a_plain_computation_on_random_funnels(spec, compare_to):
    got = diagnose(opskit.Dataset.from_frames(**_frames(spec)), compare_to=compare_to, window=4)
    values = [[n, a / n, r / n, p / n] for n, a, r, p in spec]
    last = values[-1]
    ref = values[-2] if compare_to == "previous" else list(np.median(np.array(values[:-1]), axis=0))
    change = [v / r - 1 if r > 0 else np.nan for v, r in zip(last, ref, strict=True)]
    assert got["value"].tolist() == pytest.approx(last)
    assert got["reference"].tolist() == pytest.approx(ref)
    assert got["change"].tolist() == pytest.approx(change, nan_ok=True)
    short = [-c for c in change]
    judged = [s for s in short if not np.isnan(s)]
    expected = [False] * 4
    if judged:
        top = max(judged)
        expected[next(i for i, s in enumerate(short) if not np.isnan(s) and s >= top - 0.001)] = True
    assert got["weakest"].tolist() == expected


# --- the demo -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    return opskit.demo.generate(users=20_000, seed=7)


def test_the_demo_names_retention(demo):
    got = diagnose(demo).set_index("stage")
    # October 2025 is the last signup month whose days 30-59 ended inside the data (31 Dec)
    assert got.attrs["label"] == "2025-10"
    assert got.loc["acquisition", "value"] == 1394          # the users with signup_at in October
    assert got.loc["acquisition", "target"] == 1442         # 390 b2b + 1,052 b2c
    # retention: 619 of 1,394 (44.4 %) against 571 of 1,228 in September (46.5 %) and a 47.8 % target
    assert got.loc["retention", ["users", "eligible"]].tolist() == [619, 1394]
    assert got.loc["retention", "reference"] == pytest.approx(571 / 1228)
    assert got.loc["retention", "target"] == pytest.approx(0.478)
    assert got.loc["retention", "shortfall"] == pytest.approx(1 - (619 / 1394) / 0.478)      # 7.1 %
    assert got.index[got["weakest"]].tolist() == ["retention"]
    assert got["shortfall"].drop("retention").max() < 0.05              # acquisition 3.3 %, activation 3.2 %
    assert "Weakest stage: the largest shortfall, 7.1 % below its target." in got.loc["retention", "evidence"]
    # without the targets retention still falls furthest from September (-4.5 %)
    bare = diagnose(demo, targets=False).set_index("stage")
    assert bare.index[bare["weakest"]].tolist() == ["retention"]
    assert bare.loc["retention", "change"] == pytest.approx(-0.045, abs=5e-4)


def test_the_demo_stages_are_aarrrs(demo):
    funnel = opskit.consumer.aarrr(demo, activation_event="create_doc", users=demo.users, freq="month")
    oct_ = funnel[funnel["period"] == "2025-10-01"].set_index("stage")
    got = diagnose(demo).set_index("stage")
    assert got["users"].tolist() == oct_.loc[STAGES, "users"].tolist()
    assert got["value"].iloc[1:].tolist() == pytest.approx(oct_.loc[STAGES[1:], "rate"].tolist())


# --- the same answer from Spark ------------------------------------------------------------------


@pytest.mark.spark
def test_spark_gives_the_same_diagnosis(tmp_path, spark_backend):
    from opskit.io import load_tables

    names = ("events", "users", "targets")   # prefixed: other tests register the canonical names
    for name, frame in opskit.demo.generate_frames(users=400, seed=11).items():
        if name in names:
            frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
            spark_backend.read_parquet(str(tmp_path / f"{name}.parquet"), table_name=f"diagnose_{name}")
    spark = load_tables(spark_backend, {n: spark_backend.table(f"diagnose_{n}") for n in names})
    duck = opskit.load(tmp_path)
    for options in (dict(), dict(freq="week", compare_to="trailing")):
        pd.testing.assert_frame_equal(diagnose(spark, **options), diagnose(duck, **options))

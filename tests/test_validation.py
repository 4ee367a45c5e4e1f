"""Every DataError and warning of the data contract, with its message."""

from __future__ import annotations

import pandas as pd
import pytest

import opskit
from opskit.errors import DataError, OpskitError

HEADER = "user_id,event_at,event\n"


def _events_csv(tmp_path, body: str, header: str = HEADER):
    (tmp_path / "events.csv").write_text(header + body, encoding="utf-8")
    return tmp_path


def _raises(source, **kwargs) -> DataError:
    with pytest.raises(DataError) as info:
        opskit.load(source, **kwargs)
    return info.value


def test_data_error_is_a_value_error_and_an_opskit_error():
    assert issubclass(DataError, ValueError) and issubclass(DataError, OpskitError)


def test_missing_required_column_suggests_the_closest_and_the_mapping(tmp_path):
    _events_csv(tmp_path, "u1,2025-01-01,login\n", header="uid,event_at,event\n")
    error = _raises(tmp_path)
    message = str(error)
    assert error.table == "events" and error.column == "user_id"
    assert "required column `user_id` is missing" in message
    assert "columns found: uid, event_at, event" in message
    assert "did you mean `uid`?" in message
    assert "mapping={'events': {'uid': 'user_id'}}" in message
    assert "events.csv" in message


def test_unparseable_timestamps_name_rows_and_values(tmp_path):
    body = "u1,2025-01-01 10:00,login\nu2,yesterday,login\nu3,2025-01-02,login\nu4,2025-13-45,x\n"
    error = _raises(_events_csv(tmp_path, body))
    message = str(error)
    assert "events.event_at: 2 of 4 rows have timestamps that could not be parsed" in message
    assert "row 2: 'yesterday'" in message and "row 4: '2025-13-45'" in message
    assert "Fix: write timestamps as ISO 8601" in message
    assert error.findings[0].check == "unparseable_timestamp"


def test_only_three_examples_are_shown(tmp_path):
    body = "".join(f"u{i},bad{i},login\n" for i in range(10))
    error = _raises(_events_csv(tmp_path, body))
    assert "10 of 10 rows" in str(error)
    assert error.findings[0].examples == ((1, "bad0"), (2, "bad1"), (3, "bad2"))


def test_unparseable_numbers(tmp_path):
    _events_csv(tmp_path, "u1,2025-01-01,pay\n")
    (tmp_path / "spend.csv").write_text(
        "date,channel,cost\n2025-01-01,微博,12.5\n2025-01-02,微博,twelve\n", encoding="utf-8")
    message = str(_raises(tmp_path))
    assert "spend.cost: 1 of 2 rows are not numbers, e.g. row 2: 'twelve'" in message


def test_null_keys(tmp_path):
    error = _raises(_events_csv(tmp_path, "u1,2025-01-01,login\n,2025-01-02,login\n  ,2025-01-03,x\n"))
    assert "events.user_id: 2 of 3 rows are empty, but every row needs this column" in str(error)
    assert error.findings[0].examples == ((2, None), (3, "  "))


def test_negative_money(tmp_path):
    _events_csv(tmp_path, "u1,2025-01-01,pay\n")
    (tmp_path / "subscriptions.csv").write_text(
        "account_id,started_at,mrr\na1,2025-01-01,100\na2,2025-01-01,-50\n", encoding="utf-8")
    message = str(_raises(tmp_path))
    assert "subscriptions.mrr: 1 of 2 rows have negative amounts, e.g. row 2: '-50'" in message
    assert "Fix: record refunds" in message


def test_ended_before_started(tmp_path):
    _events_csv(tmp_path, "u1,2025-01-01,pay\n")
    (tmp_path / "subscriptions.csv").write_text(
        "account_id,started_at,mrr,ended_at\na1,2025-03-01,100,2025-02-01\na2,2025-01-01,10,\n",
        encoding="utf-8")
    error = _raises(tmp_path)
    assert "subscriptions.ended_at: 1 of 2 rows have `ended_at` before `started_at`" in str(error)
    assert "row 1: '2025-03-01 00:00:00 -> 2025-02-01 00:00:00'" in str(error)


def test_every_problem_is_listed_at_once(tmp_path):
    body = "u1,never,login\n,2025-01-01,login\n"
    error = _raises(_events_csv(tmp_path, body))
    assert str(error).startswith("2 problems in the data:")
    assert {f.check for f in error.findings} == {"unparseable_timestamp", "missing_value"}


def test_missing_events_table_names_the_near_miss(tmp_path):
    (tmp_path / "event.csv").write_text(HEADER + "u1,2025-01-01,x\n", encoding="utf-8")
    message = str(_raises(tmp_path))
    assert "`events` is required" in message and "did you mean `event.csv`?" in message


def test_two_files_for_one_table_are_ambiguous(tmp_path):
    _events_csv(tmp_path, "u1,2025-01-01,x\n")
    pd.DataFrame({"user_id": ["u"], "event_at": ["2025-01-01"], "event": ["x"]}).to_parquet(
        tmp_path / "events.parquet")
    assert "2 files could be `events` (events.csv, events.parquet)" in str(_raises(tmp_path))


def test_mapping_naming_an_absent_column(tmp_path):
    _events_csv(tmp_path, "u1,2025-01-01,x\n")
    message = str(_raises(tmp_path, mapping={"events": {"uuid": "user_id"}}))
    assert "the mapping renames `uuid`, which is not a column" in message


def test_rating_out_of_range(tmp_path):
    _events_csv(tmp_path, "u1,2025-01-01,x\n")
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,user_id,created_at,satisfaction\nt1,u1,2025-01-01,5\nt2,u1,2025-01-01,7\n",
        encoding="utf-8")
    assert "tickets.satisfaction: 1 of 2 rows are outside the 1-5 scale" in str(_raises(tmp_path))


def test_warnings_are_counted_in_the_report(tmp_path):
    body = ("u1,2025-01-01 10:00,login\nu1,2025-01-01 10:00,login\n"   # exact duplicate
            "u2,2099-01-01,login\n"                                    # future
            "ghost,2025-01-02,login\n")                                # not in users
    _events_csv(tmp_path, body)
    (tmp_path / "users.csv").write_text(
        "user_id,signup_at\nu1,2025-01-01\nu2,2025-01-01\n", encoding="utf-8")
    ds = opskit.load(tmp_path)
    report = ds.report().set_index("check")
    assert set(report["level"]) == {"warning"}
    assert report.loc["duplicate_rows", "rows"] == 1
    assert report.loc["future_timestamp", "rows"] == 1
    assert report.loc["orphan_users", "rows"] == 1
    assert "'ghost'" in report.loc["orphan_users", "message"]
    assert ds.events.count().execute() == 3  # the duplicate was dropped, nothing else


@pytest.mark.parametrize("extra", [
    pytest.param(["x", None, None, "y"], id="text extra with nulls"),
    pytest.param([[1], [2], [2], [3]], id="list extra: no row hash, exact count"),
])
def test_duplicates_are_counted_exactly_with_nulls_and_nested_columns(extra):
    frame = pd.DataFrame({
        "user_id": ["u1", "u2", "u2", "u3"],
        "event_at": ["2025-01-01 10:00", "2025-01-02", "2025-01-02", "2025-01-03"],
        "event": ["login", "view", "view", "login"],
        "page": ["/", None, None, "/a"],
        "note": extra})
    ds = opskit.Dataset.from_frames(events=frame)
    report = ds.report().set_index("check")
    assert report.loc["duplicate_rows", "rows"] == 1
    assert ds.events.count().execute() == 3


def test_rows_equal_but_for_one_column_are_not_duplicates():
    frame = pd.DataFrame({
        "user_id": ["u1", "u1"], "event_at": ["2025-01-01", "2025-01-01"],
        "event": ["login", "login"], "note": ["a", "b"]})
    ds = opskit.Dataset.from_frames(events=frame)
    assert "duplicate_rows" not in set(ds.report()["check"])
    assert ds.events.count().execute() == 2


def test_dataset_without_a_table_names_it():
    ds = opskit.Dataset.from_frames(events=pd.DataFrame(
        {"user_id": ["u"], "event_at": ["2025-01-01"], "event": ["x"]}))
    with pytest.raises(DataError, match="the dataset has no `tickets` table"):
        ds.tickets  # noqa: B018


def test_kpi_on_a_frame_lacking_a_column_names_table_and_column():
    frame = pd.DataFrame({"user_id": ["u"], "event": ["x"]})
    with pytest.raises(DataError) as info:
        opskit.activity.active_users(frame)
    assert info.value.table == "events" and info.value.column == "event_at"


def test_kpi_on_a_frame_with_bad_values_raises_the_same_error():
    frame = pd.DataFrame({"user_id": ["u"], "event": ["x"], "event_at": ["soon"]})
    with pytest.raises(DataError, match="row 1: 'soon'"):
        opskit.activity.active_users(frame)


def test_kpi_on_an_ibis_table_with_text_timestamps_says_how_to_fix_it():
    import ibis

    raw = ibis.memtable({"user_id": ["u"], "event": ["x"], "event_at": ["2025-01-01"]})
    with pytest.raises(DataError, match=r"events\.event_at: is string in this Ibis table") as info:
        opskit.activity.active_users(raw)
    assert "opskit.load" in str(info.value)

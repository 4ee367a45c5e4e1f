"""opskit.load: formats, folders, mappings, encodings, time zones."""

from __future__ import annotations

import gzip
import json

import duckdb
import pandas as pd
import pytest

import opskit
from opskit.errors import DataError

EXPECTED_UTC = pd.to_datetime(["2025-01-05 09:00:00", "2025-01-06 10:30:00",
                               "2025-01-05 23:30:00", "2025-01-07 08:00:00"])


def _write(frame: pd.DataFrame, path, fmt: str) -> None:
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "csv.gz":
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            frame.to_csv(fh, index=False)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "jsonl":
        with open(path, "w", encoding="utf-8") as fh:
            for record in frame.to_dict("records"):
                fh.write(json.dumps({k: (None if v != v else v) for k, v in record.items()},
                                    ensure_ascii=False) + "\n")
    elif fmt == "xlsx":
        frame.to_excel(path, index=False)


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet", "jsonl", "xlsx"])
def test_each_file_format_loads_the_same_table(tmp_path, events_frame, users_frame, fmt):
    _write(events_frame, tmp_path / f"events.{fmt}", fmt)
    _write(users_frame, tmp_path / f"users.{fmt}", fmt)
    ds = opskit.load(tmp_path)
    events = ds.to_pandas("events")
    assert list(events.columns) == ["user_id", "event_at", "event", "revenue"]
    assert events["event_at"].dtype == "datetime64[ns]"
    assert events["event_at"].tolist() == EXPECTED_UTC.tolist()
    assert events["revenue"].tolist()[3] == 99.0
    assert events["revenue"].isna().sum() == 3
    users = ds.to_pandas("users")
    assert users["segment"].tolist() == ["b2b", "b2c"]  # segment labels are lower-cased
    assert users["channel"].tolist() == ["微信", "百度搜索"]
    assert ds.sources["events"] == f"events.{fmt}"


def test_single_file_is_taken_as_events(tmp_path, events_frame):
    path = tmp_path / "export_2025_01.csv"
    events_frame.to_csv(path, index=False)
    ds = opskit.load(path)
    assert list(ds) == ["events"]
    assert ds.events.count().execute() == 4


def test_folder_of_parquet_parts(tmp_path, events_frame):
    (tmp_path / "events").mkdir()
    events_frame.iloc[:2].to_parquet(tmp_path / "events" / "part-0.parquet")
    events_frame.iloc[2:].to_parquet(tmp_path / "events" / "part-1.parquet")
    ds = opskit.load(tmp_path)
    assert sorted(ds.to_pandas("events")["event_at"]) == sorted(EXPECTED_UTC)


def test_duckdb_database_file(tmp_path, events_frame, users_frame):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.register("e", events_frame)
        con.register("u", users_frame)
        con.execute("CREATE TABLE events AS SELECT * FROM e")
        con.execute("CREATE TABLE users AS SELECT * FROM u")
        con.execute("CREATE TABLE unrelated AS SELECT 1 AS x")
    ds = opskit.load(path)
    assert list(ds) == ["users", "events"]
    assert ds.to_pandas("events")["event_at"].tolist() == EXPECTED_UTC.tolist()


def test_ibis_backend_connection_is_used_in_place(events_frame):
    import ibis

    con = ibis.duckdb.connect()
    con.create_table("events", ibis.memtable(events_frame))
    ds = opskit.load(con)
    assert ds.backend is con
    assert ds.to_pandas("events")["event_at"].tolist() == EXPECTED_UTC.tolist()


def test_extra_columns_and_extra_tables_are_kept(tmp_path, events_frame):
    platform = ["ios", "web", "ios", "android"]
    events_frame.assign(platform=platform).to_csv(tmp_path / "events.csv", index=False)
    pd.DataFrame({"campaign": ["双十一"], "budget": [1000]}).to_csv(tmp_path / "campaigns.csv", index=False)
    ds = opskit.load(tmp_path)
    assert ds.to_pandas("events")["platform"].tolist() == ["ios", "web", "ios", "android"]
    assert ds.to_pandas("campaigns")["campaign"].tolist() == ["双十一"]


def test_mapping_argument_and_opskit_toml(tmp_path, events_frame):
    raw = events_frame.rename(columns={"user_id": "uid", "event_at": "ts"})
    raw.to_csv(tmp_path / "events.csv", index=False)
    ds = opskit.load(tmp_path, mapping={"events": {"uid": "user_id", "ts": "event_at"}})
    assert ds.to_pandas("events")["user_id"].tolist() == ["u1", "u1", "u2", "u2"]
    (tmp_path / "opskit.toml").write_text(
        'timezone = "Asia/Shanghai"\n[meta]\ncurrency = "CNY"\n'
        '[mapping.events]\nuid = "user_id"\nts = "event_at"\n', encoding="utf-8")
    ds = opskit.load(tmp_path)
    assert ds.meta["currency"] == "CNY"
    # the toml's zone applies: 09:00 in Shanghai is 01:00 UTC
    assert ds.to_pandas("events")["event_at"].iloc[0] == pd.Timestamp("2025-01-05 01:00:00")


def test_column_names_match_case_and_spaces(tmp_path, events_frame):
    events_frame.rename(columns={"user_id": " User_ID ", "event": "EVENT"}).to_csv(
        tmp_path / "events.csv", index=False)
    assert opskit.load(tmp_path).events.columns[:3] == ("user_id", "event_at", "event")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings(tmp_path, encoding):
    text = ("user_id,event_at,event,page\n用户1,2025-01-05 09:00,浏览,首页\n"
            "用户2,2025-01-05 10:00,购买,结算页·支付\n")
    if encoding == "gbk":
        text = text.replace("·", "-")  # the middle dot is outside GBK
    (tmp_path / "events.csv").write_bytes(text.encode(encoding))
    events = opskit.load(tmp_path).to_pandas("events")
    assert events["user_id"].tolist() == ["用户1", "用户2"]
    assert events["event"].tolist() == ["浏览", "购买"]
    assert events["page"].iloc[0] == "首页"


def test_gbk_gzipped_csv(tmp_path):
    text = "user_id,event_at,event\n张三,2025/01/05 09:00,登录\n"
    (tmp_path / "events.csv.gz").write_bytes(gzip.compress(text.encode("gbk")))
    events = opskit.load(tmp_path).to_pandas("events")
    assert events["user_id"].tolist() == ["张三"]


def test_undecodable_file_is_a_data_error(tmp_path):
    (tmp_path / "events.csv").write_bytes(b"user_id,event_at,event\n\xff\xfe\xfa\x80,x,y\n")
    with pytest.raises(DataError, match="neither UTF-8 nor GBK"):
        opskit.load(tmp_path)


@pytest.mark.parametrize(("value", "expected"), [
    ("2024-01-05 13:00:00", "2024-01-05 05:00:00"),
    ("2024-01-05T13:00:00", "2024-01-05 05:00:00"),
    ("2024/01/05 13:00", "2024-01-05 05:00:00"),
    ("2024/1/5", "2024-01-04 16:00:00"),
    ("2024.01.05", "2024-01-04 16:00:00"),
    ("20240105", "2024-01-04 16:00:00"),
    ("2024年1月5日", "2024-01-04 16:00:00"),
    ("2024-01-05T13:00:00Z", "2024-01-05 13:00:00"),         # aware: zone argument ignored
    ("2024-01-05 13:00:00+08:00", "2024-01-05 05:00:00"),
    ("2024-01-05T13:00:00-05:00", "2024-01-05 18:00:00"),
    ("1704459600", "2024-01-05 13:00:00"),                   # epoch seconds are UTC
    ("1704459600000", "2024-01-05 13:00:00"),                # epoch milliseconds
])
def test_timestamp_text_and_timezone(value, expected):
    frame = pd.DataFrame({"user_id": ["u"], "event": ["e"], "event_at": [value]})
    ds = opskit.Dataset.from_frames(events=frame, timezone="Asia/Shanghai")
    assert ds.to_pandas("events")["event_at"].iloc[0] == pd.Timestamp(expected)


@pytest.mark.parametrize(("values", "expected"), [
    ([1704459600, 1704546000], ["2024-01-05 13:00", "2024-01-06 13:00"]),          # epoch s
    ([1704459600123, 1704546000000], ["2024-01-05 13:00:00.123", "2024-01-06 13:00"]),  # epoch ms
    ([45296.5, 45297.0], ["2024-01-05 12:00", "2024-01-06 00:00"]),                 # Excel serial
])
def test_numeric_timestamps(values, expected):
    frame = pd.DataFrame({"user_id": ["u", "v"], "event": ["e", "e"], "event_at": values})
    got = opskit.Dataset.from_frames(events=frame).to_pandas("events")["event_at"]
    assert got.tolist() == pd.to_datetime(expected, format="ISO8601").tolist()


def test_aware_and_naive_datetime_columns():
    aware = pd.DataFrame({"user_id": ["u"], "event": ["e"],
                          "event_at": pd.to_datetime(["2025-01-05 09:00"]).tz_localize("Asia/Shanghai")})
    naive = aware.assign(event_at=pd.to_datetime(["2025-01-05 09:00"]))
    got_aware = opskit.Dataset.from_frames(events=aware, timezone="America/New_York")
    got_naive = opskit.Dataset.from_frames(events=naive, timezone="America/New_York")
    assert got_aware.to_pandas("events")["event_at"].iloc[0] == pd.Timestamp("2025-01-05 01:00")
    assert got_naive.to_pandas("events")["event_at"].iloc[0] == pd.Timestamp("2025-01-05 14:00")


def test_excel_serial_dates_in_an_xlsx(tmp_path):
    frame = pd.DataFrame({"user_id": ["u1"], "event_at": [45296.25], "event": ["login"]})
    frame.to_excel(tmp_path / "events.xlsx", index=False)
    got = opskit.load(tmp_path).to_pandas("events")["event_at"].iloc[0]
    assert got == pd.Timestamp("2024-01-05 06:00")


def test_numbers_with_separators_and_currency(tmp_path):
    (tmp_path / "events.csv").write_text("user_id,event_at,event\nu1,2025-01-01,x\n", encoding="utf-8")
    (tmp_path / "spend.csv").write_text(
        'date,channel,cost,clicks\n2025/01/01,微信,"¥1,234.50",10\n2025-01-02,微信,$7,\n', encoding="utf-8")
    spend = opskit.load(tmp_path).to_pandas("spend")
    assert spend["cost"].tolist() == [1234.5, 7.0]
    assert spend["date"].tolist() == pd.to_datetime(["2025-01-01", "2025-01-02"]).tolist()
    assert spend["clicks"].iloc[1] != spend["clicks"].iloc[1]  # empty stays missing


def test_ids_keep_leading_zeros(tmp_path):
    (tmp_path / "events.csv").write_text(
        "user_id,event_at,event\n007,2025-01-01,x\n8,2025-01-01,x\n", encoding="utf-8")
    assert opskit.load(tmp_path).to_pandas("events")["user_id"].tolist() == ["007", "8"]


def test_bool_and_rating_columns():
    frame = pd.DataFrame({"opportunity_id": ["o1", "o2", "o3"], "account_id": ["a"] * 3,
                          "created_at": ["2025-01-01"] * 3, "stage": ["won", "lost", "open"],
                          "won": ["是", "false", None]})
    events = pd.DataFrame({"user_id": ["u"], "event_at": ["2025-01-01"], "event": ["x"]})
    ds = opskit.Dataset.from_frames(events=events, opportunities=frame)
    assert ds.to_pandas("opportunities")["won"].tolist()[:2] == [True, False]


def test_unknown_timezone_is_named_with_suggestions(events_frame):
    with pytest.raises(ValueError, match="did you mean Asia/Shanghai"):
        opskit.Dataset.from_frames(events=events_frame, timezone="Asia/Shangai")

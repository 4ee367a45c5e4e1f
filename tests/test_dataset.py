"""opskit.Dataset: access, summary, report."""

from __future__ import annotations

import pandas as pd
import pytest

import opskit


@pytest.fixture
def ds(events_frame, users_frame) -> opskit.Dataset:
    return opskit.Dataset.from_frames(events=events_frame, users=users_frame, meta={"currency": "CNY"})


def test_tables_by_attribute_and_key(ds):
    assert ds.events is ds["events"]
    assert list(ds) == ["users", "events"] and len(ds) == 2
    assert "events" in ds and "tickets" not in ds
    assert ds.get("tickets") is None and ds.get("events") is ds.events
    assert ds.meta == {"currency": "CNY"}
    assert repr(ds) == "<opskit.Dataset: users (2 rows), events (4 rows)>"


def test_unknown_attribute_is_an_attribute_error(ds):
    with pytest.raises(AttributeError):
        ds.not_a_table  # noqa: B018


def test_summary_counts_rows_and_time_range(ds):
    summary = ds.summary().set_index("table")
    assert summary.loc["events", "rows"] == 4
    assert summary.loc["events", "first"] == pd.Timestamp("2025-01-05 09:00")
    assert summary.loc["events", "last"] == pd.Timestamp("2025-01-07 08:00")
    assert summary.loc["users", "columns"] == 4


def test_report_is_empty_for_clean_data(ds):
    assert ds.report().empty
    assert ds.report().columns.tolist() == ["table", "column", "level", "check", "rows", "message"]


def test_require_names_the_missing_column(ds):
    assert ds.require("events", ["user_id"]) is ds.events
    with pytest.raises(opskit.DataError, match="needs `events` column\\(s\\) `session_id`"):
        ds.require("events", ["user_id", "session_id"])


def test_from_frames_needs_events(users_frame):
    with pytest.raises(opskit.DataError, match="`events` is required"):
        opskit.Dataset.from_frames(users=users_frame)

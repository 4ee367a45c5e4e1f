"""opskit.schema: the contract as data, and 'did you mean'."""

from __future__ import annotations

from opskit.schema import TABLES, closest_column


def test_the_nine_tables_and_their_required_columns():
    assert {name: spec.required for name, spec in TABLES.items()} == {
        "users": ["user_id", "signup_at"],
        "events": ["user_id", "event_at", "event"],
        "touchpoints": ["user_id", "touched_at", "channel"],
        "conversions": ["user_id", "converted_at"],
        "spend": ["date", "channel", "cost"],
        "subscriptions": ["account_id", "started_at", "mrr"],
        "opportunities": ["opportunity_id", "account_id", "created_at", "stage"],
        "tickets": ["ticket_id", "user_id", "created_at"],
        "targets": ["metric", "period_start", "period_end", "target"],
    }


def test_closest_column_prefers_known_synonyms_then_spelling():
    assert closest_column("user_id", ["UID", "time"]) == "UID"
    assert closest_column("user_id", ["用户ID", "时间"]) == "用户ID"
    assert closest_column("event_at", ["evnt_at"]) == "evnt_at"
    assert closest_column("cost", ["花费", "channel"]) == "花费"
    assert closest_column("signup_at", ["zzz"]) is None

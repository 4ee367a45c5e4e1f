"""The data contract: canonical tables, their columns and the rules they obey.

Every table is optional except ``events``. A column's *kind* decides how it is
coerced on load and which checks apply to it:

========== ===========================================================
kind       meaning
========== ===========================================================
id         identifier, stored as a string (``123`` becomes ``"123"``)
text       label, stored as a trimmed string
timestamp  instant, stored as a tz-naive UTC timestamp
date       calendar day, stored as a date (no time-zone conversion)
money      amount in the dataset's currency, float, never negative
count      non-negative quantity (clicks, seconds), float
number     any float (a target may be a rate or a count)
bool       true/false (also 1/0, yes/no, 是/否)
rating     satisfaction score from 1 to 5
========== ===========================================================
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

__all__ = ["COLUMN_SYNONYMS", "ORDERED_PAIRS", "TABLES", "Column", "TableSpec", "closest_column"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool = False
    doc: str = ""


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    doc: str = ""

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


def _t(name: str, doc: str, *cols: tuple) -> TableSpec:
    return TableSpec(name, tuple(Column(*c) for c in cols), doc)


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in [
        _t("users", "one row per user",
           ("user_id", "id", True), ("signup_at", "timestamp", True),
           ("segment", "text"), ("account_id", "id"), ("channel", "text"),
           ("country", "text"), ("company_size", "text"), ("industry", "text"),
           ("plan", "text")),
        _t("events", "one row per thing a user did",
           ("user_id", "id", True), ("event_at", "timestamp", True), ("event", "text", True),
           ("revenue", "money"), ("session_id", "id"), ("page", "text"),
           ("duration_s", "count")),
        _t("touchpoints", "one row per marketing touch",
           ("user_id", "id", True), ("touched_at", "timestamp", True), ("channel", "text", True),
           ("campaign", "text"), ("source", "text"), ("medium", "text"),
           ("interaction", "text")),
        _t("conversions", "one row per conversion",
           ("user_id", "id", True), ("converted_at", "timestamp", True),
           ("value", "money"), ("kind", "text")),
        _t("spend", "marketing cost per day and channel",
           ("date", "date", True), ("channel", "text", True), ("cost", "money", True),
           ("campaign", "text"), ("impressions", "count"), ("clicks", "count")),
        _t("subscriptions", "intervals of constant MRR per account",
           ("account_id", "id", True), ("started_at", "timestamp", True), ("mrr", "money", True),
           ("ended_at", "timestamp"), ("plan", "text"), ("user_id", "id")),
        _t("opportunities", "B2B sales opportunities",
           ("opportunity_id", "id", True), ("account_id", "id", True),
           ("created_at", "timestamp", True), ("stage", "text", True),
           ("closed_at", "timestamp"), ("won", "bool"), ("amount", "money")),
        _t("tickets", "support tickets",
           ("ticket_id", "id", True), ("user_id", "id", True), ("created_at", "timestamp", True),
           ("first_response_at", "timestamp"), ("resolved_at", "timestamp"),
           ("satisfaction", "rating")),
        _t("targets", "targets for headline metrics",
           ("metric", "text", True), ("period_start", "date", True),
           ("period_end", "date", True), ("target", "number", True), ("segment", "text")),
    ]
}

#: (table, earlier column, later column): the later one may not precede the earlier.
ORDERED_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("subscriptions", "started_at", "ended_at"),
    ("opportunities", "created_at", "closed_at"),
    ("tickets", "created_at", "first_response_at"),
    ("tickets", "created_at", "resolved_at"),
    ("targets", "period_start", "period_end"),
)

#: Column names often found in exports, by the canonical name they stand for.
COLUMN_SYNONYMS: dict[str, tuple[str, ...]] = {
    "user_id": ("uid", "userid", "user", "member_id", "customer_id", "distinct_id",
                "用户id", "用户ID", "用户编号", "会员id"),
    "event_at": ("ts", "time", "timestamp", "event_time", "datetime", "created_at",
                 "occurred_at", "时间", "事件时间"),
    "event": ("event_name", "event_type", "action", "name", "事件", "事件名称", "行为"),
    "signup_at": ("registered_at", "register_time", "created_at", "signup_time",
                  "signup_date", "注册时间"),
    "touched_at": ("ts", "time", "timestamp", "touch_time", "clicked_at", "时间"),
    "converted_at": ("ts", "time", "timestamp", "conversion_time", "order_time",
                     "paid_at", "下单时间", "支付时间"),
    "channel": ("utm_source", "source", "channel_name", "渠道", "渠道名称"),
    "cost": ("spend", "amount", "cost_cny", "花费", "消耗", "费用"),
    "date": ("day", "dt", "ds", "日期"),
    "account_id": ("company_id", "org_id", "tenant_id", "customer_id", "企业id", "账户id"),
    "mrr": ("monthly_revenue", "mrr_amount", "月收入"),
    "started_at": ("start", "start_date", "begin_at", "开始时间"),
    "value": ("revenue", "amount", "order_value", "金额"),
}


def closest_column(wanted: str, found: list[str]) -> str | None:
    """The column in ``found`` most likely meant as ``wanted``, if any.

    Known synonyms win (``uid`` for ``user_id``); otherwise the closest
    spelling by :func:`difflib.get_close_matches`.

    Examples
    --------
    >>> closest_column("user_id", ["uid", "ts", "event"])
    'uid'
    >>> closest_column("event_at", ["user_id", "event_ts", "event"])
    'event_ts'
    """
    lowered = {c.lower(): c for c in found}
    for synonym in COLUMN_SYNONYMS.get(wanted, ()):
        if synonym.lower() in lowered:
            return lowered[synonym.lower()]
    match = difflib.get_close_matches(wanted.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None

"""Assembly: the generator's arrays into the nine documented DataFrames.

Ids are numbered in time order, codes become labels through the
vocabularies, seconds after ``start`` become ``datetime64[us]``, and each
table is sorted by its time column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from opskit.demo._calendar import _DAY, _NAT, _Calendar
from opskit.demo._vocab import (
    _B2B_PLANS,
    _B2C_PLANS,
    _CAMPAIGNS,
    _CHANNELS,
    _COUNTRIES,
    _EVENTS,
    _INDUSTRIES,
    _KINDS,
    _PAGES,
    _SIZES,
    _STAGES,
)

__all__ = ["_frames"]


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    text = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width=width,
                        padding="0")
    return pc.binary_join_element_wise(prefix, text, "")


def _strings(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    return pd.Series(pd.array(values, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))


def _labels(vocab: tuple[str, ...] | list[str], codes: np.ndarray) -> pd.Series:
    """Codes (``-1`` = null) into a string column."""
    codes = np.asarray(codes)
    mask = codes < 0
    taken = pc.take(pa.array(list(vocab), pa.string()),
                    pa.array(np.where(mask, 0, codes), mask=mask))
    return _strings(taken)


def _ts(cal: _Calendar, t: np.ndarray) -> np.ndarray:
    """Seconds after start (``_NAT`` = missing) as ``datetime64[us]``."""
    t = np.asarray(t, np.int64)
    out = (cal.start + t.astype("timedelta64[s]")).astype("datetime64[us]")
    out[t == _NAT] = np.datetime64("NaT")
    return out


def _frames(u: dict, cal: _Calendar, money: dict, ses: dict, ev: dict, tp: dict, sp: dict,
            tk: dict, tg: dict) -> dict[str, pd.DataFrame]:
    n = len(u["b2b"])
    width = max(7, len(str(n)))
    order = np.argsort(u["signup"], kind="stable")
    number = np.empty(n, np.int64)
    number[order] = np.arange(1, n + 1)
    uid = _ids("u", number, width)
    n_acc = len(u["acc_admin"])
    acc_number = np.empty(n_acc, np.int64)
    acc_number[np.argsort(u["signup"][u["acc_admin"]], kind="stable")] = np.arange(1, n_acc + 1)
    acc_ids = _ids("a", acc_number, max(5, len(str(n_acc))))
    account = pc.if_else(pa.array(u["b2b"]), pc.take(acc_ids, pa.array(np.maximum(u["account"], 0))),
                         _ids("p", number, width))
    b2b_acc = np.where(u["b2b"], u["account"], -1)

    def ids(idx: np.ndarray) -> pd.Series:
        return _strings(pc.take(uid, pa.array(idx)))

    def accounts(idx: np.ndarray) -> pd.Series:
        return _strings(pc.take(account, pa.array(idx)))

    rows = money["rows"]
    active = rows["end"] >= cal.end
    owner_plan = np.full(n, -1)
    owner_plan[rows["user"][active]] = rows["plan"][active]
    owner = np.where(u["b2b"], u["acc_admin"][np.maximum(u["account"], 0)], np.arange(n))
    plan_now = owner_plan[owner]
    plans = (*_B2C_PLANS, *_B2B_PLANS, "Free")
    users = pd.DataFrame({
        "user_id": ids(order),
        "signup_at": _ts(cal, u["signup"][order]),
        "segment": _labels(("b2c", "b2b"), u["b2b"][order].astype(int)),
        "account_id": accounts(order),
        "channel": _labels([c.name for c in _CHANNELS], u["channel"][order]),
        "country": _labels(_COUNTRIES, u["country"][order]),
        "company_size": _labels(_SIZES, np.where(b2b_acc >= 0, u["acc_size"][b2b_acc], -1)[order]),
        "industry": _labels(_INDUSTRIES,
                            np.where(b2b_acc >= 0, u["acc_industry"][b2b_acc], -1)[order]),
        "plan": _labels(plans, np.where(plan_now < 0, len(plans) - 1, plan_now)[order]),
    })

    o = np.argsort(ev["t"], kind="stable")
    sess = ev["session"][o]
    events = pd.DataFrame({
        "user_id": ids(ev["user"][o]),
        "event_at": _ts(cal, ev["t"][o]),
        "event": _labels(_EVENTS, ev["kind"][o]),
        "revenue": ev["revenue"][o],
        "session_id": _strings(pc.if_else(pa.array(sess < 0), pa.scalar(None, pa.string()),
                                          _ids("s", sess + 1, max(7, len(str(len(ses["t"]))))))),
        "page": _labels(_PAGES, ev["page"][o]),
        "duration_s": ev["duration"][o],
    })

    o = np.argsort(tp["t"], kind="stable")
    touchpoints = pd.DataFrame({
        "user_id": ids(tp["user"][o]),
        "touched_at": _ts(cal, tp["t"][o]),
        "channel": _labels([c.name for c in _CHANNELS], tp["channel"][o]),
        "campaign": _labels([c[1] for c in _CAMPAIGNS], tp["campaign"][o]),
        "source": _labels(tp["sources"], tp["source"][o]),
        "medium": _labels([c.medium for c in _CHANNELS], tp["channel"][o]),
        "interaction": _labels(("impression", "click", "visit"), tp["interaction"][o]),
    })

    cv = money["conv"]
    o = np.argsort(cv["t"], kind="stable")
    conversions = pd.DataFrame({
        "user_id": ids(cv["user"][o]),
        "converted_at": _ts(cal, cv["t"][o]),
        "value": cv["value"][o].astype(float),
        "kind": _labels(_KINDS, cv["kind"][o]),
    })

    o = np.lexsort((sp["campaign"], sp["channel"], sp["day"]))
    spend = pd.DataFrame({
        "date": _ts(cal, sp["day"][o] * _DAY),
        "channel": _labels([c.name for c in _CHANNELS], sp["channel"][o]),
        "cost": sp["cost"][o],
        "campaign": _labels([c[1] for c in _CAMPAIGNS], sp["campaign"][o]),
        "impressions": sp["impressions"][o],
        "clicks": sp["clicks"][o],
    })

    # "a..." (B2B) sorts before "p..." (B2C); both are zero-padded numbers
    acc_key = np.where(u["b2b"], acc_number[np.maximum(u["account"], 0)], n_acc + number)
    o = np.lexsort((rows["start"], acc_key[rows["user"]]))
    subscriptions = pd.DataFrame({
        "account_id": accounts(rows["user"][o]),
        "started_at": _ts(cal, rows["start"][o]),
        "mrr": rows["mrr"][o].astype(float),
        "ended_at": _ts(cal, np.where(rows["end"] >= cal.end, _NAT, rows["end"])[o]),
        "plan": _labels(plans, rows["plan"][o]),
        "user_id": ids(rows["user"][o]),
    })

    op = money["opps"]
    o = np.argsort(op["created"], kind="stable")
    won = pd.array(np.where(op["won"] == 1, True, False)[o], dtype="boolean")
    won[op["won"][o] < 0] = pd.NA
    opportunities = pd.DataFrame({
        "opportunity_id": _strings(_ids("o", np.arange(1, len(o) + 1), max(6, len(str(len(o)))))),
        "account_id": accounts(u["acc_admin"][op["account"][o]]),
        "created_at": _ts(cal, op["created"][o]),
        "stage": _labels(_STAGES, op["stage"][o]),
        "closed_at": _ts(cal, op["closed"][o]),
        "won": won,
        "amount": op["amount"][o].astype(float),
    })

    n_t = len(tk["user"])
    tickets = pd.DataFrame({
        "ticket_id": _strings(_ids("t", np.arange(1, n_t + 1), max(6, len(str(n_t))))),
        "user_id": ids(tk["user"]),
        "created_at": _ts(cal, tk["created"]),
        "first_response_at": _ts(cal, tk["first"]),
        "resolved_at": _ts(cal, tk["resolved"]),
        "satisfaction": tk["satisfaction"],
    })

    targets = pd.DataFrame({
        "metric": _strings(pa.array(tg["metric"], pa.string())),
        "period_start": _ts(cal, np.array(tg["start"], np.int64)),
        "period_end": _ts(cal, np.array(tg["end"], np.int64) - _DAY),  # inclusive last day
        "target": np.array(tg["target"], float),
        "segment": _strings(pa.array(tg["segment"], pa.string())),
    })
    return {"users": users, "events": events, "touchpoints": touchpoints,
            "conversions": conversions, "spend": spend, "subscriptions": subscriptions,
            "opportunities": opportunities, "tickets": tickets, "targets": targets}

"""Shared fixtures: tiny exports whose numbers can be checked by hand."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture
def events_frame() -> pd.DataFrame:
    """Four events of two users; times are naive wall-clock strings."""
    return pd.DataFrame({
        "user_id": ["u1", "u1", "u2", "u2"],
        "event_at": ["2025-01-05 09:00:00", "2025-01-06 10:30:00",
                     "2025-01-05 23:30:00", "2025-01-07 08:00:00"],
        "event": ["login", "view", "login", "purchase"],
        "revenue": [None, None, None, 99.0],
    })


@pytest.fixture
def users_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": ["u1", "u2"],
        "signup_at": ["2025-01-05 08:00:00", "2025-01-05 23:00:00"],
        "segment": ["B2B", "b2c"],
        "channel": ["微信", "百度搜索"],
    })

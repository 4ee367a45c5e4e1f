"""Narrative: findings as sentences in English or Chinese, from numbers opskit computed.

The functions read the tidy frames the KPI functions return (or plain
numbers) and word what they show; they compare and format, they do not
compute metrics. Each returns a list of :class:`Sentence` (text and a
severity), and :func:`to_markdown` turns them into a Markdown list with every
Markdown and HTML special character escaped, so that a channel called
``<img src=x onerror=...>`` reaches a report as text.

Number formatting (both languages)
----------------------------------
- **Rates** (:func:`fmt_pct`) are given as fractions (0.65) and written as
  whole percents from 10 % to 99 % (``65 %``), with one decimal below 10 %
  and above 99 % (``7.8 %``, ``99.5 %``); exactly 0 and 1 are ``0 %`` and
  ``100 %``; a value that would round to 0 or 100 but is not is written
  ``<0.1 %`` or ``>99.9 %``. Halves round up (70.5 % is ``71 %``), on the
  shortest decimal form of the number (0.705 is 70.5 %). English puts a space before ``%`` (as the docs
  do), Chinese does not (``65%``).
- **Differences of rates** (:func:`fmt_points`) are percentage points, one
  decimal below 10 points without a trailing ``.0`` (``5 points``,
  ``0.4 points``, ``1 point``; ``5 个百分点``).
- **Ratios** (:func:`fmt_ratio`): one decimal below 10, whole above
  (``9.5x``, ``12x``; ``9.5 倍``).
- **Counts**: thousands separators (``1,234``) in both languages.
- **Periods**: weeks by their Monday (``the week of 2025-07-07``,
  ``2025-07-07 当周``), months as ``July 2025`` / ``2025 年 7 月``, days as
  ISO dates.

A change between two rates is called significant only when their 95 %
confidence intervals do not overlap (a conservative test), unless the caller
passes its own ``significant`` flag.
"""

from __future__ import annotations

from opskit.narrative._attribution import attribution_findings, model_name
from opskit.narrative._business import business_findings, comparison_table, metric_name
from opskit.narrative._core import (
    LANGS,
    Sentence,
    column_name,
    escape_markdown,
    fmt_count,
    fmt_money,
    fmt_pct,
    fmt_period,
    fmt_points,
    fmt_ratio,
    heading,
    section,
    table,
    text,
    to_markdown,
)
from opskit.narrative._retention import (
    churn_alerts,
    curve_gap,
    headline,
    new_vs_returning,
    rule_text,
    segment_churn,
)
from opskit.narrative._review import key_number_table, next_steps, review_findings

__all__ = [
    "LANGS",
    "Sentence",
    "attribution_findings",
    "business_findings",
    "churn_alerts",
    "column_name",
    "comparison_table",
    "curve_gap",
    "escape_markdown",
    "fmt_count",
    "fmt_money",
    "fmt_pct",
    "fmt_period",
    "fmt_points",
    "fmt_ratio",
    "heading",
    "headline",
    "key_number_table",
    "metric_name",
    "model_name",
    "new_vs_returning",
    "next_steps",
    "review_findings",
    "rule_text",
    "section",
    "segment_churn",
    "table",
    "text",
    "to_markdown",
]

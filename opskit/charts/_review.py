"""Review charts: weekly KPI series with their normal range and the weeks that left it."""

from __future__ import annotations

import altair as alt
import pandas as pd

from opskit.charts._base import ALERT_COLOR, PALETTE, _require, _with_title

__all__ = ["anomaly_lines"]

_WORDS = {
    "en": {"period": "Week", "value": "Value", "range": "Normal range", "series": "Series",
           "anomaly": "Outside the normal range", "churn_rate": "Paying-account churn",
           "tickets": "Support tickets", "active_users": "Daily active users (weekly mean)"},
    "zh": {"period": "周", "value": "数值", "range": "正常范围", "series": "指标",
           "anomaly": "超出正常范围", "churn_rate": "付费账户流失率", "tickets": "客服工单数",
           "active_users": "日活跃用户（周均值）"},
}


def anomaly_lines(series: pd.DataFrame, *, lang: str = "en", title: str | None = None) -> alt.FacetChart:
    """One small chart per series: its weekly values, the normal range and the flagged weeks.

    ``series`` is :func:`opskit.review.weekly_anomalies` with ``flagged_only=False``
    (columns ``series``, ``metric``, ``group``, ``period``, ``value``,
    ``expected_low``, ``expected_high``, ``anomaly``). Each series has its own
    y scale.

    Examples
    --------
    >>> frame = pd.DataFrame({"series": ["tickets"] * 3, "metric": ["tickets"] * 3, "group": [""] * 3,
    ...     "period": pd.date_range("2025-07-07", periods=3, freq="W-MON"), "value": [118.0, 60, 64],
    ...     "expected_low": [47.0, 50, 49], "expected_high": [79.0, 80, 81],
    ...     "anomaly": [True, False, False]})
    >>> anomaly_lines(frame).to_dict()["facet"]["row"]["field"]
    'label'
    """
    if lang not in _WORDS:
        raise ValueError(f"lang must be 'en' or 'zh', not {lang!r}")
    words = _WORDS[lang]
    _require(series, ["series", "metric", "group", "period", "value", "expected_low", "expected_high",
                      "anomaly"], "series")
    data = series[["metric", "group", "period", "value", "expected_low", "expected_high",
                   "anomaly"]].dropna(subset=["value"]).copy()
    # a one-sided rule has no bound on its other side: the band then ends at the value itself
    data["expected_low"] = data["expected_low"].fillna(data["value"])
    data["expected_high"] = data["expected_high"].fillna(data["value"])
    data["label"] = [f"{words.get(m, m)} {g}".strip() for m, g in zip(data["metric"], data["group"],
                                                                       strict=True)]
    data["week"] = pd.to_datetime(data["period"]).dt.strftime("%Y-%m-%d")
    x = alt.X("week:O", title=words["period"], axis=alt.Axis(labelAngle=-45))
    tips = [alt.Tooltip("label:N", title=words["series"]), alt.Tooltip("week:O", title=words["period"]),
            alt.Tooltip("value:Q", title=words["value"], format=",.3~f"),
            alt.Tooltip("expected_low:Q", title=words["range"], format=",.3~f"),
            alt.Tooltip("expected_high:Q", title=words["range"], format=",.3~f")]
    band = alt.Chart().mark_area(opacity=0.15, color=PALETTE[0]).encode(
        x=x, y=alt.Y("expected_low:Q", title=words["value"]), y2="expected_high:Q")
    line = alt.Chart().mark_line(point=True, color=PALETTE[0]).encode(x=x, y="value:Q", tooltip=tips)
    # every point drawn, only flagged ones visible: a filtered layer would be empty in a
    # series without flags, and Vega warns about the empty extent
    flags = alt.Chart().mark_point(size=90, filled=True, color=ALERT_COLOR).encode(
        x=x, y="value:Q", tooltip=tips,
        opacity=alt.condition(alt.datum.anomaly, alt.value(1.0), alt.value(0.0)))
    chart = alt.layer(band, line, flags, data=data).properties(width=520, height=140).facet(
        row=alt.Row("label:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left"))
    ).resolve_scale(y="independent")
    return _with_title(chart, title)

"""The house theme, labels and presentation helpers shared by every chart module."""


from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

#: Font stack of every text in a chart: common CJK fonts first (Linux, macOS, Windows), Latin fallback.
FONT = ('"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", '
        '"WenQuanYi Micro Hei", sans-serif')

#: Categorical palette: muted, distinguishable, colour-blind-friendlier first pairs.
PALETTE = ("#3E6FA8", "#E08E45", "#5E9E6E", "#B5577B", "#7B6BA8", "#4AA3A2", "#C9A53A",
           "#8C6D5A", "#8A96A3", "#D46A6A", "#2F4858", "#9BBF4B")

#: Colour of alert points (churn spikes).
ALERT_COLOR = "#C8372D"

_INK, _MUTED, _GRID = "#2B2F36", "#6B7380", "#E8EBF0"
_HEAT = ("#F2F6FB", "#1F4E79")  # low -> high retention
_BAND_OPACITY = 0.18
_INCOMPLETE_OPACITY = 0.35

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "cohort": "Cohort", "period": "Period", "cohort_size": "Cohort size", "retained": "Retained",
        "rate": "Retention", "ci_low": "95 % CI low", "ci_high": "95 % CI high",
        "status": "Cell", "complete": "complete", "incomplete": "period not over yet",
        "day": "Day", "eligible": "Users (day observable)", "cohorts": "Cohorts",
        "segment": "Segment", "channel": "Channel", "window": "Window", "group": "Users",
        "churn_rate": "Churn rate", "baseline": "Normal (trailing median)", "churned": "Churned",
        "active_start": "Active at start", "alert": "Alert: abnormal churn", "rule": "Rule",
        "series": "Series", "new": "New users", "returning": "Returning users",
        "active_users": "Active users",
        "period_day": "Days since start", "period_week": "Weeks since start",
        "period_month": "Months since start",
        "time_day": "Day", "time_week": "Week", "time_month": "Month", "time": "Period",
    },
    "zh": {
        "cohort": "同期群", "period": "周期", "cohort_size": "同期群人数", "retained": "留存人数",
        "rate": "留存率", "ci_low": "95% 置信下限", "ci_high": "95% 置信上限",
        "status": "单元格", "complete": "完整", "incomplete": "周期未结束",
        "day": "天", "eligible": "可观察用户数", "cohorts": "同期群数",
        "segment": "用户类型", "channel": "渠道", "window": "时间窗口", "group": "用户",
        "churn_rate": "流失率", "baseline": "正常水平（滚动中位数）", "churned": "流失人数",
        "active_start": "期初活跃人数", "alert": "异常：流失偏高", "rule": "规则",
        "series": "指标", "new": "新用户", "returning": "老用户",
        "active_users": "活跃用户数",
        "period_day": "开始后第几天", "period_week": "开始后第几周", "period_month": "开始后第几月",
        "time_day": "日期", "time_week": "周", "time_month": "月份", "time": "周期",
    },
}


@alt.theme.register("opskit", enable=True)
def theme() -> alt.theme.ThemeConfig:
    """The opskit house theme (registered and enabled when :mod:`opskit.charts` is imported).

    Examples
    --------
    >>> import altair as alt
    >>> from opskit import charts
    >>> alt.theme.active
    'opskit'
    >>> charts.theme()["config"]["font"].split(",")[0]
    '"Noto Sans CJK SC"'
    """
    axis = {"labelFont": FONT, "titleFont": FONT, "labelColor": _MUTED, "titleColor": _INK,
            "titleFontWeight": "normal", "gridColor": _GRID, "domainColor": "#C3C8D0",
            "tickColor": "#C3C8D0", "labelFontSize": 11, "titleFontSize": 12}
    return {
        "config": {
            "font": FONT,
            "background": "white",
            "view": {"stroke": None, "continuousWidth": 520, "continuousHeight": 280},
            "title": {"font": FONT, "fontSize": 15, "fontWeight": "normal", "anchor": "start",
                      "color": _INK, "subtitleColor": _MUTED},
            "axis": axis,
            "legend": {"labelFont": FONT, "titleFont": FONT, "labelColor": _INK, "titleColor": _INK,
                       "titleFontWeight": "normal", "labelLimit": 240},
            "header": {"labelFont": FONT, "titleFont": FONT},
            "text": {"font": FONT, "color": _INK},
            "line": {"strokeWidth": 2},
            "range": {"category": list(PALETTE), "heatmap": list(_HEAT), "ramp": list(_HEAT)},
        }
    }


# ---------------------------------------------------------------------------------------
# helpers (presentation only: labels, checks, column picks)
# ---------------------------------------------------------------------------------------
def _labels(lang: str) -> dict[str, str]:
    try:
        return _LABELS[lang]
    except KeyError:
        raise ValueError(f"lang must be 'en' or 'zh', not {lang!r}") from None


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, not {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} lacks column(s) {', '.join(missing)} "
            f"(columns found: {', '.join(map(str, frame.columns))}); "
            "pass the frame the matching opskit KPI function returns")


def _color_column(frame: pd.DataFrame, color: str | None, what: str) -> str | None:
    if color is not None and color not in frame.columns:
        raise ValueError(f"color={color!r} is not a column of {what} "
                         f"(columns found: {', '.join(map(str, frame.columns))})")
    return color


def _title(labels: dict[str, str], column: str) -> str:
    return labels.get(column, column)


def _date_labels(values: pd.Series) -> pd.Series:
    """ISO dates as text: sorts in time order and never shifts with the viewer's time zone."""
    return pd.to_datetime(values).dt.strftime("%Y-%m-%d")


def _category(frame: pd.DataFrame, column: str) -> pd.Series:
    values = frame[column]
    if column == "cohort" or pd.api.types.is_datetime64_any_dtype(values):
        return _date_labels(values)
    return values.astype(str)


def _period_title(labels: dict[str, str], unit: str | None) -> str:
    return labels.get(f"period_{unit}", labels["period"]) if unit else labels["period"]


def _pct(field: str, title: str) -> alt.Tooltip:
    return alt.Tooltip(f"{field}:Q", title=title, format=".1%")


def _with_title(chart: alt.TopLevelMixin, title: str | None) -> alt.TopLevelMixin:
    return chart.properties(title=title) if title else chart



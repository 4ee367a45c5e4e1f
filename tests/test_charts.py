"""opskit.charts: the specs carry the intended marks and encodings, in both languages, data as data."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd
import pytest
import vl_convert as vlc

from opskit import charts

EVIL = "</script><img src=x onerror=alert(1)>"
RULE = ("churn rate >= 1.3 x the median of the previous 8 complete periods, "
        "and z >= 3 (binomial, one-sided)")


@pytest.fixture
def cohorts() -> pd.DataFrame:
    """Two weekly cohorts, periods 0-2: one cell not complete, one not begun (rate NaN)."""
    return pd.DataFrame({
        "cohort": pd.to_datetime(["2025-01-06"] * 3 + ["2025-01-13"] * 3),
        "period": [0, 1, 2] * 2,
        "cohort_size": [40, 40, 40, 25, 25, 25],
        "retained": [40, 18, 12, 25, 6, 0],
        "rate": [1.0, 0.45, 0.30, 1.0, 0.24, float("nan")],
        "complete": [True, True, True, True, False, False],
        "ci_low": [0.91, 0.31, 0.18, 0.87, 0.11, float("nan")],
        "ci_high": [1.0, 0.6, 0.45, 1.0, 0.43, float("nan")],
    })


@pytest.fixture
def curve() -> pd.DataFrame:
    return pd.DataFrame({
        "period": [0, 1, 2] * 2, "rate": [1.0, 0.62, 0.55, 1.0, 0.31, 0.22],
        "ci_low": [1.0, 0.58, 0.5, 1.0, 0.28, 0.19], "ci_high": [1.0, 0.66, 0.6, 1.0, 0.34, 0.25],
        "cohort_size": [900, 900, 850, 2700, 2700, 2600], "cohorts": [10, 10, 9] * 2,
        "channel": ["微信"] * 3 + [EVIL] * 3,
    })


@pytest.fixture
def nday() -> pd.DataFrame:
    return pd.DataFrame({"day": [1, 7, 30], "eligible": [1000, 950, 700], "retained": [420, 260, 55],
                         "rate": [0.42, 0.2737, 0.0786], "ci_low": [0.39, 0.246, 0.06],
                         "ci_high": [0.45, 0.303, 0.1]})


@pytest.fixture
def alerts() -> pd.DataFrame:
    """Four weeks of churn_alerts output; the third is an alert, the last is not complete."""
    return pd.DataFrame({
        "period": pd.date_range("2025-06-23", periods=4, freq="7D"),
        "active_start": [560, 570, 574, 568], "churned": [28, 27, 45, 10],
        "churn_rate": [0.05, 0.047, 0.078, float("nan")], "complete": [True, True, True, False],
        "segment": "b2c", "baseline": [None, 0.05, 0.049, 0.05], "z_score": [None, -0.3, 3.4, None],
        "alert": [False, False, True, False], "rule": RULE,
    })


def _datasets(spec: dict) -> list[dict]:
    return [row for rows in spec["datasets"].values() for row in rows]


def _layer_marks(spec: dict) -> list[str]:
    return [layer["mark"]["type"] for layer in spec["layer"]]


# --- theme -----------------------------------------------------------------------------
def test_the_house_theme_is_registered_enabled_and_cjk_capable(cohorts):
    assert alt.theme.active == "opskit" and "opskit" in alt.theme.names()
    config = charts.cohort_heatmap(cohorts).to_dict()["config"]
    for font in ("Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei",
                 "WenQuanYi Micro Hei", "sans-serif"):
        assert font in config["font"]
    assert config["axis"]["labelFont"] == config["font"]
    assert config["range"]["category"] == list(charts.PALETTE)


# --- cohort heatmap --------------------------------------------------------------------
def test_heatmap_snapshot(cohorts):
    """The essential parts of the spec, small enough to review in a diff."""
    spec = charts.cohort_heatmap(cohorts, unit="week").to_dict()
    essential = {
        "marks": _layer_marks(spec),
        "x": {k: spec["encoding"]["x"][k] for k in ("field", "type", "title")},
        "y": {k: spec["encoding"]["y"][k] for k in ("field", "type", "title")},
        "tooltip": [t["field"] for t in spec["encoding"]["tooltip"]],
        "color": {k: spec["layer"][0]["encoding"]["color"][k] for k in ("field", "type", "title")},
        "color_domain": spec["layer"][0]["encoding"]["color"]["scale"]["domain"],
        "opacity": spec["layer"][0]["encoding"]["opacity"]["scale"],
        "text": spec["layer"][1]["encoding"]["text"],
        "size": [spec["width"], spec["height"]],
    }
    assert essential == {
        "marks": ["rect", "text"],
        "x": {"field": "period", "type": "ordinal", "title": "Weeks since start"},
        "y": {"field": "cohort", "type": "ordinal", "title": "Cohort"},
        "tooltip": ["cohort", "period", "cohort_size", "retained", "rate", "ci_low", "ci_high", "status"],
        "color": {"field": "rate", "type": "quantitative", "title": "Retention"},
        "color_domain": [0, 0.45],  # largest rate after period 0: period 0 does not wash out the rest
        "opacity": {"domain": ["complete", "period not over yet"], "range": [1.0, 0.35]},
        "text": {"field": "rate", "format": ".0%", "type": "quantitative"},
        "size": [{"step": 40}, {"step": 18}],
    }


def test_heatmap_marks_incomplete_cells_and_drops_cells_not_begun(cohorts):
    spec = charts.cohort_heatmap(cohorts).to_dict()
    rows = _datasets(spec)
    assert len(rows) == 5  # the 2025-01-13 period-2 cell had not begun (rate NaN)
    status = {(r["cohort"], r["period"]): r["status"] for r in rows}
    assert status[("2025-01-13", 1)] == "period not over yet"
    assert status[("2025-01-06", 2)] == "complete"
    cells = spec["layer"][0]["encoding"]
    assert cells["strokeDash"]["field"] == "status"
    assert cells["strokeDash"]["scale"]["range"] == [[1, 0], [3, 2]]
    assert cells["stroke"]["condition"][0]["test"] == "datum.complete"
    text_color = spec["layer"][1]["encoding"]["color"]["condition"]
    assert text_color[0] == {"test": "(!datum.complete)", "value": "#6B7380"}


def test_heatmap_of_counts_and_last_cohorts(cohorts):
    spec = charts.cohort_heatmap(cohorts, value="retained", last=1).to_dict()
    assert spec["layer"][0]["encoding"]["color"]["field"] == "retained"
    assert spec["layer"][1]["encoding"]["text"]["format"] == ",d"
    assert {r["cohort"] for r in _datasets(spec)} == {"2025-01-13"}


def test_heatmap_refuses_a_frame_with_several_groups(cohorts):
    both = pd.concat([cohorts.assign(segment="b2b"), cohorts.assign(segment="b2c")])
    with pytest.raises(ValueError, match="one per segment"):
        charts.cohort_heatmap(both)


def test_charts_check_their_inputs(cohorts, curve):
    with pytest.raises(ValueError, match="lacks column"):
        charts.cohort_heatmap(cohorts.drop(columns="complete"))
    with pytest.raises(ValueError, match="lang must be"):
        charts.cohort_heatmap(cohorts, lang="fr")
    with pytest.raises(ValueError, match="not a column"):
        charts.retention_curves(curve, color="segment")
    with pytest.raises(TypeError, match="pandas DataFrame"):
        charts.nday_bars([1, 2, 3])


def test_charts_are_pure(cohorts):
    before = cohorts.copy()
    first = charts.cohort_heatmap(cohorts, lang="zh").to_dict()
    assert charts.cohort_heatmap(cohorts, lang="zh").to_dict() == first
    pd.testing.assert_frame_equal(cohorts, before)


def test_empty_frames_give_empty_charts(cohorts, curve):
    assert _datasets(charts.cohort_heatmap(cohorts.iloc[0:0]).to_dict()) == []
    assert charts.retention_curves(curve.iloc[0:0]).to_dict()["layer"]


# --- curves ----------------------------------------------------------------------------
def test_curves_have_ci_bands_and_one_line_per_group(curve):
    spec = charts.retention_curves(curve, color="channel", unit="week").to_dict()
    assert _layer_marks(spec) == ["area", "line"]
    band, line = spec["layer"]
    assert band["encoding"]["y"]["field"] == "ci_low" and band["encoding"]["y2"]["field"] == "ci_high"
    assert line["encoding"]["y"]["field"] == "rate" and line["mark"]["point"] is True
    assert spec["encoding"]["color"] == {"field": "channel", "legend": {
        "symbolOpacity": 1, "symbolStrokeWidth": 3, "symbolType": "stroke"},
        "title": "Channel", "type": "nominal"}
    assert spec["encoding"]["x"]["title"] == "Weeks since start"


def test_curves_from_a_cohort_table_leave_out_incomplete_cells(cohorts):
    spec = charts.retention_curves(cohorts, color="cohort").to_dict()
    rows = _datasets(spec)
    assert sorted((r["cohort"], r["period"]) for r in rows) == [
        ("2025-01-06", 0), ("2025-01-06", 1), ("2025-01-06", 2), ("2025-01-13", 0)]


def test_curves_drop_bands_when_lines_are_many(curve):
    many = pd.concat([curve.assign(channel=f"c{i}") for i in range(5)])
    assert _layer_marks(charts.retention_curves(many, color="channel").to_dict()) == ["line"]
    assert _layer_marks(charts.retention_curves(many, color="channel", bands=True).to_dict()) == [
        "area", "line"]


# --- N-day bars ------------------------------------------------------------------------
def test_nday_bars_show_error_bars_and_the_narrative_percent(nday):
    spec = charts.nday_bars(nday).to_dict()
    assert _layer_marks(spec) == ["bar", "rule", "text"]
    assert spec["layer"][1]["encoding"]["y"]["field"] == "ci_low"
    assert spec["layer"][1]["encoding"]["y2"]["field"] == "ci_high"
    assert spec["encoding"]["x"]["sort"] == ["D1", "D7", "D30"]
    assert [r["text"] for r in _datasets(spec)] == ["42 %", "27 %", "7.9 %"]
    zh = charts.nday_bars(nday.assign(window="w"), color="window", lang="zh").to_dict()
    assert zh["encoding"]["xOffset"]["field"] == "window"
    assert [r["text"] for r in _datasets(zh)] == ["42%", "27%", "7.9%"]


# --- churn -----------------------------------------------------------------------------
def test_churn_line_dashed_baseline_and_red_alert_points(alerts):
    spec = charts.churn_line(alerts, unit="week").to_dict()
    lines, points = spec["layer"]
    assert lines["mark"]["type"] == "line" and points["mark"] == {
        "type": "point", "color": charts.ALERT_COLOR, "filled": True, "opacity": 1, "size": 90}
    dash = lines["encoding"]["strokeDash"]
    assert dash["scale"] == {"domain": ["Churn rate", "Normal (trailing median)"], "range": [[1, 0], [5, 4]]}
    line_rows = spec["datasets"][lines["data"]["name"]]
    assert {r["period"] for r in line_rows} == {"2025-06-23", "2025-06-30", "2025-07-07"}  # complete only
    alert_rows = spec["datasets"][points["data"]["name"]]
    assert [(r["period"], r["churn_rate"], r["rule"]) for r in alert_rows] == [("2025-07-07", 0.078, RULE)]
    assert {t["field"] for t in points["encoding"]["tooltip"]} >= {"rule", "baseline", "churn_rate"}


def test_churn_line_by_group_and_in_chinese(alerts):
    both = pd.concat([alerts, alerts.assign(segment="b2b", alert=False)])
    spec = charts.churn_line(both, color="segment", lang="zh", unit="week").to_dict()
    lines, points = spec["layer"]
    assert lines["encoding"]["color"]["field"] == "segment"
    assert lines["encoding"]["y"]["title"] == "流失率" and lines["encoding"]["x"]["title"] == "周"
    [alert] = spec["datasets"][points["data"]["name"]]
    assert alert["rule"].startswith("流失率不低于前 8 个完整周期中位数的 1.3 倍")


def test_churn_line_without_alerts_has_no_empty_layer_and_a_sane_size(alerts):
    chart = charts.churn_line(alerts.assign(alert=False), unit="week")
    assert _layer_marks(chart.to_dict()) == ["line"]
    svg = vlc.vegalite_to_svg(chart.to_json())
    width = float(svg.split('width="', 1)[1].split('"', 1)[0])
    assert width < 2_000  # an empty point layer used to size the chart at Number.MAX_VALUE


def test_new_vs_returning_lines():
    frame = pd.DataFrame({
        "period": pd.to_datetime(["2025-01-01"] * 2 + ["2025-02-01"] * 2), "group": ["new", "returning"] * 2,
        "users": [100, 300, 100, 300], "retained": [47, 213, 0, 0], "rate": [0.47, 0.71, None, None],
        "complete": [True, True, False, False], "ci_low": [0.37, 0.66, None, None],
        "ci_high": [0.57, 0.76, None, None]})
    spec = charts.new_vs_returning(frame).to_dict()
    assert _layer_marks(spec) == ["area", "line"]
    assert [(r["period"], r["group"]) for r in _datasets(spec)] == [
        ("2025-01-01", "New users"), ("2025-01-01", "Returning users")]


# --- language and escaping -------------------------------------------------------------
def test_chinese_titles(cohorts, curve, nday, alerts):
    heat = charts.cohort_heatmap(cohorts, lang="zh", unit="week").to_dict()
    assert heat["encoding"]["x"]["title"] == "开始后第几周" and heat["encoding"]["y"]["title"] == "同期群"
    assert heat["layer"][0]["encoding"]["color"]["title"] == "留存率"
    tooltip = [t["title"] for t in heat["encoding"]["tooltip"]]
    assert tooltip[:4] == ["同期群", "周期", "同期群人数", "留存人数"]
    assert _datasets(heat)[-1]["status"] == "周期未结束"
    curves = charts.retention_curves(curve, color="channel", lang="zh", unit="month").to_dict()
    assert curves["encoding"]["color"]["title"] == "渠道"
    assert curves["encoding"]["x"]["title"] == "开始后第几月"
    assert charts.nday_bars(nday, lang="zh").to_dict()["layer"][0]["encoding"]["y"]["title"] == "留存率"


def test_text_from_data_appears_only_as_data(curve, nday, alerts):
    specs = [
        charts.retention_curves(curve, color="channel").to_dict(),
        charts.nday_bars(nday.assign(channel=EVIL), color="channel").to_dict(),
        charts.churn_line(alerts.assign(segment=EVIL), color="segment").to_dict(),
    ]
    for spec in specs:
        outside = json.dumps({k: v for k, v in spec.items() if k != "datasets"}, ensure_ascii=False)
        assert "<" not in outside and "script" not in outside  # no data in titles, scales or expressions
        assert EVIL in [v for row in _datasets(spec) for v in row.values()]  # the name, verbatim, as a value


def test_a_chinese_chart_renders_to_png(cohorts, tmp_path):
    """Static export works (vl-convert); docs/ reviewers look at such a PNG for CJK glyphs."""
    png = vlc.vegalite_to_png(charts.cohort_heatmap(cohorts, lang="zh", unit="week").to_dict(), scale=1)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000

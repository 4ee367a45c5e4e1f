"""Retention charts: cohort heatmap, curves, N-day bars, churn line, new vs returning."""

from __future__ import annotations

import altair as alt
import pandas as pd

from opskit.charts._base import (
    _BAND_OPACITY,
    _HEAT,
    _INCOMPLETE_OPACITY,
    _INK,
    _MUTED,
    ALERT_COLOR,
    PALETTE,
    _category,
    _color_column,
    _date_labels,
    _labels,
    _pct,
    _period_title,
    _require,
    _title,
    _with_title,
)
from opskit.narrative import fmt_pct, rule_text

__all__ = ["churn_line", "cohort_heatmap", "nday_bars", "new_vs_returning", "retention_curves"]

def cohort_heatmap(cohorts: pd.DataFrame, *, lang: str = "en", value: str = "rate",
                   unit: str | None = None, last: int | None = None,
                   title: str | None = None) -> alt.LayerChart:
    """Cohort x period heatmap: retention as colour, the number on every cell.

    Cells whose period has not fully elapsed (``complete`` is False) are drawn
    faint with a dashed grey border and grey text, and the legend names them
    ("period not over yet"): their rate is still growing and must not be read
    as final. The colour scale runs from 0 to the largest rate after period 0,
    so period 0 (100 % by construction) does not wash out the rest. Tooltips
    give the cohort size, the retained users, the rate and its 95 % interval.

    Parameters
    ----------
    cohorts
        The frame :func:`opskit.retention.cohort_table` returns (columns
        ``cohort``, ``period``, ``cohort_size``, ``retained``, ``rate``,
        ``complete``, ``ci_low``, ``ci_high``), for one segment: filter a
        ``by=`` frame to one group first.
    lang
        ``"en"`` or ``"zh"`` for titles, legends and tooltips.
    value
        ``"rate"`` (percent on the cells) or ``"retained"`` (users).
    unit
        The cohort_table ``period`` (``"day"``, ``"week"``, ``"month"``) for the
        x-axis title ("Weeks since start"); None says "Period".
    last
        Draw only the ``last`` most recent cohorts (e.g. 60 daily cohorts of a
        year); None draws all.
    title
        Chart title; None for none.

    Returns
    -------
    altair.LayerChart
        Rect and text layers over one dataset with columns ``cohort`` (ISO date
        text), ``period``, ``cohort_size``, ``retained``, ``rate``, ``ci_low``,
        ``ci_high``, ``complete`` and ``status`` (the translated cell state).

    Examples
    --------
    >>> import pandas as pd
    >>> cohorts = pd.DataFrame({
    ...     "cohort": pd.to_datetime(["2025-01-06"] * 2 + ["2025-01-13"] * 2),
    ...     "period": [0, 1, 0, 1], "cohort_size": [40, 40, 25, 25],
    ...     "retained": [40, 18, 25, 6], "rate": [1.0, 0.45, 1.0, 0.24],
    ...     "complete": [True, True, True, False],
    ...     "ci_low": [0.91, 0.31, 0.87, 0.11], "ci_high": [1.0, 0.6, 1.0, 0.43]})
    >>> spec = cohort_heatmap(cohorts, unit="week").to_dict()
    >>> [layer["mark"]["type"] for layer in spec["layer"]]
    ['rect', 'text']
    >>> spec["encoding"]["x"]["title"], spec["encoding"]["y"]["field"]
    ('Weeks since start', 'cohort')
    """
    labels = _labels(lang)
    need = ["cohort", "period", "cohort_size", "retained", "rate", "complete", "ci_low", "ci_high"]
    _require(cohorts, need, "cohorts")
    if value not in ("rate", "retained"):
        raise ValueError(f"value must be 'rate' or 'retained', not {value!r}")
    if cohorts.duplicated(["cohort", "period"]).any():
        extra = [c for c in cohorts.columns if c not in need]
        raise ValueError(
            f"cohorts has several rows per cohort and period (one per {', '.join(extra) or 'group'}); "
            "draw one heatmap per group: filter the frame to one group first")
    cohorts = cohorts.dropna(subset=["rate"]).reset_index(drop=True)  # cells whose period had not begun
    if last is not None:
        cohorts = cohorts[cohorts["cohort"].isin(cohorts["cohort"].drop_duplicates().nlargest(last))]
        cohorts = cohorts.reset_index(drop=True)
    data = cohorts[need].assign(
        cohort=_date_labels(cohorts["cohort"]),
        complete=cohorts["complete"].astype(bool),
        status=cohorts["complete"].astype(bool).map({True: labels["complete"], False: labels["incomplete"]}),
    )
    later = data.loc[data["period"] > 0, value]
    top = float(later.max()) if len(later) and later.max() > 0 else 1.0
    fmt = ".0%" if value == "rate" else ",d"
    color_title = labels["rate"] if value == "rate" else labels["retained"]
    status = [labels["complete"], labels["incomplete"]]
    cells = alt.Chart().mark_rect(strokeWidth=1.2).encode(
        color=alt.Color(f"{value}:Q", title=color_title,
                        scale=alt.Scale(domain=[0, top], clamp=True, range=list(_HEAT)),
                        legend=alt.Legend(format=fmt)),
        opacity=alt.Opacity("status:N", title=labels["status"],
                            legend=alt.Legend(symbolFillColor="#6F8FB5", symbolStrokeColor=_MUTED),
                            scale=alt.Scale(domain=status, range=[1.0, _INCOMPLETE_OPACITY])),
        strokeDash=alt.StrokeDash("status:N", title=labels["status"],
                                  scale=alt.Scale(domain=status, range=[[1, 0], [3, 2]])),
        stroke=alt.when(alt.datum.complete).then(alt.value("white")).otherwise(alt.value(_MUTED)),
    )
    dark = alt.datum[value] >= round(0.55 * top, 6)
    text = alt.Chart().mark_text(fontSize=10).encode(
        text=alt.Text(f"{value}:Q", format=fmt),
        color=(alt.when(~alt.datum.complete).then(alt.value(_MUTED))
               .when(dark).then(alt.value("white")).otherwise(alt.value(_INK))),
    )
    chart = alt.layer(cells, text, data=data).encode(
        x=alt.X("period:O", title=_period_title(labels, unit), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("cohort:O", title=labels["cohort"], sort="ascending"),
        tooltip=[
            alt.Tooltip("cohort:O", title=labels["cohort"]),
            alt.Tooltip("period:O", title=labels["period"]),
            alt.Tooltip("cohort_size:Q", title=labels["cohort_size"], format=","),
            alt.Tooltip("retained:Q", title=labels["retained"], format=","),
            _pct("rate", labels["rate"]), _pct("ci_low", labels["ci_low"]),
            _pct("ci_high", labels["ci_high"]),
            alt.Tooltip("status:N", title=labels["status"]),
        ],
    ).properties(width=alt.Step(40), height=alt.Step(18))
    return _with_title(chart, title)


def retention_curves(curve_or_cohorts: pd.DataFrame, *, color: str | None = None, lang: str = "en",
                     unit: str | None = None, bands: bool | None = None,
                     title: str | None = None) -> alt.LayerChart:
    """Retention by period as lines with their 95 % confidence bands.

    Takes either the averaged curve (:func:`opskit.retention.curve`, one line,
    or one per ``by`` group) or a cohort table (one line per cohort with
    ``color="cohort"``; incomplete cells are left out because their rate is
    not final).

    Parameters
    ----------
    curve_or_cohorts
        A frame with ``period``, ``rate``, ``ci_low``, ``ci_high``.
    color
        Column that splits the lines (``"segment"``, ``"channel"``,
        ``"cohort"``, ...); None draws one line.
    lang
        ``"en"`` or ``"zh"``.
    unit
        ``"day"``, ``"week"`` or ``"month"`` for the x-axis title.
    bands
        Draw the confidence bands; None draws them for up to four lines (more
        overlap into a grey wash; the tooltips still give every interval).
    title
        Chart title; None for none.

    Returns
    -------
    altair.LayerChart
        A band (``mark_area`` from ``ci_low`` to ``ci_high``) and a line with
        points per group; tooltips give the rate, its interval and the users
        behind it.

    Examples
    --------
    >>> import pandas as pd
    >>> curve = pd.DataFrame({
    ...     "segment": ["b2b"] * 3 + ["b2c"] * 3, "period": [0, 1, 2] * 2,
    ...     "rate": [1.0, 0.62, 0.55, 1.0, 0.31, 0.22],
    ...     "ci_low": [1.0, 0.58, 0.5, 1.0, 0.28, 0.19], "ci_high": [1.0, 0.66, 0.6, 1.0, 0.34, 0.25],
    ...     "cohort_size": [900, 900, 850, 2700, 2700, 2600], "cohorts": [10, 10, 9] * 2})
    >>> spec = retention_curves(curve, color="segment").to_dict()
    >>> [layer["mark"]["type"] for layer in spec["layer"]]
    ['area', 'line']
    >>> spec["layer"][0]["encoding"]["y2"]["field"], spec["encoding"]["color"]["field"]
    ('ci_high', 'segment')
    """
    labels = _labels(lang)
    frame = curve_or_cohorts
    _require(frame, ["period", "rate", "ci_low", "ci_high"], "curve_or_cohorts")
    color = _color_column(frame, color, "curve_or_cohorts")
    if "complete" in frame.columns:
        frame = frame[frame["complete"].astype(bool)]
    frame = frame.dropna(subset=["rate"]).reset_index(drop=True)
    size_col = "cohort_size" if "cohort_size" in frame.columns else None
    keep = ["period", "rate", "ci_low", "ci_high", *([size_col] if size_col else [])]
    keep += [c for c in ("retained", "cohorts") if c in frame.columns]
    data = frame[keep].copy()
    tooltip = [alt.Tooltip("period:O", title=_period_title(labels, unit)), _pct("rate", labels["rate"]),
               _pct("ci_low", labels["ci_low"]), _pct("ci_high", labels["ci_high"])]
    tooltip += [alt.Tooltip(f"{c}:Q", title=_title(labels, c), format=",")
                for c in ("cohort_size", "retained", "cohorts") if c in data.columns]
    encode: dict = {}
    if color:
        data[color] = _category(frame, color)
        encode["color"] = alt.Color(f"{color}:N", title=_title(labels, color),
                                    legend=alt.Legend(symbolType="stroke", symbolOpacity=1,
                                                      symbolStrokeWidth=3))
        tooltip.insert(0, alt.Tooltip(f"{color}:N", title=_title(labels, color)))
    band = alt.Chart().mark_area(opacity=_BAND_OPACITY, **({} if color else {"color": PALETTE[0]}))
    band = band.encode(y=alt.Y("ci_low:Q", title=labels["rate"], axis=alt.Axis(format=".0%"),
                               scale=alt.Scale(domain=[0, 1])),
                       y2="ci_high:Q")
    line = alt.Chart().mark_line(point=True, **({} if color else {"color": PALETTE[0]})).encode(
        y=alt.Y("rate:Q", title=labels["rate"], axis=alt.Axis(format=".0%"), scale=alt.Scale(domain=[0, 1])),
        tooltip=tooltip)
    last = int(data["period"].max()) if len(data) else 1
    if bands is None:
        bands = not color or data[color].nunique() <= 4
    layers = [band, line] if bands else [line]
    chart = alt.layer(*layers, data=data).encode(
        x=alt.X("period:Q", title=_period_title(labels, unit), axis=alt.Axis(tickMinStep=1, format="d"),
                scale=alt.Scale(domain=[0, last], nice=False)),
        **encode,
    ).properties(width=520, height=280)
    return _with_title(chart, title)


def nday_bars(nday_frame: pd.DataFrame, *, color: str | None = None, lang: str = "en",
              title: str | None = None) -> alt.LayerChart:
    """D1/D7/D30 retention as bars with 95 % error bars and the percent on top.

    The percent on a bar is written as the narrative writes it
    (:func:`opskit.narrative.fmt_pct`), so the chart and the sentences agree.

    Parameters
    ----------
    nday_frame
        The frame :func:`opskit.retention.nday` returns (``day``,
        ``eligible``, ``retained``, ``rate``, ``ci_low``, ``ci_high``).
    color
        Column that splits each day into side-by-side bars (a ``by``
        dimension, or a ``window`` column you add to compare two periods).
    lang
        ``"en"`` or ``"zh"``.
    title
        Chart title; None for none.

    Returns
    -------
    altair.LayerChart
        Bar, error-bar and text layers; the x axis reads ``D1``, ``D7``, ...

    Examples
    --------
    >>> import pandas as pd
    >>> nday = pd.DataFrame({"day": [1, 7, 30], "eligible": [1000, 950, 700],
    ...                      "retained": [420, 260, 150], "rate": [0.42, 0.274, 0.214],
    ...                      "ci_low": [0.39, 0.246, 0.186], "ci_high": [0.45, 0.303, 0.245]})
    >>> spec = nday_bars(nday).to_dict()
    >>> [layer["mark"]["type"] for layer in spec["layer"]]
    ['bar', 'rule', 'text']
    >>> sorted({row["label"] for rows in spec["datasets"].values() for row in rows})
    ['D1', 'D30', 'D7']
    """
    labels = _labels(lang)
    _require(nday_frame, ["day", "eligible", "retained", "rate", "ci_low", "ci_high"], "nday_frame")
    color = _color_column(nday_frame, color, "nday_frame")
    frame = nday_frame.dropna(subset=["rate"]).reset_index(drop=True)
    data = frame[["day", "eligible", "retained", "rate", "ci_low", "ci_high"]].copy()
    data["label"] = "D" + frame["day"].astype(int).astype(str)
    data["text"] = [fmt_pct(r, lang) for r in frame["rate"]]  # as the narrative writes it
    order = [f"D{d}" for d in sorted(frame["day"].astype(int).unique())]
    tooltip = [alt.Tooltip("label:N", title=labels["day"]), _pct("rate", labels["rate"]),
               _pct("ci_low", labels["ci_low"]), _pct("ci_high", labels["ci_high"]),
               alt.Tooltip("retained:Q", title=labels["retained"], format=","),
               alt.Tooltip("eligible:Q", title=labels["eligible"], format=",")]
    encode: dict = {}
    if color:
        data[color] = _category(frame, color)
        encode = {"color": alt.Color(f"{color}:N", title=_title(labels, color)),
                  "xOffset": alt.XOffset(f"{color}:N")}
        tooltip.insert(0, alt.Tooltip(f"{color}:N", title=_title(labels, color)))
    bars = alt.Chart().mark_bar(**({} if color else {"color": PALETTE[0]})).encode(
        y=alt.Y("rate:Q", title=labels["rate"], axis=alt.Axis(format=".0%")),
        tooltip=tooltip,
    )
    errors = alt.Chart().mark_rule(color=_INK, strokeWidth=1.2).encode(y="ci_low:Q", y2="ci_high:Q")
    text = alt.Chart().mark_text(dy=-8, fontSize=11, color=_INK).encode(
        y="ci_high:Q", text=alt.Text("text:N"))
    chart = alt.layer(bars, errors, text, data=data).encode(
        x=alt.X("label:N", title=None, sort=order, axis=alt.Axis(labelAngle=0)), **encode,
    ).properties(width=alt.Step(44 if color else 70), height=220)
    return _with_title(chart, title)


def churn_line(churn_alerts_frame: pd.DataFrame, *, color: str | None = None, lang: str = "en",
               unit: str | None = None, title: str | None = None) -> alt.LayerChart:
    """Churn rate over time, its normal level dashed, alert periods as red points.

    Only complete periods are drawn (the churn of a period still running is
    not final). The tooltip of an alert point states the rule that raised it.

    Parameters
    ----------
    churn_alerts_frame
        The frame :func:`opskit.retention.churn_alerts` returns (``period``,
        ``active_start``, ``churned``, ``churn_rate``, ``complete``,
        ``baseline``, ``alert``, ``rule``); a plain :func:`~opskit.retention.churn`
        frame draws the churn line alone.
    color
        A ``by`` column to draw one line per group (``"segment"``); None for
        one line.
    lang
        ``"en"`` or ``"zh"``.
    unit
        ``"day"``, ``"week"`` or ``"month"`` for the x-axis title.
    title
        Chart title; None for none.

    Returns
    -------
    altair.LayerChart
        A line layer (churn solid, baseline dashed: ``strokeDash`` by series)
        and a point layer of the alerts.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({
    ...     "period": pd.date_range("2025-06-02", periods=4, freq="7D"),
    ...     "active_start": [560, 570, 574, 568], "churned": [28, 27, 45, 29],
    ...     "churn_rate": [0.05, 0.047, 0.078, 0.051], "complete": True,
    ...     "baseline": [None, 0.05, 0.049, 0.05], "alert": [False, False, True, False],
    ...     "rule": "churn >= 1.3 x the median of the previous 8 complete weeks"})
    >>> spec = churn_line(frame, unit="week").to_dict()
    >>> [layer["mark"]["type"] for layer in spec["layer"]]
    ['line', 'point']
    >>> spec["layer"][1]["mark"]["color"]
    '#C8372D'
    """
    labels = _labels(lang)
    _require(churn_alerts_frame, ["period", "churn_rate"], "churn_alerts_frame")
    color = _color_column(churn_alerts_frame, color, "churn_alerts_frame")
    frame = churn_alerts_frame
    if "complete" in frame.columns:
        frame = frame[frame["complete"].astype(bool)]
    frame = frame.dropna(subset=["churn_rate"]).reset_index(drop=True)
    ids = pd.DataFrame({"period": _date_labels(frame["period"])}, index=frame.index)
    if color:
        ids[color] = _category(frame, color)
    extra = {c: frame[c] for c in ("active_start", "churned") if c in frame.columns}
    series = [("churn_rate", labels["churn_rate"])]
    if "baseline" in frame.columns:
        series.append(("baseline", labels["baseline"]))
    long = pd.concat([ids.assign(series=name, value=frame[col].astype(float), **extra)
                      for col, name in series], ignore_index=True).dropna(subset=["value"])
    time_title = labels.get(f"time_{unit}", labels["time"]) if unit else labels["time"]
    # ISO date text read as UTC, so the axis never shifts with the viewer's time zone
    x = alt.X("period:T", timeUnit="utcyearmonthdate", title=time_title,
              axis=alt.Axis(format="%Y-%m", labelAngle=0, tickCount={"interval": "month", "step": 1}))
    group_tip = [alt.Tooltip(f"{color}:N", title=_title(labels, color))] if color else []
    lines = alt.Chart(long).mark_line(**({} if color else {"color": PALETTE[0]})).encode(
        x=x,
        y=alt.Y("value:Q", title=labels["churn_rate"], axis=alt.Axis(format=".0%")),
        strokeDash=alt.StrokeDash("series:N", title=None,
                                  scale=alt.Scale(domain=[s for _, s in series],
                                                  range=[[1, 0], [5, 4]][: len(series)])),
        detail=alt.Detail("series:N"),
        tooltip=[*group_tip, alt.Tooltip("period:N", title=time_title),
                 alt.Tooltip("series:N", title=labels["series"]), _pct("value", labels["churn_rate"]),
                 *[alt.Tooltip(f"{c}:Q", title=labels[c], format=",") for c in extra]],
        **({"color": alt.Color(f"{color}:N", title=_title(labels, color))} if color else {}),
    )
    if "alert" in frame.columns:
        flagged = frame[frame["alert"].fillna(False).astype(bool)]
    else:
        flagged = frame.iloc[0:0]
    alerts = ids.loc[flagged.index].assign(
        churn_rate=flagged["churn_rate"].astype(float),
        baseline=flagged["baseline"].astype(float) if "baseline" in flagged else float("nan"),
        rule=flagged["rule"].astype(str).map(lambda r: rule_text(r, lang)) if "rule" in flagged else "",
        kind=labels["alert"],
    )
    points = alt.Chart(alerts).mark_point(filled=True, size=90, color=ALERT_COLOR, opacity=1).encode(
        x=x, y="churn_rate:Q",
        shape=alt.Shape("kind:N", title=None, scale=alt.Scale(range=["circle"])),
        tooltip=[*group_tip, alt.Tooltip("period:N", title=time_title),
                 _pct("churn_rate", labels["churn_rate"]), _pct("baseline", labels["baseline"]),
                 alt.Tooltip("rule:N", title=labels["rule"])],
    )
    # An empty point layer makes Vega size the chart at Number.MAX_VALUE: leave it out.
    layers = (lines, points) if len(alerts) else (lines,)
    chart = alt.layer(*layers).resolve_scale(shape="independent").properties(width=560, height=260)
    return _with_title(chart, title)


def new_vs_returning(frame: pd.DataFrame, *, lang: str = "en", unit: str = "month",
                     title: str | None = None) -> alt.LayerChart:
    """Retention of new against returning users per period, lines with 95 % bands.

    Only complete periods are drawn (their retention window has ended).

    Parameters
    ----------
    frame
        The frame :func:`opskit.retention.new_vs_returning` returns (``period``,
        ``group``, ``users``, ``retained``, ``rate``, ``ci_low``, ``ci_high``,
        ``complete``).
    lang
        ``"en"`` or ``"zh"``; the groups read "New users" / "新用户" and
        "Returning users" / "老用户".
    unit
        The ``period`` of the frame, for the x-axis title.
    title
        Chart title; None for none.

    Returns
    -------
    altair.LayerChart
        A band and a line with points per group over time.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({
    ...     "period": pd.to_datetime(["2025-01-01"] * 2 + ["2025-02-01"] * 2),
    ...     "group": ["new", "returning"] * 2, "users": [100, 300, 100, 300],
    ...     "retained": [47, 213, 49, 215], "rate": [0.47, 0.71, 0.49, 0.7167],
    ...     "ci_low": [0.37, 0.66, 0.39, 0.66], "ci_high": [0.57, 0.76, 0.59, 0.76], "complete": True})
    >>> spec = new_vs_returning(frame, lang="zh").to_dict()
    >>> [layer["mark"]["type"] for layer in spec["layer"]], spec["encoding"]["color"]["title"]
    (['area', 'line'], '用户')
    """
    labels = _labels(lang)
    _require(frame, ["period", "group", "users", "retained", "rate", "ci_low", "ci_high"], "frame")
    if "complete" in frame.columns:
        frame = frame[frame["complete"].astype(bool)]
    frame = frame.dropna(subset=["rate"]).reset_index(drop=True)
    groups = [labels["new"], labels["returning"]]
    data = frame[["users", "retained", "rate", "ci_low", "ci_high"]].assign(
        period=_date_labels(frame["period"]),
        group=frame["group"].map(dict(zip(["new", "returning"], groups, strict=True)))
        .fillna(frame["group"].astype(str)),
    )
    time_title = labels.get(f"time_{unit}", labels["time"])
    band = alt.Chart().mark_area(opacity=_BAND_OPACITY).encode(
        y=alt.Y("ci_low:Q", title=labels["rate"], axis=alt.Axis(format=".0%"),
                scale=alt.Scale(domain=[0, 1])),
        y2="ci_high:Q")
    line = alt.Chart().mark_line(point=True).encode(
        y=alt.Y("rate:Q", title=labels["rate"]),
        tooltip=[alt.Tooltip("group:N", title=labels["group"]), alt.Tooltip("period:N", title=time_title),
                 _pct("rate", labels["rate"]), _pct("ci_low", labels["ci_low"]),
                 _pct("ci_high", labels["ci_high"]),
                 alt.Tooltip("retained:Q", title=labels["retained"], format=","),
                 alt.Tooltip("users:Q", title=labels["active_users"], format=",")])
    chart = alt.layer(band, line, data=data).encode(
        x=alt.X("period:T", timeUnit="utcyearmonthdate", title=time_title,
                axis=alt.Axis(format="%Y-%m", labelAngle=0, tickCount={"interval": "month", "step": 1})),
        color=alt.Color("group:N", title=labels["group"], scale=alt.Scale(domain=groups),
                        legend=alt.Legend(symbolType="stroke", symbolOpacity=1, symbolStrokeWidth=3)),
    ).properties(width=520, height=260)
    return _with_title(chart, title)

"""Retention findings: headline D1/D7/D30, churn by segment, curve gaps, new vs returning, alerts."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

from opskit.narrative._core import (
    _TEXT,
    Sentence,
    Severity,
    _complete,
    _lang,
    _missing,
    _nth,
    _overlap,
    _unit,
    fmt_count,
    fmt_pct,
    fmt_period,
    fmt_points,
    fmt_ratio,
)

__all__ = ["churn_alerts", "curve_gap", "headline", "new_vs_returning", "rule_text", "segment_churn"]


def headline(current: pd.DataFrame, previous: pd.DataFrame | None = None, *, lang: str = "en",
             previous_label: str | None = None, significant: Mapping[int, bool] | None = None,
             ) -> list[Sentence]:
    """D1/D7/D30 retention, each against the previous period, as one sentence per day.

    Parameters
    ----------
    current, previous
        Frames of :func:`opskit.retention.nday` (``day``, ``eligible``,
        ``retained``, ``rate``, ``ci_low``, ``ci_high``) for the period and
        the one before it (None: no comparison).
    lang
        ``"en"`` or ``"zh"``.
    previous_label
        How to name the previous period (default "the previous period" /
        "上一周期").
    significant
        Your own significance verdict per day; by default a change is called
        significant when the two 95 % intervals do not overlap.

    Returns
    -------
    list of Sentence
        ``warning`` for a significant drop, ``good`` for a significant rise.

    Examples
    --------
    >>> import pandas as pd
    >>> cur = pd.DataFrame({"day": [30], "eligible": [1000], "retained": [650], "rate": [0.65],
    ...                     "ci_low": [0.62], "ci_high": [0.68]})
    >>> prev = cur.assign(retained=600, rate=0.60, ci_low=0.57, ci_high=0.63)
    >>> print(headline(cur, prev)[0])
    D30 retention is 65 % (650 of 1,000 new users), 5 points above the previous period (60 %);
    the 95 % intervals overlap, so the change may be noise.
    >>> print(headline(cur, prev.assign(rate=0.55, ci_high=0.58), lang="zh")[0])
    30 日留存率为 65%（1,000 名新用户中 650 名），比上一周期高 10 个百分点...；95% 置信区间不重叠，变化显著。
    """
    lang = _lang(lang)
    zh = lang == "zh"
    label = previous_label or _TEXT[lang]["previous_period"]
    prev_rows = {} if previous is None else {int(r["day"]): r for _, r in previous.iterrows()}
    out = []
    for _, row in current.sort_values("day").iterrows():
        day = int(row["day"])
        name = ("次日留存率" if day == 1 else f"{day} 日留存率") if zh else f"D{day} retention"
        if _missing(row["rate"]) or not row["eligible"]:
            out.append(Sentence(
                f"{name}尚无法计算：还没有新用户的第 {day} 天落在数据范围内。" if zh else
                f"{name} cannot be measured yet: no new user's day {day} is inside the data."))
            continue
        said = (f"{name}为 {fmt_pct(row['rate'], lang)}（{fmt_count(row['eligible'])} 名新用户中 "
                f"{fmt_count(row['retained'])} 名）" if zh else
                f"{name} is {fmt_pct(row['rate'], lang)} ({fmt_count(row['retained'])} of "
                f"{fmt_count(row['eligible'])} new users)")
        prev = prev_rows.get(day)
        if prev is None or _missing(prev["rate"]) or not prev["eligible"]:
            out.append(Sentence(said + ("，没有可比较的上一周期数据。" if zh else
                                        "; there is no previous period to compare with.")))
            continue
        diff = float(row["rate"]) - float(prev["rate"])
        was = fmt_pct(prev["rate"], lang)
        if abs(diff) < 0.0005:
            said += f"，与{label}持平（{was}）" if zh else f", the same as {label} ({was})"
        elif zh:
            said += f"，比{label}{'高' if diff > 0 else '低'} {fmt_points(diff, lang)}（上一周期 {was}）"
        else:
            said += f", {fmt_points(diff, lang)} {'above' if diff > 0 else 'below'} {label} ({was})"
        sig = significant.get(day) if significant is not None else None
        overlap = _overlap(row, prev)
        if sig is not None:
            said += (("；变化具有统计显著性。" if sig else "；变化不具有统计显著性。") if zh else
                     ("; the change is statistically significant." if sig else
                      "; the change is not statistically significant."))
        elif overlap is not None:
            sig = not overlap
            zh_note = ("；95% 置信区间不重叠，变化显著。" if sig else
                       "；95% 置信区间重叠，变化可能只是随机波动。")
            said += (zh_note if zh else
                     ("; the 95 % intervals do not overlap, so the change is real." if sig else
                      "; the 95 % intervals overlap, so the change may be noise."))
        else:
            said += "。" if zh else "."
        severity: Severity = "info"
        if sig and abs(diff) >= 0.0005:
            severity = "good" if diff > 0 else "warning"
        out.append(Sentence(said, severity))
    return out


def _pooled(frame: pd.DataFrame, by: str, num: str, den: str) -> pd.DataFrame:
    """Sum of ``num`` over sum of ``den`` per group (the pooled rate docs/metrics.md defines)."""
    sums = frame.groupby(by, sort=False)[[num, den]].sum()
    sums = sums[sums[den] > 0]
    return sums.assign(rate=sums[num] / sums[den], periods=frame.groupby(by, sort=False).size())


def segment_churn(churn: pd.DataFrame, *, by: str = "segment", lang: str = "en",
                  period: str = "month", subject: str = "users") -> list[Sentence]:
    """Which group churns faster, from a churn frame with ``by``.

    Takes :func:`opskit.retention.churn` (``subject="users"``) or
    :func:`opskit.retention.subscriber_churn` (``subject="accounts"``) output.
    Rates are pooled over the complete periods (churned summed over
    active_start summed), so that large and small periods weigh as their users
    do. The sentence compares the fastest- and the slowest-churning group.

    Examples
    --------
    >>> import pandas as pd
    >>> churn = pd.DataFrame({"segment": ["b2b", "b2b", "b2c", "b2c"],
    ...     "period": pd.to_datetime(["2025-01-01", "2025-02-01"] * 2),
    ...     "active_start": [500, 500, 1000, 1000], "churned": [11, 11, 212, 212],
    ...     "churn_rate": [0.022, 0.022, 0.212, 0.212], "complete": True})
    >>> print(segment_churn(churn, subject="accounts")[0])
    b2c churns 9.6x faster than b2b: 21 % against 2.2 % of paying accounts lost per month
    (pooled over 2 complete months).
    >>> print(segment_churn(churn, lang="zh", subject="accounts")[0])
    b2c 的流失速度是 b2b 的 9.6 倍：每月付费账户流失率 21% 对 2.2%（按 2 个完整月合计）。
    """
    lang = _lang(lang)
    zh = lang == "zh"
    if subject not in ("users", "accounts"):
        raise ValueError(f"subject must be 'users' or 'accounts', not {subject!r}")
    noun = ({"users": "活跃用户", "accounts": "付费账户"} if zh else
            {"users": "active users", "accounts": "paying accounts"})[subject]
    frame = _complete(churn)
    if by not in frame.columns or frame.empty:
        return []
    pooled = _pooled(frame, by, "churned", "active_start").sort_values("rate", ascending=False)
    if len(pooled) < 2:
        return []
    hi, lo = pooled.iloc[0], pooled.iloc[-1]
    hi_name, lo_name = str(pooled.index[0]), str(pooled.index[-1])
    n = int(frame["period"].nunique())
    unit = _unit(period, lang)
    span = (f"按 {n} 个完整{unit}合计" if zh else f"pooled over {n} complete {_unit(period, lang, n)}")
    rates = f"{fmt_pct(hi['rate'], lang)}{' 对 ' if zh else ' against '}{fmt_pct(lo['rate'], lang)}"
    if lo["rate"] == 0:
        said = (f"{hi_name} 每{unit}流失 {fmt_pct(hi['rate'], lang)} 的{noun}，{lo_name} 没有流失（{span}）。"
                if zh else f"{hi_name} loses {fmt_pct(hi['rate'], lang)} of its {noun} per {unit}; "
                f"{lo_name} lost none ({span}).")
        return [Sentence(said, "warning")]
    ratio = float(hi["rate"] / lo["rate"])
    if ratio < 1.1:
        said = (f"{hi_name} 与 {lo_name} 的流失速度相近：每{unit}{noun}流失率 {rates}（{span}）。" if zh else
                f"{hi_name} and {lo_name} churn at about the same pace: {rates} of {noun} lost per "
                f"{unit} ({span}).")
        return [Sentence(said)]
    said = (f"{hi_name} 的流失速度是 {lo_name} 的 {fmt_ratio(ratio, lang)}：每{unit}{noun}流失率 {rates}"
            f"（{span}）。" if zh else f"{hi_name} churns {fmt_ratio(ratio, lang)} faster than {lo_name}: "
            f"{rates} of {noun} lost per {unit} ({span}).")
    return [Sentence(said, "warning" if ratio >= 2 else "info")]


def curve_gap(curve: pd.DataFrame, *, by: str, lang: str = "en", period: str = "week",
              at: int | None = None) -> list[Sentence]:
    """How far apart the groups' retention curves are at one period.

    ``at`` defaults to the last period that every group reaches. With two
    groups the sentence compares them (and says whether their intervals
    overlap); with more it names the best and the worst.

    Examples
    --------
    >>> import pandas as pd
    >>> curve = pd.DataFrame({"segment": ["b2b", "b2c"], "period": [4, 4], "rate": [0.42, 0.30],
    ...                       "ci_low": [0.39, 0.28], "ci_high": [0.45, 0.32]})
    >>> print(curve_gap(curve, by="segment")[0])
    At week 4, b2b retains 42 % and b2c 30 %, 12 points apart (the 95 % intervals do not overlap).
    >>> print(curve_gap(curve, by="segment", lang="zh")[0])
    第 4 周时，b2b 的留存率为 42%，b2c 为 30%，相差 12 个百分点（95% 置信区间不重叠）。
    """
    lang = _lang(lang)
    zh = lang == "zh"
    frame = curve.dropna(subset=["rate"])
    if by not in frame.columns or frame[by].nunique() < 2:
        return []
    if at is None:
        at = int(frame.groupby(by)["period"].max().min())
    rows = frame[frame["period"] == at].sort_values("rate", ascending=False)
    if len(rows) < 2:
        return []
    when = _nth(period, at, lang)
    hi, lo = rows.iloc[0], rows.iloc[-1]
    gap = fmt_points(hi["rate"] - lo["rate"], lang)
    if len(rows) == 2:
        overlap = _overlap(hi, lo)
        note = "" if overlap is None else (
            ("（95% 置信区间重叠，差异可能只是随机波动）" if overlap else "（95% 置信区间不重叠）") if zh else
            (" (the 95 % intervals overlap, so this may be noise)" if overlap else
             " (the 95 % intervals do not overlap)"))
        said = (f"{when}时，{hi[by]} 的留存率为 {fmt_pct(hi['rate'], lang)}，{lo[by]} 为 "
                f"{fmt_pct(lo['rate'], lang)}，相差 {gap}{note}。" if zh else
                f"At {when}, {hi[by]} retains {fmt_pct(hi['rate'], lang)} and {lo[by]} "
                f"{fmt_pct(lo['rate'], lang)}, {gap} apart{note}.")
        return [Sentence(said)]
    said = (f"{when}时，留存率最高的是 {hi[by]}（{fmt_pct(hi['rate'], lang)}），最低的是 {lo[by]}"
            f"（{fmt_pct(lo['rate'], lang)}），相差 {gap}。" if zh else
            f"At {when}, retention ranges from {fmt_pct(lo['rate'], lang)} ({lo[by]}) to "
            f"{fmt_pct(hi['rate'], lang)} ({hi[by]}), {gap} apart.")
    return [Sentence(said)]


def new_vs_returning(frame: pd.DataFrame, *, lang: str = "en", days: int = 30,
                     period: str = "month") -> list[Sentence]:
    """The retention gap between new and returning users (a :func:`opskit.retention.new_vs_returning` frame).

    Rates are pooled over the complete periods (retained summed over users
    summed); the sentence also counts the periods in which new users trailed.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({
    ...     "period": pd.to_datetime(["2025-01-01"] * 2 + ["2025-02-01"] * 2),
    ...     "group": ["new", "returning"] * 2, "users": [100, 300, 100, 300],
    ...     "retained": [47, 213, 49, 215], "rate": [0.47, 0.71, 0.49, 0.7167],
    ...     "ci_low": [0.37, 0.66, 0.39, 0.66], "ci_high": [0.57, 0.76, 0.59, 0.76]})
    >>> print(new_vs_returning(frame)[0])
    New users retain worse than returning users: 48 % of new against 71 % of returning users
    were active in the 30 days after their month (pooled over 2 months); new users trailed in 2 of 2 months.
    >>> print(new_vs_returning(frame, lang="zh")[0])
    新用户的留存低于老用户：当月之后 30 天内仍活跃的比例，新用户为 48%，老用户为 71%...
    """
    lang = _lang(lang)
    zh = lang == "zh"
    frame = _complete(frame.dropna(subset=["rate"]))
    frame = frame[frame["users"] > 0]
    pooled = _pooled(frame, "group", "retained", "users")
    if not {"new", "returning"} <= set(pooled.index):
        return []
    new, old = pooled.loc["new", "rate"], pooled.loc["returning", "rate"]
    wide = frame.pivot_table(index="period", columns="group", values="rate").dropna()
    n, behind = len(wide), int((wide["new"] < wide["returning"]).sum())
    unit, units = _unit(period, lang), _unit(period, lang, n)
    if zh:
        zh_unit = {"month": "个月", "week": "周", "day": "天"}.get(period, "个周期")
        verdict = "低于" if new < old else "不低于"
        said = (f"新用户的留存{verdict}老用户：当{unit}之后 {days} 天内仍活跃的比例，"
                f"新用户为 {fmt_pct(new, lang)}，老用户为 {fmt_pct(old, lang)}（按 {n} {zh_unit}合计）；"
                f"{n} {zh_unit}中有 {behind} {zh_unit}新用户落后。")
    else:
        verdict = "worse than" if new < old else "as well as or better than"
        said = (f"New users retain {verdict} returning users: {fmt_pct(new, lang)} of new against "
                f"{fmt_pct(old, lang)} of returning users were active in the {days} days after their "
                f"{unit} (pooled over {n} {units}); new users trailed in {behind} of {n} {units}.")
    return [Sentence(said, "warning" if new < old - 0.05 else "info")]


_CHURN_COLUMNS = {"period", "active_start", "churned", "churn_rate", "complete", "baseline", "z_score",
                  "alert", "rule"}
_RULE = re.compile(r"churn rate >= (?P<ratio>[\d.]+) x the median of the previous (?P<window>\d+) complete "
                   r"periods, and z >= (?P<z>[\d.]+) \(binomial, one-sided\)")


def rule_text(rule: str, lang: str = "en") -> str:
    """The alert rule of :func:`opskit.retention.churn_alerts` in ``lang``.

    The rule is worded from the numbers in the frame's own ``rule`` text, so
    the two never disagree; a rule this function does not recognise is
    returned as it is.

    Examples
    --------
    >>> rule = ("churn rate >= 1.3 x the median of the previous 8 complete periods, "
    ...         "and z >= 3 (binomial, one-sided)")
    >>> rule_text(rule, "zh")
    '流失率不低于前 8 个完整周期中位数的 1.3 倍，且单侧二项检验 z 值不低于 3'
    >>> rule_text(rule, "en") == rule
    True
    """
    match = _RULE.fullmatch(str(rule).strip())
    if _lang(lang) == "en" or not match:
        return str(rule)
    return (f"流失率不低于前 {match['window']} 个完整周期中位数的 {match['ratio']} 倍，"
            f"且单侧二项检验 z 值不低于 {match['z']}")


def churn_alerts(frame: pd.DataFrame, *, lang: str = "en", period: str = "week", rule: str | None = None,
                 limit: int = 3) -> list[Sentence]:
    """One sentence per alert of a :func:`opskit.retention.churn_alerts` frame.

    At most ``limit`` alerts are worded, the strongest (highest ``z_score``)
    first chosen and then listed in time order; a last sentence counts the rest.

    The frame's ``rule`` is worded in ``lang`` by :func:`rule_text`; ``rule``
    replaces it. Without alerts the sentence says that churn stayed normal.
    Columns beyond the churn_alerts ones are taken as ``by`` groups and named.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"period": pd.to_datetime(["2025-06-30", "2025-07-07"]),
    ...     "active_start": [570, 574], "churned": [28, 45], "churn_rate": [0.049, 0.078],
    ...     "complete": True, "baseline": [0.05, 0.049], "alert": [False, True],
    ...     "rule": "churn >= 1.3x the median of the previous 8 complete weeks"})
    >>> print(churn_alerts(frame)[0])
    Churn in the week of 2025-07-07 was 7.8 %, above the normal 4.9 %
    (rule: churn >= 1.3x the median of the previous 8 complete weeks).
    >>> print(churn_alerts(frame, lang="zh", rule="流失率不低于前 8 周中位数的 1.3 倍")[0])
    2025-07-07 当周的流失率为 7.8%，高于正常水平 4.9%（规则：流失率不低于前 8 周中位数的 1.3 倍）。
    """
    lang = _lang(lang)
    zh = lang == "zh"
    groups = [c for c in frame.columns if c not in _CHURN_COLUMNS]
    flagged = frame[frame["alert"].fillna(False).astype(bool)]
    rules = frame["rule"].dropna() if "rule" in frame.columns else pd.Series(dtype=str)
    rule_words = rule or (rule_text(rules.iloc[0], lang) if len(rules) else "")
    if flagged.empty:
        said = (f"没有任何{_unit(period, lang)}的流失率异常" if zh else
                f"No {_unit(period, lang)}'s churn was abnormal")
        if rule_words:
            said += f"（规则：{rule_words}）。" if zh else f" (rule: {rule_words})."
        else:
            said += "。" if zh else "."
        return [Sentence(said, "good")]
    out = []
    strength = "z_score" if "z_score" in flagged.columns else "churn_rate"
    shown = flagged.sort_values(strength, ascending=False).head(limit).sort_values("period")
    for _, row in shown.iterrows():
        who = " ".join(str(row[g]) for g in groups)
        when = fmt_period(row["period"], period, lang)
        first = not out  # the rule is stated once, on the first alert
        rule_part = ((f"（规则：{rule_words}）" if zh else f" (rule: {rule_words})")
                     if rule_words and first else "")
        if zh:
            said = (f"{when}{(' ' + who + ' ') if who else ''}的流失率为 {fmt_pct(row['churn_rate'], lang)}，"
                    f"高于正常水平 {fmt_pct(row['baseline'], lang)}{rule_part}。")
        else:
            said = (f"{f'In {when}, {who} churn' if who else f'Churn in {when}'} was "
                    f"{fmt_pct(row['churn_rate'], lang)}, above the normal "
                    f"{fmt_pct(row['baseline'], lang)}{rule_part}.")
        out.append(Sentence(said, "warning"))
    if len(flagged) > limit:
        more = len(flagged) - limit
        out.append(Sentence(f"另有 {more} 个{_unit(period, lang)}的流失率也被标记为异常。" if zh else
                            f"{more} more {_unit(period, lang, more)} were flagged too.", "warning"))
    return out



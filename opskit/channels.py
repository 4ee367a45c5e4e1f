"""Channels: which marketing channel each touchpoint came from.

:func:`group` derives a channel from ``source`` / ``medium`` / ``campaign``
with ordered rules modelled on GA4's default channel group, extended with
Chinese platforms and Chinese spellings; :func:`grouping_summary` counts the
result and reports the unassigned share; :func:`performance` puts traffic,
cost and attributed conversions side by side (CTR, CPC, CPA, ROAS, ROI).
Definitions, and the rules table in order, are in docs/metrics.md
("Channels", "Channel economics").
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from opskit import engine
from opskit._channel_acquisition import acquisition
from opskit._channel_economics import performance
from opskit._inputs import table_arg
from opskit.errors import DataError

__all__ = ["DEFAULT_RULES", "PLATFORMS", "UNASSIGNED", "Rule", "acquisition", "group",
           "grouping_summary", "performance"]

#: The channel of a touchpoint no rule matches.
UNASSIGNED = "Unassigned"

_FIELDS = ("source", "medium", "campaign")
_KEY = "__opskit_key_"
_ORDER = "__opskit_order"
# Lookarounds, backreferences and named groups: Python accepts them, DuckDB (RE2) or Spark (Java) do not.
_UNPORTABLE = re.compile(r"\(\?(?:[=!]|<[=!]|P?<|P=)|\\[1-9]")


# --- rules -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One channel rule: the channel of the touchpoints matching every pattern given.

    Each pattern is a case-insensitive regular expression *searched* in its
    column (``"baidu"`` matches ``www.baidu.com``; anchor with ``^...$`` for
    an exact value). ``None`` means any value. A null or missing column is
    matched as the empty text, so ``"^$"`` selects empty values. Patterns
    must use the syntax DuckDB (RE2) and Spark (Java) share: no lookarounds,
    backreferences or named groups.

    Examples
    --------
    >>> Rule("KOL", medium="^kol$")
    Rule(channel='KOL', source=None, medium='^kol$', campaign=None)
    >>> Rule("KOL", medium="(kol")
    Traceback (most recent call last):
    ...
    ValueError: rule for channel 'KOL': medium pattern '(kol' is not a valid regular expression ...
    """

    channel: str
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.channel, str) or not self.channel.strip():
            raise ValueError(f"a rule needs a non-empty `channel` name, not {self.channel!r}")
        for name in _FIELDS:
            _check_pattern(self.channel, name, getattr(self, name))

    @property
    def patterns(self) -> dict[str, str]:
        """``{column: pattern}`` for the columns this rule constrains."""
        return {name: getattr(self, name) for name in _FIELDS if getattr(self, name) is not None}


def _check_pattern(channel: str, name: str, pattern: Any) -> None:
    where = f"rule for channel {channel!r}: {name} pattern {pattern!r}"
    if pattern is None:
        return
    if not isinstance(pattern, str):
        raise TypeError(f"{where} must be a regular expression (text) or None")
    if not pattern:
        raise ValueError(f"{where} is empty; use None for any value, or '^$' for an empty value")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(
            f"{where} is not a valid regular expression ({exc}); fix the pattern "
            "(escape literal characters such as . ( ) with a backslash)") from None
    if _UNPORTABLE.search(pattern):
        raise ValueError(
            f"{where} uses a lookaround, backreference or named group, which DuckDB and Spark "
            "do not support; rewrite it without them (or split it into several rules)")


def _flagged(pattern: str) -> str:
    """The pattern as run: case-insensitive (an existing leading ``(?i)`` is not repeated)."""
    return "(?i)" + pattern.removeprefix("(?i)")


#: Recognised platforms: (name, kind, pattern searched in the lower-cased ``source``).
#: ``kind`` decides which site list of the default rules the platform belongs to.
PLATFORMS: tuple[tuple[str, str, str], ...] = (
    ("Baidu", "search", r"baidu|百度"),
    ("Sogou", "search", r"sogou|搜狗"),
    ("360 Search", "search", r"(^|\.)so\.com|360搜索"),
    ("Shenma", "search", r"(^|\.)sm\.cn|神马"),
    ("WeChat", "social", r"wechat|weixin|微信|公众号|朋友圈|视频号"),
    ("Weibo", "social", r"weibo|微博"),
    ("Douyin", "social", r"douyin|抖音"),
    ("Xiaohongshu", "social", r"xiaohongshu|小红书|xhslink|(^|[^a-z])xhs([^a-z]|$)|^red$"),
    ("Kuaishou", "social", r"kuaishou|快手"),
    ("Zhihu", "social", r"zhihu|知乎"),
    ("Douban", "social", r"douban|豆瓣"),
    ("Bilibili", "video", r"bilibili|b站|哔哩哔哩|b23\.tv"),
    ("Youku", "video", r"youku|优酷"),
    ("iQIYI", "video", r"iqiyi|爱奇艺"),
    ("Taobao", "shopping", r"taobao|淘宝"),
    ("Tmall", "shopping", r"tmall|天猫"),
    ("JD", "shopping", r"(^|[^a-z])jd([^a-z]|$)|京东"),
    ("Pinduoduo", "shopping", r"pinduoduo|yangkeduo|拼多多"),
    ("Google", "search", r"google"),
    ("Bing", "search", r"(^|[^a-z])bing([^a-z]|$)|必应"),
    ("Yahoo", "search", r"yahoo"),
    ("Yandex", "search", r"yandex"),
    ("DuckDuckGo", "search", r"duckduckgo"),
    ("TikTok", "social", r"tiktok"),
    ("Facebook", "social", r"facebook|(^|[^a-z])fb([^a-z]|$)"),
    ("Instagram", "social", r"instagram|^ig$"),
    ("LinkedIn", "social", r"linkedin|lnkd\.in"),
    ("X", "social", r"twitter|^x$|(^|\.)x\.com|^t\.co$"),
    ("Reddit", "social", r"reddit"),
    ("Pinterest", "social", r"pinterest"),
    ("YouTube", "video", r"youtube|youtu\.be"),
    ("Amazon", "shopping", r"amazon"),
    ("eBay", "shopping", r"ebay"),
)


def _sites(kind: str) -> str:
    return "|".join(pattern for _, k, pattern in PLATFORMS if k == kind)


_PAID = r"^(.*cp.*|ppc|retargeting|paid.*|sem|付费.*|竞价.*|信息流.*)$"
_SHOP_CAMPAIGN = r"^(.*(([^a-df-z]|^)shop|shopping|购物|电商).*)$"
_EMAIL = r"^(email|e-mail|e_mail|e mail|edm|邮件|电子邮件)$"
_SMS = r"^(sms|短信)$"

#: GA4's default channel group, in GA4's order, with Chinese platforms and spellings.
#: Several rules with one channel are GA4's "or" conditions; the first match wins.
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("Direct", source=r"^(\(direct\)|direct)?$", medium=r"^(\(none\)|\(not set\)|none|not set)?$"),
    Rule("Cross-network", campaign=r"cross-network"),
    Rule("Paid Shopping", source=_sites("shopping"), medium=_PAID),
    Rule("Paid Shopping", campaign=_SHOP_CAMPAIGN, medium=_PAID),
    Rule("Paid Search", source=_sites("search"), medium=_PAID),
    Rule("Paid Social", source=_sites("social"), medium=_PAID),
    Rule("Paid Video", source=_sites("video"), medium=_PAID),
    Rule("Display", medium=r"^(display|banner|expandable|interstitial|cpm|展示|展示广告)$"),
    Rule("Paid Other", medium=_PAID),
    Rule("Organic Shopping", source=_sites("shopping")),
    Rule("Organic Shopping", campaign=_SHOP_CAMPAIGN),
    Rule("Organic Social", source=_sites("social")),
    Rule("Organic Social",
         medium=r"^(social|social-network|social-media|sm|social network|social media|社交|社交媒体)$"),
    Rule("Organic Video", source=_sites("video")),
    Rule("Organic Video", medium=r"video|视频"),
    Rule("Organic Search", source=_sites("search")),
    Rule("Organic Search", medium=r"^(organic|seo|自然搜索)$"),
    Rule("Email", source=_EMAIL),
    Rule("Email", medium=_EMAIL),
    Rule("Affiliates", medium=r"^affiliates?$"),
    Rule("Referral", medium=r"^(referral|app|link|引荐)$"),
    Rule("Audio", medium=r"^(audio|音频)$"),
    Rule("SMS", source=_SMS),
    Rule("SMS", medium=_SMS),
    Rule("Mobile Push Notifications", medium=r"push$|mobile|notification|推送"),
    Rule("Mobile Push Notifications", source=r"^firebase$"),
)


# --- public functions ------------------------------------------------------------------------


def group(touchpoints: Any, /, *, rules: str | Sequence[Rule | Mapping[str, str]] = "default",
          overrides: Sequence[Rule | Mapping[str, str]] | None = None) -> Any:
    """Derive each touchpoint's channel from its source, medium and campaign.

    Rules are tried in order and the first match wins, as in GA4: first
    ``overrides``, then ``rules`` (:data:`DEFAULT_RULES` by default); a
    touchpoint no rule matches is ``"Unassigned"``. Three columns come out:
    ``channel`` (your rules), ``channel_group`` (always the default rules,
    so groups compare across teams whatever their own rules) and
    ``platform`` (the recognised site in ``source``, see :data:`PLATFORMS`).
    Matching is case-insensitive; null and missing ``source`` / ``medium``
    / ``campaign`` are empty text, so a touchpoint with neither source nor
    medium is Direct.

    Parameters
    ----------
    touchpoints
        The ``touchpoints`` table with ``source`` and/or ``medium`` (and
        optionally ``campaign``): an :class:`opskit.Dataset`, an Ibis table
        or a pandas DataFrame. A frame is validated as :func:`opskit.load`
        does (so it needs ``user_id`` and ``touched_at``), except its
        ``channel``, which may be absent or blank since it is replaced.
    rules
        ``"default"`` or a list of :class:`Rule` (or dicts with the keys
        ``channel``, ``source``, ``medium``, ``campaign``) replacing the
        default rules for ``channel``.
    overrides
        Rules (or dicts) tried before ``rules``.

    Returns
    -------
    pandas.DataFrame or ibis.Table
        The touchpoints with ``channel`` (str, replaced or added),
        ``channel_group`` (str) and ``platform`` (str, null when no platform is
        recognised). A pandas frame gives a pandas frame: the validated
        touchpoints (contract columns first, ids as text, timestamps parsed,
        text trimmed), one row per input row in input order, exact
        duplicates kept. A Dataset or an Ibis table gives an unexecuted Ibis
        table; nothing is computed until you execute it.

    Raises
    ------
    DataError
        The table has neither a ``source`` nor a ``medium`` column.
    ValueError
        A rule is invalid (unknown key, empty or invalid pattern).

    Examples
    --------
    >>> import pandas as pd
    >>> tp = pd.DataFrame({
    ...     "user_id": ["u1", "u2", "u3", "u4", "u5"],
    ...     "touched_at": "2025-01-05 09:00",
    ...     "channel": ["百度搜索", "微信", "direct", "email", "KOL"],
    ...     "source": ["baidu", "mp.weixin.qq.com", "(direct)", "newsletter", "xiaohongshu"],
    ...     "medium": ["cpc", "referral", "(none)", "email", "kol"]})
    >>> group(tp)[["source", "channel", "platform"]]
                 source          channel     platform
    0             baidu      Paid Search        Baidu
    1  mp.weixin.qq.com   Organic Social       WeChat
    2          (direct)           Direct          NaN
    3        newsletter            Email          NaN
    4       xiaohongshu   Organic Social  Xiaohongshu
    >>> group(tp, overrides=[{"channel": "KOL", "medium": "^kol$"}])["channel"].tolist()
    ['Paid Search', 'Organic Social', 'Direct', 'Email', 'KOL']
    """
    grouped = _grouped(touchpoints, rules, overrides)
    if not isinstance(touchpoints, pd.DataFrame):
        return grouped
    return engine.to_pandas(grouped.order_by(_ORDER)).drop(columns=_ORDER).reset_index(drop=True)


def grouping_summary(touchpoints: Any, /, *, rules: str | Sequence[Rule | Mapping[str, str]] = "default",
                     overrides: Sequence[Rule | Mapping[str, str]] | None = None) -> pd.DataFrame:
    """Touchpoints per channel after :func:`group`, and the share left unassigned.

    Parameters
    ----------
    touchpoints, rules, overrides
        As for :func:`group`.

    Returns
    -------
    pandas.DataFrame
        ``channel`` (str), ``touchpoints`` (int64) and ``share`` (float64, of
        all touchpoints; the shares sum to 1), one row per channel that
        occurs, most touchpoints first (ties by channel name).
        ``attrs["unassigned_share"]`` is the share of ``"Unassigned"``
        touchpoints (0.0 when there are none, NaN for an empty table).
        Every row :func:`group` returns counts, so a pandas frame's exact
        duplicates count too.

    Examples
    --------
    >>> import pandas as pd
    >>> tp = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "touched_at": "2025-01-05",
    ...     "channel": "?", "source": ["baidu", "google", "partner", "(direct)"],
    ...     "medium": ["cpc", "cpc", "kol", "(none)"]})
    >>> summary = grouping_summary(tp)
    >>> summary
           channel  touchpoints  share
    0  Paid Search            2   0.50
    1       Direct            1   0.25
    2   Unassigned            1   0.25
    >>> summary.attrs["unassigned_share"]
    0.25
    """
    grouped = _grouped(touchpoints, rules, overrides)
    counts = engine.to_pandas(grouped.group_by("channel").aggregate(touchpoints=grouped.count()))
    counts["touchpoints"] = counts["touchpoints"].astype("int64")
    total = int(counts["touchpoints"].sum())
    counts["share"] = (counts["touchpoints"] / total if total else counts["touchpoints"]).astype("float64")
    frame = (counts.sort_values(["touchpoints", "channel"], ascending=[False, True])
             .reset_index(drop=True)[["channel", "touchpoints", "share"]])
    unassigned = frame.loc[frame["channel"] == UNASSIGNED, "share"].sum()
    frame.attrs["unassigned_share"] = float(unassigned) if total else float("nan")
    return frame


# --- the expression ----------------------------------------------------------------------------


def _grouped(touchpoints: Any, rules: Any, overrides: Any) -> ir.Table:
    """The touchpoints with ``channel``, ``channel_group`` and ``platform`` (an Ibis table).

    The rules run once per distinct (source, medium, campaign), usually a few
    hundred values, whose results are joined back (null-safe) to the rows:
    five times faster on DuckDB than running every regular expression on
    every row. A pandas frame keeps every row (exact duplicates included) and
    gets :data:`_ORDER`, its input position; its ``channel``, which is
    replaced, is not validated (it may be absent or blank).
    """
    first = _as_rules(overrides or (), "overrides")
    custom = None if _is_default(rules) else _as_rules(rules, "rules")
    if isinstance(touchpoints, pd.DataFrame):
        given = [c for c in touchpoints.columns if str(c).strip().lower() == "channel"]
        touchpoints = touchpoints.drop(columns=given).assign(
            **{"channel": "-", _ORDER: range(len(touchpoints))})
    table = table_arg(touchpoints, "touchpoints", ())
    present = [name for name in _FIELDS if name in table.columns]
    if "source" not in present and "medium" not in present:
        found = ", ".join(c for c in table.columns if c != _ORDER)
        raise DataError.single(
            "touchpoints", "source", "missing_column", 0,
            "channels.group derives the channel from `source` and `medium` (and `campaign`), "
            f"but the table has neither (columns found: {found})",
            "name the UTM source and medium columns `source` and `medium` (a frame: "
            "frame.rename(columns={'utm_source': 'source', 'utm_medium': 'medium'}); files: "
            "opskit.load(..., mapping={'touchpoints': {'utm_source': 'source', ...}})), "
            "or use the existing `channel` as it is")
    keys = table.select(*present).distinct()
    texts = {name: _text(keys, name) for name in _FIELDS}
    keys = keys.mutate(channel_group=_first_match(DEFAULT_RULES, texts, UNASSIGNED),
                       platform=_platform(texts))
    fallback = keys.channel_group if custom is None else _first_match(custom, texts, UNASSIGNED)
    keys = keys.mutate(channel=_first_match(first, texts, fallback) if first else fallback)
    keys = keys.rename({_KEY + name: name for name in present})
    derived = ("channel", "channel_group", "platform")
    rows = table.drop(*[c for c in derived if c in table.columns])
    joined = rows.inner_join(keys, [rows[n].identical_to(keys[_KEY + n]) for n in present])
    columns = [c for c in table.columns if c not in derived[1:]]
    columns += [c for c in derived if c not in columns]
    return joined.select(*columns)


def _is_default(rules: Any) -> bool:
    if isinstance(rules, str):
        if rules != "default":
            raise ValueError(f"rules must be 'default' or a list of rules, not {rules!r}")
        return True
    return False


def _as_rules(items: Any, what: str) -> tuple[Rule, ...]:
    """Rules from a list of :class:`Rule` and dicts; errors name the position."""
    if isinstance(items, (str, Rule, Mapping)) or not isinstance(items, Sequence):
        raise TypeError(f"{what} must be a list of rules (Rule objects or dicts), not "
                        f"{type(items).__name__}; wrap a single rule in a list")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, Rule):
            out.append(item)
            continue
        if not isinstance(item, Mapping):
            raise TypeError(f"{what}[{i}] must be a Rule or a dict, not {type(item).__name__}")
        allowed = [f.name for f in fields(Rule)]
        unknown = [k for k in item if k not in allowed]
        if unknown or "channel" not in item:
            problem = (f"has unknown key(s) {', '.join(map(repr, unknown))}" if unknown
                       else "has no 'channel'")
            raise ValueError(f"{what}[{i}] {problem}; a rule has the keys {', '.join(allowed)} "
                             "(channel required), e.g. {'channel': 'KOL', 'medium': '^kol$'}")
        try:
            out.append(Rule(**item))
        except ValueError as exc:
            raise ValueError(f"{what}[{i}]: {exc}") from None
    return tuple(out)


def _text(table: ir.Table, name: str) -> ir.StringValue:
    """Column ``name`` lower-cased, null (or absent) as empty text."""
    if name not in table.columns:
        return ibis.literal("")
    column = table[name]
    if not column.type().is_string():
        column = column.cast("string")
    return column.fill_null("").lower()


def _matches(rule: Rule, texts: dict[str, ir.StringValue]) -> ir.BooleanValue:
    tests = [texts[name].re_search(_flagged(pattern)) for name, pattern in rule.patterns.items()]
    return functools.reduce(operator.and_, tests) if tests else ibis.literal(True)


def _first_match(rules: Sequence[Rule], texts: dict[str, ir.StringValue],
                 else_: str | ir.StringValue) -> ir.StringValue:
    if not rules:
        return ibis.literal(else_) if isinstance(else_, str) else else_
    return ibis.cases(*[(_matches(rule, texts), rule.channel) for rule in rules], else_=else_)


def _platform(texts: dict[str, ir.StringValue]) -> ir.StringValue:
    source = texts["source"]
    return ibis.cases(*[(source.re_search(_flagged(p)), name) for name, _, p in PLATFORMS],
                      else_=ibis.null("string"))

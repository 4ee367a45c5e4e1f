"""opskit.channels: one hand-built row per default rule, rule handling, and a plain-Python reference."""

from __future__ import annotations

import re

import ibis
import ibis.expr.types as ir
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit import engine
from opskit.channels import DEFAULT_RULES, PLATFORMS, UNASSIGNED, Rule, group, grouping_summary

# (source, medium, campaign, channel_group, platform), one or more per default rule, in rule order.
CASES = [
    ("(direct)", "(none)", None, "Direct", None),                    # GA4 example
    ("Direct", "(Not Set)", None, "Direct", None),
    (None, None, None, "Direct", None),                              # nothing known is Direct
    ("", "none", None, "Direct", None),
    ("google", "cpc", "Cross-Network Q1", "Cross-network", "Google"),
    ("淘宝", "cpc", None, "Paid Shopping", "Taobao"),
    ("partner", "cpc", "e-shop spring", "Paid Shopping", None),
    ("google", "cpc", None, "Paid Search", "Google"),                # GA4 example
    ("Baidu", "CPC", "品牌词", "Paid Search", "Baidu"),
    ("百度", "竞价", None, "Paid Search", "Baidu"),
    ("cn.bing.com", "sem", None, "Paid Search", "Bing"),
    ("wechat", "paid_social", None, "Paid Social", "WeChat"),
    ("抖音", "信息流", None, "Paid Social", "Douyin"),
    ("TikTok", "ppc", None, "Paid Social", "TikTok"),
    ("bilibili", "cpc", None, "Paid Video", "Bilibili"),
    ("partner", "Banner", None, "Display", None),
    ("toutiao", "信息流", None, "Paid Other", None),
    ("amazon", "referral", None, "Organic Shopping", "Amazon"),
    ("partner", "referral", "Shopping Week", "Organic Shopping", None),
    ("mp.weixin.qq.com", "referral", None, "Organic Social", "WeChat"),
    ("xiaohongshu", "kol", None, "Organic Social", "Xiaohongshu"),
    ("微博", None, None, "Organic Social", "Weibo"),
    ("xhs", "", None, "Organic Social", "Xiaohongshu"),
    ("red", None, None, "Organic Social", "Xiaohongshu"),
    ("reddit.com", None, None, "Organic Social", "Reddit"),
    ("partner", "Social Media", None, "Organic Social", None),
    ("哔哩哔哩", "kol", None, "Organic Video", "Bilibili"),
    ("partner", "短视频", None, "Organic Video", None),
    ("google", "organic", None, "Organic Search", "Google"),         # GA4 example
    ("sogou", "referral", None, "Organic Search", "Sogou"),
    ("ecosia", "organic", None, "Organic Search", None),
    ("e-mail", "newsletter", None, "Email", None),
    ("newsletter", "email", None, "Email", None),                    # GA4 example
    ("partner", "EDM", None, "Email", None),
    ("partner", "邮件", None, "Email", None),
    ("partner", "affiliate", None, "Affiliates", None),
    ("partner", "referral", "workshop", "Referral", None),           # "workshop" is no shop
    ("example.com", "link", None, "Referral", None),
    ("ximalaya", "audio", None, "Audio", None),
    ("短信", "notice", None, "SMS", None),
    ("operator", "sms", None, "SMS", None),
    ("app", "app-push", None, "Mobile Push Notifications", None),
    ("app", "推送", None, "Mobile Push Notifications", None),
    ("firebase", "fcm", None, "Mobile Push Notifications", None),
    ("partner", None, None, UNASSIGNED, None),
    ("box.com", "", None, UNASSIGNED, None),                         # not x.com
    ("bingo", "", None, UNASSIGNED, None),                           # not bing
    # precedence: the first matching rule wins
    ("google", "cpm", None, "Paid Search", "Google"),                # paid before Display
    ("(direct)", "organic", None, "Organic Search", None),           # Direct needs both
    ("email", "social", None, "Organic Social", None),               # social before Email
    ("B站", "CPC", "双11 Shopping", "Paid Shopping", "Bilibili"),    # shopping before video
    ("t.co", "referral", None, "Organic Social", "X"),               # social site before Referral
]


def _touchpoints(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": [f"u{i}" for i in range(len(rows))], "touched_at": "2025-01-05 09:00",
        "channel": "team label", "source": [r[0] for r in rows], "medium": [r[1] for r in rows],
        "campaign": [r[2] for r in rows]})


def _reference(rules, source, medium, campaign) -> str:
    """Ordered rules in plain Python: the first rule whose every pattern is found wins."""
    values = {"source": source, "medium": medium, "campaign": campaign}
    for rule in rules:
        patterns = {k: getattr(rule, k) for k in values if getattr(rule, k) is not None}
        if all(re.search(f"(?i){p}", (values[k] or "").lower()) for k, p in patterns.items()):
            return rule.channel
    return UNASSIGNED


def _platform(source) -> str | None:
    return next((name for name, _, p in PLATFORMS if re.search(p, (source or "").lower())), None)


@pytest.fixture(scope="module")
def grouped_cases() -> pd.DataFrame:
    return group(_touchpoints(CASES))


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{c[0]}/{c[1]}/{c[2]}" for c in CASES])
def test_default_rules_by_hand(grouped_cases, i):
    *_, channel_group, platform = CASES[i]
    row = grouped_cases.iloc[i]
    assert row["channel_group"] == channel_group and row["channel"] == channel_group
    assert (None if pd.isna(row["platform"]) else row["platform"]) == platform


def test_every_default_rule_decides_a_case_and_the_reference_agrees():
    def first_rule(case):
        matching = (i for i, r in enumerate(DEFAULT_RULES) if _reference([r], *case[:3]) != UNASSIGNED)
        return next(matching, None)

    assert {first_rule(c) for c in CASES} == {*range(len(DEFAULT_RULES)), None}
    assert [_reference(DEFAULT_RULES, *c[:3]) for c in CASES] == [c[3] for c in CASES]
    assert [_platform(c[0]) for c in CASES] == [c[4] for c in CASES]


def test_pandas_in_pandas_out_in_input_order_with_duplicates_kept():
    rows = [("baidu", "cpc", None), ("google", "organic", None), ("baidu", "cpc", None)]
    frame = _touchpoints(rows).assign(user_id="u1")
    out = group(frame)
    assert isinstance(out, pd.DataFrame) and len(out) == 3
    # the validated touchpoints: contract columns in contract order, `channel` replaced in place
    assert out.columns.tolist() == ["user_id", "touched_at", "channel", "campaign", "source", "medium",
                                    "channel_group", "platform"]
    assert out["channel"].tolist() == ["Paid Search", "Organic Search", "Paid Search"]
    assert out["touched_at"].dtype == "datetime64[ns]"
    # `channel` is replaced, so it may be absent or blank
    pd.testing.assert_frame_equal(group(frame.drop(columns="channel")), out)
    pd.testing.assert_frame_equal(group(frame.assign(channel=None)), out)


def test_ibis_and_dataset_in_give_an_unexecuted_ibis_table():
    frame = _touchpoints(CASES[:8])
    table = ibis.memtable(frame.drop(columns="channel"))
    out = group(table)
    assert isinstance(out, ir.Table)
    assert out.columns[-3:] == ("channel", "channel_group", "platform")
    events = pd.DataFrame({"user_id": ["u0"], "event_at": ["2025-01-05 09:00"], "event": ["signup"]})
    ds = opskit.Dataset.from_frames(events=events, touchpoints=frame)
    from_ds = group(ds)
    assert isinstance(from_ds, ir.Table)
    got = engine.to_pandas(from_ds).sort_values("user_id")["channel"].tolist()
    assert got == [c[3] for c in CASES[:8]]


def test_missing_columns_count_as_empty_and_no_source_nor_medium_is_an_error():
    only_medium = ibis.memtable({"medium": ["cpc", "organic", "email"]})
    got = engine.to_pandas(group(only_medium))["channel"].tolist()
    assert got == ["Paid Other", "Organic Search", "Email"]
    with pytest.raises(opskit.DataError, match=r"neither.*Fix: name the UTM source and medium columns"):
        group(_touchpoints(CASES[:2]).drop(columns=["source", "medium", "campaign"]))


def test_overrides_beat_defaults_and_keep_channel_group():
    frame = _touchpoints([("xiaohongshu", "kol", None), ("baidu", "cpc", "品牌词"), ("baidu", "cpc", None)])
    out = group(frame, overrides=[Rule("KOL", medium="^kol$"), {"channel": "Brand", "campaign": "品牌"},
                                  Rule("Never", campaign="品牌")])
    assert out["channel"].tolist() == ["KOL", "Brand", "Paid Search"]
    assert out["channel_group"].tolist() == ["Organic Social", "Paid Search", "Paid Search"]


def test_custom_rules_replace_the_defaults():
    frame = _touchpoints([("baidu", "cpc", None), ("Wechat", "paid_social", None), ("google", "cpc", None)])
    custom = [Rule("百度搜索", source="baidu", medium="^cpc$"), {"channel": "微信", "source": "wechat|微信"}]
    out = group(frame, rules=custom)
    assert out["channel"].tolist() == ["百度搜索", "微信", UNASSIGNED]
    assert out["channel_group"].tolist() == ["Paid Search", "Paid Social", "Paid Search"]
    assert group(frame, rules=[])["channel"].tolist() == [UNASSIGNED] * 3
    catch_all = group(frame, rules=[Rule("Other")], overrides=[Rule("Baidu", source="BAIDU")])
    assert catch_all["channel"].tolist() == ["Baidu", "Other", "Other"]


def test_dict_rules_equal_rule_objects():
    frame = _touchpoints(CASES)
    as_dicts = [{"channel": "Paid", "medium": "cpc|paid"}, {"channel": "Shop", "campaign": "shop"}]
    as_rules = [Rule("Paid", medium="cpc|paid"), Rule("Shop", campaign="shop")]
    pd.testing.assert_frame_equal(group(frame, rules=as_dicts), group(frame, rules=as_rules))


@pytest.mark.parametrize(("rule", "error", "message"), [
    ({"channel": "KOL", "meduim": "kol"}, ValueError, r"overrides\[0\] has unknown key\(s\) 'meduim'"),
    ({"medium": "kol"}, ValueError, r"overrides\[0\] has no 'channel'"),
    ({"channel": "KOL", "medium": "(kol"}, ValueError, r"overrides\[0\].*not a valid regular expression"),
    ({"channel": "KOL", "medium": "k(?=ol)"}, ValueError, "lookaround"),
    ({"channel": "KOL", "medium": ""}, ValueError, r"is empty; use None for any value, or '\^\$'"),
    ({"channel": "KOL", "medium": 3}, TypeError, "must be a regular expression"),
    ({"channel": " "}, ValueError, "non-empty `channel`"),
    ("KOL", TypeError, r"overrides\[0\] must be a Rule or a dict, not str"),
])
def test_invalid_rules_are_clear_errors(rule, error, message):
    with pytest.raises(error, match=message):
        group(_touchpoints(CASES[:1]), overrides=[rule])


def test_invalid_rules_arguments():
    with pytest.raises(ValueError, match="rules must be 'default' or a list of rules, not 'ga4'"):
        group(_touchpoints(CASES[:1]), rules="ga4")
    with pytest.raises(TypeError, match="not Rule; wrap a single rule in a list"):
        group(_touchpoints(CASES[:1]), overrides=Rule("KOL", medium="kol"))
    with pytest.raises(TypeError, match="rules must be a list of rules"):
        group(_touchpoints(CASES[:1]), rules=None)
    with pytest.raises(ValueError, match="not a valid regular expression"):
        Rule("KOL", source="[baidu")


def test_summary_shares_and_unassigned_share():
    rows = [("baidu", "cpc", None)] * 3 + [("partner", None, None)] * 2 + [("(direct)", None, None)] * 5
    frame = _touchpoints(rows)
    summary = grouping_summary(frame)
    assert summary.columns.tolist() == ["channel", "touchpoints", "share"]
    assert summary["channel"].tolist() == ["Direct", "Paid Search", UNASSIGNED]
    assert summary["touchpoints"].tolist() == [5, 3, 2] and summary["touchpoints"].dtype == "int64"
    assert summary["share"].sum() == pytest.approx(1.0)
    assert summary.attrs["unassigned_share"] == pytest.approx(0.2)
    fixed = grouping_summary(frame, overrides=[Rule("Partners", source="^partner$")])
    assert fixed.attrs["unassigned_share"] == 0.0 and UNASSIGNED not in fixed["channel"].tolist()


def test_summary_of_an_empty_table():
    empty = ibis.memtable(pd.DataFrame({"source": pd.Series([], dtype="str"),
                                        "medium": pd.Series([], dtype="str")}))
    summary = grouping_summary(empty)
    assert summary.empty and summary.columns.tolist() == ["channel", "touchpoints", "share"]
    assert pd.isna(summary.attrs["unassigned_share"])


SOURCES = ["google", "Baidu", "百度", "mp.weixin.qq.com", "微信", "(direct)", "direct", "", None,
           "newsletter", "B站", "xhs", "red", "reddit", "partner", "t.co", "x.com", "box.com", "淘宝",
           "jd.com", "douyin", "TikTok", "youtube", "sms", "firebase", "email", "bing.com", "bingo"]
MEDIUMS = ["cpc", "organic", "referral", "(none)", "(not set)", "", None, "email", "E-Mail", "social",
           "paid_social", "display", "cpm", "affiliate", "video", "视频", "audio", "sms", "push",
           "mobile", "邮件", "kol", "sem", "信息流", "link"]
CAMPAIGNS = [None, "", "双11大促", "Shopping-Q4", "workshop", "eshop", "cross-network", "品牌词", "电商节"]
POOL = [Rule("KOL", medium="^kol$"), Rule("Baidu SEM", source="baidu|百度", medium="cpc"),
        Rule("Double 11", campaign="双11"), Rule("WeChat", source="weixin|微信"),
        Rule("Empty", source="^$"), Rule("Everything else")]


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.tuples(st.sampled_from(SOURCES), st.sampled_from(MEDIUMS), st.sampled_from(CAMPAIGNS),
                            st.sampled_from([str.lower, str.upper, str.title])), min_size=1, max_size=25),
    overrides=st.lists(st.sampled_from(POOL), max_size=3),
    rules=st.one_of(st.just("default"), st.lists(st.sampled_from(POOL), max_size=4)),
)
def test_matches_a_plain_python_reference(rows, overrides, rules):
    rows = [tuple(None if v is None else case(v) for v in (s, m, c)) for s, m, c, case in rows]
    table = ibis.memtable(pd.DataFrame({"i": range(len(rows)), "source": [r[0] for r in rows],
                                        "medium": [r[1] for r in rows], "campaign": [r[2] for r in rows]},
                                       dtype=object).astype({"i": "int64"}))
    got = engine.to_pandas(group(table, rules=rules, overrides=overrides).order_by("i"))
    effective = [*overrides, *(DEFAULT_RULES if rules == "default" else rules)]
    assert got["channel"].tolist() == [_reference(effective, *r) for r in rows]
    assert got["channel_group"].tolist() == [_reference(DEFAULT_RULES, *r) for r in rows]
    assert [None if pd.isna(p) else p for p in got["platform"]] == [_platform(r[0]) for r in rows]


@pytest.mark.spark
def test_spark_gives_duckdbs_answers(tmp_path, spark_backend):
    frame = _touchpoints(CASES).drop(columns=["touched_at", "channel"])
    path = tmp_path / "touchpoints.parquet"
    frame.to_parquet(path)  # a memtable would turn nulls into 'NaN' text on Spark (ibis 12, pandas 3)
    on_spark = spark_backend.read_parquet(str(path), table_name="channels_touchpoints")
    on_duckdb = ibis.memtable(frame)
    overrides = [Rule("KOL", medium="^kol$"), {"channel": "Brand", "campaign": "品牌"}]
    spark_out = group(on_spark, overrides=overrides)
    assert engine.backend_name(spark_out) == "pyspark"
    got = engine.to_pandas(spark_out).sort_values("user_id", ignore_index=True)
    expected = engine.to_pandas(group(on_duckdb, overrides=overrides)).sort_values("user_id",
                                                                                 ignore_index=True)
    pd.testing.assert_frame_equal(got, expected)
    assert dict(zip(got["user_id"], got["channel_group"], strict=True)) == {
        f"u{i}": c[3] for i, c in enumerate(CASES)}
    pd.testing.assert_frame_equal(grouping_summary(on_spark), grouping_summary(on_duckdb))

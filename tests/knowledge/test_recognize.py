"""Matter recognition, measured on the development set of real-style report messages.

The figures are printed (``pytest -s`` or the summary of ``-rA``) and the test fails
below the floors, which are set a little under the measured figures so that a change
that makes recognition worse cannot land unnoticed.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from handlers.report import REPORT_THRESHOLD
from knowledge.matters import load_matters
from knowledge.recognize import default_recognizer

DEV_SET = Path(__file__).resolve().parents[1] / "data" / "report_messages.json"
TOP1_FLOOR = 0.86
TOP3_FLOOR = 0.96

CHATTER = [
    "你好",
    "在吗",
    "谢谢",
    "谢谢你们",
    "好的",
    "收到",
    "今天星期几",
    "怎么用这个",
    "早上好",
    "辛苦了",
    "请问社区服务中心几点上班",
    "哈哈哈",
    "明天开会吗",
    "我知道了",
    "你是谁",
    "可以帮我查一下快递吗",
    "周末有什么活动",
    "帮我看看天气",
    "吃饭了没",
]


def _dev_set() -> list[dict[str, str]]:
    with DEV_SET.open(encoding="utf-8") as fh:
        return json.load(fh)


def test_dev_set_is_large_and_uses_only_known_matters() -> None:
    cases = _dev_set()
    ids = set(load_matters().matters)
    assert len(cases) >= 300
    assert {c["matter"] for c in cases} <= ids
    assert len({c["matter"] for c in cases}) >= 25


def test_recognition_top1_and_top3_on_the_dev_set(capsys: pytest.CaptureFixture[str]) -> None:
    recognizer = default_recognizer()
    cases = _dev_set()
    top1 = top3 = 0
    misses: Counter[str] = Counter()
    by_style: Counter[str] = Counter()
    style_total: Counter[str] = Counter()
    for case in cases:
        ranked = [g.matter_id for g in recognizer.rank(case["text"], limit=3)]
        style_total[case.get("style", "")] += 1
        if ranked[:1] == [case["matter"]]:
            top1 += 1
            by_style[case.get("style", "")] += 1
        else:
            misses[f"{case['matter']}→{ranked[0] if ranked else '-'}"] += 1
        if case["matter"] in ranked:
            top3 += 1
    n = len(cases)
    summary = {
        "n": n,
        "top1": round(top1 / n, 3),
        "top3": round(top3 / n, 3),
        "top1_by_style": {s: round(by_style[s] / style_total[s], 3) for s in style_total},
        "frequent_misses": misses.most_common(8),
    }
    with capsys.disabled():
        print("\nmatter recognition:", json.dumps(summary, ensure_ascii=False))
    assert top1 / n >= TOP1_FLOOR
    assert top3 / n >= TOP3_FLOOR


def test_reports_sound_like_reports_and_chatter_does_not() -> None:
    recognizer = default_recognizer()
    cases = _dev_set()
    detected = sum(
        1 for c in cases if recognizer.rank(c["text"], limit=1)[0].score >= REPORT_THRESHOLD
    )
    false_alarms = [
        text
        for text in CHATTER
        if (r := recognizer.rank(text, limit=1)) and r[0].score >= REPORT_THRESHOLD
    ]
    assert detected / len(cases) >= 0.9
    assert false_alarms == []


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("楼下着火了，好大的烟！", "119"),
        ("楼道里一股很浓的煤气味", "119"),
        ("有人拿刀在小区门口砍人", "110"),
        ("老人摔倒了在流血，叫不醒", "120"),
    ],
)
def test_emergencies_are_recognised_with_the_number_to_call(text: str, number: str) -> None:
    found = default_recognizer().emergency(text)
    assert found is not None and number in found.numbers


@pytest.mark.parametrize("text", ["楼上漏水了", "电梯坏了", "狗叫得睡不着", "火锅店油烟太大"])
def test_ordinary_reports_are_not_emergencies(text: str) -> None:
    assert default_recognizer().emergency(text) is None

"""The 普法 quiz bank: the shipped questions, the validator, and how rounds are picked."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from knowledge.check import problems
from knowledge.law import load_law
from knowledge.quiz import (
    MAX_EXPLANATION_CHARS,
    MIN_QUESTIONS,
    QuizBank,
    QuizError,
    QuizQuestion,
    load_quiz,
    parse_quiz,
    read_quiz_files,
)

ROOT = Path(__file__).resolve().parents[2]


def _raw(**changes: Any) -> dict[str, Any]:
    """A valid question as it would appear in a YAML file, with ``changes`` applied."""
    raw: dict[str, Any] = {
        "id": "quiz-test-01",
        "question": "从楼上往下扔东西砸伤了人，找不到是谁扔的，怎么办？",
        "options": ["自认倒霉", "由可能加害的建筑物使用人给予补偿", "物业全赔"],
        "answer": 1,
        "explanation": "查不清是谁扔的，由可能加害的使用人补偿，能证明自己不是的除外。",
        "citation": "民法典-1254",
        "tags": ["高空抛物"],
    }
    raw.update(changes)
    return raw


def _problems(files: dict[str, Any]) -> list[str]:
    with pytest.raises(QuizError) as error:
        parse_quiz(files, load_law())
    return error.value.problems


def _bank(sizes: dict[str, int]) -> QuizBank:
    return QuizBank(
        QuizQuestion(
            id=f"quiz-{topic}-{n:02d}",
            question=f"{topic} {n}",
            options=("对", "错"),
            answer=n % 2,
            explanation="解释",
            citation="民法典-1254",
            tags=("标签",),
            topic=topic,
        )
        for topic, size in sizes.items()
        for n in range(1, size + 1)
    )


# --- the shipped bank ---------------------------------------------------------------------


def test_shipped_bank_loads_with_at_least_60_questions_over_several_topics() -> None:
    bank = load_quiz()
    assert len(bank) >= MIN_QUESTIONS
    assert len(bank.topics) >= 8
    assert all(count >= 5 for count in Counter(q.topic for q in bank).values())


def test_every_shipped_citation_is_a_citable_article() -> None:
    law = load_law()
    assert {q.id: law.problem(q.citation) for q in load_quiz() if law.problem(q.citation)} == {}


def test_shipped_ids_are_unique_and_follow_the_naming_scheme() -> None:
    files = read_quiz_files()
    ids = [raw["id"] for questions in files.values() for raw in questions]
    assert len(ids) == len(set(ids))
    for topic, questions in files.items():
        prefix = f"quiz-{topic.replace('_', '-')}-"
        assert all(raw["id"].startswith(prefix) for raw in questions), topic


def test_shipped_answers_point_at_one_of_two_to_four_distinct_options() -> None:
    for q in load_quiz():
        assert 2 <= len(q.options) <= 4, q.id
        assert len(set(q.options)) == len(q.options), q.id
        assert 0 <= q.answer < len(q.options), q.id
        assert len(q.explanation) <= MAX_EXPLANATION_CHARS, q.id


def test_correct_answers_are_not_always_in_the_same_position() -> None:
    positions = Counter(q.answer for q in load_quiz())
    assert len(positions) >= 3
    assert max(positions.values()) <= len(load_quiz()) // 2


def test_knowledge_check_finds_no_problem() -> None:
    assert problems() == []


def test_bank_looks_questions_up_by_id() -> None:
    bank = load_quiz()
    first = next(iter(bank))
    assert bank.get(first.id) is first
    assert bank.get("quiz-no-such-question") is None
    assert first.correct_option == first.options[first.answer]


# --- the validator --------------------------------------------------------------------------


def test_a_valid_question_parses_with_its_file_stem_as_topic() -> None:
    bank = parse_quiz({"height": [_raw()]}, load_law())
    (question,) = list(bank)
    assert question.topic == "height"
    assert question.options[question.answer] == "由可能加害的建筑物使用人给予补偿"
    assert question.tags == ("高空抛物",)


def test_explanation_of_exactly_the_limit_is_accepted() -> None:
    parse_quiz({"t": [_raw(explanation="字" * MAX_EXPLANATION_CHARS)]}, load_law())


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"question": ""}, "question is empty"),
        ({"question": "   "}, "question is empty"),
        ({"explanation": ""}, "explanation is empty"),
        ({"citation": ""}, "citation is empty"),
        ({"id": ""}, "id is empty"),
        ({"id": "Quiz_Height_1"}, "id must be"),
        ({"options": ["只有一个"], "answer": 0}, "options needs 2–4 entries, has 1"),
        ({"options": ["一", "二", "三", "四", "五"], "answer": 0}, "options needs 2–4 entries"),
        ({"options": ["一", ""]}, "options must be a list of non-empty texts"),
        ({"options": "一二三"}, "options must be a list"),
        ({"options": ["一样", "一样", "不一样"]}, "options repeat"),
        ({"answer": 3}, "answer 3 is out of range for 3 options"),
        ({"answer": -1}, "out of range"),
        ({"answer": "1"}, "answer must be the zero-based index"),
        ({"answer": True}, "answer must be the zero-based index"),
        ({"answer": None}, "answer must be the zero-based index"),
        ({"explanation": "字" * (MAX_EXPLANATION_CHARS + 1)}, "explanation has 151 characters"),
        ({"citation": "民法典-2000"}, "no such article"),
        ({"citation": "噪声污染防治法-70"}, "repealed"),
        ({"tags": []}, "tags is empty"),
        ({"tags": "高空抛物"}, "tags must be a list"),
        ({"explaination": "typo"}, "unknown field(s) explaination"),
    ],
)
def test_parser_reports_each_kind_of_problem(changes: dict[str, Any], problem: str) -> None:
    found = _problems({"height": [_raw(**changes)]})
    assert any(problem in p for p in found), found


def test_a_missing_field_is_reported_as_empty() -> None:
    raw = _raw()
    del raw["explanation"]
    assert any("explanation is empty" in p for p in _problems({"t": [raw]}))


def test_duplicate_ids_across_files_are_refused() -> None:
    found = _problems({"a": [_raw()], "b": [_raw(question="另一个问题")]})
    assert any("duplicate id quiz-test-01" in p for p in found), found


def test_a_file_that_is_not_a_list_and_an_entry_that_is_not_a_mapping_are_refused() -> None:
    found = _problems({"a": {"id": "x"}, "b": ["just text"]})
    assert any(p.startswith("a: the file must be a list") for p in found), found
    assert any(p.startswith("b[0] ?: must be a mapping") for p in found), found


def test_every_problem_is_reported_at_once() -> None:
    broken = _raw(answer=7, citation="噪声污染防治法-70", explanation="字" * 200)
    found = _problems({"a": [broken, _raw(id="quiz-test-02", options=["同", "同"], answer=0)]})
    for problem in ("out of range", "repealed", "explanation has 200", "options repeat"):
        assert any(problem in p for p in found), (problem, found)
    assert all(p.startswith(("a[0] quiz-test-01", "a[1] quiz-test-02")) for p in found), found


def test_knowledge_check_prefixes_quiz_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    files = copy.deepcopy(read_quiz_files())
    topic = sorted(files)[0]
    files[topic][0]["answer"] = 9
    monkeypatch.setattr("knowledge.check.read_quiz_files", lambda: files)
    assert [p for p in problems() if "out of range" in p][0].startswith(f"quiz: {topic}[0] ")


def test_knowledge_check_refuses_a_bank_that_is_too_small(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("knowledge.check.read_quiz_files", lambda: {"height": [_raw()]})
    assert f"quiz: fewer than {MIN_QUESTIONS} questions (1)" in problems()


# --- picking a round ------------------------------------------------------------------------


def test_pick_is_deterministic_for_a_seed() -> None:
    bank = load_quiz()
    assert [q.id for q in bank.pick(10, "2026-w48")] == [q.id for q in bank.pick(10, "2026-w48")]


def test_pick_differs_between_seeds() -> None:
    bank = _bank({"a": 10, "b": 10, "c": 10})
    rounds = {tuple(q.id for q in bank.pick(6, f"round-{n}")) for n in range(5)}
    assert len(rounds) > 1


def test_pick_is_the_same_in_another_process() -> None:
    code = (
        "import json; from knowledge.quiz import load_quiz; "
        "print(json.dumps([q.id for q in load_quiz().pick(12, 'weekly-contest')]))"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        ).stdout
        for hash_seed in ("1", "2")
    ]
    assert runs[0] == runs[1]
    assert json.loads(runs[0]) == [q.id for q in load_quiz().pick(12, "weekly-contest")]


def test_pick_covers_every_topic_once_when_count_equals_the_topics() -> None:
    bank = load_quiz()
    picked = bank.pick(len(bank.topics), "spread")
    assert sorted(q.topic for q in picked) == sorted(bank.topics)


def test_pick_spreads_evenly_over_topics() -> None:
    bank = _bank({"a": 10, "b": 10, "c": 10, "d": 10})
    for seed in ("x", "y", "z"):
        counts = Counter(q.topic for q in bank.pick(10, seed))
        assert set(counts) == {"a", "b", "c", "d"}
        assert max(counts.values()) - min(counts.values()) <= 1


def test_pick_never_puts_two_questions_of_a_topic_side_by_side_while_topics_last() -> None:
    picked = _bank({"a": 5, "b": 5, "c": 5}).pick(15, "order")
    assert all(x.topic != y.topic for x, y in pairwise(picked))


def test_pick_fills_from_other_topics_when_a_topic_runs_out() -> None:
    picked = _bank({"small": 1, "big": 9}).pick(8, "seed")
    assert Counter(q.topic for q in picked) == {"small": 1, "big": 7}
    assert len({q.id for q in picked}) == 8


def test_pick_handles_zero_all_and_too_many() -> None:
    bank = _bank({"a": 3, "b": 2})
    assert bank.pick(0, "s") == []
    assert sorted(q.id for q in bank.pick(5, "s")) == sorted(q.id for q in bank)
    with pytest.raises(ValueError, match="cannot pick 6 of 5"):
        bank.pick(6, "s")
    with pytest.raises(ValueError):
        bank.pick(-1, "s")

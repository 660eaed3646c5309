"""The 普法知识竞赛 question bank: multiple-choice questions, one YAML file per topic under
``knowledge/quiz/``.

A quiz teaches by telling a resident which option was right, and people remember what a
quiz told them. A question whose "right" answer rests on a repealed law, an article that
does not say so, or an answer index that points at the wrong option would teach a wrong
rule with the authority of a test. So every question names the one article that backs its
answer, and the loader refuses the whole bank on any problem, listing all of them at once,
the same way the FAQ is checked.

Rounds are drawn with a seed so a round can be replayed exactly (the same seed gives the
same questions, e.g. for a weekly community contest), and they are spread over the topics
so ten questions are not ten questions about dogs.

Usage::

    bank = load_quiz()
    for question in bank.pick(10, seed="2026-w48"):
        ...
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from knowledge.law import LawLibrary, load_law
from knowledge.topic_files import read_topic_files

QUIZ_DIR = Path(__file__).resolve().parent / "quiz"
MIN_QUESTIONS = 60
MIN_OPTIONS = 2
MAX_OPTIONS = 4
MAX_EXPLANATION_CHARS = 150
MAX_ID_CHARS = 40
_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")
_FIELDS = {"id", "question", "options", "answer", "explanation", "citation", "tags"}


class QuizError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("quiz bank is invalid:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class QuizQuestion:
    id: str
    question: str
    options: tuple[str, ...]
    answer: int  # zero-based index into options
    explanation: str
    citation: str  # one article id, e.g. "民法典-1254"
    tags: tuple[str, ...]
    topic: str  # the file stem

    @property
    def correct_option(self) -> str:
        return self.options[self.answer]


class QuizBank:
    """The questions in file order (files sorted by name), looked up by id."""

    def __init__(self, questions: Iterable[QuizQuestion]) -> None:
        self.questions = tuple(questions)
        self._by_id = {q.id: q for q in self.questions}

    def get(self, question_id: str) -> QuizQuestion | None:
        return self._by_id.get(question_id)

    def __len__(self) -> int:
        return len(self.questions)

    def __iter__(self) -> Iterator[QuizQuestion]:
        return iter(self.questions)

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(q.topic for q in self.questions))

    def pick(self, count: int, seed: str) -> list[QuizQuestion]:
        """``count`` distinct questions, the same ones for the same seed.

        Topics take turns (in a seeded order), each giving its next question from a seeded
        shuffle, so the counts per topic differ by at most one while topics last, and
        neighbouring questions in the round come from different topics.
        """
        if not 0 <= count <= len(self):
            raise ValueError(f"cannot pick {count} of {len(self)} questions")
        rng = random.Random(seed)
        by_topic = {topic: [q for q in self.questions if q.topic == topic] for topic in self.topics}
        for questions in by_topic.values():
            rng.shuffle(questions)
        order = list(by_topic)
        rng.shuffle(order)
        picked: list[QuizQuestion] = []
        while len(picked) < count:
            for topic in order:
                if by_topic[topic] and len(picked) < count:
                    picked.append(by_topic[topic].pop())
        return picked


def _text(raw: dict[str, Any], name: str, where: str, problems: list[str]) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: {name} is empty")
        return ""
    return value.strip()


def _texts(raw: dict[str, Any], name: str, where: str, problems: list[str]) -> tuple[str, ...]:
    values = raw.get(name)
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        problems.append(f"{where}: {name} must be a list of non-empty texts")
        return ()
    return tuple(v.strip() for v in values)


def _question(
    topic: str, index: int, raw: Any, law: LawLibrary, problems: list[str]
) -> QuizQuestion | None:
    where = f"{topic}[{index}] {raw.get('id', '?') if isinstance(raw, dict) else '?'}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    if unknown := sorted(set(raw) - _FIELDS, key=str):
        problems.append(f"{where}: unknown field(s) {', '.join(map(str, unknown))}")
    question_id = _text(raw, "id", where, problems)
    if question_id and (not set(question_id) <= _ID_CHARS or len(question_id) > MAX_ID_CHARS):
        problems.append(
            f"{where}: id must be lower-case ascii words joined by '-', "
            f"at most {MAX_ID_CHARS} characters (it travels in Telegram button data)"
        )
    question = _text(raw, "question", where, problems)
    explanation = _text(raw, "explanation", where, problems)
    if len(explanation) > MAX_EXPLANATION_CHARS:
        problems.append(
            f"{where}: explanation has {len(explanation)} characters (max {MAX_EXPLANATION_CHARS})"
        )
    citation = _text(raw, "citation", where, problems)
    if citation and (problem := law.problem(citation)) is not None:
        problems.append(f"{where}: citation {problem}")
    options = _texts(raw, "options", where, problems)
    listed = raw.get("options")
    if isinstance(listed, list) and not MIN_OPTIONS <= len(listed) <= MAX_OPTIONS:
        problems.append(
            f"{where}: options needs {MIN_OPTIONS}–{MAX_OPTIONS} entries, has {len(listed)}"
        )
    if len(set(options)) < len(options):
        problems.append(f"{where}: options repeat")
    answer = raw.get("answer")
    if not isinstance(answer, int) or isinstance(answer, bool):
        problems.append(f"{where}: answer must be the zero-based index of the correct option")
        answer = -1
    elif options and not 0 <= answer < len(options):
        problems.append(f"{where}: answer {answer} is out of range for {len(options)} options")
    tags = _texts(raw, "tags", where, problems)
    if not tags and isinstance(raw.get("tags"), list):
        problems.append(f"{where}: tags is empty")
    return QuizQuestion(
        id=question_id,
        question=question,
        options=options,
        answer=answer,
        explanation=explanation,
        citation=citation,
        tags=tags,
        topic=topic,
    )


def parse_quiz(files: dict[str, Any], law: LawLibrary) -> QuizBank:
    problems: list[str] = []
    questions: list[QuizQuestion] = []
    seen: dict[str, str] = {}
    for topic, data in sorted(files.items()):
        if not isinstance(data, list):
            problems.append(f"{topic}: the file must be a list of questions")
            continue
        for index, raw in enumerate(data):
            question = _question(topic, index, raw, law, problems)
            if question is None:
                continue
            if question.id and question.id in seen:
                problems.append(
                    f"{topic}: duplicate id {question.id} (also in {seen[question.id]})"
                )
            seen.setdefault(question.id, topic)
            questions.append(question)
    if problems:
        raise QuizError(problems)
    return QuizBank(questions)


def read_quiz_files(directory: Path = QUIZ_DIR) -> dict[str, Any]:
    return read_topic_files(directory)


@cache
def load_quiz() -> QuizBank:
    return parse_quiz(read_quiz_files(), load_law())

"""FAQ entries: everyday legal questions with answers in our own words and the articles
that support them, one YAML file per topic under ``knowledge/faq/``.

An entry that cites an article that does not exist, or a repealed law, or leaves a field
empty, is an error: ``linli knowledge check`` and the test suite refuse the whole set, so
a wrong citation never reaches a resident.

Usage::

    kb = load_faq()
    kb.entries["leak-compensation"].citations  # ("民法典-1165", "民法典-296")
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from knowledge.law import LawLibrary, load_law
from knowledge.topic_files import read_topic_files

FAQ_DIR = Path(__file__).resolve().parent / "faq"
MAX_ANSWER_CHARS = 450
MAX_ID_CHARS = 40
_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


class FaqError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("FAQ is invalid:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Entry:
    id: str
    topic: str
    question: str
    phrasings: tuple[str, ...]
    answer: str
    citations: tuple[str, ...]
    tags: tuple[str, ...]
    related: tuple[str, ...]


@dataclass(frozen=True)
class KnowledgeBase:
    entries: dict[str, Entry]

    def __len__(self) -> int:
        return len(self.entries)


def _texts(
    raw: dict[str, Any], name: str, where: str, lo: int, hi: int, problems: list[str]
) -> tuple[str, ...]:
    values = raw.get(name)
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        problems.append(f"{where}: {name} must be a list of non-empty texts")
        return ()
    if not lo <= len(values) <= hi:
        problems.append(f"{where}: {name} needs {lo}–{hi} entries, has {len(values)}")
    return tuple(v.strip() for v in values)


def parse_entries(topic: str, data: Any, law: LawLibrary, problems: list[str]) -> list[Entry]:
    if not isinstance(data, list):
        problems.append(f"{topic}: the file must be a list of entries")
        return []
    entries = []
    for index, raw in enumerate(data):
        where = f"{topic}[{index}] {raw.get('id', '?') if isinstance(raw, dict) else '?'}"
        if not isinstance(raw, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        for field in ("id", "question", "answer"):
            if not isinstance(raw.get(field), str) or not raw[field].strip():
                problems.append(f"{where}: {field} is empty")
        entry_id = str(raw.get("id", ""))
        if not entry_id or not set(entry_id) <= _ID_CHARS or len(entry_id) > MAX_ID_CHARS:
            problems.append(
                f"{where}: id must be lower-case ascii words joined by '-', "
                f"at most {MAX_ID_CHARS} characters (it travels in Telegram button data)"
            )
        answer = str(raw.get("answer", "")).strip()
        if len(answer) > MAX_ANSWER_CHARS:
            problems.append(
                f"{where}: answer has {len(answer)} characters (max {MAX_ANSWER_CHARS})"
            )
        citations = _texts(raw, "citations", where, 1, 3, problems)
        for article_id in citations:
            if (problem := law.problem(article_id)) is not None:
                problems.append(f"{where}: citation {problem}")
        entries.append(
            Entry(
                id=entry_id,
                topic=topic,
                question=str(raw.get("question", "")).strip(),
                phrasings=_texts(raw, "phrasings", where, 3, 30, problems),
                answer=answer,
                citations=citations,
                tags=_texts(raw, "tags", where, 1, 10, problems),
                related=tuple(str(r) for r in raw.get("related") or []),
            )
        )
    return entries


def parse_faq(files: dict[str, Any], law: LawLibrary) -> KnowledgeBase:
    problems: list[str] = []
    entries: dict[str, Entry] = {}
    for topic, data in sorted(files.items()):
        for entry in parse_entries(topic, data, law, problems):
            if entry.id in entries:
                problems.append(f"{topic}: duplicate id {entry.id}")
            entries[entry.id] = entry
    for entry in entries.values():
        for related in entry.related:
            if related not in entries:
                problems.append(f"{entry.topic}: {entry.id} relates to unknown entry {related}")
    if problems:
        raise FaqError(problems)
    return KnowledgeBase(entries)


def read_faq_files(directory: Path = FAQ_DIR) -> dict[str, Any]:
    return read_topic_files(directory)


@cache
def load_faq(directory: Path = FAQ_DIR) -> KnowledgeBase:
    return parse_faq(read_faq_files(directory), load_law())

"""Retrieval finds the entry for the way residents ask, and handles edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.faq import Entry, KnowledgeBase
from knowledge.retrieval import FaqRetriever, default_retriever


def test_empty_knowledge_base_answers_nothing() -> None:
    assert FaqRetriever(KnowledgeBase({})).search("狗咬人谁赔") == []


@pytest.mark.parametrize("query", ["", "   ", "？？？", "的了吗"])
def test_queries_without_words_find_nothing(query: str) -> None:
    assert default_retriever().search(query) == []


@pytest.mark.parametrize(
    ("query", "topic"),
    [
        ("楼上露水把我家天花板泡了哪个赔", "leaks"),
        ("狗儿把娃儿咬了，狗主人要赔不", "pets"),
        ("老板拖欠工姿不给咋整", "labour"),
        ("有人打电话说我快递丢了要退款，让我下载个软件，是不是骗子", "fraud"),
    ],
)
def test_colloquial_and_misspelt_questions_reach_their_topic(query: str, topic: str) -> None:
    hits = default_retriever().search(query, k=1)
    assert hits and hits[0].entry.topic == topic


def test_a_question_in_the_statutes_own_words_reaches_the_entry_citing_it() -> None:
    # Worded like the law (共有部分, 收入, 扣除合理成本), unlike any resident's phrasing.
    hits = default_retriever().search("利用业主的共有部分产生的收入，扣除合理成本之后归谁", k=1)
    assert hits and "民法典-282" in hits[0].entry.citations


def test_signals_cover_every_entry_and_none_for_a_wordless_query() -> None:
    retriever = default_retriever()
    signals = retriever.signals("楼上漏水谁赔")
    assert set(signals) == {"words", "bigrams", "centroid", "law_words", "law_bigrams"}
    assert all(len(s) == len(retriever.entries) for s in signals.values())
    assert all(0 <= s.min() and s.max() <= 1 for s in signals.values())
    assert retriever.signals("？？？") == {}


def _entry(entry_id: str, citations: tuple[str, ...]) -> Entry:
    return Entry(
        id=entry_id,
        topic="test",
        question=f"问题{entry_id}",
        phrasings=("说法一", "说法二", "说法三"),
        answer="回答",
        citations=citations,
        tags=(),
        related=(),
    )


def _voting_retriever() -> FaqRetriever:
    entries = [
        _entry("alone", ("民法典-1254",)),
        _entry("group-1", ("民法典-1165", "民法典-296")),
        _entry("group-2", ("民法典-1165",)),
        _entry("group-3", ("民法典-296",)),
    ]
    return FaqRetriever(KnowledgeBase({e.id: e for e in entries}))


def test_close_runners_up_citing_the_same_articles_take_first_place_from_a_loner() -> None:
    retriever = _voting_retriever()
    order = retriever._vote(np.array([1.0, 0.97, 0.9, 0.9]), 3)
    assert order == [1, 0, 2]  # only the first place is re-chosen; the rest keep score order


def test_a_clear_leader_keeps_first_place_against_weak_agreement() -> None:
    retriever = _voting_retriever()
    assert retriever._vote(np.array([1.0, 0.5, 0.5, 0.5]), 3) == [0, 1, 2]

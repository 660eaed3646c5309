"""Retrieval finds the entry for the way residents ask, and handles edge cases."""

from __future__ import annotations

import pytest

from knowledge.faq import KnowledgeBase
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

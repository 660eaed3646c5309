"""The sparse BM25 gives rank_bm25's scores exactly; retrieval handles edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from knowledge.faq import KnowledgeBase
from knowledge.retrieval import FaqRetriever, PostingsBM25, default_retriever

CORPUS = [
    ["楼上", "漏水", "赔偿", "漏水"],
    ["狗", "咬人", "主人", "赔偿"],
    ["物业费", "涨价", "业主", "大会"],
    ["高空抛物", "楼上", "砸", "车"],
]


@pytest.mark.parametrize(
    "query", [["漏水"], ["楼上", "赔偿"], ["狗", "狗", "咬人"], ["没有", "这个词"], []]
)
def test_sparse_scores_equal_rank_bm25(query: list[str]) -> None:
    assert np.allclose(PostingsBM25(CORPUS).get_scores(query), BM25Okapi(CORPUS).get_scores(query))


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

"""The sparse indexes score exactly what their definitions say."""

from __future__ import annotations

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from knowledge.indexes import NgramCentroids, PostingsBM25, char_bigrams, char_ngrams

CORPUS = [
    ["楼上", "漏水", "赔偿", "漏水"],
    ["狗", "咬人", "主人", "赔偿"],
    ["物业费", "涨价", "业主", "大会"],
    ["高空抛物", "楼上", "砸", "车"],
]


@pytest.mark.parametrize(
    "query", [["漏水"], ["楼上", "赔偿"], ["狗", "狗", "咬人"], ["没有", "这个词"], []]
)
def test_sparse_bm25_scores_equal_rank_bm25(query: list[str]) -> None:
    assert np.allclose(PostingsBM25(CORPUS).get_scores(query), BM25Okapi(CORPUS).get_scores(query))


def test_character_pieces_ignore_spaces_and_keep_order() -> None:
    assert char_bigrams("楼上 漏水") == ["楼上", "上漏", "漏水"]
    assert char_ngrams("狗  咬", 1, 2) == ["狗", " ", "咬", "狗 ", " 咬"]


def test_centroid_cosine_is_one_for_an_entrys_own_single_question() -> None:
    index = NgramCentroids([["楼上漏水谁赔"], ["狗咬人谁负责"]])
    scores = index.get_scores("楼上漏水谁赔")
    assert scores[0] == pytest.approx(1.0)
    assert 0 < scores[1] < 0.5  # shares only 谁


def test_centroid_prefers_the_entry_asked_in_similar_words_despite_a_typo() -> None:
    index = NgramCentroids(
        [["楼上漏水谁赔", "天花板漏水了找谁"], ["物业费涨价合法吗", "物业乱涨价"]]
    )
    scores = index.get_scores("楼上露水了天花板坏了")  # 露水: a pinyin typo, not normalised here
    assert scores[0] > scores[1]


def test_centroid_scores_zero_for_text_sharing_no_characters() -> None:
    index = NgramCentroids([["楼上漏水谁赔"]])
    assert index.get_scores("abc").tolist() == [0.0]
    assert index.get_scores("").tolist() == [0.0]

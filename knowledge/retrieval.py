"""Finding the FAQ entry that answers a resident's question.

Residents ask in their own words, with typos and dialect, often with a long story
before the actual question. Signals, combined into one score:

- BM25 over each entry as a whole (question, phrasings, answer, tags): the phrasings
  carry how people ask, the answer the words their stories touch (a separate BM25 over
  the phrasings alone was tried and made top-1 worse on both halves of the dev set);
- BM25 over the entry's character bigrams, which still match when a typo or a dialect
  word makes jieba cut the query differently from the entry;
- cosine to the centroid of the entry's questions (character 1–3-grams, TF-IDF): how
  close the wording is to the ways residents ask it, without the answer's vocabulary;
- rapidfuzz partial matching of the normalised query against the questions and
  phrasings of the strongest candidates, for near matches and typos.

The two character signals were added together: on the unseen half of the dev set they
moved top-1 from 0.82 to 0.83 and top-3 from 0.938 to 0.944 (``knowledge.indexes``).

All text goes through the shared normalisation and synonyms (``knowledge.text``).
Scores are absolute (squashed, not normalised by the best candidate) so that a query
unlike anything in the knowledge base scores low and the caller can say so.

Usage::

    retriever = FaqRetriever(load_faq())
    hits = retriever.search("楼上扔东西砸坏我车谁赔", k=3)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
from rapidfuzz import fuzz

from knowledge.faq import Entry, KnowledgeBase, load_faq
from knowledge.indexes import NgramCentroids, PostingsBM25, char_bigrams
from knowledge.text import Tokenizer, normalize

# Weights of the signals (they sum to 1, so a score reads as a confidence); chosen on one
# random half of the dev set and checked on the other (top-1 +1.2 points on the unseen half).
W_ENTRY = 0.52
W_BIGRAM = 0.14
W_CENTROID = 0.27
W_FUZZY = 0.07
BM25_HALF = 8.0  # a word-BM25 score that counts as half-way to certain
BIGRAM_HALF = 20.0  # the same for character bigrams, which match many more terms
FUZZY_CANDIDATES = 12
SHORT_QUERY = 6  # distinct tokens; longer texts always carry words no entry has
SEARCH_CACHE = 4096  # queries whose best hits are kept
CACHED_HITS = 8


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float


class FaqRetriever:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.entries = list(kb.entries.values())
        vocabulary = {normalize(t) for e in self.entries for t in e.tags}
        self.tokenizer = Tokenizer(extra_words=vocabulary)
        self.asked = [[normalize(t) for t in (e.question, *e.phrasings)] for e in self.entries]
        if not self.entries:  # an empty knowledge base answers nothing, it does not crash
            return
        self.bm25_entries = PostingsBM25(
            [
                self.tokenizer.tokens(" ".join((e.question, *e.phrasings, e.answer, *e.tags)))
                for e in self.entries
            ]
        )
        self.bm25_bigrams = PostingsBM25(
            [
                char_bigrams(normalize(" ".join((e.question, *e.phrasings, e.answer))))
                for e in self.entries
            ]
        )
        self.centroids = NgramCentroids(self.asked)
        self.vocabulary = [set(doc) for doc in self.bm25_entries.doc_freqs]

    def search(self, query: str, k: int = 3) -> list[Hit]:
        if k <= CACHED_HITS:
            return list(self._top(query)[:k])
        return self._search(query, k)

    @lru_cache(maxsize=SEARCH_CACHE)  # noqa: B019 - one retriever lives as long as the process
    def _top(self, query: str) -> tuple[Hit, ...]:
        """The best hits, kept per query: the chat layer looks a message up before its
        database transaction (so the lock is held for less time) and again inside it."""
        return tuple(self._search(query, CACHED_HITS))

    def _search(self, query: str, k: int) -> list[Hit]:
        tokens = self.tokenizer.tokens(query)
        if not tokens or not self.entries:
            return []
        # Each distinct word once: repeats in a long story add latency (rank_bm25 loops per
        # query word over every entry) and overweight whatever the resident kept repeating.
        distinct_tokens = list(dict.fromkeys(tokens))
        normalized = normalize(query)
        words = self.bm25_entries.get_scores(distinct_tokens)
        bigrams = self.bm25_bigrams.get_scores(list(dict.fromkeys(char_bigrams(normalized))))
        scores = (
            W_ENTRY * words / (words + BM25_HALF)
            + W_BIGRAM * bigrams / (bigrams + BIGRAM_HALF)
            + W_CENTROID * self.centroids.get_scores(normalized)
        )
        for index in np.argsort(-scores)[:FUZZY_CANDIDATES]:
            best = max(fuzz.partial_ratio(normalized, text) for text in self.asked[index])
            scores[index] += W_FUZZY * best / 100
        order = np.argsort(-scores)[:k]
        distinct = set(tokens)
        hits = []
        for i in order:
            if scores[i] <= 0:
                continue
            confidence = float(scores[i])
            if len(distinct) <= SHORT_QUERY:
                # A short query whose words the entry never uses ("今天天气怎么样" shares
                # only 怎么样) is not a match, however the ranking came out.
                covered = len(distinct & self.vocabulary[i]) / len(distinct)
                confidence *= 0.4 + 0.6 * covered
            hits.append(Hit(self.entries[i], round(confidence, 4)))
        return hits


@cache
def default_retriever() -> FaqRetriever:
    return FaqRetriever(load_faq())

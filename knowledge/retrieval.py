"""Finding the FAQ entry that answers a resident's question.

Residents ask in their own words, with typos and dialect, often with a long story
before the actual question. Signals, combined into one score:

- BM25 over each entry as a whole (question, phrasings, answer, tags): the phrasings
  carry how people ask, the answer the words their stories touch (a separate BM25 over
  the phrasings alone was tried and made top-1 worse on both halves of the dev set);
- rapidfuzz partial matching of the normalised query against the questions and
  phrasings of the strongest candidates, for near matches and typos.

All text goes through the shared normalisation and synonyms (``knowledge.text``).
Scores are absolute (squashed, not normalised by the best candidate) so that a query
unlike anything in the knowledge base scores low and the caller can say so.

Usage::

    retriever = FaqRetriever(load_faq())
    hits = retriever.search("楼上扔东西砸坏我车谁赔", k=3)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from rank_bm25 import BM25Okapi
from rapidfuzz import fuzz

from knowledge.faq import Entry, KnowledgeBase, load_faq
from knowledge.text import Tokenizer, normalize

W_ENTRY = 0.78
W_FUZZY = 0.22
BM25_HALF = 8.0  # a BM25 score that counts as half-way to certain
FUZZY_CANDIDATES = 12
SHORT_QUERY = 6  # distinct tokens; longer texts always carry words no entry has


class PostingsBM25:
    """rank_bm25's Okapi scores, computed only over the entries that contain each word.

    ``BM25Okapi.get_scores`` walks every document in Python for every query word, which
    made a long story cost milliseconds and a ten-times-larger knowledge base ten times
    that. The statistics (idf, lengths, k1, b) are the library's; only the loop is sparse,
    and the scores are identical (a word a document lacks contributes exactly 0).
    """

    def __init__(self, corpus: list[list[str]]) -> None:
        self.okapi = BM25Okapi(corpus)
        lengths = np.array(self.okapi.doc_len, dtype=float)
        self.norm = self.okapi.k1 * (1 - self.okapi.b + self.okapi.b * lengths / self.okapi.avgdl)
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for index, frequencies in enumerate(self.okapi.doc_freqs):
            for word, count in frequencies.items():
                docs, counts = postings.setdefault(word, ([], []))
                docs.append(index)
                counts.append(count)
        self.postings = {
            w: (np.array(d), np.array(c, dtype=float)) for w, (d, c) in postings.items()
        }
        self.size = len(corpus)

    def get_scores(self, words: list[str]) -> np.ndarray:
        scores = np.zeros(self.size)
        for word in words:
            found = self.postings.get(word)
            if found is None:
                continue
            docs, counts = found
            idf = self.okapi.idf.get(word) or 0.0
            scores[docs] += idf * counts * (self.okapi.k1 + 1) / (counts + self.norm[docs])
        return scores

    @property
    def doc_freqs(self) -> list[dict[str, int]]:
        return self.okapi.doc_freqs


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
        self.vocabulary = [set(doc) for doc in self.bm25_entries.doc_freqs]

    def search(self, query: str, k: int = 3) -> list[Hit]:
        tokens = self.tokenizer.tokens(query)
        if not tokens or not self.entries:
            return []
        # Each distinct word once: repeats in a long story add latency (rank_bm25 loops per
        # query word over every entry) and overweight whatever the resident kept repeating.
        distinct_tokens = list(dict.fromkeys(tokens))
        whole = self.bm25_entries.get_scores(distinct_tokens)
        scores = W_ENTRY * whole / (whole + BM25_HALF)
        normalized = normalize(query)
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

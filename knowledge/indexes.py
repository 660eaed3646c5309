"""Sparse indexes that score every FAQ entry against a query in one vectorised pass.

Two views of the same entries, because they fail on different questions:

- ``PostingsBM25``: Okapi BM25 (rank_bm25's statistics) over any token lists — jieba
  words, or character bigrams, which still match when a typo or an unknown dialect word
  leaves jieba cutting the sentence differently from the entry;
- ``NgramCentroids``: each entry as the centroid of its questions' character 1–3-gram
  TF-IDF vectors, compared by cosine — how close the query's wording is to the way
  residents ask that question, without the answer's vocabulary.

Both keep postings lists (entry indices and weights per term) and add a query's terms
with one ``np.bincount`` instead of a Python loop per term, so a 300-character story
costs about as much as a short question.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
from rank_bm25 import BM25Okapi

_SPACES = re.compile(r"\s+")


def char_bigrams(text: str) -> list[str]:
    """Overlapping two-character pieces of already normalised text, spaces dropped."""
    compact = _SPACES.sub("", text)
    return [compact[i : i + 2] for i in range(len(compact) - 1)]


def char_ngrams(text: str, low: int = 1, high: int = 3) -> list[str]:
    """Character n-grams of already normalised text, runs of spaces kept as one."""
    compact = _SPACES.sub(" ", text.strip())
    return [compact[i : i + n] for n in range(low, high + 1) for i in range(len(compact) - n + 1)]


class _Postings:
    """term → (entry indices, weights), summed for a query with one bincount."""

    def __init__(self, size: int, postings: dict[str, tuple[list[int], list[float]]]) -> None:
        self.size = size
        self.postings = {
            term: (np.asarray(docs, dtype=np.int64), np.asarray(weights, dtype=float))
            for term, (docs, weights) in postings.items()
        }

    def _gather(self, terms: Iterable[str]) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
        found, docs, weights = [], [], []
        for term in terms:
            posting = self.postings.get(term)
            if posting is not None:
                found.append(term)
                docs.append(posting[0])
                weights.append(posting[1])
        return found, docs, weights

    def _sum(self, docs: list[np.ndarray], values: list[np.ndarray]) -> np.ndarray:
        if not docs:
            return np.zeros(self.size)
        return np.bincount(np.concatenate(docs), np.concatenate(values), minlength=self.size)


class PostingsBM25(_Postings):
    """rank_bm25's Okapi scores, computed only over the entries that contain each term.

    ``BM25Okapi.get_scores`` walks every document in Python for every query word, which
    made a long story cost milliseconds and a ten-times-larger knowledge base ten times
    that. The statistics (idf, lengths, k1, b) are the library's; only the summation is
    sparse, and the scores are identical (a term a document lacks contributes exactly 0).
    """

    def __init__(self, corpus: list[list[str]]) -> None:
        self.okapi = BM25Okapi(corpus)
        lengths = np.array(self.okapi.doc_len, dtype=float)
        norm = self.okapi.k1 * (1 - self.okapi.b + self.okapi.b * lengths / self.okapi.avgdl)
        k1 = self.okapi.k1
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for index, frequencies in enumerate(self.okapi.doc_freqs):
            for term, count in frequencies.items():
                docs, weights = postings.setdefault(term, ([], []))
                docs.append(index)
                # The query-independent part of the term's score in this document.
                weights.append(count * (k1 + 1) / (count + norm[index]))
        super().__init__(len(corpus), postings)

    def get_scores(self, terms: Sequence[str]) -> np.ndarray:
        found, docs, weights = self._gather(terms)
        idf = self.okapi.idf
        return self._sum(
            docs, [w * (idf.get(t) or 0.0) for t, w in zip(found, weights, strict=True)]
        )

    @property
    def doc_freqs(self) -> list[dict[str, int]]:
        return self.okapi.doc_freqs


class NgramCentroids(_Postings):
    """Cosine between a query and the centroid of each entry's questions.

    Weights are TF-IDF with sublinear term frequency (1 + ln tf) and smoothed idf
    (ln((1 + n) / (1 + df)) + 1), each question L2-normalised before averaging so a long
    story among the phrasings does not outweigh the short ones.
    """

    def __init__(self, groups: list[list[str]]) -> None:
        texts = [Counter(char_ngrams(t)) for group in groups for t in group]
        df = Counter(term for counts in texts for term in counts)
        n = len(texts)
        self.idf = {term: math.log((1 + n) / (1 + d)) + 1 for term, d in df.items()}
        postings: dict[str, tuple[list[int], list[float]]] = {}
        position = 0
        for index, group in enumerate(groups):
            centroid: Counter[str] = Counter()
            for counts in texts[position : position + len(group)]:
                for term, weight in self._vector(counts).items():
                    centroid[term] += weight
            position += len(group)
            length = math.sqrt(sum(w * w for w in centroid.values())) or 1.0
            for term, weight in centroid.items():
                docs, weights = postings.setdefault(term, ([], []))
                docs.append(index)
                weights.append(weight / length)
        super().__init__(len(groups), postings)

    def _vector(self, counts: Counter[str]) -> dict[str, float]:
        raw = {t: (1 + math.log(c)) * self.idf[t] for t, c in counts.items() if t in self.idf}
        length = math.sqrt(sum(w * w for w in raw.values())) or 1.0
        return {t: w / length for t, w in raw.items()}

    def get_scores(self, text: str) -> np.ndarray:
        query = self._vector(Counter(char_ngrams(text)))
        found, docs, weights = self._gather(query)
        return self._sum(docs, [w * query[t] for t, w in zip(found, weights, strict=True)])

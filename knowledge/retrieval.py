"""Finding the FAQ entry that answers a resident's question.

Residents ask in their own words, with typos and dialect, often with a long story
before the actual question. Signals, combined into one score:

- BM25 over each question *and each phrasing* as its own short document (an entry
  scores by its best phrasing), after the shared normalisation and synonyms;
- BM25 over the answers, weakly: answers use the legal words people don't say;
- rapidfuzz partial matching of the normalised query against questions and phrasings,
  for near matches and typos that survive tokenisation;
- tag words found in the query.

Scores are absolute (squashed, not normalised by the best candidate) so that a query
unlike anything in the knowledge base scores low and the caller can say so.

Usage::

    retriever = FaqRetriever(load_faq())
    hits = retriever.search("楼上扔东西砸坏我车谁赔", k=3)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache

import numpy as np
from rank_bm25 import BM25Okapi
from rapidfuzz import fuzz, process

from knowledge.faq import Entry, KnowledgeBase, load_faq
from knowledge.text import Tokenizer, normalize

W_QUESTIONS = 0.5
W_ANSWERS = 0.12
W_FUZZY = 0.28
W_TAGS = 0.10
BM25_HALF = 6.0  # BM25 score that counts as half-way to certain


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float


class FaqRetriever:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.entries = list(kb.entries.values())
        vocabulary = {normalize(t) for e in self.entries for t in e.tags}
        self.tokenizer = Tokenizer(extra_words=vocabulary)
        texts: list[str] = []
        owners: list[int] = []
        for index, entry in enumerate(self.entries):
            for text in (entry.question, *entry.phrasings):
                texts.append(normalize(text))
                owners.append(index)
        self.phrasing_owner = np.array(owners, dtype=int)
        self.phrasing_texts = texts
        if not self.entries:  # an empty knowledge base answers nothing, it does not crash
            return
        self.bm25_questions = BM25Okapi([self.tokenizer.tokens(t) for t in texts])
        self.bm25_answers = BM25Okapi([self.tokenizer.tokens(e.answer) for e in self.entries])
        self.tags = [[normalize(t) for t in e.tags if len(t) >= 2] for e in self.entries]

    def search(self, query: str, k: int = 3) -> list[Hit]:
        tokens = self.tokenizer.tokens(query)
        if not tokens or not self.entries:
            return []
        normalized = normalize(query)
        count = len(self.entries)
        per_phrasing = self.bm25_questions.get_scores(tokens)
        best = np.zeros(count)
        np.maximum.at(best, self.phrasing_owner, per_phrasing)
        answers = self.bm25_answers.get_scores(tokens)
        fuzzy = np.zeros(count)
        for _text, score, position in process.extract(
            normalized,
            self.phrasing_texts,
            scorer=fuzz.partial_ratio,
            limit=20,
            score_cutoff=55,
        ):
            owner = self.phrasing_owner[position]
            fuzzy[owner] = max(fuzzy[owner], score / 100)
        scores = (
            W_QUESTIONS * best / (best + BM25_HALF)
            + W_ANSWERS * answers / (answers + BM25_HALF)
            + W_FUZZY * fuzzy
        )
        tag_hits: dict[int, float] = defaultdict(float)
        for index, tags in enumerate(self.tags):
            hits = sum(1 for t in tags if t in normalized)
            if hits:
                tag_hits[index] = min(1.0, hits / 2)
        for index, value in tag_hits.items():
            scores[index] += W_TAGS * value
        order = np.argsort(-scores)[:k]
        return [Hit(self.entries[i], round(float(scores[i]), 4)) for i in order if scores[i] > 0]


@cache
def default_retriever() -> FaqRetriever:
    return FaqRetriever(load_faq())

"""Recognising what a report is about: ranked matters for free text, and emergencies.

Real complaints are long, mention several problems and use colloquial words, so no
single signal is enough. Three are combined:

- BM25 over each matter's name, keywords and example phrasings (rank_bm25), after the
  shared normalisation and jieba tokenisation of ``knowledge.text``;
- keyword evidence: a matter keyword found in the text counts more when few matters
  share it, and a near miss (a typo) counts with rapidfuzz's partial ratio;
- the closest example phrasing by rapidfuzz token-set similarity.

The weights were set on the development set in ``tests/data/report_messages.json``;
``tests/knowledge/test_recognize.py`` prints top-1 / top-3 and keeps a floor.

Usage::

    recognizer = MatterRecognizer(load_matters())
    recognizer.rank("楼上卫生间漏水到我家天花板了")[0].matter_id  # "leak_from_above"
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
from rank_bm25 import BM25Okapi
from rapidfuzz import fuzz, process

from knowledge.matters import Emergency, MatterTable, load_matters
from knowledge.text import Tokenizer, normalize

WEIGHT_BM25 = 0.45
WEIGHT_KEYWORDS = 0.4
WEIGHT_EXAMPLES = 0.15
FUZZY_MIN = 88
RANK_CACHE = 4096  # texts whose ranking is kept


@dataclass(frozen=True)
class Guess:
    matter_id: str
    score: float  # 0..1, comparable across texts: how sure the recognizer is


class MatterRecognizer:
    def __init__(self, table: MatterTable) -> None:
        self.table = table
        matters = table.reportable()
        self.ids = [m.id for m in matters]
        vocabulary = {normalize(w) for m in matters for w in (*m.keywords, m.name)}
        self.tokenizer = Tokenizer(extra_words=vocabulary)
        documents = []
        for m in matters:
            tokens = self.tokenizer.tokens(m.name) * 2
            for keyword in m.keywords:
                tokens += self.tokenizer.tokens(keyword) * 2
            for example in m.examples:
                tokens += self.tokenizer.tokens(example)
            documents.append(tokens)
        self.bm25 = BM25Okapi(documents)
        self.keywords = [sorted({normalize(k) for k in m.keywords}) for m in matters]
        spread = Counter(k for words in self.keywords for k in words)
        self.keyword_weight = {k: 1.0 / spread[k] for k in spread}
        self.examples = [[" ".join(self.tokenizer.tokens(e)) for e in m.examples] for m in matters]
        # Flat lists for rapidfuzz's ``cdist``: one C call scores a text against every
        # keyword (or example) instead of a Python loop per matter — most of the CPU a
        # message costs.
        self._fuzzy_keywords = sorted({k for words in self.keywords for k in words if len(k) >= 3})
        self._fuzzy_index = {k: i for i, k in enumerate(self._fuzzy_keywords)}
        self._flat_examples = [e for examples in self.examples for e in examples]
        bounds = [0]
        for examples in self.examples:
            bounds.append(bounds[-1] + len(examples))
        self._example_bounds = list(zip(bounds, bounds[1:], strict=False))
        self._evidence = [
            [
                (
                    keyword,
                    self.keyword_weight[keyword] * (1.0 + min(len(keyword), 4) / 4),
                    self._fuzzy_index.get(keyword, -1),
                )
                for keyword in words
            ]
            for words in self.keywords
        ]
        self.emergencies = [(e, [normalize(k) for k in e.keywords]) for e in table.emergencies]

    def rank(self, text: str, limit: int = 4) -> list[Guess]:
        return list(self._ranked(text)[:limit])

    @lru_cache(maxsize=RANK_CACHE)  # noqa: B019 - one recognizer lives as long as the process
    def _ranked(self, text: str) -> tuple[Guess, ...]:
        """Every matter ranked, kept per text: the chat layer ranks the same message more
        than once (before its transaction, to hold the database lock for less time, and
        inside it), and residents repeat the same short reports."""
        normalized = normalize(text)
        tokens = self.tokenizer.tokens(text)
        if not tokens:
            return ()
        bm25 = list(self.bm25.get_scores(tokens))
        top_bm25 = max(bm25) or 1.0
        joined = " ".join(tokens)
        near = process.cdist(
            [normalized],
            self._fuzzy_keywords,
            scorer=fuzz.partial_ratio,
            score_cutoff=FUZZY_MIN,
            dtype=np.float64,
        )[0]
        similar = process.cdist(
            [joined], self._flat_examples, scorer=fuzz.token_set_ratio, dtype=np.float64
        )[0]
        scores: list[tuple[float, str]] = []
        for index, matter_id in enumerate(self.ids):
            evidence = 0.0
            for keyword, weight, fuzzy in self._evidence[index]:
                if keyword in normalized:
                    evidence += weight
                elif fuzzy >= 0 and near[fuzzy] >= FUZZY_MIN:
                    evidence += weight * 0.5
            keyword_score = 1.0 - 1.0 / (1.0 + evidence)
            start, end = self._example_bounds[index]
            example_score = float(max(similar[start:end], default=0.0)) / 100
            score = (
                WEIGHT_BM25 * bm25[index] / top_bm25
                + WEIGHT_KEYWORDS * keyword_score
                + WEIGHT_EXAMPLES * example_score
            )
            # Confidence also needs absolute evidence, not only being the best of a bad lot.
            score *= min(1.0, 0.35 + keyword_score + bm25[index] / 10)
            scores.append((score, matter_id))
        scores.sort(reverse=True)
        return tuple(Guess(matter_id, round(score, 4)) for score, matter_id in scores)

    def forget(self) -> None:
        """Drop the kept rankings and tokens (benchmarks measure the work, not the cache)."""
        MatterRecognizer._ranked.cache_clear()
        self.tokenizer.forget()

    def emergency(self, text: str) -> Emergency | None:
        normalized = normalize(text)
        for emergency, keywords in self.emergencies:
            if any(k in normalized for k in keywords):
                return emergency
        return None


@cache
def default_recognizer() -> MatterRecognizer:
    return MatterRecognizer(load_matters())

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
- BM25 (words and character bigrams) over the text of the articles each entry cites:
  residents who write formally, or tell a story in the law's own terms (转委托, 共有部分,
  赡养义务), match the statute better than any phrasing; entries citing the same
  articles share this signal, so it separates topics more than entries;
- rapidfuzz partial matching of the normalised query against the questions and
  phrasings of the strongest candidates, for near matches and typos.

The first hit is then re-chosen among the ten strongest by how much the others agree
with it (``_vote``: a candidate gains a little of the score of each one citing the same
articles), so a lone near-miss does not beat a group of entries about the same law:
top-1 0.876 → 0.890 (0.887 → 0.896 and 0.866 → 0.884 on the two halves), top-3 kept.

Tried and left out, each measured on both halves of the dev set: a BM25 over toneless
pinyin syllable pairs (with Sichuan n/l, z/zh, in/ing folding) for homophone typos,
weights fitted (one half −0.9, the other +0.6 points); correcting homophone typos to the
knowledge base's words before searching (it rewrote correct text too — 尊敬 → 尊金,
说要 → 索要 — in a third to two thirds of the report messages, by variant); scoring
the last question clause of a long message apart (+0.3 on one half, −1.5 on the
other); a topic-centroid signal (−1.2 on one half); about 90 more dialect words and
typos in ``synonyms.yaml`` (no gain: the phrasings already carry them); other BM25
k1 / b and squash constants (flat on the knowledge base's held-out phrasings).

The two character signals were added together: on the unseen half of the dev set they
moved top-1 from 0.82 to 0.83 and top-3 from 0.938 to 0.944 (``knowledge.indexes``).
The weights are fitted on the knowledge base alone (``knowledge.weights``: each entry's
phrasings held out in turn as queries), not on the dev set, so both halves of the dev
set stay unseen: with the article signals, top-1 went from 0.865 to 0.887 on one half
and from 0.841 to 0.859 on the other (top-3 0.972 → 0.976 and 0.938 → 0.947).

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
from rapidfuzz import fuzz, process

from knowledge.faq import Entry, KnowledgeBase, load_faq
from knowledge.indexes import NgramCentroids, PostingsBM25, char_bigrams
from knowledge.law import LawLibrary, load_law
from knowledge.text import Tokenizer, normalize

# Weights of the signals (with W_FUZZY they sum to 1, so a score reads as a confidence),
# fitted by ``python -m knowledge.weights`` on held-out phrasings of the knowledge base.
WEIGHTS = {
    "words": 0.25,
    "bigrams": 0.32,
    "centroid": 0.23,
    "law_words": 0.06,
    "law_bigrams": 0.07,
}
W_FUZZY = 0.07
# A hit's confidence weighs only how close the resident's wording is to the entry (the
# combination CONFIDENCE in ``knowledge.answer`` was calibrated on): the article signals
# rank well but are near zero for colloquial questions, so a plain "狗咬人谁负责" would
# read as doubtful although nothing else comes close.
CONFIDENCE_WEIGHTS = {"words": 0.52, "bigrams": 0.14, "centroid": 0.27}
# A BM25 score that counts as half-way to certain, per signal (BM25 is unbounded; the
# squash x / (x + half) keeps one huge match from drowning the other signals).
HALF = {"words": 8.0, "bigrams": 20.0, "law_words": 20.0, "law_bigrams": 20.0}
FUZZY_CANDIDATES = 12
# Re-choosing the first hit by the support of the strongest candidates (``_vote``).
VOTE = 0.05
VOTE_CANDIDATES = 10
SHORT_QUERY = 6  # distinct tokens; longer texts always carry words no entry has
SEARCH_CACHE = 4096  # queries whose best hits are kept
CACHED_HITS = 8


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float


class FaqRetriever:
    def __init__(self, kb: KnowledgeBase, law: LawLibrary | None = None) -> None:
        self.entries = list(kb.entries.values())
        self.by_id = {e.id: e for e in self.entries}
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
        law = law or load_law()
        cited = [
            " ".join(a.text for c in e.citations if (a := law.get(c)) is not None)
            for e in self.entries
        ]
        self.bm25_law_words = PostingsBM25([self.tokenizer.tokens(t) for t in cited])
        self.bm25_law_bigrams = PostingsBM25([char_bigrams(normalize(t)) for t in cited])
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

    def signals(self, query: str) -> dict[str, np.ndarray]:
        """Each signal's squashed score for every entry (empty when the query has no
        words): what ``_search`` combines and ``knowledge.weights`` fits weights to."""
        return self._signals(self.tokenizer.tokens(query), normalize(query))

    def _signals(self, tokens: list[str], normalized: str) -> dict[str, np.ndarray]:
        if not tokens or not self.entries:
            return {}
        # Each distinct word once: repeats in a long story overweight whatever the
        # resident kept repeating.
        words = list(dict.fromkeys(tokens))
        bigrams = list(dict.fromkeys(char_bigrams(normalized)))
        raw = {
            "words": self.bm25_entries.get_scores(words),
            "bigrams": self.bm25_bigrams.get_scores(bigrams),
            "law_words": self.bm25_law_words.get_scores(words),
            "law_bigrams": self.bm25_law_bigrams.get_scores(bigrams),
        }
        squashed = {name: s / (s + HALF[name]) for name, s in raw.items()}
        squashed["centroid"] = self.centroids.get_scores(normalized)
        return squashed

    def forget(self) -> None:
        """Drop the kept hits (of every retriever: the cache is the class's) and this
        one's kept tokens, so a benchmark measures the work and not the cache."""
        FaqRetriever._top.cache_clear()
        self.tokenizer.forget()

    def _fuzzy_many(self, normalized: str, indexes: np.ndarray) -> list[float]:
        """Per entry, the best rapidfuzz partial ratio (0–1) of the normalised query
        against its questions and phrasings — near matches and typos the tokenised
        signals miss — in one rapidfuzz call for all the entries."""
        texts = [text for i in indexes for text in self.asked[i]]
        ratios = process.cdist([normalized], texts, scorer=fuzz.partial_ratio, dtype=np.float64)[0]
        best, start = [], 0
        for i in indexes:
            end = start + len(self.asked[i])
            best.append(float(ratios[start:end].max()) / 100)
            start = end
        return best

    def _vote(self, scores: np.ndarray, k: int) -> list[int]:
        """The first hit chosen with its neighbours' support, the rest by score.

        Several entries often cite the same articles (five ways a leak gets paid for).
        When the best-scoring entry stands alone while the next few agree on other
        articles, the agreeing group is more likely what the resident meant: each of the
        strongest candidates gains VOTE × the scores of the others, weighted by the share
        of its citations they also cite. Only the first place is re-chosen; the others keep
        their score order, so the runners-up still offer different answers. VOTE was
        chosen on the knowledge base's held-out phrasings (0.03–0.05 best, 0.1 worse),
        not on the dev set.
        """
        ranked = [int(i) for i in np.argsort(-scores)[: max(k, VOTE_CANDIDATES)]]
        top = ranked[:VOTE_CANDIDATES]
        cited = {i: set(self.entries[i].citations) for i in top}

        def voted(i: int) -> float:
            support = sum(scores[j] * len(cited[i] & cited[j]) for j in top if j != i)
            return float(scores[i]) + VOTE * support / max(len(cited[i]), 1)

        first = max(top, key=voted)
        return [first, *(i for i in ranked if i != first)][:k]

    def _search(self, query: str, k: int) -> list[Hit]:
        tokens = self.tokenizer.tokens(query)
        normalized = normalize(query)
        signals = self._signals(tokens, normalized)
        if not signals:
            return []
        scores = np.zeros(len(self.entries))
        for name, weight in WEIGHTS.items():
            scores += weight * signals[name]
        fuzzy = {}
        candidates = np.argsort(-scores)[:FUZZY_CANDIDATES]
        for index, ratio in zip(candidates, self._fuzzy_many(normalized, candidates), strict=True):
            fuzzy[index] = W_FUZZY * ratio
            scores[index] += fuzzy[index]
        order = self._vote(scores, k)
        distinct = set(tokens)
        hits = []
        for i in order:
            if scores[i] <= 0:
                continue
            confidence = fuzzy.get(i, 0.0) + sum(
                weight * float(signals[name][i]) for name, weight in CONFIDENCE_WEIGHTS.items()
            )
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

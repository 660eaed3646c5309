"""Composing what the bot says to a legal question: the entry's answer, the articles it
rests on, related questions — or, below the confidence threshold, a plain "I'm not
sure" with the closest entries and the volunteer-lawyer option.

Every answer ends with the same short note: general legal information, the 12348
public legal-service hotline, and the lawyer option (added by the chat layer from the
message catalogue, so it reads the same on every channel and in ``linli ask``).

Usage::

    result = answer_question("狗咬人谁负责")
    result.fallback, result.entry_id, [c.id for c in result.citations]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from knowledge.faq import Entry
from knowledge.law import Article, load_law
from knowledge.retrieval import FaqRetriever, Hit, default_retriever

# Calibrated on tests/data/legal_questions.json: below it, the top hit is more often
# wrong than right, so the bot says it is not sure instead of answering. Confidence is
# the top score plus half its lead over the runner-up: a short question ("狗咬人谁负责")
# scores low in absolute terms but leaves no doubt which entry it means.
CONFIDENCE = 0.42
MARGIN_WEIGHT = 0.5
MIN_WORDS = 2
ANSWER_CACHE = 4096  # answers kept per question text (the default knowledge base only)


@dataclass(frozen=True)
class Answer:
    query: str
    fallback: bool
    entry: Entry | None
    score: float
    citations: tuple[Article, ...] = ()
    related: tuple[Entry, ...] = ()
    alternatives: tuple[Hit, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "answer": self.entry.answer if self.entry and not self.fallback else None,
            "entry_id": self.entry.id if self.entry else None,
            "question": self.entry.question if self.entry else None,
            "score": self.score,
            "citations": [
                {"id": a.id, "citation": a.citation, "text": a.text} for a in self.citations
            ],
            "related": [{"id": e.id, "question": e.question} for e in self.related],
            "alternatives": [
                {"id": h.entry.id, "question": h.entry.question, "score": h.score}
                for h in self.alternatives
            ],
            "fallback": self.fallback,
        }


def answer_question(query: str, retriever: FaqRetriever | None = None) -> Answer:
    if retriever is None:
        return _default_answer(query)
    return _compose(query, retriever)


@lru_cache(maxsize=ANSWER_CACHE)
def _default_answer(query: str) -> Answer:
    """Kept per text: the chat asks once ahead of its transaction and again inside it,
    and residents repeat each other's questions. An Answer is immutable."""
    return _compose(query, default_retriever())


def forget_answers() -> None:
    """Drop every answer, hit and token kept for the default knowledge base."""
    _default_answer.cache_clear()
    default_retriever().forget()


def _compose(query: str, retriever: FaqRetriever) -> Answer:
    hits = retriever.search(query, k=4)
    if not hits:
        return Answer(query, True, None, 0.0)
    top = hits[0]
    lead = top.score - hits[1].score if len(hits) > 1 else top.score
    confidence = top.score + MARGIN_WEIGHT * lead
    words = {t for t in retriever.tokenizer.tokens(query) if not t.isdigit()}
    # One word ("2单元", "物业") is a topic, not a question: offer entries, don't answer.
    if confidence < CONFIDENCE or len(words) < MIN_WORDS:
        return Answer(query, True, top.entry, top.score, alternatives=tuple(hits[:3]))
    law = load_law()
    citations = tuple(a for i in top.entry.citations if (a := law.get(i)) is not None)
    related = [retriever.by_id[r] for r in top.entry.related if r in retriever.by_id]
    for hit in hits[1:]:
        if len(related) >= 3:
            break
        if hit.entry.id not in {e.id for e in related} and hit.score >= CONFIDENCE * 0.8:
            related.append(hit.entry)
    return Answer(query, False, top.entry, top.score, citations, tuple(related[:3]))

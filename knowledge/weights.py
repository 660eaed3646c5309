"""Fitting the retrieval weights on the knowledge base itself, never on the dev set.

Hand-set weights chosen on half of the dev set kept fitting that half: a weight that
helped there often did nothing on the other half. The knowledge base already holds
thousands of real ways of asking — each entry's phrasings — so the weights are fitted
on those instead: the phrasings are split into five folds by a hash of their text; for
each fold the index is built without them and each held-out phrasing is asked as a
query. A pairwise logistic regression then learns how much each signal should count
for the right entry (one citing the same articles) to outrank the strongest wrong ones.
The dev set stays entirely unseen, so both of its halves measure generalisation.

Usage: ``python -m knowledge.weights`` prints the fitted weights as JSON, to be copied
into ``knowledge.retrieval`` (rounded; they are normalised to sum to 1).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from knowledge.faq import Entry, KnowledgeBase, load_faq
from knowledge.retrieval import W_FUZZY, WEIGHTS, FaqRetriever

FOLDS = 5
NEGATIVES = 30  # the strongest wrong entries per query, as ranked by the current weights
L2 = 1e-3
STEPS = 300
STEP_SIZE = 5.0


def _fold(text: str) -> int:
    return hashlib.sha1(text.encode("utf-8")).digest()[0] % FOLDS


def held_out(kb: KnowledgeBase) -> Iterator[tuple[KnowledgeBase, list[tuple[str, Entry]]]]:
    """Per fold: the knowledge base without the fold's phrasings, and those phrasings
    with the entry they belong to (an entry always keeps at least one phrasing)."""
    for fold in range(FOLDS):
        kept: dict[str, Entry] = {}
        queries: list[tuple[str, Entry]] = []
        for entry in kb.entries.values():
            keep = tuple(p for p in entry.phrasings if _fold(p) != fold)
            held = [p for p in entry.phrasings if _fold(p) == fold]
            if not keep:
                keep, held = entry.phrasings[:1], held[1:]
            kept[entry.id] = replace(entry, phrasings=keep)
            queries.extend((p, entry) for p in held)
        yield KnowledgeBase(kept), queries


def differences(retriever: FaqRetriever, query: str, source: Entry) -> list[list[float]]:
    """Feature vector of the best right entry minus each strong wrong one's."""
    signals = retriever.signals(query)
    if not signals:
        return []
    base = sum(weight * signals[name] for name, weight in WEIGHTS.items())
    wanted = set(source.citations)
    right = [i for i, e in enumerate(retriever.entries) if wanted & set(e.citations)]
    best = max(right, key=lambda i: base[i])
    wrong = [i for i in np.argsort(-base)[:NEGATIVES] if i not in right]
    return [[float(signals[n][best] - signals[n][i]) for n in WEIGHTS] for i in wrong]


def fit(rows: np.ndarray) -> dict[str, float]:
    """Pairwise logistic regression without intercept, by gradient descent; the weights
    are scaled to sum to 1 with the fuzzy weight, so a score still reads as a confidence.

    Fuzzy matching is left out of the fit: a held-out phrasing nearly always has a
    near-verbatim sibling in its entry ("高空抛物找不到人" / "找不到扔东西的人"), which
    made the fit trust it three times more than residents' own wording warrants."""
    w = np.zeros(rows.shape[1])
    for _ in range(STEPS):
        margin = rows @ w
        gradient = -(rows * (1 / (1 + np.exp(margin)))[:, None]).mean(axis=0) + L2 * w
        w -= STEP_SIZE * gradient
    w = w / w.sum() * (1 - W_FUZZY)
    return {name: round(float(v), 3) for name, v in zip(WEIGHTS, w, strict=True)}


def main() -> None:
    kb = load_faq()
    rows: list[list[float]] = []
    for reduced, queries in held_out(kb):
        retriever = FaqRetriever(reduced)
        for query, entry in queries:
            rows.extend(differences(retriever, query, entry))
    print(json.dumps(fit(np.array(rows)), indent=2))


if __name__ == "__main__":
    main()

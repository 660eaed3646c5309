"""``linli knowledge eval FILE``: how often the right articles come back.

FILE is JSON ``[{"question": "...", "any_of": ["民法典-1254", ...]}, ...]``. A question
counts for top-k when a citation of one of the first k retrieved entries is in its
``any_of``; ``fallback_rate`` is the share the bot would not answer confidently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from knowledge.answer import CONFIDENCE
from knowledge.retrieval import FaqRetriever, default_retriever


def evaluate(items: list[dict[str, Any]], retriever: FaqRetriever | None = None) -> dict[str, Any]:
    retriever = retriever or default_retriever()
    top1 = top3 = fallback = 0
    for item in items:
        wanted = set(item["any_of"])
        hits = retriever.search(item["question"], k=3)
        if not hits or hits[0].score < CONFIDENCE:
            fallback += 1
        cited = [set(h.entry.citations) for h in hits]
        if cited and cited[0] & wanted:
            top1 += 1
        if any(c & wanted for c in cited):
            top3 += 1
    n = len(items)
    return {
        "n": n,
        "top1": round(top1 / n, 4) if n else 0.0,
        "top3": round(top3 / n, 4) if n else 0.0,
        "fallback_rate": round(fallback / n, 4) if n else 0.0,
    }


def evaluate_file(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        return evaluate(json.load(fh))

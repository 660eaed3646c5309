"""Legal Q&A: linli's retrieval against a plain BM25 baseline, and the latency of ``ask``.

In one process and on the same entries and questions:

- quality on the development set (``tests/data/legal_questions.json``): top-1 / top-3
  for linli's retrieval and for a plain BM25 (jieba tokens, one document per entry made
  of its question, phrasings and answer; no normalisation, synonyms or fuzzy matching);
- latency of a full ``ask`` (retrieval + answer composition): p50 / p99 and queries per
  second, on the real knowledge base and on a synthetic one ten times its size.

Usage: ``python bench/faq.py [--questions FILE]``; prints JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import jieba
from rank_bm25 import BM25Okapi

from knowledge.answer import answer_question
from knowledge.evaluate import evaluate
from knowledge.faq import KnowledgeBase, load_faq
from knowledge.retrieval import FaqRetriever

DEV_SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "legal_questions.json"


def baseline(kb: KnowledgeBase, items: list[dict[str, Any]]) -> dict[str, float]:
    entries = list(kb.entries.values())
    corpus = [jieba.lcut(" ".join((e.question, *e.phrasings, e.answer))) for e in entries]
    bm25 = BM25Okapi(corpus)
    top1 = top3 = 0
    for item in items:
        scores = bm25.get_scores(jieba.lcut(item["question"]))
        ranked = sorted(range(len(entries)), key=lambda i: -scores[i])[:3]
        wanted = set(item["any_of"])
        hits = [bool(set(entries[i].citations) & wanted) for i in ranked]
        top1 += hits[0]
        top3 += any(hits)
    n = len(items)
    return {"top1": round(top1 / n, 4), "top3": round(top3 / n, 4)}


def latency(retriever: FaqRetriever, questions: list[str], rounds: int = 3) -> dict[str, float]:
    for question in questions[:20]:
        answer_question(question, retriever)  # warm caches
    timings = []
    started = time.perf_counter()
    for _ in range(rounds):
        # The retriever keeps answers and tokens per text (the chat layer asks twice per
        # message); each round must do the work, not read it back.
        retriever.forget()
        for question in questions:
            t0 = time.perf_counter()
            answer_question(question, retriever)
            timings.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    timings.sort()
    return {
        "queries": len(timings),
        "p50_ms": round(statistics.median(timings) * 1000, 3),
        "p99_ms": round(timings[int(len(timings) * 0.99) - 1] * 1000, 3),
        "qps": round(len(timings) / elapsed, 1),
    }


def synthetic(kb: KnowledgeBase, factor: int = 10) -> KnowledgeBase:
    """The real entries plus (factor - 1) copies with their wording shifted, so the index
    is ten times larger and mostly near-duplicates: a hard case for retrieval speed."""
    entries = dict(kb.entries)
    for copy in range(1, factor):
        for entry in kb.entries.values():
            twisted = tuple(f"{p}（第{copy}种说法）" for p in entry.phrasings)
            clone = replace(entry, id=f"{entry.id}-x{copy}", phrasings=twisted, related=())
            entries[clone.id] = clone
    return KnowledgeBase(entries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=DEV_SET)
    args = parser.parse_args()
    items = json.loads(args.questions.read_text(encoding="utf-8"))
    kb = load_faq()
    started = time.perf_counter()
    retriever = FaqRetriever(kb)
    build_seconds = time.perf_counter() - started
    linli = evaluate(items, retriever)
    plain = baseline(kb, items)
    questions = [item["question"] for item in items]
    big_kb = synthetic(kb)
    print(
        json.dumps(
            {
                "benchmark": "faq",
                "entries": len(kb),
                "questions": len(items),
                "linli": linli,
                "bm25_baseline": plain,
                "top1_gain_points": round((linli["top1"] - plain["top1"]) * 100, 1),
                "top1_ratio": round(linli["top1"] / plain["top1"], 3) if plain["top1"] else None,
                "index_build_seconds": round(build_seconds, 3),
                "ask_latency_real_kb": latency(retriever, questions),
                "ask_latency_10x_kb": {
                    "entries": len(big_kb),
                    **latency(FaqRetriever(big_kb), questions, rounds=1),
                },
                "machine": f"{platform.machine()} {platform.python_version()}",
            },
            ensure_ascii=False,
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

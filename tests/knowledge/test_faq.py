"""The FAQ: its size and citations, the validator, retrieval quality on the dev set."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge.answer import answer_question
from knowledge.evaluate import evaluate_file
from knowledge.faq import FaqError, load_faq, parse_faq, read_faq_files
from knowledge.law import load_law

ROOT = Path(__file__).resolve().parents[2]
DEV_SET = ROOT / "tests" / "data" / "legal_questions.json"
TOP1_FLOOR = 0.885  # measured 0.890 (579 entries, article signals, voting); goal 0.85
TOP3_FLOOR = 0.955  # measured 0.961; the goal is 0.95
TOPICS = {
    "neighbours",
    "leaks",
    "noise",
    "height",
    "fire",
    "ebike",
    "pets",
    "parking",
    "renovation",
    "propertyfee",
    "propertyservice",
    "owners",
    "commonincome",
    "fund",
    "illegalbuild",
    "renting",
    "fraud",
    "domesticviolence",
    "elderlysupport",
    "inheritance",
    "marriage",
    "minors",
    "elderlyrights",
    "labour",
    "consumer",
    "mediation",
    "legalaid",
    "publicorder",
}


def test_knowledge_base_has_200_entries_across_the_topics() -> None:
    kb = load_faq()
    assert len(kb) >= 200
    assert {e.topic for e in kb.entries.values()} >= TOPICS


def test_knowledge_check_passes() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "knowledge", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda e: e.__setitem__("citations", ["民法典-2000"]), "no such article"),
        (lambda e: e.__setitem__("citations", ["噪声污染防治法-70"]), "repealed"),
        (lambda e: e.__setitem__("answer", ""), "answer is empty"),
        (lambda e: e.__setitem__("phrasings", ["一种说法"]), "phrasings needs"),
        (lambda e: e.__setitem__("related", ["no-such-entry"]), "unknown entry"),
    ],
)
def test_broken_entry_is_refused(mutate, problem: str) -> None:  # type: ignore[no-untyped-def]
    files = copy.deepcopy(read_faq_files())
    topic = sorted(files)[0]
    mutate(files[topic][0])
    with pytest.raises(FaqError) as error:
        parse_faq(files, load_law())
    assert any(problem in p for p in error.value.problems), error.value.problems


def test_duplicate_entry_ids_are_refused() -> None:
    files = copy.deepcopy(read_faq_files())
    topic = sorted(files)[0]
    files[topic].append(copy.deepcopy(files[topic][0]))
    with pytest.raises(FaqError, match="duplicate id"):
        parse_faq(files, load_law())


def test_dev_set_is_independent_and_large() -> None:
    items = json.loads(DEV_SET.read_text(encoding="utf-8"))
    assert len(items) >= 600
    phrasings = {p for e in load_faq().entries.values() for p in (e.question, *e.phrasings)}
    # Written apart from the entries: only a short common question may coincide by chance.
    assert sum(item["question"] in phrasings for item in items) <= len(items) // 50


def test_retrieval_quality_on_the_dev_set(capsys: pytest.CaptureFixture[str]) -> None:
    figures = evaluate_file(DEV_SET)
    with capsys.disabled():
        print("\nFAQ retrieval:", json.dumps(figures))
    assert figures["top1"] >= TOP1_FLOOR
    assert figures["top3"] >= TOP3_FLOOR


def test_ask_json_contract() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", "狗把人咬了主人要赔吗", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"query", "answer", "entry_id", "score", "citations", "related", "fallback"} <= set(
        result
    )
    assert result["fallback"] is False and result["citations"]
    assert all({"id", "text"} <= set(c) for c in result["citations"])


def test_unrelated_question_falls_back_with_the_closest_entries() -> None:
    result = answer_question("量子计算机的原理是什么")
    assert result.fallback and result.alternatives


def test_eval_command_prints_the_figures(tmp_path: Path) -> None:
    questions = tmp_path / "q.json"
    questions.write_text(
        json.dumps([{"question": "狗咬人谁赔", "any_of": ["民法典-1245"]}], ensure_ascii=False),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "knowledge", "eval", str(questions)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == {"n", "top1", "top3", "fallback_rate"}

"""``linli knowledge check``: every problem in the matter table, the FAQ and the quiz
bank, at once.

Unknown article ids, citations of repealed laws, duplicate ids, empty fields, answers
that are too long, related entries that do not exist, incomplete escalation ladders,
quiz answers that point at no option, a quiz bank too small for a contest.
"""

from __future__ import annotations

import yaml

from knowledge.faq import FaqError, parse_faq, read_faq_files
from knowledge.law import load_law
from knowledge.matters import MATTERS_FILE, MatterTableError, parse_matters
from knowledge.quiz import MIN_QUESTIONS, QuizError, parse_quiz, read_quiz_files


def problems() -> list[str]:
    law = load_law()
    found: list[str] = []
    try:
        with MATTERS_FILE.open(encoding="utf-8") as fh:
            parse_matters(yaml.safe_load(fh), law)
    except MatterTableError as error:
        found += [f"matters: {p}" for p in error.problems]
    try:
        kb = parse_faq(read_faq_files(), law)
        if len(kb) == 0:
            found.append("faq: no entries")
    except FaqError as error:
        found += [f"faq: {p}" for p in error.problems]
    try:
        bank = parse_quiz(read_quiz_files(), law)
        if len(bank) < MIN_QUESTIONS:
            found.append(f"quiz: fewer than {MIN_QUESTIONS} questions ({len(bank)})")
    except QuizError as error:
        found += [f"quiz: {p}" for p in error.problems]
    return found

"""``linli knowledge check``: every problem in the matter table and the FAQ, at once.

Unknown article ids, citations of repealed laws, duplicate ids, empty fields, answers
that are too long, related entries that do not exist, incomplete escalation ladders.
"""

from __future__ import annotations

import yaml

from knowledge.faq import FaqError, parse_faq, read_faq_files
from knowledge.law import load_law
from knowledge.matters import MATTERS_FILE, MatterTableError, parse_matters


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
    return found

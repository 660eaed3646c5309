"""The weight fit holds phrasings out without emptying entries and learns from pairs."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.faq import load_faq
from knowledge.retrieval import W_FUZZY, WEIGHTS
from knowledge.weights import FOLDS, fit, held_out


def test_each_phrasing_is_held_out_once_and_no_entry_loses_all() -> None:
    kb = load_faq()
    asked: list[str] = []
    for reduced, queries in held_out(kb):
        assert all(e.phrasings for e in reduced.entries.values())
        for text, entry in queries:
            assert text not in reduced.entries[entry.id].phrasings
        asked.extend(text for text, _ in queries)
    total = sum(len(e.phrasings) for e in kb.entries.values())
    assert total - len(kb) <= len(asked) <= total
    assert FOLDS >= 2


def test_fit_favours_the_signal_that_separates_and_sums_with_fuzzy_to_one() -> None:
    rng = np.random.default_rng(0)
    rows = rng.normal(0, 0.05, size=(400, len(WEIGHTS)))
    rows[:, 0] += 0.3  # the right entry always wins on the first signal
    weights = fit(rows)
    assert max(weights, key=weights.__getitem__) == next(iter(WEIGHTS))
    assert sum(weights.values()) + W_FUZZY == pytest.approx(1.0, abs=0.01)

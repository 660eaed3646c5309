"""The matter table loads, covers what compounds report, and rejects broken entries."""

from __future__ import annotations

import copy

import pytest
import yaml

from knowledge.law import load_law
from knowledge.matters import LEVELS, MATTERS_FILE, MatterTableError, load_matters, parse_matters

REQUIRED = {
    "leak_from_above",
    "pipe_blockage",
    "lift_breakdown",
    "common_lights",
    "door_access",
    "greenery",
    "rubbish",
    "fire_lane",
    "ebike_charging",
    "thrown_from_height",
    "noise_renovation",
    "noise_daily",
    "noise_square_dance",
    "illegal_structure",
    "common_clutter",
    "pets",
    "parking",
    "property_fee",
    "property_service",
    "common_income",
    "maintenance_fund",
    "load_bearing_wall",
    "light_ventilation",
    "fight_threat",
    "family_dispute",
    "theft",
    "safety_hazard",
    "suggestion",
}


def _raw() -> dict:
    with MATTERS_FILE.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def test_table_covers_what_compounds_report() -> None:
    table = load_matters()
    assert len(table.matters) >= 25
    assert REQUIRED <= set(table.matters)


def test_every_matter_climbs_a_complete_ladder_to_joint_mediation() -> None:
    for matter in load_matters():
        assert matter.ladder[-1] == "joint"
        assert list(matter.levels) == list(LEVELS[LEVELS.index(matter.home_level) :])


def test_every_legal_basis_is_a_current_article() -> None:
    law = load_law()
    for matter in load_matters():
        for article_id in matter.legal_basis:
            assert law.problem(article_id) is None, (matter.id, article_id)


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda m: m.pop("advice"), "missing advice"),
        (lambda m: m.__setitem__("legal_basis", ["民法典-9999"]), "no such article"),
        (lambda m: m.__setitem__("legal_basis", ["噪声污染防治法-65"]), "repealed"),
        (lambda m: m["levels"].pop("joint"), "levels.joint missing"),
        (lambda m: m.__setitem__("kind", "complaint"), "kind"),
        (lambda m: m["levels"]["building"].__setitem__("lead", "mayor"), "not a handler role"),
        (lambda m: m["levels"]["building"].__setitem__("sla_hours", 0), "sla_hours"),
        (lambda m: m.__setitem__("examples", ["只有一个例子"]), "examples needs at least"),
    ],
)
def test_broken_entry_is_rejected_with_the_reason(mutate, problem: str) -> None:  # type: ignore[no-untyped-def]
    raw = copy.deepcopy(_raw())
    leak = next(m for m in raw["matters"] if m["id"] == "leak_from_above")
    mutate(leak)
    with pytest.raises(MatterTableError) as error:
        parse_matters(raw, load_law())
    assert any(problem in p for p in error.value.problems), error.value.problems


def test_duplicate_ids_are_rejected() -> None:
    raw = copy.deepcopy(_raw())
    raw["matters"].append(copy.deepcopy(raw["matters"][0]))
    with pytest.raises(MatterTableError, match="duplicate id"):
        parse_matters(raw, load_law())

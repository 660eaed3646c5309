"""Routing is a pure function of the matter table and the roster."""

from __future__ import annotations

from handlers.routing import Holder, Place, Roster, Zone, route
from knowledge.matters import LevelRule, Matter

LEAK = Matter(
    id="leak",
    name="漏水",
    kind="dispute",
    place="counterparty",
    keywords=("漏水", "渗水", "滴水"),
    examples=("楼上漏水", "天花板渗水", "卫生间漏"),
    legal_basis=("民法典-296",),
    home_level="floor",
    levels={
        "floor": LevelRule("floor_member", ("property",), 48),
        "building": LevelRule("building_leader", ("property",), 72),
        "compound": LevelRule("secretary", ("committee", "mediator"), 120),
        "joint": LevelRule("mediator", ("grid_worker", "police", "volunteer"), 240),
    },
    process=("上门查看", "协调"),
    advice="拍照留证",
)

COMPOUND, B1, B2 = 1, 11, 12
ROSTER = Roster(
    holders=(
        Holder(100, "building_leader", COMPOUND, B1),
        Holder(101, "secretary", COMPOUND),
        Holder(102, "property", COMPOUND),
        Holder(103, "mediator", COMPOUND),
        Holder(104, "grid_worker", COMPOUND),
        Holder(105, "police", COMPOUND),
        Holder(106, "volunteer", COMPOUND),
        Holder(107, "committee", COMPOUND),
        Holder(999, "secretary", 2),  # another compound's secretary
    ),
    zones=(Zone(B1, 1, 6, 200), Zone(B1, 13, 18, 201)),
)


def test_floor_case_goes_to_the_party_member_whose_zone_covers_the_floor() -> None:
    assignment = route(LEAK, "floor", Place(COMPOUND, B1, 15), ROSTER)
    assert assignment is not None
    assert (assignment.level, assignment.lead_id) == ("floor", 201)
    assert assignment.lead_role == "floor_member"
    assert assignment.co == ((102, "property"),) and assignment.sla_hours == 48
    assert assignment.vacancies == ()


def test_vacant_zone_routes_one_level_up_and_says_why() -> None:
    assignment = route(LEAK, "floor", Place(COMPOUND, B1, 9), ROSTER)
    assert assignment is not None
    assert (assignment.level, assignment.lead_id) == ("building", 100)
    assert assignment.vacancies == ("floor:floor_member",)


def test_building_without_leader_climbs_to_the_compound_secretary() -> None:
    assignment = route(LEAK, "floor", Place(COMPOUND, B2, 3), ROSTER)
    assert assignment is not None
    assert (assignment.level, assignment.lead_id) == ("compound", 101)
    assert assignment.vacancies == ("floor:floor_member", "building:building_leader")


def test_joint_level_brings_the_2_1_x_team() -> None:
    assignment = route(LEAK, "joint", Place(COMPOUND, B1, 15), ROSTER)
    assert assignment is not None
    assert assignment.lead_id == 103
    assert {role for _, role in assignment.co} == {"grid_worker", "police", "volunteer"}


def test_another_compounds_people_are_never_chosen() -> None:
    assignment = route(LEAK, "compound", Place(2, None, None), ROSTER)
    assert assignment is not None and assignment.lead_id == 999
    assert assignment.co == ()  # compound 1's committee and mediator do not count


def test_least_loaded_holder_leads() -> None:
    roster = Roster(
        holders=(*ROSTER.holders, Holder(108, "building_leader", COMPOUND, B1)),
        zones=ROSTER.zones,
        load={100: 5, 108: 1},
    )
    assignment = route(LEAK, "building", Place(COMPOUND, B1, 9), roster)
    assert assignment is not None and assignment.lead_id == 108


def test_nobody_at_all_returns_none() -> None:
    assert route(LEAK, "floor", Place(COMPOUND, B1, 3), Roster()) is None


def test_empty_ladder_falls_back_to_the_secretary() -> None:
    roster = Roster(holders=(Holder(101, "secretary", COMPOUND),))
    only_police = Matter(
        **{**LEAK.__dict__, "home_level": "joint", "levels": {"joint": LevelRule("police", (), 24)}}
    )
    assignment = route(only_police, "joint", Place(COMPOUND, B1, 3), roster)
    assert assignment is not None and assignment.lead_id == 101
    assert assignment.vacancies == ("joint:police", "joint:fallback:secretary")

"""Who answers for a case: one pure function over the matter table and the roster.

``route`` walks the matter's ladder from the requested level upward. At each level the
lead is whoever holds the level's lead role *for that place* — the party member whose
zone covers the floor, the leader of the building, the compound's secretary, or the role
the matter names (property company, owners' committee, mediator, police). A vacant post
sends the case one level up and the reason is kept, so the ledger shows why a leak went
straight to the building leader. Among several holders, the one with the fewest open
cases leads.

Usage::

    assignment = route(matter, "floor", Place(compound_id, building_id, floor=15), roster)
    assignment.lead_id, assignment.co, assignment.vacancies
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from knowledge.matters import LEVELS, Matter


@dataclass(frozen=True)
class Place:
    compound_id: int
    building_id: int | None = None
    floor: int | None = None


@dataclass(frozen=True)
class Holder:
    user_id: int
    role: str
    compound_id: int | None  # None: county-wide (admin)
    building_id: int | None = None


@dataclass(frozen=True)
class Zone:
    building_id: int
    floor_from: int
    floor_to: int
    user_id: int


@dataclass(frozen=True)
class Roster:
    holders: tuple[Holder, ...] = ()
    zones: tuple[Zone, ...] = ()
    load: Mapping[int, int] = field(default_factory=dict)

    def candidates(self, role: str, place: Place) -> list[int]:
        if role == "floor_member":
            found = [
                z.user_id
                for z in self.zones
                if place.building_id == z.building_id
                and place.floor is not None
                and z.floor_from <= place.floor <= z.floor_to
            ]
        elif role == "building_leader":
            found = [
                h.user_id
                for h in self.holders
                if h.role == role
                and place.building_id is not None
                and h.building_id == place.building_id
            ]
        else:
            found = [
                h.user_id
                for h in self.holders
                if h.role == role
                and h.compound_id in (place.compound_id, None)
                and h.building_id in (None, place.building_id)
            ]
        unique = list(dict.fromkeys(found))
        return sorted(unique, key=lambda user: (self.load.get(user, 0), user))


@dataclass(frozen=True)
class Assignment:
    level: str
    lead_id: int
    lead_role: str
    co: tuple[tuple[int, str], ...]
    sla_hours: float
    vacancies: tuple[str, ...] = ()


def route(matter: Matter, level: str, place: Place, roster: Roster) -> Assignment | None:
    """The assignment at ``level`` or, when its lead post is vacant, the next level up.

    None only when nobody at all can take the case (no secretary, no admin).
    """
    vacancies: list[str] = []
    for step in matter.ladder[matter.ladder.index(level) if level in matter.ladder else 0 :]:
        rule = matter.rule(step)
        leads = roster.candidates(rule.lead, place)
        if not leads:
            vacancies.append(f"{step}:{rule.lead}")
            continue
        lead = leads[0]
        co: list[tuple[int, str]] = []
        for role in rule.co:
            others = [u for u in roster.candidates(role, place) if u != lead]
            if others and others[0] not in {u for u, _ in co}:
                co.append((others[0], role))
        return Assignment(step, lead, rule.lead, tuple(co), rule.sla_hours, tuple(vacancies))
    # Nobody on the ladder: the compound's secretary, then a county admin, keep it.
    top = matter.ladder[-1]
    for role in ("secretary", "admin"):
        leads = roster.candidates(role, place)
        if leads:
            vacancies.append(f"{top}:fallback:{role}")
            return Assignment(top, leads[0], role, (), matter.rule(top).sla_hours, tuple(vacancies))
    return None


def level_index(level: str) -> int:
    return LEVELS.index(level)

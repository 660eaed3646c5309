"""Registration: a resident ties their chat to a flat, with buttons or one typed line.

Steps (the draft lives in ``conversation_state.data``):

    compound → building → unit → room → relation → confirm
    (a typed "1栋2单元1502" at any step jumps as far ahead as it can)

An invite link ``/start CODE`` can skip steps: a compound invite starts at the
building, a room invite goes straight to the relation, a role invite grants the role
(the only way, besides the roster, to become a handler).
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select

from bot.core.context import Context
from bot.core.events import Incoming
from bot.core.flows import Flow
from bot.core.replies import Button, Reply
from bot.core.viewer import Viewer
from bot.storage.models import (
    Building,
    Compound,
    Invite,
    Relation,
    ResponsibilityZone,
    Role,
    RoleGrant,
    Unit,
    User,
)
from handlers import consult, directory, report
from handlers.address import AddressGuess, parse_address, parse_room
from handlers.invite_claim import claim_person
from handlers.menu import menu_reply
from handlers.profile import describe_duties, format_address, new_identity, viewer_address

FLOW_NAME = "register"
_MAX_COMPOUND_BUTTONS = 8


class Step(StrEnum):
    COMPOUND = "compound"
    BUILDING = "building"
    UNIT = "unit"
    ROOM = "room"
    RELATION = "relation"
    CONFIRM = "confirm"


async def _deep_menu(event: Incoming, ctx: Context) -> list[Reply]:
    return [await _welcome_back(ctx)]


# ``/start <payload>`` from the buttons a group chat offers (they open the private chat).
DEEP_LINKS = {"report": report.start_report, "lawyer": consult.to_lawyer, "menu": _deep_menu}


# -- entry points -------------------------------------------------------------
async def start(event: Incoming, ctx: Context) -> list[Reply]:
    """``/start [CODE]``: greet, redeem an invite, or begin registration."""
    code = ctx.args[0] if ctx.args else ""
    if code in DEEP_LINKS and ctx.viewer.registered:
        return await DEEP_LINKS[code](event, ctx)
    if code in DEEP_LINKS:
        return [ctx.reply("start.welcome_new"), *await begin(event, ctx)]
    if code:
        invite = await directory.usable_invite(ctx.session, code, ctx.now)
        if invite is None:
            return [ctx.reply("start.invite_invalid"), *await begin(event, ctx)]
        return await _redeem(event, ctx, invite)
    if ctx.viewer.registered:
        return [await _welcome_back(ctx)]
    return [ctx.reply("start.welcome_new"), *await begin(event, ctx)]


async def register_action(event: Incoming, ctx: Context) -> list[Reply]:
    """The ``登记住址`` / ``更改住址`` buttons."""
    return await begin(event, ctx)


async def guest_fallback(event: Incoming, ctx: Context) -> list[Reply]:
    """Anything an unregistered user sends: an address starts registration with it."""
    if event.photo and not event.text:
        return [ctx.reply("errors.photo_without_context"), *await begin(event, ctx)]
    guess = parse_address(event.text or "")
    replies = [ctx.reply("start.welcome_new")]
    begun = await begin(event, ctx)
    if guess is not None and ctx.state.flow == FLOW_NAME and "compound_id" in ctx.state.data:
        return [replies[0], *await _apply_guess(ctx, guess)]
    return [*replies, *begun]


async def begin(
    event: Incoming, ctx: Context, data: dict[str, object] | None = None
) -> list[Reply]:
    data = dict(data or {})
    data.setdefault("mode", "change" if ctx.viewer.is_resident else "new")
    options = await directory.compounds(ctx.session)
    if not options:
        return [ctx.reply("register.no_compounds")]
    if len(options) == 1 and "compound_id" not in data:
        data["compound_id"] = options[0].id
    if "compound_id" in data:
        ctx.start(FLOW_NAME, Step.BUILDING, data)
        return [await _ask_building(ctx)]
    ctx.start(FLOW_NAME, Step.COMPOUND, data)
    return [_ask_compound(ctx, options)]


# -- steps --------------------------------------------------------------------
async def on_compound(event: Incoming, ctx: Context) -> list[Reply]:
    options = await directory.compounds(ctx.session)
    chosen: Compound | None = None
    if ctx.args:
        chosen = next((c for c in options if str(c.id) == ctx.args[0]), None)
    elif event.text:
        chosen = _match_compound(options, event.text)
        if chosen is None:
            return [
                ctx.reply("register.compound_not_found", text=event.text.strip()[:30]),
                _ask_compound(ctx, options),
            ]
    if chosen is None:
        return [_ask_compound(ctx, options)]
    ctx.state.data["compound_id"] = chosen.id
    ctx.goto(Step.BUILDING)
    if event.text:
        guess = parse_address(event.text)
        if guess is not None:
            return await _apply_guess(ctx, guess)
    return [await _ask_building(ctx)]


async def on_building(event: Incoming, ctx: Context) -> list[Reply]:
    if ctx.args:
        building = await _building_by_id(ctx, ctx.args[0])
        if building is None:
            return [await _ask_building(ctx)]
        return await _apply_guess(ctx, AddressGuess(building.number, None, None))
    guess = parse_address(event.text or "")
    if guess is None or guess.building is None:
        return [ctx.reply("register.choose_from_buttons"), await _ask_building(ctx)]
    return await _apply_guess(ctx, guess)


async def on_unit(event: Incoming, ctx: Context) -> list[Reply]:
    building = await ctx.session.get(Building, ctx.state.data["building_id"])
    assert building is not None
    if ctx.args:
        unit = await ctx.session.get(Unit, int(ctx.args[0])) if ctx.args[0].isdigit() else None
        if unit is None or unit.building_id != building.id:
            return [await _ask_unit(ctx)]
        return await _apply_guess(ctx, AddressGuess(building.number, unit.number, None))
    guess = parse_address(event.text or "")
    if guess is not None and guess.building is not None:
        return await _apply_guess(ctx, guess)
    if guess is not None and guess.unit is not None:
        return await _apply_guess(ctx, AddressGuess(building.number, guess.unit, guess.room))
    return [ctx.reply("register.choose_from_buttons"), await _ask_unit(ctx)]


async def on_room(event: Incoming, ctx: Context) -> list[Reply]:
    text = event.text or ""
    guess = parse_address(text)
    if guess is not None and (guess.building is not None or guess.unit is not None):
        building = await ctx.session.get(Building, ctx.state.data["building_id"])
        unit = await ctx.session.get(Unit, ctx.state.data["unit_id"])
        assert building is not None and unit is not None
        return await _apply_guess(
            ctx,
            AddressGuess(
                guess.building if guess.building is not None else building.number,
                guess.unit if guess.unit is not None else unit.number,
                guess.room,
            ),
        )
    room = parse_room(text) or (guess.room if guess is not None else None)
    if room is None:
        return [await _ask_room(ctx, "register.room_unreadable")]
    return await _choose_room(ctx, room)


async def on_relation(event: Incoming, ctx: Context) -> list[Reply]:
    value = ctx.args[0] if ctx.args else _relation_from_text(ctx, event.text or "")
    if value not in {r.value for r in Relation}:
        return [ctx.reply("register.choose_from_buttons"), _ask_relation(ctx)]
    ctx.state.data["relation"] = value
    ctx.goto(Step.CONFIRM)
    return [await _ask_confirm(ctx)]


async def on_confirm(event: Incoming, ctx: Context) -> list[Reply]:
    answer = ctx.args[0] if ctx.args else _yes_no(ctx, event.text or "")
    if answer == "redo":
        keep = {k: ctx.state.data[k] for k in ("mode", "invite_code") if k in ctx.state.data}
        return await begin(event, ctx, keep)
    if answer != "yes":
        parsed = parse_address(event.text or "")
        if parsed is not None and parsed.building is not None:
            return await _apply_guess(ctx, parsed)
        return [ctx.reply("register.choose_from_buttons"), await _ask_confirm(ctx)]
    return await _complete(event, ctx)


FLOW = Flow(
    FLOW_NAME,
    steps={
        Step.COMPOUND: on_compound,
        Step.BUILDING: on_building,
        Step.UNIT: on_unit,
        Step.ROOM: on_room,
        Step.RELATION: on_relation,
        Step.CONFIRM: on_confirm,
    },
)


# -- moving through the steps -------------------------------------------------
async def _apply_guess(ctx: Context, guess: AddressGuess) -> list[Reply]:
    """Go as far as the typed address allows, asking only for what is missing."""
    data = ctx.state.data
    compound = await ctx.session.get(Compound, data["compound_id"])
    assert compound is not None
    if guess.building is not None:
        building = await ctx.session.scalar(
            select(Building).where(
                Building.compound_id == compound.id, Building.number == guess.building
            )
        )
        if building is None:
            ctx.goto(Step.BUILDING)
            return [
                ctx.reply(
                    "register.building_not_found", compound=compound.name, building=guess.building
                ),
                await _ask_building(ctx),
            ]
        if data.get("building_id") != building.id:
            data.pop("unit_id", None)
        data["building_id"] = building.id
    if "building_id" not in data:
        ctx.goto(Step.BUILDING)
        return [await _ask_building(ctx)]
    options = await directory.units(ctx.session, data["building_id"])
    unit: Unit | None = None
    if guess.unit is not None:
        unit = next((u for u in options if u.number == guess.unit), None)
        if unit is None:
            ctx.goto(Step.UNIT)
            building = await ctx.session.get(Building, data["building_id"])
            assert building is not None
            return [
                ctx.reply("register.unit_not_found", building=building.number, unit=guess.unit),
                await _ask_unit(ctx),
            ]
    elif len(options) == 1:
        unit = options[0]
    elif "unit_id" in data:
        unit = next((u for u in options if u.id == data["unit_id"]), None)
    if unit is None:
        ctx.goto(Step.UNIT)
        return [await _ask_unit(ctx)]
    data["unit_id"] = unit.id
    ctx.goto(Step.ROOM)
    if guess.room is None:
        return [await _ask_room(ctx)]
    return await _choose_room(ctx, guess.room)


async def _choose_room(ctx: Context, number: str) -> list[Reply]:
    address = await directory.find_room(ctx.session, ctx.state.data["unit_id"], number)
    if address is None:
        return [await _ask_room(ctx, "register.room_not_found", room=number)]
    ctx.state.data["room_id"] = address.room_id
    if ctx.state.data.get("relation") in {r.value for r in Relation}:
        ctx.goto(Step.CONFIRM)
        return [await _ask_confirm(ctx)]
    ctx.goto(Step.RELATION)
    return [_ask_relation(ctx)]


async def _complete(event: Incoming, ctx: Context) -> list[Reply]:
    data = ctx.state.data
    address = await directory.room_address(ctx.session, data["room_id"])
    assert address is not None
    invite_code = data.get("invite_code")
    if invite_code:
        invite = await directory.usable_invite(ctx.session, invite_code, ctx.now)
        if invite is None:
            ctx.finish()
            return [ctx.reply("register.invite_used_up")]
        invite.uses += 1
    user = ctx.viewer.user
    changed = user is not None and user.room_id is not None
    if user is None:
        user = await _create_user(event, ctx)
    user.room_id = address.room_id
    user.relation = data["relation"]
    user.registered_at = user.registered_at or ctx.now
    ctx.finish()
    await ctx.session.flush()
    ctx.viewer = Viewer(ctx.viewer.identity, user, ctx.viewer.grants)
    key = "register.changed" if changed else "register.done"
    return [await menu_reply(ctx, ctx.t(key, address=format_address(ctx, address)))]


async def _create_user(event: Incoming, ctx: Context) -> User:
    user = User(name=event.display_name[:100], created_at=ctx.now)
    ctx.session.add(user)
    await ctx.session.flush()
    identity = new_identity(event, ctx, user.id)
    ctx.viewer = Viewer(identity, user, [])
    return user


async def _redeem(event: Incoming, ctx: Context, invite: Invite) -> list[Reply]:
    if invite.user_id is not None:
        return await claim_person(event, ctx, invite)
    if invite.role is None:
        data: dict[str, object] = {"compound_id": invite.compound_id, "invite_code": invite.code}
        if invite.room_id is None:
            return await begin(event, ctx, data)
        address = await directory.room_address(ctx.session, invite.room_id)
        assert address is not None
        data |= {"building_id": address.building_id, "unit_id": address.unit_id}
        ctx.start(FLOW_NAME, Step.ROOM, {"mode": "new", **data})
        return await _choose_room(ctx, address.room)
    user = ctx.viewer.user or await _create_user(event, ctx)
    exists = any(
        g.role == invite.role
        and g.compound_id == invite.compound_id
        and g.building_id == invite.building_id
        for g in ctx.viewer.grants
    )
    if not exists:
        grant = RoleGrant(
            user_id=user.id,
            role=Role(invite.role).value,
            compound_id=invite.compound_id,
            building_id=invite.building_id,
            source="invite",
            created_at=ctx.now,
        )
        ctx.session.add(grant)
        if invite.role == Role.FLOOR_MEMBER and invite.building_id and invite.floor_from:
            ctx.session.add(
                ResponsibilityZone(
                    building_id=invite.building_id,
                    floor_from=invite.floor_from,
                    floor_to=invite.floor_to or invite.floor_from,
                    member_id=user.id,
                )
            )
        invite.uses += 1
        await ctx.session.flush()
        ctx.viewer = Viewer(ctx.viewer.identity, user, [*ctx.viewer.grants, grant])
    duties = await describe_duties(ctx)
    key = "start.role_already" if exists else "start.role_granted"
    return [await menu_reply(ctx, ctx.t(key, duties=duties))]


async def _welcome_back(ctx: Context) -> Reply:
    name = ctx.viewer.user.name if ctx.viewer.user else ""
    address = await viewer_address(ctx)
    if address is not None and not ctx.viewer.is_handler:
        lead = ctx.t("start.welcome_back", name=name, address=format_address(ctx, address))
    else:
        lead = ctx.t("start.welcome_back_staff", name=name, duties=await describe_duties(ctx))
    return await menu_reply(ctx, lead)


async def _building_by_id(ctx: Context, value: str) -> Building | None:
    building = await ctx.session.get(Building, int(value)) if value.isdigit() else None
    if building is None or building.compound_id != ctx.state.data["compound_id"]:
        return None
    return building


# -- questions ----------------------------------------------------------------
def _ask_compound(ctx: Context, options: list[Compound]) -> Reply:
    rows = [[ctx.choice(c.name, c.id)] for c in options[:_MAX_COMPOUND_BUTTONS]]
    return ctx.reply("register.ask_compound", buttons=rows)


async def _ask_building(ctx: Context) -> Reply:
    compound = await ctx.session.get(Compound, ctx.state.data["compound_id"])
    assert compound is not None
    options = await directory.buildings(ctx.session, compound.id)
    buttons = [ctx.choice(b.name, b.id) for b in options]
    return ctx.reply("register.ask_building", buttons=_rows(buttons, 3), compound=compound.name)


async def _ask_unit(ctx: Context) -> Reply:
    building = await ctx.session.get(Building, ctx.state.data["building_id"])
    assert building is not None
    options = await directory.units(ctx.session, building.id)
    buttons = [ctx.choice(ctx.t("address.unit", unit=u.number), u.id) for u in options]
    return ctx.reply("register.ask_unit", buttons=_rows(buttons, 3), building=building.number)


async def _ask_room(ctx: Context, key: str = "register.ask_room", **extra: object) -> Reply:
    unit = await ctx.session.get(Unit, ctx.state.data["unit_id"])
    assert unit is not None
    building = await ctx.session.get(Building, unit.building_id)
    assert building is not None
    first, last = await directory.room_range(ctx.session, unit.id) or ("101", "101")
    return ctx.reply(
        key,
        building=building.number,
        unit=unit.number,
        example=last,
        first=first,
        last=last,
        **extra,
    )


def _ask_relation(ctx: Context) -> Reply:
    buttons = [ctx.choice(ctx.t(f"relations.{r.value}"), r.value) for r in Relation]
    return ctx.reply("register.ask_relation", buttons=[buttons])


async def _ask_confirm(ctx: Context) -> Reply:
    address = await directory.room_address(ctx.session, ctx.state.data["room_id"])
    assert address is not None
    relation = ctx.t(f"relations.{ctx.state.data['relation']}")
    buttons = [
        [
            ctx.choice(ctx.t("register.confirm_yes"), "yes"),
            ctx.choice(ctx.t("register.confirm_redo"), "redo"),
        ]
    ]
    return ctx.reply(
        "register.confirm",
        buttons=buttons,
        address=format_address(ctx, address),
        relation=relation,
    )


# -- reading answers ----------------------------------------------------------
def _rows(buttons: list[Button], width: int) -> list[list[Button]]:
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


def _match_compound(options: list[Compound], text: str) -> Compound | None:
    needle = text.strip().lower()
    if not needle:
        return None
    for compound in options:
        if needle == compound.code.lower() or needle == compound.name:
            return compound
    hits = [c for c in options if c.name in text or (len(needle) >= 2 and needle in c.name)]
    return hits[0] if len(hits) == 1 else None


def _relation_from_text(ctx: Context, text: str) -> str | None:
    text = text.strip()
    for relation in Relation:
        if text and (text == relation.value or ctx.t(f"relations.{relation.value}") in text):
            return relation.value
    return None


def _yes_no(ctx: Context, text: str) -> str | None:
    word = text.strip().lower().rstrip("。.!！")
    if word in ctx.catalog.list("register.yes_words"):
        return "yes"
    if word in ctx.catalog.list("register.redo_words"):
        return "redo"
    return None

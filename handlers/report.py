"""The report flow: a resident says what happened in their own words; the bot asks only
what the matter needs and opens a case.

    describe → matter → place → (other party) → photos → confirm → [join a duplicate?] → case

Any message can start it: a sentence that sounds like a report, a photo alone, the menu
button, ``/report``. Emergencies are answered before anything else by the router's
text hook (``handlers.emergency``).
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select

from bot.core.context import Context
from bot.core.events import Incoming
from bot.core.flows import Flow
from bot.core.replies import Button, Reply
from bot.storage.models import Building, Case, Floor, Room, Unit
from handlers import directory
from handlers.address import parse_address, parse_room
from handlers.case_cards import VIEW, case_button, local_time
from handlers.case_service import CaseDraft, CaseService
from handlers.duplicates import find_duplicate
from handlers.profile import room_text, short_address, viewer_address
from knowledge.law import load_law
from knowledge.matters import KINDS, load_matters
from knowledge.recognize import default_recognizer

FLOW_NAME = "report"
MAX_PHOTOS = 6
RELATIVE = ("up", "down", "side")


class Step(StrEnum):
    DESCRIBE = "describe"
    MATTER = "matter"
    KIND = "kind"
    PLACE = "place"
    BUILDING = "building"
    AREA = "area"
    OTHER_PARTY = "other"
    PHOTOS = "photos"
    CONFIRM = "confirm"
    DUPLICATE = "duplicate"


# -- entry points -------------------------------------------------------------
async def start_report(event: Incoming, ctx: Context) -> list[Reply]:
    """``/report``, the menu button, or ``我要报事``: ask for a description."""
    ctx.start(FLOW_NAME, Step.DESCRIBE, {"photos": []})
    return [ctx.reply("report.ask_describe")]


async def start_with_text(event: Incoming, ctx: Context, text: str) -> list[Reply]:
    """A message that sounds like a report starts the flow with its own words."""
    ctx.start(FLOW_NAME, Step.MATTER, {"photos": [], "text": text})
    return [_ask_matter(ctx, text)]


async def start_with_photo(event: Incoming, ctx: Context) -> list[Reply]:
    ctx.start(FLOW_NAME, Step.DESCRIBE, {"photos": [event.photo]})
    return [ctx.reply("report.photo_then_describe")]


def sounds_like_report(text: str) -> bool:
    guesses = default_recognizer().rank(text, limit=1)
    return bool(guesses) and guesses[0].score >= REPORT_THRESHOLD


# Calibrated on tests/data/report_messages.json against everyday non-report chatter.
REPORT_THRESHOLD = 0.35


# -- steps --------------------------------------------------------------------
async def on_describe(event: Incoming, ctx: Context) -> list[Reply]:
    if event.photo:
        _add_photo(ctx, event.photo)
        return [ctx.reply("report.photo_then_describe")]
    text = (event.text or "").strip()
    if len(text) < 2:
        return [ctx.reply("report.ask_describe")]
    ctx.state.data["text"] = text
    ctx.goto(Step.MATTER)
    return [_ask_matter(ctx, text)]


async def on_matter(event: Incoming, ctx: Context) -> list[Reply]:
    table = load_matters()
    if ctx.args:
        value = ctx.args[0]
        if value == "other":
            ctx.goto(Step.KIND)
            return [_ask_kind(ctx)]
        if value in table.matters and not table.matters[value].internal:
            return await _matter_chosen(ctx, value)
        return [_ask_matter_again(ctx)]
    if event.photo:
        _add_photo(ctx, event.photo)
        return [ctx.reply("report.photo_kept"), _ask_matter_again(ctx)]
    extra = (event.text or "").strip()
    if extra and not sounds_like_report(extra) and ctx.router.fallback is not None:
        # Not more about the problem (a question, something else): leave the report.
        ctx.finish()
        return await ctx.router.fallback(event, ctx)
    if extra:
        combined = f"{ctx.state.data.get('text', '')}\n{extra}".strip()
        if len(combined) > ctx.config.max_text_length:
            # Kept as it is: the description is already as long as one message may be,
            # and re-ranking an ever longer text costs more with every addition.
            limit = ctx.config.max_text_length
            return [ctx.reply("report.description_full", limit=limit), _ask_matter_again(ctx)]
        ctx.state.data["text"] = combined
    return [_ask_matter_again(ctx)]


async def on_kind(event: Incoming, ctx: Context) -> list[Reply]:
    table = load_matters()
    value = ctx.args[0] if ctx.args else ""
    if value in table.matters and not table.matters[value].internal:
        return await _matter_chosen(ctx, value)
    if value in KINDS:
        matters = [m for m in table.reportable() if m.kind == value]
        buttons = [ctx.choice(m.name, m.id) for m in matters]
        return [
            ctx.reply(
                "report.ask_matter_of_kind", buttons=_rows(buttons, 2), kind=ctx.t(f"kinds.{value}")
            )
        ]
    return [_ask_kind(ctx)]


async def on_place(event: Incoming, ctx: Context) -> list[Reply]:
    value = ctx.args[0] if ctx.args else ""
    if value == "home":
        return await _after_place(ctx)
    if value == "elsewhere":
        ctx.goto(Step.BUILDING)
        return [await _ask_building(ctx)]
    return [await _ask_place(ctx)]


async def on_building(event: Incoming, ctx: Context) -> list[Reply]:
    data = ctx.state.data
    if ctx.args:
        value = ctx.args[0]
        if value == "all":
            data.update(building_id=None, floor=None, room_id=None)
        else:
            building = await ctx.session.get(Building, int(value)) if value.isdigit() else None
            if building is None or building.compound_id != data["compound_id"]:
                return [await _ask_building(ctx)]
            data.update(building_id=building.id, floor=None, room_id=None)
        ctx.goto(Step.AREA)
        return [ctx.reply("report.ask_area", buttons=[[ctx.choice(ctx.t("report.skip"), "-")]])]
    guess = parse_address(event.text or "")
    if guess is not None and guess.building is not None:
        building = await ctx.session.scalar(
            select(Building).where(
                Building.compound_id == data["compound_id"], Building.number == guess.building
            )
        )
        if building is not None:
            data.update(building_id=building.id, floor=guess.floor, room_id=None)
            ctx.goto(Step.AREA)
            return [ctx.reply("report.ask_area", buttons=[[ctx.choice(ctx.t("report.skip"), "-")]])]
    return [await _ask_building(ctx)]


async def on_area(event: Incoming, ctx: Context) -> list[Reply]:
    if not ctx.args:
        ctx.state.data["area"] = (event.text or "").strip()[:100]
    return await _after_place(ctx)


async def on_other_party(event: Incoming, ctx: Context) -> list[Reply]:
    data = ctx.state.data
    value = ctx.args[0] if ctx.args else ""
    if value == "unknown":
        data["counterparty_room_id"] = None
        return _to_photos(ctx)
    if value.startswith("room-") and value[5:].isdigit():
        room_id = int(value[5:])
        if await _room_in_compound(ctx, room_id):
            data["counterparty_room_id"] = room_id
            return _to_photos(ctx)
    if value in RELATIVE:
        rooms = await _relative_rooms(ctx, value)
        if len(rooms) == 1:
            data["counterparty_room_id"] = rooms[0][0]
            return _to_photos(ctx)
        if rooms:
            buttons = [ctx.choice(number, f"room-{room_id}") for room_id, number in rooms]
            return [ctx.reply("report.which_room", buttons=_rows(buttons, 4))]
        return [ctx.reply("report.no_such_neighbour"), await _ask_other_party(ctx)]
    text = (event.text or "").strip()
    if text:
        room_id = await _room_from_text(ctx, text)
        if room_id is not None:
            data["counterparty_room_id"] = room_id
            return _to_photos(ctx)
        return [ctx.reply("report.room_not_found", text=text[:20]), await _ask_other_party(ctx)]
    return [await _ask_other_party(ctx)]


async def on_photos(event: Incoming, ctx: Context) -> list[Reply]:
    if event.photo:
        if len(ctx.state.data["photos"]) >= MAX_PHOTOS:
            return [ctx.reply("report.too_many_photos", limit=MAX_PHOTOS), _photos_prompt(ctx)]
        _add_photo(ctx, event.photo)
        return [_photos_prompt(ctx)]
    if ctx.args or (event.text or "").strip() in ctx.catalog.list("report.done_words"):
        ctx.goto(Step.CONFIRM)
        return [await _summary(ctx)]
    if event.text:
        ctx.state.data["text"] = f"{ctx.state.data['text']}\n{event.text.strip()}"
    return [_photos_prompt(ctx)]


async def on_confirm(event: Incoming, ctx: Context) -> list[Reply]:
    value = ctx.args[0] if ctx.args else _typed_confirm(ctx, event.text or "")
    if value == "change":
        ctx.goto(Step.MATTER)
        return [_ask_matter(ctx, ctx.state.data["text"])]
    if value != "submit":
        return [ctx.reply("report.choose_from_buttons"), await _summary(ctx)]
    duplicate = await find_duplicate(ctx, ctx.state.data)
    if duplicate is not None:
        service = CaseService.of(ctx)
        if duplicate.same_rooms:
            await service.follow(duplicate.case, ctx.viewer.user_id)
            ctx.finish()
            return [ctx.reply("report.joined_dispute", number=duplicate.case.number)]
        ctx.state.data["duplicate_id"] = duplicate.case.id
        ctx.goto(Step.DUPLICATE)
        buttons = [
            [ctx.choice(ctx.t("report.btn_follow"), "follow")],
            [ctx.choice(ctx.t("report.btn_new_anyway"), "new")],
        ]
        return [
            ctx.reply(
                "report.duplicate_found",
                buttons=buttons,
                number=duplicate.case.number,
                status=ctx.t(f"statuses.{duplicate.case.status}"),
                followers=duplicate.followers,
            )
        ]
    return await _submit(ctx)


async def on_duplicate(event: Incoming, ctx: Context) -> list[Reply]:
    value = ctx.args[0] if ctx.args else ""
    if value == "new":
        return await _submit(ctx)
    if value == "follow":
        service = CaseService.of(ctx)
        case = await service.session.get(Case, ctx.state.data["duplicate_id"])
        ctx.finish()
        if case is None:
            return [ctx.reply("errors.stale_button")]
        await service.follow(case, ctx.viewer.user_id)
        return [
            ctx.reply(
                "report.followed",
                number=case.number,
                buttons=[[case_button(ctx.t("case.btn_view"), VIEW, case)]],
            )
        ]
    return [ctx.reply("report.choose_from_buttons")]


FLOW = Flow(
    FLOW_NAME,
    steps={
        Step.DESCRIBE: on_describe,
        Step.MATTER: on_matter,
        Step.KIND: on_kind,
        Step.PLACE: on_place,
        Step.BUILDING: on_building,
        Step.AREA: on_area,
        Step.OTHER_PARTY: on_other_party,
        Step.PHOTOS: on_photos,
        Step.CONFIRM: on_confirm,
        Step.DUPLICATE: on_duplicate,
    },
)


# -- moving on ----------------------------------------------------------------
async def _matter_chosen(ctx: Context, matter_id: str) -> list[Reply]:
    matter = load_matters().matters[matter_id]
    data = ctx.state.data
    data["matter"] = matter_id
    address = await viewer_address(ctx)
    data["compound_id"] = address.compound_id if address else await _staff_compound(ctx)
    if address is not None:
        data.update(building_id=address.building_id, floor=address.floor, room_id=address.room_id)
    if matter.place == "common" or address is None:
        data.update(room_id=None)
        ctx.goto(Step.BUILDING)
        return [await _ask_building(ctx)]
    if matter.place == "counterparty":
        return await _after_place(ctx)
    ctx.goto(Step.PLACE)
    return [await _ask_place(ctx)]


async def _after_place(ctx: Context) -> list[Reply]:
    matter = load_matters().matters[ctx.state.data["matter"]]
    if matter.place == "counterparty" and ctx.state.data.get("room_id"):
        ctx.goto(Step.OTHER_PARTY)
        return [await _ask_other_party(ctx)]
    return _to_photos(ctx)


def _to_photos(ctx: Context) -> list[Reply]:
    ctx.goto(Step.PHOTOS)
    return [_photos_prompt(ctx)]


async def _submit(ctx: Context) -> list[Reply]:
    data = ctx.state.data
    user = ctx.viewer.user
    assert user is not None
    service = CaseService.of(ctx)
    draft = CaseDraft(
        compound_id=data["compound_id"],
        matter_id=data["matter"],
        text=data["text"],
        building_id=data.get("building_id"),
        floor=data.get("floor"),
        room_id=data.get("room_id"),
        area=data.get("area", ""),
        counterparty_room_id=data.get("counterparty_room_id"),
        photos=tuple(data.get("photos", [])),
    )
    case = await service.open(draft, user)
    ctx.finish()
    matter = service.matter(case)
    law = load_law()
    basis = "、".join(a.citation for i in matter.legal_basis if (a := law.get(i)) is not None)
    lead = await service.name(case.lead_id) if case.lead_id else ctx.t("report.nobody_yet")
    process = "\n".join(f"{n}. {step}" for n, step in enumerate(matter.process, 1))
    return [
        ctx.reply(
            "report.created",
            buttons=[
                [
                    case_button(ctx.t("case.btn_view"), VIEW, case),
                    ctx.button(ctx.t("menu.my_cases"), "mycases"),
                ]
            ],
            number=case.number,
            matter=matter.name,
            level=ctx.t(f"levels.{case.level}"),
            lead=lead,
            deadline=local_time(service, case.deadline),
            basis=basis,
            process=process,
            advice=matter.advice,
        )
    ]


# -- questions ----------------------------------------------------------------
def _ask_matter_again(ctx: Context) -> Reply:
    return _ask_matter(ctx, ctx.state.data.get("text", ""))


def _ask_matter(ctx: Context, text: str) -> Reply:
    guesses = default_recognizer().rank(text, limit=3) if text else []
    table = load_matters()
    buttons = [
        [ctx.choice(table.matters[g.matter_id].name, g.matter_id)] for g in guesses if g.score > 0
    ]
    buttons.append([ctx.choice(ctx.t("report.other_matter"), "other")])
    key = "report.ask_matter" if guesses else "report.ask_matter_menu"
    return ctx.reply(key, buttons=buttons)


def _ask_kind(ctx: Context) -> Reply:
    buttons = [ctx.choice(ctx.t(f"kinds.{kind}"), kind) for kind in KINDS]
    return ctx.reply("report.ask_kind", buttons=_rows(buttons, 3))


async def _ask_place(ctx: Context) -> Reply:
    address = await viewer_address(ctx)
    buttons = [
        [
            ctx.choice(ctx.t("report.btn_home"), "home"),
            ctx.choice(ctx.t("report.btn_elsewhere"), "elsewhere"),
        ]
    ]
    place = short_address(ctx.catalog, address) if address else ""
    return ctx.reply("report.ask_place", buttons=buttons, place=place)


async def _ask_building(ctx: Context) -> Reply:
    options = await directory.buildings(ctx.session, ctx.state.data["compound_id"])
    buttons = [ctx.choice(b.name, b.id) for b in options]
    rows = _rows(buttons, 3)
    rows.append([ctx.choice(ctx.t("case.whole_compound"), "all")])
    return ctx.reply("report.ask_building", buttons=rows)


async def _ask_other_party(ctx: Context) -> Reply:
    buttons = [
        [
            ctx.choice(ctx.t("report.btn_up"), "up"),
            ctx.choice(ctx.t("report.btn_down"), "down"),
            ctx.choice(ctx.t("report.btn_side"), "side"),
        ],
        [ctx.choice(ctx.t("report.btn_unknown"), "unknown")],
    ]
    return ctx.reply("report.ask_other_party", buttons=buttons)


def _photos_prompt(ctx: Context) -> Reply:
    count = len(ctx.state.data.get("photos", []))
    key = "report.ask_photos" if not count else "report.photos_received"
    return ctx.reply(key, buttons=[[ctx.choice(ctx.t("report.btn_next"), "next")]], count=count)


async def _summary(ctx: Context) -> Reply:
    data = ctx.state.data
    matter = load_matters().matters[data["matter"]]
    place = await _place_summary(ctx)
    other = ""
    if data.get("counterparty_room_id"):
        other = ctx.t(
            "report.summary_other", room=await _room_label(ctx, data["counterparty_room_id"])
        )
    buttons = [
        [ctx.choice(ctx.t("report.btn_submit"), "submit")],
        [ctx.choice(ctx.t("report.btn_change"), "change")],
    ]
    text = data["text"] if len(data["text"]) <= 200 else data["text"][:200] + "……"
    return ctx.reply(
        "report.summary",
        buttons=buttons,
        matter=matter.name,
        place=place,
        other=other,
        text=text,
        photos=len(data.get("photos", [])),
    )


# -- helpers ------------------------------------------------------------------
def _rows(buttons: list[Button], width: int) -> list[list[Button]]:
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


def _add_photo(ctx: Context, ref: str) -> None:
    photos = list(ctx.state.data.get("photos", []))
    if len(photos) < MAX_PHOTOS:
        photos.append(ref)
    ctx.state.data["photos"] = photos
    ctx.state.changed = True


def _typed_confirm(ctx: Context, text: str) -> str | None:
    word = text.strip().rstrip("。.!！")
    if word in ctx.catalog.list("report.submit_words"):
        return "submit"
    return None


async def _staff_compound(ctx: Context) -> int:
    for grant in ctx.viewer.grants:
        if grant.compound_id is not None:
            return grant.compound_id
    compounds = await directory.compounds(ctx.session)
    return compounds[0].id


async def _place_summary(ctx: Context) -> str:
    data = ctx.state.data
    if data.get("room_id"):
        return await _room_label(ctx, data["room_id"])
    building = (
        await ctx.session.get(Building, data["building_id"]) if data.get("building_id") else None
    )
    parts = [building.name if building else ctx.t("case.whole_compound")]
    if data.get("area"):
        parts.append(data["area"])
    return " · ".join(parts)


async def _room_label(ctx: Context, room_id: int) -> str:
    return await room_text(ctx.session, ctx.catalog, room_id) or "—"


async def _room_in_compound(ctx: Context, room_id: int) -> bool:
    address = await directory.room_address(ctx.session, room_id)
    return address is not None and address.compound_id == ctx.state.data["compound_id"]


async def _relative_rooms(ctx: Context, direction: str) -> list[tuple[int, str]]:
    """Rooms above, below or beside the reporter's flat, in the same unit."""
    home = await directory.room_address(ctx.session, ctx.state.data["room_id"])
    if home is None:
        return []
    index = home.room[-2:]
    floor = home.floor + {"up": 1, "down": -1, "side": 0}[direction]
    rows = (
        await ctx.session.execute(
            select(Room.id, Room.number)
            .join(Floor, Floor.id == Room.floor_id)
            .where(Floor.unit_id == home.unit_id, Floor.number == floor)
            .order_by(Room.number)
        )
    ).all()
    if direction == "side":
        return [(rid, number) for rid, number in rows if rid != home.room_id]
    return [(rid, number) for rid, number in rows if number[-2:] == index]


async def _room_from_text(ctx: Context, text: str) -> int | None:
    """``1602`` (same unit), ``1栋1单元1602`` or ``2-1-301``, within the compound."""
    home = await directory.room_address(ctx.session, ctx.state.data.get("room_id") or 0)
    guess = parse_address(text)
    number = parse_room(text)
    if guess is not None and guess.building is not None and guess.room is not None:
        unit = await ctx.session.scalar(
            select(Unit)
            .join(Building, Building.id == Unit.building_id)
            .where(
                Building.compound_id == ctx.state.data["compound_id"],
                Building.number == guess.building,
                Unit.number == (guess.unit or 1),
            )
        )
        found = await directory.find_room(ctx.session, unit.id, guess.room) if unit else None
        return found.room_id if found else None
    if number is not None and home is not None:
        found = await directory.find_room(ctx.session, home.unit_id, number)
        return found.room_id if found else None
    return None

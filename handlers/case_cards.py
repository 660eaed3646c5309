"""What people read about a case: the handler's card, residents' notices, the other
party's notice, the rating request.

Who sees what is decided here, in one place: the reporter's name, room and phone go
only into handler cards; the other party of a dispute is told that *a neighbour*
raised the matter and nothing more.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.core.buttons import pack
from bot.core.replies import Button, Reply
from bot.storage.models import Building, Case, CasePhoto, CaseStatus, User
from handlers.profile import room_text

if TYPE_CHECKING:
    from handlers.case_service import CaseService

# Button actions on cases: "cs:<verb>:<case id>" (see handlers/handling.py).
CASE_ACTION = "cs"
VIEW, ACCEPT, PROGRESS, CO, ESCALATE, RESOLVE, REASSIGN, INFO, RATE = (
    "view",
    "acc",
    "prog",
    "co",
    "esc",
    "res",
    "rea",
    "info",
    "rate",
)
RATINGS = ("satisfied", "basic", "unsatisfied")


def case_button(text: str, verb: str, case: Case, *extra: object) -> Button:
    return Button(text, pack(CASE_ACTION, verb, case.id, *extra))


def local_time(service: CaseService, moment: datetime | None) -> str:
    return format_local(moment, service.config.timezone)


def format_local(moment: datetime | None, timezone: str) -> str:
    """``11月26日 09:00`` in the compound's time zone, as residents read times."""
    if moment is None:
        return "—"
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local.month}月{local.day}日 {local:%H:%M}"


async def place_text(service: CaseService, case: Case) -> str:
    t = service.catalog.t
    if case.room_id is not None and (room := await _room_text(service, case.room_id)):
        return room
    building = await service.session.get(Building, case.building_id) if case.building_id else None
    parts = [building.name if building else t("case.whole_compound")]
    if case.area:
        parts.append(case.area)
    return " · ".join(parts)


async def _room_text(service: CaseService, room_id: int | None) -> str:
    return await room_text(service.session, service.catalog, room_id)


async def handler_card(service: CaseService, case: Case, variant: str, extra: str = "") -> Reply:
    """The card a handler works from: everything they need, buttons for their next step.

    Every card of a case carries ``card="case:<id>"``. Each change that concerns the
    handler still arrives as a *new* card (a new message notifies them; an edit would be
    silent), and on channels that can edit (Telegram) the handler's previous card of the
    same case is first edited to this same current content, so the card further up the
    chat no longer offers buttons that no longer apply (领办 after accepting).
    """
    t = service.catalog.t
    matter = service.matter(case)
    reporter = await service.session.get(User, case.reporter_id)
    reporter_text = reporter.name if reporter and reporter.name else t("case.someone")
    reporter_room = await _room_text(service, reporter.room_id if reporter else None)
    if reporter_room:
        reporter_text += f"（{reporter_room}）"
    if reporter and reporter.phone:
        reporter_text += f" {reporter.phone}"
    lines = [
        t(f"case.card_{variant}", number=case.number, extra=extra),
        t("case.card_matter", matter=matter.name, level=t(f"levels.{case.level}")),
        t("case.card_place", place=await place_text(service, case)),
        t("case.card_reporter", reporter=reporter_text),
    ]
    counterparty = await _room_text(service, case.counterparty_room_id)
    if counterparty:
        lines.append(t("case.card_counterparty", room=counterparty))
    text = case.text if len(case.text) <= 300 else case.text[:300] + "……"
    lines.append(t("case.card_text", text=text))
    photos = list(
        (
            await service.session.scalars(
                select(CasePhoto.file_ref)
                .where(CasePhoto.case_id == case.id)
                .order_by(CasePhoto.id)
            )
        ).all()
    )
    if photos:
        lines.append(t("case.card_photos", count=len(photos)))
    lines.append(t("case.card_deadline", deadline=local_time(service, case.deadline)))
    rows: list[list[Button]] = []
    if case.status in (CaseStatus.ASSIGNED, CaseStatus.REOPENED) and variant != "co":
        rows.append([case_button(t("case.btn_accept"), ACCEPT, case)])
    rows.append(
        [
            case_button(t("case.btn_progress"), PROGRESS, case),
            case_button(t("case.btn_co"), CO, case),
        ]
    )
    rows.append(
        [
            case_button(t("case.btn_escalate"), ESCALATE, case),
            case_button(t("case.btn_resolve"), RESOLVE, case),
        ]
    )
    rows.append([case_button(t("case.btn_view"), VIEW, case)])
    return Reply(
        "\n".join(lines),
        buttons=tuple(tuple(r) for r in rows),
        key=f"case.card_{variant}",
        card=f"case:{case.id}",
    )


def resident_notice(service: CaseService, case: Case, key: str, **params: object) -> Reply:
    t = service.catalog.t
    head = t("case.notice_head", number=case.number, matter=service.matter(case).name)
    body = t(key, number=case.number, **params)
    buttons = ((case_button(t("case.btn_view"), VIEW, case),),)
    return Reply(f"{head}\n{body}", buttons=buttons, key=key)


async def counterparty_notice(service: CaseService, case: Case) -> Reply:
    """Deliberately nothing about the reporter: not name, room, phone or words."""
    t = service.catalog.t
    handler = await service.name(case.lead_id)
    room = await _room_text(service, case.counterparty_room_id)
    text = t(
        "case.notice_counterparty",
        matter=service.matter(case).name,
        room=room,
        handler=handler,
    )
    return Reply(text, key="case.notice_counterparty")


def rating_request(service: CaseService, case: Case, note: str) -> Reply:
    t = service.catalog.t
    head = t("case.notice_head", number=case.number, matter=service.matter(case).name)
    buttons = (tuple(case_button(t(f"case.rating_{r}"), RATE, case, r) for r in RATINGS),)
    return Reply(
        f"{head}\n{t('case.notice_resolved_rate', note=note)}",
        buttons=buttons,
        key="case.notice_resolved_rate",
    )

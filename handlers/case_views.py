"""Reading cases in the chat: one case with its history, a handler's to-do list
(我的待办), a resident's own reports (我的报事).

The history shown depends on who asks: handlers see who did what; residents following
someone else's report never see the reporter's name or room.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from bot.core.context import Context
from bot.core.events import Incoming
from bot.core.replies import Button, Reply
from bot.storage.models import OPEN_STATUSES, Case, CaseMember, CasePhoto
from handlers.case_cards import case_button, local_time, place_text
from handlers.case_permissions import Action, relation
from handlers.case_service import CaseService

LIST_LIMIT = 10
PHOTOS_SHOWN = 6
HANDLER_STANDING = {"lead", "co", "above"}


async def case_detail(ctx: Context, service: CaseService, case: Case) -> Reply:
    t = ctx.t
    standing = await relation(ctx.session, ctx.viewer, case)
    handler = bool(standing & HANDLER_STANDING)
    lines = [
        t("view.header", number=case.number, matter=service.matter(case).name),
        t(
            "view.status",
            status=t(f"statuses.{case.status}"),
            level=t(f"levels.{case.level}"),
            lead=await service.name(case.lead_id) if case.lead_id else "—",
        ),
        t("view.place", place=await place_text(service, case)),
        t("view.deadline", deadline=local_time(service, case.deadline)),
    ]
    if handler or "reporter" in standing:
        lines.append(t("view.text", text=case.text[:300]))
    lines.append(t("view.history"))
    for event in (await service.events(case))[-12:]:
        if event.actor_id is None:
            actor = t("case.system")
        elif event.actor_id == case.reporter_id and not (handler or "reporter" in standing):
            actor = t("case.someone")
        else:
            actor = await service.name(event.actor_id)
        detail = f"：{event.text[:80]}" if event.text and event.kind in _SHOWN_TEXT else ""
        lines.append(
            t(
                "view.event",
                at=local_time(service, event.at),
                actor=actor,
                what=t(f"events.{event.kind}"),
                detail=detail,
            )
        )
    rows: list[list[Button]] = []
    if "lead" in standing and case.status in ("assigned", "reopened"):
        rows.append([case_button(t("case.btn_accept"), Action.ACCEPT, case)])
    if standing & {"lead", "above"} and case.status in OPEN_STATUSES:
        rows.append(
            [
                case_button(t("case.btn_progress"), Action.PROGRESS, case),
                case_button(t("case.btn_co"), Action.CO, case),
            ]
        )
        rows.append(
            [
                case_button(t("case.btn_escalate"), Action.ESCALATE, case),
                case_button(t("case.btn_resolve"), Action.RESOLVE, case),
            ]
        )
    elif "co" in standing and case.status in OPEN_STATUSES:
        rows.append([case_button(t("case.btn_progress"), Action.PROGRESS, case)])
    if "secretary" in standing and case.status in OPEN_STATUSES:
        rows.append([case_button(t("case.btn_reassign"), Action.REASSIGN, case)])
    if standing & {"reporter", "follower"} and case.status in OPEN_STATUSES:
        rows.append([case_button(t("case.btn_add_info"), Action.INFO, case)])
    return ctx.reply("view.case", buttons=rows, body="\n".join(lines))


async def case_photos(ctx: Context, case: Case) -> list[Reply]:
    """The case's photos, one message each, for its handlers and its reporter only."""
    standing = await relation(ctx.session, ctx.viewer, case)
    if not standing & (HANDLER_STANDING | {"reporter"}):
        return []
    refs = list(
        await ctx.session.scalars(
            select(CasePhoto.file_ref)
            .where(CasePhoto.case_id == case.id)
            .order_by(CasePhoto.id)
            .limit(PHOTOS_SHOWN)
        )
    )
    return [
        ctx.reply("view.photo", photo=ref, number=case.number, index=i, count=len(refs))
        for i, ref in enumerate(refs, 1)
    ]


_SHOWN_TEXT = {"progress", "escalated", "resolved", "info_added", "rated", "commented"}


async def my_todo(event: Incoming, ctx: Context) -> list[Reply]:
    """Open cases this person leads or co-handles, most urgent first."""
    user = ctx.viewer.user
    assert user is not None
    co_cases = select(CaseMember.case_id).where(
        CaseMember.user_id == user.id, CaseMember.part == "co"
    )
    cases = (
        await ctx.session.scalars(
            select(Case)
            .where(
                Case.status.in_(OPEN_STATUSES), or_(Case.lead_id == user.id, Case.id.in_(co_cases))
            )
            .order_by(Case.deadline)
            .limit(LIST_LIMIT)
        )
    ).all()
    if not cases:
        return [ctx.reply("view.todo_empty")]
    return [await _listing(ctx, "view.todo_header", list(cases))]


async def my_cases(event: Incoming, ctx: Context) -> list[Reply]:
    """The resident's own reports and the ones they joined, newest first."""
    user = ctx.viewer.user
    assert user is not None
    followed = select(CaseMember.case_id).where(
        CaseMember.user_id == user.id, CaseMember.part == "follower"
    )
    cases = (
        await ctx.session.scalars(
            select(Case)
            .where(or_(Case.reporter_id == user.id, Case.id.in_(followed)))
            .order_by(Case.id.desc())
            .limit(LIST_LIMIT)
        )
    ).all()
    if not cases:
        return [
            ctx.reply("view.mine_empty", buttons=[[ctx.button(ctx.t("menu.report"), "report")]])
        ]
    return [await _listing(ctx, "view.mine_header", list(cases))]


async def _listing(ctx: Context, header: str, cases: list[Case]) -> Reply:
    service = CaseService.of(ctx)
    lines = [ctx.t(header, count=len(cases))]
    rows: list[list[Button]] = []
    for case in cases:
        lines.append(
            ctx.t(
                "view.line",
                number=case.number,
                matter=service.matter(case).name,
                status=ctx.t(f"statuses.{case.status}"),
                deadline=local_time(service, case.deadline),
            )
        )
        rows.append([case_button(case.number, Action.VIEW, case)])
    return ctx.reply("view.list", buttons=rows, body="\n".join(lines))

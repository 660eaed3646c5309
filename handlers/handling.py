"""Working a case from the chat: the buttons on a case card and what they lead to.

Every press names a verb and a case (``cs:acc:42``); the verb is checked against the
presser's standing on *that* case (``case_permissions``) before anything changes. Verbs
that need words — progress, escalation reason, resolution note, a resident's extra
information, a rating comment — open the small ``case_input`` flow, whose data holds the
case id, so the next message is applied to that case and no other.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select

from bot.core.context import Context
from bot.core.events import Incoming
from bot.core.flows import Flow
from bot.core.replies import Reply
from bot.storage.models import Case, RoleGrant, User
from handlers import case_cards
from handlers.case_cards import case_button
from handlers.case_permissions import Action, check
from handlers.case_service import CaseService
from handlers.case_views import case_detail, case_photos
from handlers.routing import Place

FLOW_NAME = "case_input"
CO_ROLES = (
    "property",
    "committee",
    "mediator",
    "grid_worker",
    "police",
    "volunteer",
    "building_leader",
)
REASSIGN_ROLES = ("floor_member", "building_leader", "property", "committee", "mediator")


class Step(StrEnum):
    PROGRESS = "progress"
    ESCALATE = "escalate"
    RESOLVE = "resolve"
    INFO = "info"
    COMMENT = "comment"


STEP_ACTION = {
    Step.PROGRESS: Action.PROGRESS,
    Step.ESCALATE: Action.ESCALATE,
    Step.RESOLVE: Action.RESOLVE,
    Step.INFO: Action.INFO,
}
STEP_OF = {action: step for step, action in STEP_ACTION.items()}


async def on_case_button(event: Incoming, ctx: Context) -> list[Reply]:
    if len(ctx.args) < 2 or not ctx.args[1].isdigit() or ctx.args[0] not in set(Action):
        return [ctx.reply("errors.stale_button")]
    action, extra = Action(ctx.args[0]), ctx.args[2:]
    case = await ctx.session.get(Case, int(ctx.args[1]))
    if case is None:
        return [ctx.reply("errors.stale_button")]
    if (reason := await check(ctx.session, ctx.viewer, case, action)) is not None:
        return [ctx.reply(reason, number=case.number)]
    service = CaseService.of(ctx)
    user_id = ctx.viewer.user_id
    match action:
        case Action.VIEW:
            return [await case_detail(ctx, service, case), *await case_photos(ctx, case)]
        case Action.ACCEPT:
            await service.accept(case, user_id)
            return [
                ctx.reply("handling.accepted", number=case.number),
                await case_detail(ctx, service, case),
            ]
        case Action.RATE:
            return await _rate(ctx, service, case, extra)
        case Action.CO:
            return await _co(ctx, service, case, extra)
        case Action.REASSIGN:
            return await _reassign(ctx, service, case, extra)
    step = STEP_OF[action]
    ctx.start(FLOW_NAME, step, {"case": case.id})
    return [
        ctx.reply(
            f"handling.ask_{step}",
            number=case.number,
            buttons=[[ctx.choice(ctx.t("handling.btn_cancel"), "cancel")]],
        )
    ]


async def on_input(event: Incoming, ctx: Context) -> list[Reply]:
    step = Step(ctx.state.step or "")
    if ctx.args and ctx.args[0] == "cancel":
        ctx.finish()
        return [ctx.reply("cancel.done")]
    case = await ctx.session.get(Case, ctx.state.data.get("case", 0))
    if case is None:
        ctx.finish()
        return [ctx.reply("errors.stale_button")]
    text = (event.text or "").strip()
    if step is Step.COMMENT:
        ctx.finish()
        if ctx.args and ctx.args[0] == "skip" or not text:
            return [ctx.reply("handling.thanks_for_rating")]
        await CaseService.of(ctx).comment(case, ctx.viewer.user_id, text[:500])
        return [ctx.reply("handling.thanks_for_comment")]
    action = STEP_ACTION[step]
    # The case may have moved on since the prompt (resolved by someone above, reassigned).
    if (reason := await check(ctx.session, ctx.viewer, case, action)) is not None:
        ctx.finish()
        return [ctx.reply(reason, number=case.number)]
    # Escalating or resolving needs words; progress and information may be a photo alone.
    if not text and (not event.photo or step in (Step.ESCALATE, Step.RESOLVE)):
        return [ctx.reply(f"handling.ask_{step}", number=case.number)]
    service = CaseService.of(ctx)
    ctx.finish()
    if step is Step.PROGRESS:
        await service.progress(case, ctx.viewer.user_id, text, event.photo)
        return [ctx.reply("handling.progress_saved", number=case.number)]
    if step is Step.INFO:
        await service.add_info(case, ctx.viewer.user_id, text, event.photo)
        return [ctx.reply("handling.info_saved", number=case.number)]
    if step is Step.ESCALATE:
        moved = await service.escalate(case, ctx.viewer.user_id, text[:500])
        key = "handling.escalated" if moved else "handling.at_top"
        return [ctx.reply(key, number=case.number, level=ctx.t(f"levels.{case.level}"))]
    await service.resolve(case, ctx.viewer.user_id, text[:500])
    return [ctx.reply("handling.resolved", number=case.number)]


FLOW = Flow(FLOW_NAME, steps={step: on_input for step in Step})


async def _rate(ctx: Context, service: CaseService, case: Case, extra: list[str]) -> list[Reply]:
    if not extra or extra[0] not in case_cards.RATINGS:
        return [ctx.reply("errors.stale_button")]
    await service.rate(case, ctx.viewer.user_id, extra[0])
    ctx.start(FLOW_NAME, Step.COMMENT, {"case": case.id})
    key = "handling.rated_reopened" if extra[0] == "unsatisfied" else "handling.rated"
    return [
        ctx.reply(
            key, number=case.number, buttons=[[ctx.choice(ctx.t("handling.btn_skip"), "skip")]]
        )
    ]


async def _co(ctx: Context, service: CaseService, case: Case, extra: list[str]) -> list[Reply]:
    roster = await service.roster(case.compound_id)
    place = Place(case.compound_id, case.building_id, case.floor)
    if not extra:
        buttons = [
            [case_button(ctx.t(f"roles.{role}"), Action.CO, case, role)]
            for role in CO_ROLES
            if [u for u in roster.candidates(role, place) if u != case.lead_id]
        ]
        if not buttons:
            return [ctx.reply("handling.no_co_available")]
        return [ctx.reply("handling.ask_co_role", buttons=buttons, number=case.number)]
    role = extra[0]
    candidates = [u for u in roster.candidates(role, place) if u != case.lead_id]
    if role not in CO_ROLES or not candidates:
        return [ctx.reply("handling.no_co_available")]
    await service.add_co(case, ctx.viewer.user_id, candidates[0], role)
    name = await service.name(candidates[0])
    return [
        ctx.reply("handling.co_added", number=case.number, name=name, role=ctx.t(f"roles.{role}"))
    ]


async def _reassign(
    ctx: Context, service: CaseService, case: Case, extra: list[str]
) -> list[Reply]:
    rows = (
        await ctx.session.execute(
            select(User.id, User.name, RoleGrant.role)
            .join(RoleGrant, RoleGrant.user_id == User.id)
            .where(
                RoleGrant.compound_id == case.compound_id,
                RoleGrant.role.in_(REASSIGN_ROLES),
                # People of this building, or who serve the whole compound.
                RoleGrant.building_id.is_(None) | (RoleGrant.building_id == case.building_id),
            )
            .order_by(RoleGrant.role, User.id)
        )
    ).all()
    if extra and extra[0].isdigit():
        target = int(extra[0])
        if target not in {r.id for r in rows}:
            return [ctx.reply("errors.denied")]
        await service.reassign(case, ctx.viewer.user_id, target)
        return [
            ctx.reply("handling.reassigned", number=case.number, name=await service.name(target))
        ]
    buttons = [
        [case_button(f"{ctx.t(f'roles.{role}')} {name}", Action.REASSIGN, case, uid)]
        for uid, name, role in rows
        if uid != case.lead_id
    ][:20]
    return [ctx.reply("handling.ask_reassign", buttons=buttons, number=case.number)]

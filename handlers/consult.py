"""Legal questions in the chat: answer from the knowledge base, show the articles, hand
over to a volunteer lawyer when the bot is not sure (or the resident wants a person).

A question that also sounds like a report (``楼上漏水了``) gets the legal answer and a
``我要报事`` button that starts the report flow with the same words; the words wait in
the conversation state, so the 64-byte button carries only the action.
"""

from __future__ import annotations

from enum import StrEnum

from bot.core.context import Context
from bot.core.events import Incoming
from bot.core.flows import Flow
from bot.core.replies import Button, Reply
from handlers import report
from handlers.case_cards import VIEW, case_button, local_time
from handlers.case_service import CaseDraft, CaseService
from handlers.profile import viewer_address
from knowledge.answer import Answer, answer_question
from knowledge.faq import load_faq
from knowledge.law import load_law
from knowledge.retrieval import default_retriever

FLOW_NAME = "consult"
CONSULT_MATTER = "legal_consult"
# Below this even the closest entry is unrelated: the text is not a legal question.
UNRELATED = 0.33
LONG_STORY = 60
MAX_ARTICLE_CHARS = 600


class Step(StrEnum):
    QUESTION = "question"


async def respond_to_text(event: Incoming, ctx: Context, text: str) -> list[Reply] | None:
    """The reply to free text outside any flow, or None if it is not a legal matter."""
    result = answer_question(text)
    report_like = ctx.viewer.registered and report.sounds_like_report(text)
    if report_like and (result.fallback or len(text) >= LONG_STORY):
        lead = [] if result.fallback else [answer_reply(ctx, result)]
        return [*lead, *await report.start_with_text(event, ctx, text)]
    if not result.fallback:
        if report_like:
            _remember(ctx, pending_report=text, pending_question=text)
        else:
            _remember(ctx, pending_question=text)
        return [answer_reply(ctx, result, report_button=report_like)]
    if result.score < UNRELATED or not ctx.viewer.registered:
        return None  # guests who are not asking anything we know are shown registration
    _remember(ctx, pending_question=text)
    return [not_sure_reply(ctx, result)]


def answer_reply(
    ctx: Context,
    result: Answer,
    *,
    report_button: bool = False,
    extra: list[list[Button]] | None = None,
) -> Reply:
    """The answer with its buttons. ``extra`` replaces the personal ones (report, lawyer):
    in a group chat those become links into the private chat."""
    assert result.entry is not None
    basis = "、".join(a.citation for a in result.citations)
    rows: list[list[Button]] = [[ctx.button(ctx.t("consult.btn_law"), "law", result.entry.id)]]
    for entry in result.related:
        rows.append([ctx.button(f"❓{entry.question[:28]}", "faq", entry.id)])
    if extra is not None:
        rows.extend(extra)
    else:
        if report_button:
            rows.append([ctx.button(ctx.t("menu.report"), "reportq")])
        rows.append([ctx.button(ctx.t("consult.btn_lawyer"), "lawyer")])
    return ctx.reply(
        "consult.answer",
        buttons=rows,
        question=result.entry.question,
        answer=result.entry.answer,
        basis=basis,
        disclaimer=ctx.t("consult.disclaimer"),
    )


def not_sure_reply(
    ctx: Context, result: Answer, *, extra: list[list[Button]] | None = None
) -> Reply:
    rows = [
        [ctx.button(f"❓{h.entry.question[:28]}", "faq", h.entry.id)] for h in result.alternatives
    ]
    rows.extend(
        extra if extra is not None else [[ctx.button(ctx.t("consult.btn_lawyer"), "lawyer")]]
    )
    return ctx.reply("consult.not_sure", buttons=rows, disclaimer=ctx.t("consult.disclaimer"))


async def ask_command(event: Incoming, ctx: Context) -> list[Reply]:
    """``/ask 问题``: the same answer as free text, for people who like commands."""
    question = " ".join(ctx.args).strip()
    if not question:
        return [ctx.reply("consult.ask_usage")]
    replies = await respond_to_text(event, ctx, question)
    if replies is None:
        return [not_sure_reply(ctx, answer_question(question))]
    return replies


# -- button actions -----------------------------------------------------------
async def show_entry(event: Incoming, ctx: Context) -> list[Reply]:
    entry = load_faq().entries.get(ctx.args[0] if ctx.args else "")
    if entry is None:
        return [ctx.reply("errors.stale_button")]
    law = load_law()
    citations = tuple(a for i in entry.citations if (a := law.get(i)) is not None)
    by_id = {e.id: e for e in default_retriever().entries}
    related = tuple(by_id[r] for r in entry.related if r in by_id)[:3]
    result = Answer(entry.question, False, entry, 1.0, citations, related)
    return [answer_reply(ctx, result)]


async def show_law(event: Incoming, ctx: Context) -> list[Reply]:
    entry = load_faq().entries.get(ctx.args[0] if ctx.args else "")
    if entry is None:
        return [ctx.reply("errors.stale_button")]
    law = load_law()
    parts = []
    for article_id in entry.citations:
        article = law.get(article_id)
        if article is None:
            continue
        text = (
            article.text
            if len(article.text) <= MAX_ARTICLE_CHARS
            else (article.text[:MAX_ARTICLE_CHARS] + "……")
        )
        parts.append(ctx.t("consult.article", citation=article.citation, text=text))
    return [ctx.reply("consult.law", body="\n\n".join(parts))]


async def report_pending(event: Incoming, ctx: Context) -> list[Reply]:
    text = ctx.state.data.get("pending_report")
    if not text or ctx.state.active:
        return await report.start_report(event, ctx)
    return await report.start_with_text(event, ctx, text)


async def to_lawyer(event: Incoming, ctx: Context) -> list[Reply]:
    question = ctx.state.data.get("pending_question") if not ctx.state.active else None
    if not question:
        ctx.start(FLOW_NAME, Step.QUESTION)
        return [ctx.reply("consult.ask_question")]
    return await _open_consult(ctx, question)


async def on_question(event: Incoming, ctx: Context) -> list[Reply]:
    text = (event.text or "").strip()
    if len(text) < 4:
        return [ctx.reply("consult.ask_question")]
    return await _open_consult(ctx, text)


FLOW = Flow(FLOW_NAME, steps={Step.QUESTION: on_question})


async def _open_consult(ctx: Context, question: str) -> list[Reply]:
    user = ctx.viewer.user
    if user is None or not ctx.viewer.registered:
        return [ctx.reply("errors.need_registration")]
    address = await viewer_address(ctx)
    compound_id = (
        address.compound_id
        if address
        else next((g.compound_id for g in ctx.viewer.grants if g.compound_id is not None), None)
    )
    if compound_id is None:
        return [ctx.reply("consult.no_lawyer")]
    service = CaseService.of(ctx)
    draft = CaseDraft(
        compound_id=compound_id,
        matter_id=CONSULT_MATTER,
        text=question,
        building_id=address.building_id if address else None,
        floor=address.floor if address else None,
        room_id=address.room_id if address else None,
    )
    case = await service.open(draft, user)
    ctx.finish()
    lawyer = await service.name(case.lead_id) if case.lead_id else ctx.t("report.nobody_yet")
    return [
        ctx.reply(
            "consult.sent_to_lawyer",
            buttons=[[case_button(ctx.t("case.btn_view"), VIEW, case)]],
            number=case.number,
            lawyer=lawyer,
            deadline=local_time(service, case.deadline),
        )
    ]


def _remember(ctx: Context, **pending: str) -> None:
    """Keep the words for a later button press, outside any flow."""
    if ctx.state.active:
        return
    ctx.state.data = dict(pending)
    ctx.state.changed = True

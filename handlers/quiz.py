"""普法知识竞赛: a quiz campaign's questions in the chat, answers, scores, leaderboards.

A campaign is a broadcast of kind ``quiz`` whose row lists its question ids; the
broadcast delivers the opening and the first question, and each answer brings the
explanation (with the article it rests on) and the next question, so the rest of the
quiz is ordinary interactive traffic. ``quiz_answer``'s unique key makes it one answer
per person per question: a second press — or a redelivered one — only shows what was
already recorded.
"""

from __future__ import annotations

from sqlalchemy import case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.buttons import pack
from bot.core.catalog import Catalog
from bot.core.context import Context
from bot.core.events import Incoming
from bot.core.replies import Button, Reply
from bot.storage.db import dialect_insert
from bot.storage.models import (
    Broadcast,
    BroadcastKind,
    BroadcastStatus,
    Building,
    Compound,
    Floor,
    QuizAnswer,
    Room,
    Unit,
    User,
)
from knowledge.law import load_law
from knowledge.quiz import QuizQuestion, load_quiz

QUESTIONS_PER_QUIZ = 5
LETTERS = "ABCD"
BOARD_ROWS = 10
# Telegram's limits for a quiz poll
POLL_QUESTION_MAX, POLL_OPTION_MAX, POLL_EXPLANATION_MAX = 300, 100, 200


def pick_questions(seed: str, count: int = QUESTIONS_PER_QUIZ) -> list[str]:
    return [q.id for q in load_quiz().pick(count, seed)]


def question_reply(
    catalog: Catalog, broadcast_id: int, index: int, total: int, question: QuizQuestion, lead: str
) -> Reply:
    options = "\n".join(f"{LETTERS[i]}. {text}" for i, text in enumerate(question.options))
    buttons = tuple(
        (Button(f"{LETTERS[i]}. {text[:28]}", pack("quiz", broadcast_id, index, i)),)
        for i, text in enumerate(question.options)
    )
    body = catalog.t(
        "quiz.question", n=index + 1, total=total, question=question.question, options=options
    )
    poll = {
        "lead": lead,
        "question": catalog.t(
            "quiz.poll_question", n=index + 1, total=total, question=question.question
        )[:POLL_QUESTION_MAX],
        "options": [text[:POLL_OPTION_MAX] for text in question.options],
        "correct": question.answer,
        "explanation": _poll_explanation(catalog, question),
    }
    return Reply(
        f"{lead}\n\n{body}" if lead else body, buttons=buttons, key="quiz.question", poll=poll
    )


def _basis(question: QuizQuestion) -> str:
    """How a resident reads the question's article: 《民法典》第一千二百五十四条."""
    article = load_law().get(question.citation)
    return article.citation if article is not None else question.citation


def _poll_explanation(catalog: Catalog, question: QuizQuestion) -> str:
    """Telegram shows this under a native quiz poll once answered (200 characters)."""
    basis = catalog.t("quiz.basis", basis=_basis(question))
    room = POLL_EXPLANATION_MAX - len(basis) - 1
    explanation = question.explanation
    if len(explanation) > room:
        explanation = explanation[: room - 1] + "…"
    return f"{explanation}\n{basis}"


def opening(catalog: Catalog, broadcast: Broadcast) -> Reply:
    """What every recipient of the campaign gets first: the invitation and question 1."""
    bank = load_quiz()
    first = bank.get(broadcast.questions[0])
    assert first is not None
    lead = catalog.t(
        "quiz.opening",
        intro=broadcast.text or catalog.t("quiz.default_intro"),
        total=len(broadcast.questions),
        footer=catalog.t("broadcast.footer"),
    )
    return question_reply(catalog, broadcast.id, 0, len(broadcast.questions), first, lead)


async def answer(event: Incoming, ctx: Context) -> list[Reply]:
    """Button ``quiz:<broadcast>:<index>:<choice>``."""
    try:
        broadcast_id, index, choice = (int(a) for a in ctx.args[:3])
    except ValueError:
        return [ctx.reply("errors.stale_button")]
    broadcast = await ctx.session.get(Broadcast, broadcast_id)
    if (
        broadcast is None
        or broadcast.kind != BroadcastKind.QUIZ
        or broadcast.status == BroadcastStatus.CANCELLED
        or not 0 <= index < len(broadcast.questions)
    ):
        return [ctx.reply("errors.stale_button")]
    question = load_quiz().get(broadcast.questions[index])
    if question is None or not 0 <= choice < len(question.options):
        return [ctx.reply("errors.stale_button")]
    assert ctx.viewer.user is not None
    user_id = ctx.viewer.user.id
    stmt = dialect_insert(ctx.session, QuizAnswer).values(
        broadcast_id=broadcast_id,
        user_id=user_id,
        question_id=question.id,
        choice=choice,
        correct=choice == question.answer,
        answered_at=ctx.now,
    )
    inserted = await ctx.session.scalar(stmt.on_conflict_do_nothing().returning(QuizAnswer.id))
    if inserted is None:
        lead = ctx.t("quiz.already")
    else:
        lead = _verdict(ctx, question, choice)
    following = await _next_unanswered(ctx.session, broadcast, user_id, after=index)
    if following is not None:
        next_question = load_quiz().get(broadcast.questions[following])
        assert next_question is not None
        return [
            question_reply(
                ctx.catalog, broadcast_id, following, len(broadcast.questions), next_question, lead
            )
        ]
    score = await _score(ctx.session, broadcast_id, user_id)
    return [
        ctx.reply(
            "quiz.finished",
            buttons=[[ctx.button(ctx.t("quiz.btn_board"), "qboard", broadcast_id)]],
            lead=lead,
            score=score,
            total=len(broadcast.questions),
        )
    ]


def _verdict(ctx: Context, question: QuizQuestion, choice: int) -> str:
    basis = _basis(question)
    key = "quiz.right" if choice == question.answer else "quiz.wrong"
    return ctx.t(
        key,
        answer=f"{LETTERS[question.answer]}. {question.options[question.answer]}",
        explanation=question.explanation,
        basis=basis,
    )


async def _next_unanswered(
    session: AsyncSession, broadcast: Broadcast, user_id: int, *, after: int
) -> int | None:
    answered = set(
        (
            await session.scalars(
                select(QuizAnswer.question_id).where(
                    QuizAnswer.broadcast_id == broadcast.id, QuizAnswer.user_id == user_id
                )
            )
        ).all()
    )
    order = list(range(after + 1, len(broadcast.questions))) + list(range(after + 1))
    for i in order:
        if broadcast.questions[i] not in answered:
            return i
    return None


async def _score(session: AsyncSession, broadcast_id: int, user_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                QuizAnswer.broadcast_id == broadcast_id,
                QuizAnswer.user_id == user_id,
                QuizAnswer.correct.is_(True),
            )
        )
        or 0
    )


async def leaderboard(
    session: AsyncSession, broadcast_id: int
) -> tuple[list[tuple[str, int, float]], list[tuple[str, int, float]]]:
    """Buildings and compounds ranked by average score of their participants:
    ``(name, participants, average correct answers)``, best first."""
    per_user = (
        select(
            QuizAnswer.user_id.label("user_id"),
            func.sum(case((QuizAnswer.correct, 1), else_=0)).label("score"),
        )
        .where(QuizAnswer.broadcast_id == broadcast_id)
        .group_by(QuizAnswer.user_id)
        .subquery()
    )
    base = (
        select()
        .select_from(per_user)
        .join(User, User.id == per_user.c.user_id)
        .join(Room, Room.id == User.room_id)
        .join(Floor, Floor.id == Room.floor_id)
        .join(Unit, Unit.id == Floor.unit_id)
        .join(Building, Building.id == Unit.building_id)
        .join(Compound, Compound.id == Building.compound_id)
    )

    async def ranked(*group: object) -> list[tuple[str, int, float]]:
        rows = await session.execute(
            base.add_columns(
                *group, func.count(distinct(per_user.c.user_id)), func.avg(per_user.c.score)
            ).group_by(*group)
        )
        out = []
        for row in rows:
            *names, participants, average = row
            out.append(("".join(str(n) for n in names), int(participants), float(average or 0)))
        out.sort(key=lambda r: (-r[2], -r[1], r[0]))
        return out

    buildings = await ranked(Compound.name, Building.name)
    compounds = await ranked(Compound.name)
    return buildings, compounds


def _board_rows(ctx: Context, ranked: list[tuple[str, int, float]]) -> list[str]:
    return [
        ctx.t("quiz.board_row", rank=rank, name=name, n=participants, avg=f"{average:.1f}")
        for rank, (name, participants, average) in enumerate(ranked[:BOARD_ROWS], 1)
    ]


async def show_board(event: Incoming, ctx: Context) -> list[Reply]:
    """Button ``qboard:<broadcast>``: the campaign's leaderboards and the viewer's score."""
    try:
        broadcast_id = int(ctx.args[0])
    except (IndexError, ValueError):
        return [ctx.reply("errors.stale_button")]
    broadcast = await ctx.session.get(Broadcast, broadcast_id)
    if broadcast is None or broadcast.kind != BroadcastKind.QUIZ:
        return [ctx.reply("errors.stale_button")]
    buildings, compounds = await leaderboard(ctx.session, broadcast_id)
    lines = [ctx.t("quiz.board_title", total=len(broadcast.questions))]
    if not buildings:
        lines.append(ctx.t("quiz.board_empty"))
    lines += _board_rows(ctx, buildings)
    if len(compounds) > 1:
        lines.append(ctx.t("quiz.board_compounds"))
        lines += _board_rows(ctx, compounds)
    if ctx.viewer.user is not None:
        score = await _score(ctx.session, broadcast_id, ctx.viewer.user.id)
        lines.append(ctx.t("quiz.board_mine", score=score, total=len(broadcast.questions)))
    return [ctx.reply("quiz.board", body="\n".join(lines))]

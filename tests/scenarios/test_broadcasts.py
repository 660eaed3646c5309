"""Legal-education notices and quizzes composed in the chat, on every channel."""

from __future__ import annotations

import io
import zipfile

from sqlalchemy import select

from bot.storage.models import Broadcast, BroadcastStatus, QuizAnswer
from tests.chat import ChatDriver

BUILDING_1 = {"resident-1", "resident-2", "floor-1", "leader-b1"}
ELSEWHERE = {"secretary", "committee-1", "mediator-1", "property-1", "admin", "lawyer-1"}
NOTICE = "本周六上午9点在1栋楼下开展《民法典》普法宣传，欢迎参加。"


async def _notice_texts(chat: ChatDriver, user: str) -> list[str]:
    return [r.text for r in await chat.inbox(user) if r.key == "broadcast.notice"]


async def test_secretary_sends_a_notice_to_building_1_and_only_its_residents_get_it(
    chat: ChatDriver,
) -> None:
    await chat.dialog(
        "secretary",
        [
            ("发布通知", "broadcast.ask_text"),
            (NOTICE, "broadcast.ask_target"),
            ("[1栋]", "broadcast.ask_when"),
            ("[立即发送]", "broadcast.preview"),
        ],
    )
    preview = chat.last["secretary"][-1].text
    assert NOTICE in preview and "1栋" in preview
    started = await chat.press("secretary", "确认发送")
    assert started[-1].key == "broadcast.started"
    await chat.deliver()
    for user in BUILDING_1:
        texts = await _notice_texts(chat, user)
        assert len(texts) == 1 and NOTICE in texts[0], user
    for user in ELSEWHERE:
        assert await _notice_texts(chat, user) == [], user
    status = await chat.press("secretary", "查看进度")
    assert status[-1].key == "broadcast.status"
    assert "已送达 4" in status[-1].text and "排队中 0" in status[-1].text


async def test_residents_may_not_broadcast(chat: ChatDriver) -> None:
    replies = await chat.say("resident-1", "/broadcast")
    assert replies[-1].key == "errors.denied"
    replies = await chat.say("leader-b1", "/newquiz")
    assert replies[-1].key == "errors.denied"


async def test_unsubscribed_resident_gets_no_notice_but_still_gets_case_messages(
    chat: ChatDriver,
) -> None:
    assert (await chat.say("resident-2", "退订"))[-1].key == "broadcast.unsubscribed"
    await chat.dialog(
        "secretary",
        [
            ("/broadcast", "broadcast.ask_text"),
            (NOTICE, "broadcast.ask_target"),
            ("[1栋]", "broadcast.ask_when"),
            ("[立即发送]", "broadcast.preview"),
            ("[确认发送]", "broadcast.started"),
        ],
    )
    await chat.deliver()
    assert await _notice_texts(chat, "resident-2") == []
    assert len(await _notice_texts(chat, "resident-1")) == 1
    assert (await chat.say("resident-2", "订阅通知"))[-1].key == "broadcast.subscribed"


async def test_scheduled_notice_can_be_cancelled_before_it_starts(chat: ChatDriver) -> None:
    await chat.dialog(
        "secretary",
        [
            ("/broadcast", "broadcast.ask_text"),
            (NOTICE, "broadcast.ask_target"),
            ("[1栋]", "broadcast.ask_when"),
            ("23:59", "broadcast.preview"),
            ("[确认发送]", "broadcast.scheduled_note"),
            ("[取消发送]", "broadcast.cancelled"),
        ],
    )
    async with chat.app.db.transaction() as session:
        broadcast = await session.scalar(select(Broadcast))
        assert broadcast is not None and broadcast.status == BroadcastStatus.CANCELLED
    await chat.app.scheduler.tick()  # type: ignore[union-attr]
    await chat.deliver()
    assert await _notice_texts(chat, "resident-1") == []


async def test_quiz_campaign_scores_each_answer_once_and_ranks_buildings(
    chat: ChatDriver,
) -> None:
    await chat.dialog(
        "secretary",
        [
            ("/newquiz", "broadcast.ask_target"),
            ("[1栋]", "broadcast.ask_when"),
            ("[立即发送]", "broadcast.preview"),
            ("[确认发送]", "broadcast.started"),
        ],
    )
    question = (await chat.read("resident-1"))[-1]
    assert question.key == "quiz.question" and "第 1/5 题" in question.text
    first = question.button_texts()[0]
    after = await chat.press("resident-1", first)
    assert after[-1].key == "quiz.question" and "第 2/5 题" in after[-1].text
    seen = chat.text(after) + chat.text(await chat.inbox("resident-1"))
    assert "依据：《" in seen  # the explanation came (a message before the poll on Telegram)
    if chat.channel != "telegram":  # Telegram's quiz polls take one vote, like the core
        chat.last["resident-1"] = [question]  # press the first question's button again
        again = await chat.press("resident-1", first)
        assert "已经答过" in again[-1].text
    for _ in range(4):
        current = chat.last["resident-1"][-1]
        await chat.press("resident-1", current.button_texts()[1])
    finished = chat.last["resident-1"][-1]
    assert finished.key == "quiz.finished" and "/5 题" in finished.text
    board = await chat.press("resident-1", "查看排行榜")
    assert board[-1].key == "quiz.board" and "1栋：1 人参加" in board[-1].text
    async with chat.app.db.transaction() as session:
        answers = (await session.scalars(select(QuizAnswer))).all()
    assert len(answers) == 5


def _pdf(body: str) -> bytes:
    """A small but well-formed PDF header and trailer around ``body``."""
    return f"%PDF-1.4\n% {body}\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n".encode()


ATTACHMENT = "关于开展法治进小区活动的通知.pdf"


async def test_notice_with_a_pdf_reaches_building_1_with_the_same_file(chat: ChatDriver) -> None:
    pdf = _pdf("法治进小区 2026-12")
    await chat.say("secretary", "发布通知")
    kept = await chat.send_document("secretary", ATTACHMENT, pdf)
    assert kept[-1].key == "broadcast.document_kept" and ATTACHMENT in kept[-1].text
    await chat.dialog(
        "secretary",
        [
            (NOTICE, "broadcast.ask_target"),
            ("[1栋]", "broadcast.ask_when"),
            ("[立即发送]", "broadcast.preview"),
        ],
    )
    assert f"[附件：{ATTACHMENT}]" in chat.last["secretary"][-1].text
    assert (await chat.press("secretary", "确认发送"))[-1].key == "broadcast.started"
    await chat.deliver()
    for user in BUILDING_1:
        inbox = await chat.inbox(user)
        assert any(NOTICE in r.text for r in inbox), user
        files = [r.document for r in inbox if r.document is not None]
        assert [f.name for f in files] == [ATTACHMENT], user
        assert await chat.fetch_document(files[0]) == pdf
    for user in ELSEWHERE:
        assert not [r for r in await chat.inbox(user) if r.document is not None], user


async def test_a_word_file_with_the_notice_as_its_caption_is_taken_in_one_message(
    chat: ChatDriver,
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr("word/document.xml", "<w:document/>")
    await chat.say("secretary", "/broadcast")
    replies = await chat.send_document("secretary", "活动安排.docx", buffer.getvalue(), NOTICE)
    assert replies[-1].key == "broadcast.ask_target"
    await chat.dialog("secretary", [("[1栋]", "broadcast.ask_when")])
    preview = await chat.press("secretary", "立即发送")
    assert NOTICE in preview[-1].text and "[附件：活动安排.docx]" in preview[-1].text


async def test_a_file_that_is_no_document_is_refused_and_the_notice_goes_on(
    chat: ChatDriver,
) -> None:
    await chat.say("secretary", "/broadcast")
    refused = await chat.send_document("secretary", "通知.pdf", b"MZ\x90\x00 not a pdf at all")
    assert "无法识别" in refused[-1].text
    assert (await chat.say("secretary", NOTICE))[-1].key == "broadcast.ask_target"


async def test_a_file_sent_outside_a_notice_is_answered_and_kept_nowhere(
    chat: ChatDriver,
) -> None:
    replies = await chat.send_document("resident-1", "合同.pdf", _pdf("租房合同"), "帮我看看")
    assert replies[-1].key == "files.document_not_here"
    async with chat.app.db.transaction() as session:
        assert (await session.scalars(select(Broadcast))).all() == []

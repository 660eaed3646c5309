"""Legal questions in the chat, on every channel and database."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import Case
from knowledge.law import load_law
from tests.chat import ChatDriver


async def test_legal_question_is_answered_with_citations_and_the_12348_note(
    chat: ChatDriver,
) -> None:
    replies = await chat.say("resident-1", "老板拖欠工资两个月了不给，我该咋个办")
    answer = replies[-1]
    assert answer.key == "consult.answer"
    assert "法律依据：《" in answer.text and "12348" in answer.text
    assert {"查看法条", "转给志愿律师"} <= set(answer.button_texts())
    law = await chat.press("resident-1", "查看法条")
    assert law[-1].key == "consult.law"
    first_line = law[-1].text.splitlines()[0]
    assert first_line.startswith("《")
    cited = [a for a in load_law().articles.values() if a.citation == first_line]
    assert cited and cited[0].text[:20] in law[-1].text


async def test_question_that_sounds_like_a_report_offers_to_report_it(chat: ChatDriver) -> None:
    replies = await chat.say("resident-1", "楼上漏水了")
    assert replies[-1].key in {"consult.answer", "report.ask_matter"}
    if replies[-1].key == "consult.answer":
        assert "我要报事" in replies[-1].button_texts()
        started = await chat.press("resident-1", "我要报事")
        assert started[-1].key == "report.ask_matter"
        assert started[-1].button_texts()[0] == "楼上漏水、渗水"


async def test_plain_question_gets_no_report_button(chat: ChatDriver) -> None:
    replies = await chat.say("resident-1", "遗嘱要怎么写才有效")
    assert replies[-1].key == "consult.answer"
    assert "我要报事" not in replies[-1].button_texts()


async def test_chatter_is_not_taken_for_a_legal_question(chat: ChatDriver) -> None:
    replies = await chat.say("resident-1", "今天天气怎么样")
    assert replies[-1].key == "menu.view"


async def test_guest_gets_legal_answers_too_and_is_invited_to_register(chat: ChatDriver) -> None:
    replies = await chat.say("visitor", "遇到电信诈骗被骗了钱怎么办")
    assert replies[0].key == "consult.answer"
    assert replies[-1].key == "menu.view" and "登记住址" in replies[-1].button_texts()


async def test_question_handed_to_the_volunteer_lawyer_gets_an_answer_back(
    chat: ChatDriver,
) -> None:
    await chat.say("resident-1", "我家房子是婚前买的，婚后一起还贷款，离婚怎么分")
    sent = await chat.press("resident-1", "转给志愿律师")
    assert sent[-1].key == "consult.sent_to_lawyer" and "何文" in sent[-1].text
    card = await chat.read("lawyer-1")
    assert card[-1].key == "case.card_new" and "婚前买的" in card[-1].text
    await chat.press("lawyer-1", "领办")
    await chat.read("lawyer-1")
    await chat.press("lawyer-1", "进展")
    await chat.say(
        "lawyer-1",
        "婚前个人全款或首付部分一般归您，婚后共同还贷部分及增值要分，建议带房产证和还款记录来面谈。",
    )
    notices = await chat.read("resident-1")
    assert notices[-1].key == "case.notice_answer" and "还贷" in notices[-1].text
    async with chat.app.db.transaction() as session:
        case = await session.scalar(select(Case).where(Case.matter_id == "legal_consult"))
    assert case is not None and case.kind == "consult"


async def test_lawyer_button_without_a_pending_question_asks_for_it(chat: ChatDriver) -> None:
    await chat.say("resident-2", "我的信息")
    asked = await chat.send(
        "resident-2",
        button=chat.app.dispatcher.signer.sign("lawyer", chat.audience("resident-2")),
    )
    assert asked[-1].key == "consult.ask_question"
    sent = await chat.say("resident-2", "物业把我家车位卖给别人了，我能告他们吗")
    assert sent[-1].key == "consult.sent_to_lawyer"

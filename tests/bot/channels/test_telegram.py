"""Both Telegram adapters against the local Bot API emulator over HTTP: webhook security,
redelivery, update kinds the bot does not use, blocked users, 429, network errors, photos,
deep links, the command menu, polling that never loses an update, group chats."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot.channels.base import Outbound, Rejected, RetryAfter, Sent
from bot.channels.telegram.webhook import SECRET_HEADER, webhook_secret
from bot.core.replies import Reply
from bot.emulator.server import Emulator
from bot.storage.db import Database
from bot.storage.models import (
    ChannelIdentity,
    ConversationState,
    OutboxMessage,
    OutboxStatus,
    ProcessedUpdate,
)
from tests.conftest import TEST_TOKEN, make_app
from tests.factories import enqueue, png_bytes
from tests.telegram_app import TelegramBed as Telegram
from tests.telegram_app import adopt_persona, telegram_app

LIBRARIES = ["aiogram", "ptb"]
RESIDENT = 800_001


@pytest.fixture(params=LIBRARIES)
async def tg(request: pytest.FixtureRequest, tmp_path, _sqlite_template) -> AsyncIterator[Telegram]:
    db: Database = await _sqlite_template.connect(tmp_path / "linli.db")
    async with telegram_app(db, request.param) as (app, emulator):
        assert app.telegram is not None
        yield Telegram(app, emulator, app.telegram)


async def _registered(tg: Telegram, user: int = RESIDENT) -> None:
    await adopt_persona(tg.app, tg.emulator, "resident-1", user, "张秀英")


# -- webhook ------------------------------------------------------------------------
@pytest.fixture
async def hook(tg: Telegram) -> AsyncIterator[tuple[Telegram, str, ClientSession]]:
    server = TestServer(tg.app.web_app())
    await server.start_server()
    url = str(server.make_url(tg.app.settings.telegram_webhook_path))
    async with ClientSession() as http:
        yield tg, url, http
    await server.close()


async def test_webhook_without_the_secret_token_gets_401_and_changes_nothing(hook) -> None:
    tg, url, http = hook
    raw = tg.world.user_says(RESIDENT, "/start")
    for headers in ({}, {SECRET_HEADER: "wrong"}):
        async with http.post(url, json=raw, headers=headers) as response:
            assert response.status == 401
    assert await tg.count(ProcessedUpdate) == 0
    await tg.app.worker.drain()
    assert tg.world.bot_messages(RESIDENT) == []


async def test_webhook_redelivery_of_one_update_has_one_effect(hook) -> None:
    tg, url, http = hook
    secret = webhook_secret(TEST_TOKEN)
    raw = tg.world.user_says(RESIDENT, "/start")
    for _ in range(3):
        async with http.post(url, json=raw, headers={SECRET_HEADER: secret}) as response:
            assert response.status == 200
    await tg.app.worker.drain()
    assert await tg.count(ProcessedUpdate) == 1
    first = tg.texts(RESIDENT)
    assert first and "登记" in "".join(first)
    assert len(tg.world.sent_log) == len(first)


async def test_webhook_garbage_body_is_refused_without_effect(hook) -> None:
    tg, url, http = hook
    secret = webhook_secret(TEST_TOKEN)
    async with http.post(url, data=b"not json", headers={SECRET_HEADER: secret}) as response:
        assert response.status == 400
    assert await tg.count(ProcessedUpdate) == 0


async def test_set_webhook_makes_the_emulator_deliver_updates(hook) -> None:
    tg, url, _ = hook
    await tg.channel.set_webhook(url, webhook_secret(TEST_TOKEN))
    raw = tg.world.user_says(RESIDENT, "/help")
    await tg.channel.wait_processed(raw["update_id"])
    await tg.app.worker.drain()
    assert tg.texts(RESIDENT)
    assert tg.world.webhook_info()["pending_update_count"] == 0


# -- update kinds -----------------------------------------------------------------------
async def test_updates_the_bot_does_not_use_are_acknowledged_and_ignored(tg: Telegram) -> None:
    said = await tg.say(RESIDENT, "你好")
    sticker = tg.world.user_sends_sticker(RESIDENT)
    edited = tg.world.user_edits(RESIDENT, said["message"]["message_id"], "改过的话")
    before = len(tg.world.sent_log)
    for raw in (sticker, edited):
        await tg.feed(raw)
        await tg.channel.wait_processed(raw["update_id"])
    assert len(tg.world.sent_log) == before
    assert await tg.count(ProcessedUpdate) == 1


async def test_deep_link_start_with_an_invite_code_registers_into_that_compound(
    tg: Telegram,
) -> None:
    await tg.say(RESIDENT, "/start SDDJ-JOIN")
    texts = "\n".join(tg.texts(RESIDENT))
    assert "时代帝景" in texts and "楼栋" in texts


async def test_button_press_is_answered_and_acts(tg: Telegram) -> None:
    await tg.say(RESIDENT, "/start")
    message = tg.world.bot_messages(RESIDENT)[-1]
    first = message["reply_markup"]["inline_keyboard"][0][0]
    raw = tg.world.user_presses(RESIDENT, RESIDENT, message["message_id"], first["callback_data"])
    await tg.feed(raw)
    assert raw["callback_query"]["id"] in tg.world.callback_answers
    assert len(tg.world.bot_messages(RESIDENT)) > 1


async def test_callback_data_fits_telegrams_64_bytes(tg: Telegram) -> None:
    await _registered(tg)
    await tg.say(RESIDENT, "楼上漏水把我家天花板泡坏了谁赔")
    for message in tg.world.bot_messages(RESIDENT):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                assert len(button["callback_data"].encode()) <= 64


async def test_the_command_menu_is_set_at_start(tg: Telegram) -> None:
    names = [c["command"] for c in tg.world.commands_for()]
    assert names[:3] == ["start", "menu", "report"] and "help" in names
    assert "todo" not in names  # residents' menu: nothing they cannot use


async def test_handlers_get_their_own_menu_in_their_private_chat(tg: Telegram) -> None:
    floor, secretary = RESIDENT + 11, RESIDENT + 12
    await adopt_persona(tg.app, tg.emulator, "floor-1", floor, "王志强")
    await adopt_persona(tg.app, tg.emulator, "secretary", secretary, "刘红梅")
    await tg.channel.start()  # menus are set when the bot starts
    floor_menu = [c["command"] for c in tg.world.commands_for({"type": "chat", "chat_id": floor})]
    secretary_menu = [
        c["command"] for c in tg.world.commands_for({"type": "chat", "chat_id": secretary})
    ]
    assert floor_menu[0] == "todo" and "coverage" not in floor_menu
    assert "todo" in secretary_menu and "coverage" in secretary_menu


# -- photos -------------------------------------------------------------------------------
async def test_a_photo_starts_a_report_and_reaches_the_handler_as_a_photo(tg: Telegram) -> None:
    await _registered(tg)
    raw = tg.world.user_sends_photo(RESIDENT, png_bytes(), caption=None)
    await tg.feed(raw)
    assert tg.world.bot_messages(RESIDENT)  # the report flow asks what happened
    # The stored file is the user's bytes, fetched through getFile and the file URL.
    stored = list((tg.app.files.root).rglob("*.png"))
    assert stored and stored[0].read_bytes() == png_bytes()


async def test_a_reply_with_a_photo_is_uploaded_with_send_photo(tg: Telegram) -> None:
    ref = tg.app.files.save_image(png_bytes())
    tg.world.add_user(RESIDENT)
    result = await tg.channel.send(
        Outbound(1, str(RESIDENT), Reply("现场照片", photo=ref).to_payload())
    )
    assert isinstance(result, Sent)
    message = tg.world.bot_messages(RESIDENT)[-1]
    assert message["caption"] == "现场照片"
    assert tg.world.files[message["photo"][0]["file_id"]].data == png_bytes()


async def test_a_document_outside_a_notice_gets_a_clear_answer(tg: Telegram) -> None:
    await _registered(tg)
    await tg.feed(tg.world.user_sends_document(RESIDENT, b"%PDF-1.4 a lease", "租房合同.pdf"))
    assert "用不上文件" in tg.texts(RESIDENT)[-1]


async def test_a_file_that_is_neither_photo_nor_document_is_refused(tg: Telegram) -> None:
    await _registered(tg)
    await tg.feed(tg.world.user_sends_document(RESIDENT, b"MZ\x90\x00program", "通知.pdf"))
    assert "无法识别" in tg.texts(RESIDENT)[-1]
    assert not list(tg.app.files.root.rglob("*.pdf"))


async def test_a_photo_sent_as_a_file_is_kept_as_a_photo(tg: Telegram) -> None:
    await _registered(tg)
    await tg.feed(tg.world.user_sends_document(RESIDENT, png_bytes(), "IMG_0001.PNG"))
    assert tg.world.bot_messages(RESIDENT)  # the report flow asks what happened
    stored = list(tg.app.files.root.rglob("*.png"))
    assert stored and stored[0].read_bytes() == png_bytes()


async def test_a_short_notice_with_a_file_is_one_document_with_its_caption(tg: Telegram) -> None:
    document = tg.app.files.save_document(b"%PDF-1.4 notice", "普法通知.pdf")
    tg.world.add_user(RESIDENT)
    reply = Reply("本周六普法讲座", document=document)
    result = await tg.channel.send(Outbound(1, str(RESIDENT), reply.to_payload()))
    assert isinstance(result, Sent)
    [message] = tg.world.bot_messages(RESIDENT)
    assert message["caption"] == "本周六普法讲座"
    assert message["document"]["file_name"] == "普法通知.pdf"
    assert tg.world.files[message["document"]["file_id"]].data == b"%PDF-1.4 notice"


async def test_a_notice_too_long_for_a_caption_goes_first_and_the_file_after(
    tg: Telegram,
) -> None:
    document = tg.app.files.save_document(b"%PDF-1.4 notice", "普法通知.pdf")
    tg.world.add_user(RESIDENT)
    reply = Reply("法" * 1500, photo=tg.app.files.save_image(png_bytes()), document=document)
    result = await tg.channel.send(Outbound(1, str(RESIDENT), reply.to_payload()))
    assert isinstance(result, Sent)
    photo, text, file = tg.world.bot_messages(RESIDENT)
    assert "photo" in photo and not photo.get("caption")
    assert text["text"] == "法" * 1500 and result.platform_message_id == str(text["message_id"])
    assert file["document"]["file_name"] == "普法通知.pdf" and not file.get("caption")


# -- sending: the platform's answers ----------------------------------------------------
async def test_blocked_user_is_marked_unreachable_and_not_retried(tg: Telegram) -> None:
    await _registered(tg)
    tg.world.block(RESIDENT)
    raw = tg.world.user_says(RESIDENT, "/me")
    await tg.channel.process(tg.channel.parse(raw))
    await tg.app.worker.drain()
    await tg.app.worker.drain()
    assert tg.world.errors[403] == 1
    async with tg.app.db.transaction() as session:
        identity = await session.scalar(
            select(ChannelIdentity).where(ChannelIdentity.external_id == str(RESIDENT))
        )
        statuses = set(await session.scalars(select(OutboxMessage.status)))
    assert identity is not None and identity.unreachable_at is not None
    assert statuses == {OutboxStatus.UNREACHABLE}


async def test_429_gives_retry_after_and_the_message_is_sent_later(tg: Telegram) -> None:
    tg.world.add_user(RESIDENT)
    tg.world.set_rate_limit(1)
    results = [
        await tg.channel.send(Outbound(i, str(RESIDENT), {"text": f"第{i}条"})) for i in range(2)
    ]
    assert isinstance(results[0], Sent)
    assert isinstance(results[1], RetryAfter) and results[1].seconds >= 1
    await asyncio.sleep(results[1].seconds)
    assert isinstance(await tg.channel.send(Outbound(1, str(RESIDENT), {"text": "第1条"})), Sent)


async def test_unchanged_edit_counts_as_sent_and_bad_requests_are_rejected(tg: Telegram) -> None:
    tg.world.add_user(RESIDENT)
    sent = await tg.channel.send(Outbound(1, str(RESIDENT), {"text": "案件卡片"}))
    assert isinstance(sent, Sent) and sent.platform_message_id
    same = {"text": "案件卡片", "edit_message_id": sent.platform_message_id}
    assert isinstance(await tg.channel.send(Outbound(2, str(RESIDENT), same)), Sent)
    assert tg.world.errors[400] == 1  # the emulator did answer "message is not modified"
    changed = {"text": "案件卡片（已领办）", "edit_message_id": sent.platform_message_id}
    assert isinstance(await tg.channel.send(Outbound(3, str(RESIDENT), changed)), Sent)
    assert tg.world.bot_messages(RESIDENT)[-1]["text"] == "案件卡片（已领办）"
    unknown_chat = await tg.channel.send(Outbound(4, "424242", {"text": "x"}))
    assert isinstance(unknown_chat, Rejected)
    too_long = {"text": "x", "buttons": [[{"text": "b", "data": "x" * 65}]]}
    assert isinstance(await tg.channel.send(Outbound(5, str(RESIDENT), too_long)), Rejected)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("library", LIBRARIES)
async def test_network_error_is_retried_by_the_outbox_and_never_lost(
    library: str, tmp_path, _sqlite_template
) -> None:
    port = _free_port()  # nothing listens here until the emulator starts
    db = await _sqlite_template.connect(tmp_path / "linli.db")
    app = await make_app(
        db,
        "web",
        telegram_token=TEST_TOKEN,
        telegram_api_base=f"http://127.0.0.1:{port}",
        telegram_library=library,
        outbox_backoff_base_seconds=0.5,  # long enough that drain() does not retry at once
    )
    assert app.telegram is not None
    ref = await enqueue(db, str(RESIDENT), "你的报事已受理", channel="telegram")
    await app.worker.drain()
    async with db.transaction() as session:
        row = await session.get(OutboxMessage, ref)
        assert row is not None
        assert row.status == OutboxStatus.PENDING and row.attempts == 1 and row.last_error
    emulator = Emulator(TEST_TOKEN)
    try:
        await emulator.start(port=port)
        emulator.world.add_user(RESIDENT)
        await asyncio.sleep(0.7)  # the backoff (0.5 s, jittered by up to 20 %)
        await app.worker.drain()
        assert [m["text"] for m in emulator.world.bot_messages(RESIDENT)] == ["你的报事已受理"]
        async with db.transaction() as session:
            row = await session.get(OutboxMessage, ref)
            assert row is not None and row.status == OutboxStatus.SENT
    finally:
        await app.telegram.stop()
        await emulator.stop()
        await app.close()


# -- polling --------------------------------------------------------------------------------
async def test_polling_confirms_an_update_only_after_it_is_stored(tg: Telegram) -> None:
    failures = 0
    handle = tg.app.dispatcher.handle

    async def flaky(event):
        nonlocal failures
        if failures < 2:
            failures += 1
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return await handle(event)

    tg.app.dispatcher.handle = flaky  # type: ignore[method-assign]
    stop = asyncio.Event()
    polling = asyncio.create_task(tg.channel.poll(stop))
    raw = tg.world.user_says(RESIDENT, "/help")
    await tg.channel.wait_processed(raw["update_id"], timeout=15)
    stop.set()
    await polling
    await tg.app.worker.drain()
    assert failures == 2
    assert await tg.count(ProcessedUpdate) == 1
    assert tg.texts(RESIDENT)
    assert not tg.world.updates  # confirmed on the way out


async def test_stopping_polling_finishes_the_update_in_hand(tg: Telegram) -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    handle = tg.app.dispatcher.handle

    async def slow(event):
        started.set()
        await release.wait()
        return await handle(event)

    tg.app.dispatcher.handle = slow  # type: ignore[method-assign]
    stop = asyncio.Event()
    polling = asyncio.create_task(tg.channel.poll(stop))
    tg.world.user_says(RESIDENT, "/help")
    await asyncio.wait_for(started.wait(), 10)
    stop.set()
    await asyncio.sleep(0.1)
    assert not polling.done()  # waits for the update in hand
    release.set()
    await asyncio.wait_for(polling, 10)
    assert await tg.count(ProcessedUpdate) == 1
    assert not tg.world.updates


# -- many users ------------------------------------------------------------------------------
async def test_many_users_at_once_each_get_their_own_answers(tg: Telegram) -> None:
    users = [900_000 + i for i in range(30)]
    raws = [tg.world.user_says(u, "/help") for u in users]
    await asyncio.gather(*(tg.channel.process(tg.channel.parse(r)) for r in raws))
    await tg.app.worker.drain()
    assert all(tg.texts(u) for u in users)
    assert await tg.count(ProcessedUpdate) == 30


# -- group chats (楼栋群) ------------------------------------------------------------------------
GROUP = -100_123


async def _secretary(tg: Telegram, user: int) -> None:
    await adopt_persona(tg.app, tg.emulator, "secretary", user, "刘红梅")


def _buttons(message: dict) -> list[dict]:
    return [
        b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row
    ]


async def test_group_chatter_not_addressed_to_the_bot_gets_silence(tg: Telegram) -> None:
    tg.world.add_group(GROUP, "1栋业主群")
    for text in ("今天谁家在装修啊", "楼上漏水了", "哈哈哈"):
        await tg.say(RESIDENT, text, GROUP)
    assert tg.world.bot_messages(GROUP) == []
    assert await tg.count(ProcessedUpdate) == 0


async def test_group_question_with_a_mention_is_answered_for_all_with_private_links(
    tg: Telegram,
) -> None:
    await _registered(tg)
    tg.world.add_group(GROUP, "1栋业主群")
    await tg.say(RESIDENT, "@linli_test_bot 楼上漏水把我家天花板泡坏了谁赔", GROUP)
    answer = tg.world.bot_messages(GROUP)[-1]
    assert "法律依据" in answer["text"] and "12348" in answer["text"]
    links = [b["url"] for b in _buttons(answer) if "url" in b]
    assert "https://t.me/linli_test_bot?start=report" in links
    assert "https://t.me/linli_test_bot?start=lawyer" in links
    # Anyone in the group may open the articles; nobody can start a report here.
    law = next(b for b in _buttons(answer) if b.get("text") == "查看法条")
    other = RESIDENT + 1
    await tg.feed(tg.world.user_presses(other, GROUP, answer["message_id"], law["callback_data"]))
    assert "民法典" in tg.world.bot_messages(GROUP)[-1]["text"]
    assert tg.world.bot_messages(RESIDENT) == []  # nothing went to anyone's private chat


async def test_group_ask_command_answers_and_private_matters_are_sent_to_private_chat(
    tg: Telegram,
) -> None:
    tg.world.add_group(GROUP, "2栋业主群")
    await tg.say(RESIDENT, "/ask@linli_test_bot 狗咬人了谁负责", GROUP)
    assert "法律依据" in tg.world.bot_messages(GROUP)[-1]["text"]
    for text in ("/report", "/start", "/me@linli_test_bot"):
        await tg.say(RESIDENT, text, GROUP)
    replies = tg.world.bot_messages(GROUP)[-3:]
    assert all(any("start=" in b.get("url", "") for b in _buttons(m)) for m in replies)
    await tg.feed(tg.world.user_sends_photo(RESIDENT, png_bytes(), chat_id=GROUP))  # chatter
    async with tg.app.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 4
    photo = tg.world.user_sends_photo(RESIDENT, png_bytes(), "@linli_test_bot 看看", GROUP)
    await tg.feed(photo)
    assert "不要在群里发住址" in tg.world.bot_messages(GROUP)[-1]["text"]


async def test_group_command_for_another_bot_is_ignored(tg: Telegram) -> None:
    tg.world.add_group(GROUP, "1栋业主群")
    await tg.say(RESIDENT, "/ask@other_bot 狗咬人谁负责", GROUP)
    assert tg.world.bot_messages(GROUP) == []


async def test_secretary_posts_a_notice_in_the_group_and_others_may_not(tg: Telegram) -> None:
    secretary = RESIDENT + 7
    await _secretary(tg, secretary)
    await _registered(tg)
    tg.world.add_group(GROUP, "1栋业主群")
    await tg.say(secretary, "/notice 本周六上午九点在小区广场开展普法宣传", GROUP)
    notice = tg.world.bot_messages(GROUP)[-1]["text"]
    assert notice.startswith("📢 通知") and "普法宣传" in notice and "刘红梅" in notice
    await tg.say(RESIDENT, "/notice 我也想发", GROUP)
    assert "只有" in tg.world.bot_messages(GROUP)[-1]["text"]


async def test_deep_link_from_the_group_opens_the_report_flow_in_private(tg: Telegram) -> None:
    await _registered(tg)
    await tg.say(RESIDENT, "/start report")
    assert "说说遇到了什么问题" in tg.texts(RESIDENT)[-1]
    async with tg.app.db.transaction() as session:
        state = await session.scalar(
            select(ConversationState.flow).where(ConversationState.chat_id == str(RESIDENT))
        )
    assert state == "report"


async def test_group_sends_stay_under_telegrams_group_limit(tg: Telegram) -> None:
    tg.world.add_group(GROUP, "1栋业主群")
    results = [
        await tg.channel.send(Outbound(i, str(GROUP), {"text": f"通知{i}"})) for i in range(23)
    ]
    assert all(isinstance(r, Sent) for r in results[:20])
    assert all(isinstance(r, RetryAfter) and 0 < r.seconds <= 61 for r in results[20:])
    assert tg.world.errors[429] == 0  # the adapter waited instead of being told off

"""The web chat HTTP API: contract of DESIGN.md §5, errors, and invite-link sessions."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.app import App
from bot.core.replies import Reply
from bot.outbox.enqueue import OutboxWriter
from bot.storage.db import Database
from bot.storage.models import ProcessedUpdate, User
from tests.conftest import make_app
from tests.factories import png_bytes, web_client


@pytest.fixture
async def demo(db: Database) -> AsyncIterator[tuple[App, TestClient]]:
    app = await make_app(db, "web")
    client = await web_client(app)
    yield app, client
    await client.close()


@pytest.fixture
async def production(db: Database) -> AsyncIterator[tuple[App, TestClient]]:
    app = await make_app(db, "web", web_trust_path=False)
    client = await web_client(app)
    yield app, client
    await client.close()


async def test_healthz_answers_when_the_database_does(demo: tuple[App, TestClient]) -> None:
    _, client = demo
    response = await client.get("/healthz")
    assert response.status == 200 and (await response.json()) == {"ok": True}


async def test_page_is_served_with_its_assets(demo: tuple[App, TestClient]) -> None:
    _, client = demo
    page = await client.get("/")
    assert page.status == 200 and "/static/app.js" in await page.text()
    assert (await client.get("/static/app.js")).status == 200


async def test_post_answers_with_replies_and_get_lists_them_after_delivery(
    demo: tuple[App, TestClient],
) -> None:
    app, client = demo
    response = await client.post("/api/chat/resident-1/messages", json={"text": "/start"})
    body = await response.json()
    assert response.status == 200 and body["replies"][0]["buttons"]
    assert "1栋1单元1502" in body["replies"][0]["text"]
    await app.worker.drain()
    listed = await (await client.get("/api/chat/resident-1/messages?after=0")).json()
    assert [m["ref"] for m in listed["messages"]] == [r["ref"] for r in body["replies"]]
    last = listed["messages"][-1]["id"]
    later = await (await client.get(f"/api/chat/resident-1/messages?after={last}")).json()
    assert later == {"messages": []}


async def test_notification_from_someone_else_reaches_the_mailbox(
    demo: tuple[App, TestClient],
) -> None:
    app, client = demo
    async with app.db.transaction() as session:
        user_id = await session.scalar(select(User.id).where(User.name == "陈国平"))
        assert user_id is not None
        writer = OutboxWriter(session, app.dispatcher.signer)
        assert await writer.notify_user(user_id, Reply("1栋有新的报事")) is not None
    await app.worker.drain()
    listed = await (await client.get("/api/chat/leader-b1/messages?after=0")).json()
    assert [m["text"] for m in listed["messages"]] == ["1栋有新的报事"]


async def test_retried_post_with_the_same_client_id_is_answered_once(
    demo: tuple[App, TestClient],
) -> None:
    app, client = demo
    payload = {"text": "/me", "client_id": "same-id"}
    first = await (await client.post("/api/chat/resident-1/messages", json=payload)).json()
    second = await (await client.post("/api/chat/resident-1/messages", json=payload)).json()
    assert second["duplicate"] is True and second["replies"] == first["replies"]
    await app.worker.drain()
    listed = await (await client.get("/api/chat/resident-1/messages?after=0")).json()
    assert len(listed["messages"]) == len(first["replies"])


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"text": 5}',
        b'{"text": "a", "button": "b"}',
        b"{}",
        b'{"text": "a", "client_id": 7}',
    ],
)
async def test_malformed_request_is_refused_in_chinese(
    demo: tuple[App, TestClient], body: bytes
) -> None:
    _, client = demo
    response = await client.post(
        "/api/chat/resident-1/messages", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert "请求" in (await response.json())["error"]


async def test_bad_user_id_is_refused(demo: tuple[App, TestClient]) -> None:
    _, client = demo
    response = await client.get("/api/chat/a%20b/messages")
    assert response.status == 400


async def test_production_refuses_a_path_user_without_a_session(
    production: tuple[App, TestClient],
) -> None:
    _, client = production
    response = await client.post("/api/chat/resident-1/messages", json={"text": "/me"})
    assert response.status == 401
    assert "邀请链接" in (await response.json())["error"]
    config = await (await client.get("/api/config")).json()
    assert config["demo"] is False and config["personas"] == [] and config["user"] is None


async def test_invite_link_opens_a_session_that_only_reaches_its_own_chat(
    production: tuple[App, TestClient],
) -> None:
    _, client = production
    assert (await client.get("/join/NO-SUCH-CODE", allow_redirects=False)).status == 404
    joined = await client.get("/join/SDDJ-JOIN", allow_redirects=False)
    assert joined.status == 302 and joined.headers["Location"] == "/?start=SDDJ-JOIN"
    config = await (await client.get("/api/config")).json()
    me = config["user"]
    assert me and me.startswith("w-")
    reply = await client.post(f"/api/chat/{me}/messages", json={"text": "/start SDDJ-JOIN"})
    assert reply.status == 200
    assert "请选择您住的楼栋" in (await reply.json())["replies"][-1]["text"]
    other = await client.post("/api/chat/resident-1/messages", json={"text": "/me"})
    assert other.status == 401


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "空的"),
        (b"GIF89a not really", "无法识别"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "无法识别"),
    ],
)
async def test_broken_upload_gets_a_clear_answer_and_changes_nothing(
    demo: tuple[App, TestClient], data: bytes, reason: str
) -> None:
    app, client = demo
    form = FormData()
    form.add_field("photo", data, filename="x.jpg", content_type="image/jpeg")
    response = await client.post("/api/chat/resident-1/photos", data=form)
    assert response.status == 400
    assert reason in (await response.json())["error"]
    async with app.db.transaction() as session:
        assert (await session.scalars(select(ProcessedUpdate))).all() == []


async def test_uploaded_photo_is_served_to_the_chat(demo: tuple[App, TestClient]) -> None:
    app, client = demo
    form = FormData()
    form.add_field("photo", png_bytes(), filename="p.png", content_type="image/png")
    response = await client.post("/api/chat/resident-1/photos", data=form)
    assert response.status == 200
    assert (await response.json())["replies"][-1]["key"] == "report.photo_then_describe"
    ref = next(iter(app.files.root.rglob("*.png"))).name
    image = await client.get(f"/files/{ref}")
    assert image.status == 200 and (await image.read()) == png_bytes()
    assert (await client.get("/files/..%2Fsecret")).status == 404


async def test_a_file_too_big_is_refused_before_it_is_all_read(
    demo: tuple[App, TestClient],
) -> None:
    app, client = demo
    form = FormData()
    big = b"%PDF-1.4" + b"\0" * (21 * 1024 * 1024)
    form.add_field("file", io.BytesIO(big), filename="big.pdf", content_type="application/pdf")
    response = await client.post("/api/chat/secretary/files", data=form)
    assert response.status == 400
    assert "超过 20 MB" in (await response.json())["error"]
    assert not list(app.files.root.rglob("*.pdf"))


async def test_a_document_in_the_photo_field_is_refused_as_no_photo(
    demo: tuple[App, TestClient],
) -> None:
    _, client = demo
    form = FormData()
    form.add_field("photo", b"%PDF-1.4 notice", filename="n.pdf", content_type="application/pdf")
    response = await client.post("/api/chat/resident-1/photos", data=form)
    assert response.status == 400
    assert "无法识别为照片" in (await response.json())["error"]


async def test_a_document_is_served_under_its_own_name(demo: tuple[App, TestClient]) -> None:
    app, client = demo
    stored = app.files.save_document(b"%PDF-1.4 notice", "法治通知.pdf")
    response = await client.get(f"/files/{stored.ref}", params={"name": stored.name})
    assert response.status == 200 and await response.read() == b"%PDF-1.4 notice"
    assert response.headers["Content-Type"] == "application/pdf"
    assert (
        "UTF-8''%E6%B3%95%E6%B2%BB%E9%80%9A%E7%9F%A5.pdf" in response.headers["Content-Disposition"]
    )

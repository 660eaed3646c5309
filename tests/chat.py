"""ChatDriver: drive whole conversations in tests, the same way over every channel.

``CoreChat`` calls the core directly (what every adapter calls); ``WebChat`` goes
through the web chat's HTTP API. Scenario tests take the ``chat`` fixture and run on
both, so a behaviour proven once holds on each channel.

Usage::

    replies = await chat.say("resident-1", "/me")
    replies = await chat.press("guest-1", "1栋")
    await chat.deliver()
    chat.keys(await chat.inbox("floor-1"))
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App
from bot.channels.recording import RecordingChannel
from bot.core.replies import Reply
from bot.storage.files import BadUpload, StoredDocument
from tests.factories import make_incoming


class ChatDriver(ABC):
    channel = "web"

    def __init__(self, app: App) -> None:
        self.app = app
        self.last: dict[str, list[Reply]] = {}

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Start whatever the channel needs (an HTTP server)."""

    def platform_id(self, user: str) -> str:
        """The user's id on this channel (the chat id of a private chat)."""
        return user

    def audience(self, user: str) -> str:
        """Whom a signed button is for, as the core names the user on this channel."""
        return f"{self.channel}:{self.platform_id(user)}"

    async def close(self) -> None:
        await self.app.close()

    @abstractmethod
    async def send(
        self,
        user: str,
        *,
        text: str | None = None,
        button: str | None = None,
        update_id: str | None = None,
        photo: bytes | None = None,
        document: tuple[str, bytes] | None = None,
    ) -> list[Reply]: ...

    @abstractmethod
    async def fetch_document(self, document: StoredDocument) -> bytes:
        """The bytes of a file the bot sent, fetched the way the user's client would."""

    @abstractmethod
    async def inbox(self, user: str) -> list[Reply]:
        """Everything delivered to ``user`` so far (run ``deliver`` first)."""

    async def say(self, user: str, text: str, *, update_id: str | None = None) -> list[Reply]:
        replies = await self.send(user, text=text, update_id=update_id)
        self.last[user] = replies
        return replies

    async def send_photo(self, user: str, data: bytes, caption: str | None = None) -> list[Reply]:
        replies = await self.send(user, text=caption, photo=data)
        self.last[user] = replies
        return replies

    async def send_document(
        self, user: str, name: str, data: bytes, caption: str | None = None
    ) -> list[Reply]:
        """Send a file "as a file" (a PDF, a Word file) under ``name``."""
        replies = await self.send(user, text=caption, document=(name, data))
        self.last[user] = replies
        return replies

    async def report(self, user: str, text: str) -> list[Reply]:
        """Say a report in free words; when the bot answers it as a legal question first,
        press 我要报事 as a resident would. Returns the replies that ask for the matter."""
        replies = await self.say(user, text)
        if (
            replies
            and replies[-1].key == "consult.answer"
            and "我要报事" in replies[-1].button_texts()
        ):
            replies = await self.press(user, "我要报事")
        return replies

    async def press(self, user: str, label: str) -> list[Reply]:
        """Press the button labelled ``label`` in the latest replies ``user`` got."""
        data = self.button_data(user, label)
        replies = await self.send(user, button=data)
        self.last[user] = replies
        return replies

    def button_data(self, user: str, label: str) -> str:
        for reply in reversed(self.last.get(user, [])):
            for row in reply.buttons:
                for button in row:
                    if button.text == label:
                        return button.data
        offered = [b for r in self.last.get(user, []) for b in r.button_texts()]
        raise AssertionError(f"no button {label!r} for {user}; offered: {offered}")

    async def deliver(self) -> int:
        return await self.app.worker.drain()

    async def read(self, user: str) -> list[Reply]:
        """Deliver everything, then make ``user``'s inbox what ``press`` looks in."""
        await self.deliver()
        self.last[user] = await self.inbox(user)
        return self.last[user]

    async def dialog(self, user: str, turns: list[tuple[str, str]]) -> None:
        """Say each text (or press ``[label]``) and assert the last reply's catalogue key."""
        for said, key in turns:
            if said.startswith("[") and said.endswith("]"):
                replies = await self.press(user, said[1:-1])
            else:
                replies = await self.say(user, said)
            assert replies, f"no reply to {said!r}"
            assert replies[-1].key == key, f"{said!r}: expected {key}, got {self.keys(replies)}"

    @staticmethod
    def keys(replies: list[Reply]) -> list[str | None]:
        return [r.key for r in replies]

    @staticmethod
    def text(replies: list[Reply]) -> str:
        return "\n".join(r.text for r in replies)


class CoreChat(ChatDriver):
    async def send(
        self,
        user: str,
        *,
        text: str | None = None,
        button: str | None = None,
        update_id: str | None = None,
        photo: bytes | None = None,
        document: tuple[str, bytes] | None = None,
    ) -> list[Reply]:
        stored = rejected = None
        photo_ref = self.app.files.save_image(photo) if photo is not None else None
        if document is not None:
            name, data = document
            try:
                upload = self.app.files.save_upload(data, name)
                photo_ref, stored = upload.photo, upload.document
            except BadUpload as exc:  # what the adapters do with a file they refuse
                rejected = exc.reason
        event = make_incoming(
            user,
            text,
            button=button,
            update_id=update_id,
            channel=self.channel,
            photo=photo_ref,
            document=stored,
            rejected_upload=rejected,
        )
        outcome = await self.app.handle(event)
        return [Reply.from_payload(s.payload) for s in outcome.replies]

    async def fetch_document(self, document: StoredDocument) -> bytes:
        return self.app.files.path(document.ref).read_bytes()

    async def inbox(self, user: str) -> list[Reply]:
        channel = self.app.channels[self.channel]
        assert isinstance(channel, RecordingChannel)
        return [Reply.from_payload(p) for p in channel.sent_to(user)]


class WebChat(ChatDriver):
    client: TestClient

    async def open(self) -> None:
        self.client = TestClient(TestServer(self.app.web_app()))
        await self.client.start_server()

    async def close(self) -> None:
        await self.client.close()
        await super().close()

    async def send(
        self,
        user: str,
        *,
        text: str | None = None,
        button: str | None = None,
        update_id: str | None = None,
        photo: bytes | None = None,
        document: tuple[str, bytes] | None = None,
    ) -> list[Reply]:
        if document is not None:
            name, data = document
            form = FormData()
            form.add_field("file", data, filename=name, content_type="application/octet-stream")
            form.add_field("client_id", update_id or uuid.uuid4().hex)
            if text:
                form.add_field("caption", text)
            response = await self.client.post(f"/api/chat/{user}/files", data=form)
            if response.status == 400:  # a refused file: the page shows the reason
                return [Reply((await response.json())["error"], key="web.refused_upload")]
            assert response.status == 200, await response.text()
            return [_reply(r) for r in (await response.json())["replies"]]
        if photo is not None:
            form = FormData()
            form.add_field("photo", photo, filename="photo.png", content_type="image/png")
            form.add_field("client_id", update_id or uuid.uuid4().hex)
            if text:
                form.add_field("caption", text)
            response = await self.client.post(f"/api/chat/{user}/photos", data=form)
            assert response.status == 200, await response.text()
            return [_reply(r) for r in (await response.json())["replies"]]
        body: dict[str, Any] = {"client_id": update_id or uuid.uuid4().hex}
        if text is not None:
            body["text"] = text
        if button is not None:
            body["button"] = button
        response = await self.client.post(f"/api/chat/{user}/messages", json=body)
        assert response.status == 200, await response.text()
        return [_reply(r) for r in (await response.json())["replies"]]

    async def inbox(self, user: str) -> list[Reply]:
        response = await self.client.get(f"/api/chat/{user}/messages", params={"after": "0"})
        assert response.status == 200, await response.text()
        return [_reply(m) for m in (await response.json())["messages"]]

    async def fetch_document(self, document: StoredDocument) -> bytes:
        response = await self.client.get(f"/files/{document.ref}", params={"name": document.name})
        assert response.status == 200, await response.text()
        return await response.read()


def _reply(data: dict[str, Any]) -> Reply:
    payload = {"text": data["text"], "buttons": data.get("buttons", []), "key": data.get("key")}
    if doc := data.get("document"):
        ref = doc["url"].removeprefix("/files/").partition("?")[0]
        payload["document"] = {"ref": ref, "name": doc["name"]}
    return Reply.from_payload(payload)

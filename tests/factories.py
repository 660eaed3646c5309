"""Small builders for tests: events, clocks, outbox rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiohttp.test_utils import TestClient, TestServer

from bot.app import App
from bot.core.buttons import ButtonSigner
from bot.core.events import Incoming
from bot.core.replies import Reply
from bot.outbox.enqueue import OutboxWriter
from bot.storage.db import Database
from bot.storage.files import StoredDocument
from bot.storage.models import utcnow

SIGNER = ButtonSigner(b"factories-secret-0123456789abcdef")


def make_incoming(
    user: str = "guest-1",
    text: str | None = None,
    *,
    button: str | None = None,
    update_id: str | None = None,
    channel: str = "web",
    photo: str | None = None,
    document: StoredDocument | None = None,
    rejected_upload: str | None = None,
) -> Incoming:
    return Incoming(
        channel=channel,
        chat_id=user,
        user_id=user,
        update_id=update_id or uuid.uuid4().hex,
        at=utcnow(),
        text=text,
        button=button,
        photo=photo,
        document=document,
        rejected_upload=rejected_upload,
    )


@dataclass
class Clock:
    """A clock tests move by hand: ``clock.advance(seconds=31)``."""

    now: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def enqueue(db: Database, chat_id: str, text: str, channel: str = "web") -> int:
    async with db.transaction() as session:
        ref, _ = await OutboxWriter(session, SIGNER).enqueue(
            channel=channel, chat_id=chat_id, audience_id=chat_id, reply=Reply(text)
        )
    return ref


def png_bytes(color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A small real PNG, as a phone would upload (Pillow writes it)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(buffer, format="PNG")
    return buffer.getvalue()


# A PostgreSQL address where nothing listens: an app pointed here never reaches a database.
UNREACHABLE_DB = "postgresql+asyncpg://linli@127.0.0.1:1/nowhere"


async def web_client(app: App) -> TestClient:
    """An HTTP client on the app's whole web server (chat, dashboard, health, metrics)."""
    client = TestClient(TestServer(app.web_app()))
    await client.start_server()
    return client


def most_in_window(times: Iterable[float], window: float) -> int:
    """The largest number of ``times`` inside any closed interval of length ``window``."""
    ordered = sorted(times)
    best = first = 0
    for last, t in enumerate(ordered):
        while t - ordered[first] > window:
            first += 1
        best = max(best, last - first + 1)
    return best

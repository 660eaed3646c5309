"""What handlers return: neutral ``Reply`` values that every channel can render.

``Button.data`` is the *unsigned* action data (``"me"``, ``"s:<nonce>:3"``); the outbox
signs it for the recipient when the reply is enqueued, so a handler never deals with
secrets and a notification to someone else gets buttons only that person can press.

``Reply.card`` names the thing a message is a card *of* (``"case:123"``). It changes
nothing on channels that cannot edit what they sent; on those that can (Telegram), the
delivery worker first edits the previous message of the same card in the same chat to
the new content, so an old card never keeps buttons that no longer apply (see
``bot.outbox.worker``).

Usage::

    Reply("请选择楼栋", buttons=((Button("1栋", "s:ab12:1"), Button("2栋", "s:ab12:2")),),
          key="register.ask_building")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.storage.files import StoredDocument


@dataclass(frozen=True, slots=True)
class Button:
    """``data`` is an action for the core. ``start`` instead makes a link that opens the
    user's private chat with the bot and sends ``/start <start>`` (Telegram deep link):
    how a group chat hands a resident over to a private conversation."""

    text: str
    data: str = ""
    start: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    photo: str | None = None
    # A file sent with the message (a notice's PDF); channels show it after the text, or
    # as one message with the text for its caption where they can.
    document: StoredDocument | None = None
    key: str | None = field(default=None, compare=False)
    parse_mode: str | None = None
    card: str | None = field(default=None, compare=False)
    # A quiz question a channel may show natively (a Telegram quiz poll): ``lead``,
    # ``question``, ``options``, ``correct``, ``explanation``. The buttons stay the
    # answer everywhere: one row per option, in order, each the option's answer action.
    poll: dict[str, Any] | None = field(default=None, compare=False)

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"text": self.text}
        if self.buttons:
            payload["buttons"] = [[_button_payload(b) for b in row] for row in self.buttons]
        if self.photo:
            payload["photo"] = self.photo
        if self.document:
            payload["document"] = {"ref": self.document.ref, "name": self.document.name}
        if self.key:
            payload["key"] = self.key
        if self.parse_mode:
            payload["parse_mode"] = self.parse_mode
        if self.card:
            payload["card"] = self.card
        if self.poll:
            payload["poll"] = self.poll
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Reply:
        rows = tuple(
            tuple(Button(b["text"], b.get("data", ""), b.get("start")) for b in row)
            for row in payload.get("buttons", ())
        )
        return cls(
            text=payload["text"],
            buttons=rows,
            photo=payload.get("photo"),
            document=StoredDocument(**payload["document"]) if payload.get("document") else None,
            key=payload.get("key"),
            parse_mode=payload.get("parse_mode"),
            card=payload.get("card"),
            poll=payload.get("poll"),
        )

    def button_texts(self) -> list[str]:
        return [b.text for row in self.buttons for b in row]


def _button_payload(button: Button) -> dict[str, str]:
    if button.start is not None:
        return {"text": button.text, "start": button.start}
    return {"text": button.text, "data": button.data}

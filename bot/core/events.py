"""What a channel adapter hands the core: one neutral, immutable ``Incoming`` event.

Adapters fill only what the platform gave them; parsing of commands lives here so that
every channel reads ``/start CODE`` and ``/start@linli_bot CODE`` the same way.

Usage::

    event = Incoming(channel="web", chat_id="resident-1", user_id="resident-1",
                     update_id="c0ffee", at=now, text="/me")
    event.command  # Command(name="me", args="")
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.storage.files import StoredDocument


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: str = ""


@dataclass(frozen=True, slots=True)
class Incoming:
    channel: str
    chat_id: str
    user_id: str
    update_id: str
    at: datetime
    text: str | None = None
    button: str | None = None
    photo: str | None = None
    # A file that is not a photo (a PDF, a Word file), already checked and stored; the
    # dispatcher lets it through only to the flow steps that ask for one.
    document: StoredDocument | None = None
    # The user sent a file the channel could not accept (a catalogue key saying why);
    # the core answers it like any message, so the answer is stored and never lost.
    rejected_upload: str | None = None
    display_name: str = ""
    chat_type: str = "private"

    @property
    def conversation_key(self) -> tuple[str, str, str]:
        return (self.channel, self.chat_id, self.user_id)

    @property
    def command(self) -> Command | None:
        return parse_command(self.text)


def parse_command(text: str | None) -> Command | None:
    """``/Start@bot  abc`` → Command("start", "abc"); anything else → None."""
    if not text:
        return None
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) == 1:
        return None
    head, _, args = stripped[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    if not name.isascii() or not name.replace("_", "").isalnum():
        return None
    return Command(name=name, args=args.strip())

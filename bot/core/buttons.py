"""Signed button data: what makes a forged or replayed button harmless.

Telegram limits callback data to 64 bytes, so the data carries only a short action and
its arguments; anything bigger stays server-side in the conversation state. Each button
is signed with an HMAC bound to its recipient (channel + platform user id): a button
crafted by hand, or one sent to somebody else, fails verification.

Usage::

    signer = ButtonSigner(secret)
    wire = signer.sign("me", audience="web:resident-1")
    signer.verify(wire, audience="web:resident-1")  # "me"
"""

from __future__ import annotations

import base64
import hashlib
import hmac

MAX_BUTTON_BYTES = 64
_MAC_BYTES = 8
_SEP = "."
_ARG_SEP = ":"


class ButtonSigner:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("button secret must be at least 16 bytes")
        self._secret = secret

    def _mac(self, data: str, audience: str) -> str:
        digest = hmac.new(self._secret, f"{audience}\n{data}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:_MAC_BYTES]).decode().rstrip("=")

    def sign(self, data: str, audience: str) -> str:
        wire = f"{data}{_SEP}{self._mac(data, audience)}"
        if len(wire.encode()) > MAX_BUTTON_BYTES:
            raise ValueError(f"button data too long for Telegram: {data!r}")
        return wire

    def verify(self, wire: str, audience: str) -> str | None:
        """The unsigned data, or None when the button was not signed by us for this user."""
        data, sep, mac = wire.rpartition(_SEP)
        if not sep or not data:
            return None
        if not hmac.compare_digest(mac, self._mac(data, audience)):
            return None
        return data


def pack(action: str, *args: object) -> str:
    parts = [action, *(str(a) for a in args)]
    for part in parts:
        if _ARG_SEP in part or _SEP in part:
            raise ValueError(f"button argument may not contain ':' or '.': {part!r}")
    return _ARG_SEP.join(parts)


def unpack(data: str) -> tuple[str, list[str]]:
    action, *args = data.split(_ARG_SEP)
    return action, args

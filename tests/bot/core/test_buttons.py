"""Signed button data fits Telegram and cannot be forged or moved to another user."""

from __future__ import annotations

import pytest

from bot.core.buttons import MAX_BUTTON_BYTES, ButtonSigner, pack, unpack

SIGNER = ButtonSigner(b"0123456789abcdef0123456789abcdef")


def test_signed_button_round_trips_for_its_recipient() -> None:
    wire = SIGNER.sign(pack("s", "abc123", "owner"), "web:guest-1")
    assert len(wire.encode()) <= MAX_BUTTON_BYTES
    assert unpack(SIGNER.verify(wire, "web:guest-1") or "") == ("s", ["abc123", "owner"])


def test_button_for_another_user_does_not_verify() -> None:
    wire = SIGNER.sign("coverage", "web:secretary")
    assert SIGNER.verify(wire, "web:resident-1") is None


@pytest.mark.parametrize("wire", ["", ".", "coverage", "coverage.", "coverage.AAAAAAAAAAA", "é.x"])
def test_tampered_or_unsigned_data_does_not_verify(wire: str) -> None:
    assert SIGNER.verify(wire, "web:guest-1") is None


def test_other_key_does_not_verify() -> None:
    other = ButtonSigner(b"fedcba9876543210fedcba9876543210")
    assert other.verify(SIGNER.sign("me", "web:a"), "web:a") is None


def test_data_too_long_for_telegram_is_refused_when_building_the_button() -> None:
    with pytest.raises(ValueError, match="too long"):
        SIGNER.sign(pack("action", "x" * 60), "web:a")


def test_arguments_may_not_smuggle_separators() -> None:
    with pytest.raises(ValueError):
        pack("me", "a:b")

"""Emergencies first: fire, gas, violence in progress, someone hurt.

Runs on every free text before any flow or question (the router's text hook), for
registered users and strangers alike: telling someone to call 119 must never wait for
them to finish registering or choose a button.
"""

from __future__ import annotations

from bot.core.context import Context
from bot.core.events import Incoming
from bot.core.replies import Reply
from knowledge.recognize import default_recognizer


async def emergency_first(event: Incoming, ctx: Context) -> list[Reply]:
    if not event.text:
        return []
    emergency = default_recognizer().emergency(event.text)
    if emergency is None:
        return []
    numbers = " / ".join(emergency.numbers)
    return [ctx.reply("emergency.alert", numbers=numbers, advice=emergency.advice)]

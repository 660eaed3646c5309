"""Channel adapters, one module per platform library, found through a lazy registry.

Importing this package imports no platform library: ``load_channel_class("web")``
imports only the module it names, so choosing one Telegram library never imports the
other.
"""

from __future__ import annotations

from importlib import import_module

from bot.channels.base import Channel

REGISTRY: dict[str, str] = {
    "web": "bot.channels.web:WebChannel",
    "recording": "bot.channels.recording:RecordingChannel",
    "null": "bot.channels.null:NullChannel",
    "aiogram": "bot.channels.telegram.aiogram_channel:AiogramChannel",
    "ptb": "bot.channels.telegram.ptb_channel:PtbChannel",
}


def load_channel_class(name: str) -> type[Channel]:
    try:
        path = REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown channel {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
    module_name, _, attr = path.partition(":")
    cls = getattr(import_module(module_name), attr)
    assert issubclass(cls, Channel)
    return cls

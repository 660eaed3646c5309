"""The message catalogue: every user-facing sentence, keyed, in one file per locale.

Handlers build replies from keys (``ctx.reply("register.done", address=...)``) so the
text can be reworded, or an English catalogue added beside ``zh_CN.yaml``, without
touching code, and tests assert on keys rather than prose.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

LOCALES = Path(__file__).resolve().parent.parent / "locales"


class Catalog:
    def __init__(self, messages: dict[str, Any], locale: str) -> None:
        self.locale = locale
        self._flat: dict[str, Any] = {}
        _flatten("", messages, self._flat)

    def __contains__(self, key: str) -> bool:
        return key in self._flat

    def t(self, key: str, **params: object) -> str:
        try:
            template = self._flat[key]
        except KeyError:
            raise KeyError(f"message key {key!r} missing from catalogue {self.locale}") from None
        if not isinstance(template, str):
            raise KeyError(f"message key {key!r} is not a text")
        return template.format(**params)

    def raw(self, key: str) -> object:
        """The unformatted entry (a template string or a list of words)."""
        return self._flat[key]

    def list(self, key: str) -> list[str]:
        value = self._flat.get(key)
        if not isinstance(value, list):
            raise KeyError(f"message key {key!r} is not a list")
        return [str(v) for v in value]

    def keys(self) -> list[str]:
        return list(self._flat)


def _flatten(prefix: str, node: Any, out: dict[str, Any]) -> None:
    if isinstance(node, dict):
        for name, child in node.items():
            _flatten(f"{prefix}{name}.", child, out)
        return
    out[prefix.rstrip(".")] = node


@cache
def load_catalog(locale: str = "zh_CN") -> Catalog:
    path = LOCALES / f"{locale}.yaml"
    with path.open(encoding="utf-8") as fh:
        return Catalog(yaml.safe_load(fh), locale)

"""Every catalogue key the code uses exists, and every template formats."""

from __future__ import annotations

import re
import string
from pathlib import Path

from bot.core.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[3]
KEY_CALL = re.compile(r"""(?:\.t|\.reply|\.list)\(\s*["']([a-z_]+(?:\.[a-z_]+)+)["']""")


def _used_keys() -> set[str]:
    keys: set[str] = set()
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            keys |= set(KEY_CALL.findall(path.read_text(encoding="utf-8")))
    return keys


def test_every_key_used_in_code_exists_in_the_catalogue() -> None:
    catalog = load_catalog()
    used = _used_keys()
    assert len(used) > 40
    assert sorted(k for k in used if k not in catalog) == []


def test_every_template_has_well_formed_placeholders() -> None:
    catalog = load_catalog()
    for key in catalog.keys():
        value = catalog.raw(key)
        if isinstance(value, list):
            continue
        assert isinstance(value, str), key
        fields = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
        assert all(f.isidentifier() for f in fields), key
        catalog.t(key, **dict.fromkeys(fields, "x"))  # formats without error

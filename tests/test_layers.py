"""The core, the handlers and the knowledge base never import a platform library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NEUTRAL = ["bot/core", "handlers", "knowledge"]
PLATFORM = {"aiogram", "telegram", "aiohttp"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", NEUTRAL)
def test_neutral_packages_import_no_platform_library(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & PLATFORM)
        for path in (ROOT / package).rglob("*.py")
        if _imports(path) & PLATFORM
    }
    assert offenders == {}


def test_channel_registry_imports_no_platform_library_until_asked() -> None:
    import subprocess
    import sys

    code = (
        "import sys, bot.channels; "
        "assert not {'aiohttp', 'aiogram', 'telegram'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize(("library", "other"), [("aiogram", "telegram"), ("ptb", "aiogram")])
def test_choosing_one_telegram_library_never_imports_the_other(library: str, other: str) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from bot.app import telegram_channel; from bot.config import Settings; "
        f"telegram_channel(Settings(_env_file=None, telegram_token='1:a', "
        f"telegram_library='{library}')); "
        f"assert {other!r} not in sys.modules, 'both libraries imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)

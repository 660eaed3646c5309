"""LINLI_LOG_FORMAT=json: one JSON object per line with time, level, logger, message and
the ids the code passes as extra fields — and never what people wrote or who they are."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import ValidationError

from bot.channels.base import Unreachable
from bot.channels.recording import RecordingChannel
from bot.config import Settings
from bot.observability.log_format import JsonFormatter, configure_logging
from bot.storage.db import Database
from tests.chat import CoreChat
from tests.conftest import make_app
from tests.factories import make_incoming

PHONE = "13912345678"
STORY = f"我是张秀英，电话{PHONE}，住1栋1单元1502，楼上卫生间漏水到我家天花板了"


def _json_lines(records: list[logging.LogRecord]) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in records]
    assert all("\n" not in line for line in lines)
    return [json.loads(line) for line in lines]


def test_a_record_is_one_json_object_with_its_extra_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("linli.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception(
                "update %s:%s failed", "web", "u-1", extra={"update_id": "u-1", "case": "N-1"}
            )
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "ERROR" and record["logger"] == "linli.test.json"
    assert record["message"] == "update web:u-1 failed"
    assert record["update_id"] == "u-1" and record["case"] == "N-1"
    assert record["time"].endswith("+00:00") and "ValueError: boom" in record["exception"]


async def test_handling_and_delivery_log_ids_but_no_message_text_or_personal_data(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    chat = CoreChat(await make_app(db))
    await chat.open()
    app = chat.app
    fallback = app.router.fallback

    async def broken(*_: object) -> list[object]:
        raise RuntimeError("handler bug")

    try:
        app.router.fallback = broken  # type: ignore[assignment]
        await app.handle(make_incoming("resident-1", STORY, update_id="u-broken"))
        app.router.fallback = fallback
        await app.handle(make_incoming("resident-1", button="forged-data", update_id="u-forged"))
        await chat.report("resident-1", STORY)  # a report in free words
        channel = app.channels["web"]
        assert isinstance(channel, RecordingChannel)
        channel.fail_next(Unreachable("Forbidden: bot was blocked by the user"))
        await app.worker.drain()
    finally:
        await chat.close()

    lines = _json_lines(caplog.records)
    failed = [line for line in lines if line["message"] == "update web:u-broken failed"]
    assert failed and failed[0]["update_id"] == "u-broken" and failed[0]["channel"] == "web"
    assert any(line.get("update_id") == "u-forged" for line in lines)
    assert any("outbox_id" in line and line["level"] == "WARNING" for line in lines)
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    for secret in (PHONE, "张秀英", "1502", "漏水"):
        assert secret not in text


async def test_access_log_masks_invite_codes_and_file_references(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging("INFO", "json")  # root already has pytest's handler: adds filters only
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    client = TestClient(TestServer((await make_app(db)).web_app()))
    await client.start_server()
    try:
        await client.get("/join/SECRET-INVITE-1", allow_redirects=False)
        await client.get("/files/" + "ab" * 32)
    finally:
        await client.close()
    lines = _json_lines([r for r in caplog.records if r.name == "aiohttp.access"])
    assert len(lines) == 2
    text = json.dumps(lines)
    assert "SECRET-INVITE-1" not in text and "ab" * 32 not in text
    assert "/join/\\u2026" in text or "/join/…" in text


def test_log_format_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).log_format == "text"  # type: ignore[call-arg]
    monkeypatch.setenv("LINLI_LOG_FORMAT", "json")
    assert Settings(_env_file=None).log_format == "json"  # type: ignore[call-arg]
    monkeypatch.setenv("LINLI_LOG_FORMAT", "xml")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_configured_json_logging_writes_json_to_stderr_and_quietens_httpx() -> None:
    program = (
        "import logging\n"
        "from bot.observability.log_format import configure_logging\n"
        "configure_logging('INFO', 'json')\n"
        "logging.getLogger('linli.x').info('case %s escalated', 'N-1', extra={'case': 'N-1'})\n"
        "logging.getLogger('httpx').info('HTTP Request: POST https://api/bot123:abc/send')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    (line,) = done.stderr.splitlines()
    assert json.loads(line) | {"time": ""} == {
        "time": "",
        "level": "INFO",
        "logger": "linli.x",
        "message": "case N-1 escalated",
        "case": "N-1",
    }

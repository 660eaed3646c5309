"""Log output: the classic text line, or one JSON object per line for log collectors.

``LINLI_LOG_FORMAT=json`` makes every record one line of JSON with ``time`` (UTC, ISO
8601), ``level``, ``logger``, ``message``, the fields the code passed as ``extra``
(``channel``, ``update_id``, ``case``, ``outbox_id`` …) and ``exception`` when there is
one — what Loki, Elasticsearch or journald's JSON tooling index without a parser. A
30-line ``logging.Formatter`` does it; python-json-logger would add a dependency for no
more than this.

What may be logged: ids (update ids, outbox row ids, case numbers, chat ids), never
what people wrote, their names, phone numbers or addresses. linli's own log calls keep
to that; ``configure_logging`` also quietens two libraries that would not:

- httpx (python-telegram-bot's HTTP client) logs every request URL at INFO, and a Bot
  API URL contains the bot token: its logger starts at WARNING.
- aiohttp's access log writes request paths, and two of ours are secrets — invite codes
  (``/join/CODE``) and photo references (``/files/REF``, knowing one is the right to
  see it): ``RedactSecretPaths`` masks them.

Usage::

    configure_logging(settings.log_level, settings.log_format)   # once, in main()
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Attributes every LogRecord has; anything else on a record came in through ``extra``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
_SECRET_PATH = re.compile(r"/(join|files)/[^/?#\s\"]+")


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class RedactSecretPaths(logging.Filter):
    """Masks invite codes and photo references in aiohttp's access log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _redact(record.getMessage())
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str | dict):
                setattr(record, key, _redact(value))
        return True


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return _SECRET_PATH.sub(lambda m: f"/{m.group(1)}/…", value)
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    return value


def configure_logging(level: str = "INFO", fmt: LogFormat = "text") -> None:
    """The root logger writes to stderr in ``fmt``. Like ``logging.basicConfig`` it
    leaves a root logger that already has handlers alone (pytest's capture, say)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)
    access = logging.getLogger("aiohttp.access")
    if not any(isinstance(f, RedactSecretPaths) for f in access.filters):
        access.addFilter(RedactSecretPaths())

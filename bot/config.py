"""Settings from ``LINLI_*`` environment variables and an optional ``.env`` file.

Passed explicitly to ``create_app``; nothing reads a module-global config, so tests and
benchmarks can run several differently configured apps in one process.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LINLI_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(
        default="sqlite+aiosqlite:///var/linli.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://…",
    )
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = Field(
        default="", description="Base URL residents reach (for invite links); default host:port"
    )
    web_trust_path: bool = Field(
        default=False,
        description="Demo mode: trust the user id in the web chat path (never in production)",
    )
    secret_key: str = Field(
        default="",
        description="Key that signs buttons; generated and kept in the database when empty",
    )
    locale: str = "zh_CN"
    max_text_length: int = Field(default=4000, ge=100)
    outbox_poll_seconds: float = 0.5
    outbox_lease_seconds: float = 30.0
    outbox_max_attempts: int = 8
    outbox_backoff_base_seconds: float = 2.0
    outbox_concurrency: int = 16
    web_poll_ms: int = 1500
    timezone: str = Field(default="Asia/Shanghai", description="Shown times and day limits")
    sla_scale: float = Field(
        default=1.0,
        gt=0,
        description="Multiplies every SLA of the matter table (demo: 0.001 → hours become seconds)",
    )
    scheduler_interval_seconds: float = Field(default=30.0, gt=0)
    roles: str = Field(
        default="web,worker,scheduler",
        description="What `linli serve` runs: any of web, worker, scheduler (comma-separated)",
    )
    workers: int = Field(
        default=1, ge=1, description="`linli serve` processes, each running the roles"
    )
    standby_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often a standby process tries to become the one active scheduler "
        "(and Telegram poller), and the holder checks it still is",
    )
    redis_url: str = Field(
        default="", description="Redis for the send rate shared by all processes; empty: none"
    )
    redis_prefix: str = Field(default="linli:", description="Prefix of linli's Redis keys")
    files_dir: str = Field(default="var/files", description="Where uploaded photos are kept")
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text", description="text lines, or one JSON object per line (log collectors)"
    )
    metrics_token: str = Field(
        default="", description="When set, GET /metrics needs 'Authorization: Bearer <token>'"
    )
    ready_timeout_seconds: float = Field(
        default=2.0, gt=0, description="GET /readyz: how long the database may take to answer"
    )
    ops_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="A port on which a process without the web role answers /healthz, "
        "/readyz and /metrics (its own container, or several processes sharing it); 0: none",
    )
    telegram_token: str = Field(
        default="", description="Bot token from @BotFather; empty: no Telegram"
    )
    telegram_library: Literal["aiogram", "ptb"] = Field(
        default="aiogram", description="aiogram 3 or python-telegram-bot 22"
    )
    telegram_api_base: str = Field(
        default="https://api.telegram.org", description="Bot API server (a local one for tests)"
    )
    telegram_mode: Literal["polling", "webhook"] = Field(
        default="polling", description="Long polling, or a webhook on this server"
    )
    telegram_webhook_path: str = "/telegram/webhook"
    telegram_rate_per_second: float = Field(
        default=25.0, gt=0, description="Messages a second to Telegram, all chats together"
    )
    telegram_chat_interval_seconds: float = Field(
        default=1.0, ge=0, description="Seconds between two broadcast messages to one chat"
    )
    evaluation_weights: str = Field(
        default="0.4,0.6",
        description="三维考评: weights of the compound party organisation's and the evaluating "
        "unit's scores, e.g. 0.4,0.6",
    )
    telegram_webhook_secret: str = Field(
        default="",
        description="Secret token for the webhook header; derived from the token if empty",
    )

    @field_validator("evaluation_weights")
    @classmethod
    def _two_weights(cls, value: str) -> str:
        parse_weights(value)
        return value

    @property
    def evaluation_weight_pair(self) -> tuple[float, float]:
        return parse_weights(self.evaluation_weights)

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"


def parse_weights(value: str) -> tuple[float, float]:
    """``"0.4,0.6"`` or ``"4:6"``: two non-negative weights, scaled to add up to 1."""
    parts = value.replace(":", ",").split(",")
    try:
        first, second = (float(p) for p in parts)
    except ValueError:
        raise ValueError(
            f"evaluation weights must be two numbers, e.g. 0.4,0.6: {value!r}"
        ) from None
    if first < 0 or second < 0 or first + second <= 0:
        raise ValueError(f"evaluation weights must be non-negative, not both zero: {value!r}")
    total = first + second
    return first / total, second / total

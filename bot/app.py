"""Assembly: settings in, a running program out (database, core, channels, worker).

``create_app`` serves the CLI, the tests and the benchmarks alike; tests swap the
channels for recording ones and drive ``app.handle`` and ``app.worker`` directly.

Usage::

    app = create_app(Settings(database_url="sqlite+aiosqlite:///var/linli.db"))
    async with app:                       # migrates, loads the signing key
        outcome = await app.handle(event)
        await app.worker.drain()
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType

from aiohttp import web
from sqlalchemy import select

from bot.admin.auth import DashboardAuth
from bot.admin.stats import DashboardStats
from bot.admin.views import Dashboard, add_dashboard
from bot.channels import load_channel_class
from bot.channels.base import Channel
from bot.channels.telegram.common import Bridge, TelegramChannel, TelegramOptions
from bot.channels.telegram.webhook import add_webhook_route, webhook_secret
from bot.channels.web import WebChannel, WebServices, create_web_app
from bot.channels.web_store import WebStore
from bot.config import Settings
from bot.core.buttons import ButtonSigner
from bot.core.catalog import load_catalog
from bot.core.context import CoreConfig
from bot.core.dispatcher import Dispatcher, Outcome
from bot.core.events import Incoming
from bot.demo import PERSONAS
from bot.observability.health import Readiness
from bot.observability.metrics import Metrics
from bot.observability.routes import Observability, add_observability_routes
from bot.outbox.pacing import ChannelRate, Pacer, local_bucket
from bot.outbox.shared_rate import RedisRates
from bot.outbox.worker import OutboxPolicy, OutboxWorker
from bot.roles import ALL_ROLES, ServeRole, run_exclusively
from bot.scheduler.jobs import Jobs
from bot.scheduler.runner import Scheduler
from bot.storage.db import Database
from bot.storage.exclusive import exclusive_lock
from bot.storage.files import FileStore
from bot.storage.migrate import upgrade
from bot.storage.models import AppSecret, ChannelIdentity, RoleGrant, SentPoll, User, utcnow
from handlers import build_router
from handlers.directory import room_address, usable_invite
from handlers.menu import COVERAGE_ROLES
from handlers.profile import short_address

log = logging.getLogger(__name__)

# Commands offered in Telegram's menu, in this order: everyone's, and the longer one a
# handler's private chat gets (anyone typing a command they may not use is told so).
TELEGRAM_MENU = ("start", "menu", "report", "mycases", "ask", "me", "help", "cancel")
TELEGRAM_STAFF_MENU = (
    "todo",
    "menu",
    "report",
    "mycases",
    "ask",
    "coverage",
    "stats",
    "me",
    "help",
)
SUPERVISOR_COMMANDS = ("coverage", "stats")  # only for those who oversee a building or more


COVERAGE_ROLE_NAMES = {role.value for role in COVERAGE_ROLES}


def telegram_channel(settings: Settings) -> TelegramChannel:
    """The adapter of the configured library; only that library is imported."""
    cls = load_channel_class(settings.telegram_library)
    assert issubclass(cls, TelegramChannel)
    return cls(TelegramOptions(token=settings.telegram_token, api_base=settings.telegram_api_base))


class App:
    def __init__(
        self,
        settings: Settings,
        *,
        channels: Mapping[str, Channel] | None = None,
        db: Database | None = None,
    ) -> None:
        self.settings = settings
        self.db = db or Database(settings.database_url)
        self.catalog = load_catalog(settings.locale)
        self.router = build_router(self.catalog)
        self.web_store = WebStore(self.db)
        self.files = FileStore(Path(settings.files_dir))
        self.channels: dict[str, Channel] = dict(channels or {"web": WebChannel(self.web_store)})
        if settings.telegram_token and "telegram" not in self.channels:
            self.channels["telegram"] = telegram_channel(settings)
        self.telegram: TelegramChannel | None = None
        if isinstance(found := self.channels.get("telegram"), TelegramChannel):
            self.telegram = found
            found.bind(
                Bridge(
                    handle=self.handle,
                    save_image=self.files.save_image,
                    save_upload=self.files.save_upload,
                    read_file=lambda ref: self.files.path(ref).read_bytes(),
                    commands=self.telegram_commands,
                    staff_menus=self.telegram_staff_menus,
                    remember_poll=self.remember_poll,
                    recall_poll=self.recall_poll,
                )
            )
        # With Redis, every process's worker draws from one bucket per channel.
        self.shared_rates = (
            RedisRates.from_url(settings.redis_url, prefix=settings.redis_prefix)
            if settings.redis_url
            else None
        )
        self.metrics = Metrics(
            self.db,
            channels=self.channels,
            scrape_timeout_seconds=settings.ready_timeout_seconds,
        )
        self.worker = OutboxWorker(
            self.db,
            self.channels,
            OutboxPolicy(
                lease_seconds=settings.outbox_lease_seconds,
                max_attempts=settings.outbox_max_attempts,
                backoff_base_seconds=settings.outbox_backoff_base_seconds,
                poll_seconds=settings.outbox_poll_seconds,
                concurrency=settings.outbox_concurrency,
            ),
            pacer=Pacer(
                {
                    "telegram": ChannelRate(
                        settings.telegram_rate_per_second, settings.telegram_chat_interval_seconds
                    )
                },
                bucket=self.shared_rates.bucket if self.shared_rates else local_bucket,
            ),
            on_result=self.metrics.observe_send,
        )
        self._dispatcher: Dispatcher | None = None
        self.signer: ButtonSigner | None = None  # set by start()
        self.dashboard_auth = DashboardAuth(self.db)
        self.scheduler: Scheduler | None = None
        self.core_config = CoreConfig(
            max_text_length=settings.max_text_length,
            sla_scale=settings.sla_scale,
            timezone=settings.timezone,
            files_dir=settings.files_dir,
        )

    async def __aenter__(self) -> App:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self, *, migrate: bool = True) -> None:
        if migrate:
            await upgrade(self.db)
        signer = self.signer = ButtonSigner(await self._button_secret())
        self.scheduler = Scheduler(
            Jobs(
                self.db,
                signer,
                self.catalog,
                self.core_config,
                on_report=self.metrics.observe_jobs,
            ),
            self.settings.scheduler_interval_seconds,
            on_work=self.worker.wake,
        )
        self._dispatcher = Dispatcher(
            self.db,
            self.router,
            self.catalog,
            signer,
            config=self.core_config,
            on_commit=self.worker.wake,
            observe=self.metrics.observe_update,
        )

    async def close(self) -> None:
        if self.shared_rates is not None:
            await self.shared_rates.close()
        await self.db.dispose()

    @property
    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            raise RuntimeError("App.start() has not run")
        return self._dispatcher

    async def handle(self, event: Incoming) -> Outcome:
        return await self.dispatcher.handle(event)

    # -- web ------------------------------------------------------------------
    def web_app(self) -> web.Application:
        services = WebServices(
            handle=self.handle,
            personas=self.personas,
            invite_valid=self.invite_valid,
            errors=self.catalog.t,
            poll_ms=self.settings.web_poll_ms,
            max_text=self.settings.max_text_length,
            public_https=self.settings.base_url.startswith("https://"),
            save_upload=self.files.save_upload,
            file_path=self.files.path,
        )
        app = create_web_app(services, self.web_store, trust_path=self.settings.web_trust_path)
        add_observability_routes(app, self.observability())
        stats = DashboardStats(self.db, self.catalog, self.settings.timezone)
        add_dashboard(
            app,
            Dashboard(
                auth=self.dashboard_auth,
                db=self.db,
                catalog=self.catalog,
                timezone=self.settings.timezone,
                public_https=self.settings.base_url.startswith("https://"),
                statistics=stats.page,
                chart=stats.chart,
            ),
        )
        if self.telegram is not None and self.settings.telegram_mode == "webhook":
            add_webhook_route(
                app,
                self.telegram,
                webhook_secret(self.settings.telegram_token, self.settings.telegram_webhook_secret),
                self.settings.telegram_webhook_path,
            )
        return app

    def observability(self) -> Observability:
        """What ``/healthz``, ``/readyz`` and ``/metrics`` answer from."""
        return Observability(
            metrics=self.metrics,
            readiness=Readiness(self.db, timeout_seconds=self.settings.ready_timeout_seconds),
            token=self.settings.metrics_token,
        )

    def ops_web_app(self) -> web.Application:
        """Only ``/healthz``, ``/readyz`` and ``/metrics``: for a process without the web
        chat (a worker or scheduler role) to be probed and scraped on a port of its own."""
        app = web.Application()
        add_observability_routes(app, self.observability())
        return app

    def telegram_commands(self, names: tuple[str, ...] = TELEGRAM_MENU) -> list[tuple[str, str]]:
        """The command menu residents see in Telegram (``setMyCommands``)."""
        return [
            (name, self.catalog.t(f"commands.descriptions.{name}"))
            for name in names
            if name in self.router.commands
        ]

    async def telegram_staff_menus(self) -> list[tuple[int, list[tuple[str, str]]]]:
        """Each handler's Telegram chat with the staff menu (登记情况 only for those who
        may see it)."""
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(ChannelIdentity.chat_id, RoleGrant.role)
                    .join(RoleGrant, RoleGrant.user_id == ChannelIdentity.user_id)
                    .where(ChannelIdentity.channel == "telegram")
                )
            ).all()
        roles: dict[int, set[str]] = {}
        for chat_id, role in rows:
            if chat_id.lstrip("-").isdigit():
                roles.setdefault(int(chat_id), set()).add(role)
        menus = []
        for chat_id, held in roles.items():
            names = tuple(
                n
                for n in TELEGRAM_STAFF_MENU
                if n not in SUPERVISOR_COMMANDS or held & COVERAGE_ROLE_NAMES
            )
            menus.append((chat_id, self.telegram_commands(names)))
        return menus

    async def remember_poll(self, poll_id: str, chat_id: str, options: list[str]) -> None:
        async with self.db.transaction() as session:
            session.add(
                SentPoll(channel="telegram", poll_id=poll_id, chat_id=chat_id, options=options)
            )

    async def recall_poll(self, poll_id: str) -> list[str] | None:
        async with self.db.transaction() as session:
            options = await session.scalar(
                select(SentPoll.options).where(
                    SentPoll.channel == "telegram", SentPoll.poll_id == poll_id
                )
            )
        return None if options is None else list(options)

    async def serve(
        self,
        stop: asyncio.Event,
        roles: frozenset[ServeRole] = ALL_ROLES,
        *,
        reuse_port: bool = False,
    ) -> None:
        """The given roles until ``stop`` is set; finishes in-flight work.

        ``reuse_port``: several processes listen on one port (SO_REUSEPORT) and the
        kernel spreads connections among them. The scheduler and Telegram long polling
        run only while this process holds their lock (``bot/roles.py``).
        """
        web_role, worker_role = ServeRole.WEB in roles, ServeRole.WORKER in roles
        if web_role and self.router.warm is not None:
            await asyncio.to_thread(self.router.warm)
        # A process without the web chat answers /healthz, /readyz and /metrics on
        # LINLI_OPS_PORT when one is given (a worker or scheduler container), so it is
        # probed and scraped like the web; without one it binds nothing, so it can run
        # beside a web process on the same host.
        port = self.settings.port if web_role else self.settings.ops_port
        runner = None
        if port:
            runner = web.AppRunner(
                self.web_app() if web_role else self.ops_web_app(), handle_signals=False
            )
            await runner.setup()
            site = web.TCPSite(runner, self.settings.host, port, reuse_port=reuse_port or None)
            await site.start()
        if web_role or worker_role:
            for channel in self.channels.values():
                await channel.start()
        tasks = []
        if worker_role:
            tasks.append(asyncio.create_task(self.worker.run(stop), name="outbox-worker"))
        if ServeRole.SCHEDULER in roles:
            assert self.scheduler is not None
            tasks.append(self._exclusive_task("scheduler", self.scheduler.run, stop))
        polling = None
        if web_role and self.telegram is not None and self.settings.telegram_mode == "polling":
            polling = self._exclusive_task("telegram-polling", self.telegram.poll, stop)
        try:
            await stop.wait()
        finally:
            if runner is not None:
                await runner.cleanup()  # stops accepting, lets in-flight requests finish
            if polling is not None:
                await polling  # finishes the updates it holds, confirms them
            if self.telegram is not None:
                await self.telegram.drain()
            await asyncio.gather(*tasks)
            if web_role or worker_role:
                for channel in self.channels.values():
                    await channel.stop()

    def _exclusive_task(
        self, name: str, body: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event
    ) -> asyncio.Task[None]:
        lock = exclusive_lock(self.db, name)
        run = run_exclusively(lock, name, body, stop, standby_seconds=self.settings.standby_seconds)
        return asyncio.create_task(run, name=name)

    async def personas(self) -> list[dict[str, str]]:
        """Demo personas with a label saying who they are (role or address)."""
        ids = [p.id for p in PERSONAS]
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(ChannelIdentity.external_id, User)
                    .join(User, User.id == ChannelIdentity.user_id)
                    .where(ChannelIdentity.channel == "web", ChannelIdentity.external_id.in_(ids))
                )
            ).tuples()
            found = {external_id: user for external_id, user in rows}
            out = []
            for persona_id in ids:
                user = found.get(persona_id)
                if user is None:
                    continue
                role = await session.scalar(
                    select(RoleGrant.role).where(RoleGrant.user_id == user.id).limit(1)
                )
                if role:
                    label = self.catalog.t(f"roles.{role}")
                else:
                    address = await room_address(session, user.room_id) if user.room_id else None
                    label = self.catalog.t("roles.resident")
                    if address is not None:
                        label += " · " + short_address(self.catalog, address)
                out.append({"id": persona_id, "name": user.name, "label": label})
        return out

    async def invite_valid(self, code: str) -> bool:
        async with self.db.transaction() as session:
            return await usable_invite(session, code, utcnow()) is not None

    async def _button_secret(self) -> bytes:
        if self.settings.secret_key:
            return hashlib.sha256(self.settings.secret_key.encode()).digest()
        async with self.db.transaction() as session:
            stmt = self.db.insert(AppSecret).values(name="buttons", value=secrets.token_hex(32))
            await session.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
            value = await session.scalar(select(AppSecret.value).where(AppSecret.name == "buttons"))
        assert value is not None
        return bytes.fromhex(value)


def create_app(settings: Settings, **kwargs: object) -> App:
    return App(settings, **kwargs)  # type: ignore[arg-type]

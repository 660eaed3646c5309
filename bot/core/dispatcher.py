"""The dispatcher: one update in, one transaction, replies out through the outbox.

The pipeline (each a named step below):

    _lock_conversation  upsert the conversation row: creates it and row-locks it
    _find_processed     a redelivered update returns what it answered before, no effects
    load_viewer         who is this
    _route              button → command → current flow step → fallback
    _save_state         write the flow position back
    _enqueue            every reply becomes an outbox row (signed buttons)
    _record             remember the update id and its reply ids
    commit              all of the above, or none of it

A handler that raises rolls its whole transaction back; the update is then recorded
with a generic apology so the user is never left without an answer and a redelivery
does not replay the failure. Database outages propagate, so the adapter can ask the
platform to redeliver.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.buttons import ButtonSigner, unpack
from bot.core.catalog import Catalog
from bot.core.context import Context, CoreConfig, FlowState
from bot.core.events import Command, Incoming
from bot.core.flows import STEP_ACTION, Route, Router
from bot.core.locks import KeyedLocks
from bot.core.replies import Reply
from bot.core.viewer import Viewer, load_viewer
from bot.outbox.enqueue import OutboxWriter
from bot.storage.db import Database
from bot.storage.models import ConversationState, OutboxMessage, ProcessedUpdate, utcnow

log = logging.getLogger(__name__)

INFRASTRUCTURE_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


@dataclass(frozen=True)
class SentReply:
    """A reply as enqueued: ``ref`` is its outbox id, ``payload`` has signed buttons."""

    ref: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    replies: list[SentReply] = field(default_factory=list)
    duplicate: bool = False


Decide = Callable[[Incoming, Context], Awaitable[list[Reply]]]
# Told after every update: its channel, how it went (ok, duplicate, failed, error) and
# the seconds it took. Metrics hang here; the core knows nothing of them.
Observe = Callable[[str, str, float], None]


def button_audience(event: Incoming) -> str:
    """Who may press the buttons of a reply: the user in a private chat; anyone in the
    group for a group chat's (they answer read-only questions for all to see)."""
    return event.user_id if event.chat_type == "private" else f"group{event.chat_id}"


class Dispatcher:
    def __init__(
        self,
        db: Database,
        router: Router,
        catalog: Catalog,
        signer: ButtonSigner,
        *,
        config: CoreConfig | None = None,
        on_commit: Callable[[], None] | None = None,
        observe: Observe | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.router = router
        self.catalog = catalog
        self.signer = signer
        self.config = config or CoreConfig()
        self.on_commit = on_commit
        self.observe = observe
        self.clock = clock
        self._locks = KeyedLocks()

    async def handle(self, event: Incoming) -> Outcome:
        started = time.perf_counter()
        result = "error"  # unless _handle returns: the update was not stored
        try:
            outcome, result = await self._handle(event)
            return outcome
        finally:
            if self.observe is not None:
                self.observe(event.channel, result, time.perf_counter() - started)

    async def _handle(self, event: Incoming) -> tuple[Outcome, str]:
        """The outcome and how it went: ``ok``, ``duplicate`` or ``failed`` (apologised)."""
        if (
            self.router.prepare is not None
            and event.text
            and len(event.text) <= (self.config.max_text_length)
        ):
            self.router.prepare(event)
        where = {"channel": event.channel, "update_id": event.update_id}
        async with self._locks.hold(event.conversation_key):
            try:
                outcome = await self._process(event, self._route)
                return outcome, "duplicate" if outcome.duplicate else "ok"
            except INFRASTRUCTURE_ERRORS:
                raise
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    raise
                log.exception("update %s:%s failed", event.channel, event.update_id, extra=where)
            except Exception:
                log.exception("update %s:%s failed", event.channel, event.update_id, extra=where)
            return await self._process(event, self._apologise), "failed"

    async def _process(self, event: Incoming, decide: Decide) -> Outcome:
        async with self.db.transaction() as session:
            now = self.clock()
            state = await self._lock_conversation(session, event, now)
            prior = await self._find_processed(session, event)
            if prior is not None:
                return Outcome(await self._replay(session, prior), duplicate=True)
            ctx = Context(
                session=session,
                event=event,
                viewer=await load_viewer(session, event.channel, event.user_id),
                state=state,
                catalog=self.catalog,
                router=self.router,
                outbox=OutboxWriter(session, self.signer),
                now=now,
                config=self.config,
            )
            replies = await decide(event, ctx)
            await self._save_state(session, event, ctx.state, now)
            sent = [await self._enqueue(ctx, reply) for reply in replies]
            await self._record(session, event, [s.ref for s in sent], now)
        if self.on_commit is not None:
            self.on_commit()
        return Outcome(sent)

    # -- pipeline steps -----------------------------------------------------
    async def _lock_conversation(
        self, session: AsyncSession, event: Incoming, now: datetime
    ) -> FlowState:
        table = ConversationState.__table__
        stmt = self.db.insert(table).values(
            channel=event.channel,
            chat_id=event.chat_id,
            user_id=event.user_id,
            scope="",
            data={},
            nonce="",
            version=0,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["channel", "chat_id", "user_id", "scope"],
            set_={"updated_at": stmt.excluded.updated_at},
        ).returning(table.c.flow, table.c.step, table.c.data, table.c.nonce, table.c.expires_at)
        row = (await session.execute(stmt)).one()
        return FlowState(
            flow=row.flow,
            step=row.step,
            data=dict(row.data or {}),
            nonce=row.nonce,
            expires_at=row.expires_at,
        )

    async def _find_processed(self, session: AsyncSession, event: Incoming) -> list[int] | None:
        refs = await session.scalar(
            select(ProcessedUpdate.reply_refs).where(
                ProcessedUpdate.channel == event.channel,
                ProcessedUpdate.update_id == event.update_id,
            )
        )
        return None if refs is None else list(refs)

    async def _replay(self, session: AsyncSession, refs: list[int]) -> list[SentReply]:
        if not refs:
            return []
        rows = await session.execute(
            select(OutboxMessage.id, OutboxMessage.payload)
            .where(OutboxMessage.id.in_(refs))
            .order_by(OutboxMessage.id)
        )
        return [SentReply(ref, payload) for ref, payload in rows]

    async def _route(self, event: Incoming, ctx: Context) -> list[Reply]:
        limit = self.config.max_text_length
        if event.text is not None and len(event.text) > limit:
            return [ctx.reply("errors.too_long", limit=limit, length=len(event.text))]
        if event.rejected_upload is not None:
            return [ctx.reply(event.rejected_upload)]
        in_group = event.chat_type != "private" and self.router.group is not None
        if event.button is not None:
            return await self._press(event, ctx, in_group=in_group)
        if in_group:
            assert self.router.group is not None
            return await self.router.group(event, ctx)
        if ctx.state.active and ctx.state.expires_at and ctx.state.expires_at <= ctx.now:
            ctx.finish()
        if event.document is not None and not self._wants_document(ctx):
            return [ctx.reply("files.document_not_here")]
        command = event.command or self._alias(event.text)
        if command is not None:
            route = self.router.commands.get(command.name)
            if route is None:
                return await self._fallback(event, ctx, unknown_command=True)
            return await self._call(route, event, ctx, command.args.split() if command.args else [])
        first = await self.router.text_hook(event, ctx) if self.router.text_hook else []
        if ctx.state.active:
            flow = self.router.flows[ctx.state.flow or ""]
            return [*first, *await flow.steps[ctx.state.step or ""](event, ctx)]
        return [*first, *await self._fallback(event, ctx)]

    def _wants_document(self, ctx: Context) -> bool:
        if not ctx.state.active:
            return False
        flow = self.router.flows.get(ctx.state.flow or "")
        return flow is not None and (ctx.state.step or "") in flow.document_steps

    async def _press(self, event: Incoming, ctx: Context, *, in_group: bool) -> list[Reply]:
        audience = f"{event.channel}:{button_audience(event)}"
        data = self.signer.verify(event.button or "", audience)
        if data is None:
            log.warning(
                "forged or foreign button from %s:%s",
                event.channel,
                event.update_id,
                extra={"channel": event.channel, "update_id": event.update_id},
            )
            return [ctx.reply("errors.forged_button")]
        action, args = unpack(data)
        if in_group and action not in self.router.group_actions:
            assert self.router.group is not None
            return await self.router.group(event, ctx)
        if action == STEP_ACTION:
            state = ctx.state
            expired = state.expires_at is not None and state.expires_at <= ctx.now
            if not args or not state.active or args[0] != state.nonce or expired:
                return [ctx.reply("errors.stale_button")]
            ctx.args = args[1:]
            flow = self.router.flows[state.flow or ""]
            return await flow.steps[state.step or ""](event, ctx)
        route = self.router.actions.get(action)
        if route is None:
            return [ctx.reply("errors.stale_button")]
        return await self._call(route, event, ctx, args)

    async def _call(
        self, route: Route, event: Incoming, ctx: Context, args: list[str]
    ) -> list[Reply]:
        if not route.allows(ctx.viewer):
            return [self._denial(ctx, ctx.viewer)]
        ctx.args = args
        return await route.handler(event, ctx)

    def _denial(self, ctx: Context, viewer: Viewer) -> Reply:
        if not viewer.registered:
            return ctx.reply("errors.need_registration")
        return ctx.reply("errors.denied")

    async def _fallback(
        self, event: Incoming, ctx: Context, *, unknown_command: bool = False
    ) -> list[Reply]:
        if unknown_command:
            ctx.args = ["unknown_command"]
        if self.router.fallback is None:
            return [ctx.reply("errors.unknown")]
        return await self.router.fallback(event, ctx)

    def _alias(self, text: str | None) -> Command | None:
        if not text:
            return None
        name = self.router.aliases.get(text.strip().lower())
        return Command(name) if name else None

    async def _apologise(self, event: Incoming, ctx: Context) -> list[Reply]:
        ctx.state.changed = False
        return [ctx.reply("errors.generic")]

    async def _save_state(
        self, session: AsyncSession, event: Incoming, state: FlowState, now: datetime
    ) -> None:
        if not state.changed:
            return
        await session.execute(
            update(ConversationState)
            .where(
                ConversationState.channel == event.channel,
                ConversationState.chat_id == event.chat_id,
                ConversationState.user_id == event.user_id,
                ConversationState.scope == "",
            )
            .values(
                flow=state.flow,
                step=state.step,
                data=state.data,
                nonce=state.nonce,
                expires_at=state.expires_at,
                version=ConversationState.version + 1,
                updated_at=now,
            )
        )

    async def _enqueue(self, ctx: Context, reply: Reply) -> SentReply:
        event = ctx.event
        ref, payload = await ctx.outbox.enqueue(
            channel=event.channel,
            chat_id=event.chat_id,
            audience_id=button_audience(event),
            reply=reply,
            user_id=ctx.viewer.user.id if ctx.viewer.user else None,
            origin=f"{event.channel}:{event.update_id}"[:80],
        )
        return SentReply(ref, payload)

    async def _record(
        self, session: AsyncSession, event: Incoming, refs: list[int], now: datetime
    ) -> None:
        session.add(
            ProcessedUpdate(
                channel=event.channel,
                update_id=event.update_id,
                user_id=event.user_id,
                reply_refs=refs,
                processed_at=now,
            )
        )
        await session.flush()

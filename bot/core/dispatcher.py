"""The dispatcher: updates in, one transaction, replies out through the outbox.

Updates that arrive while a transaction runs are handled together in the next one
(``bot.storage.group_commit``): a batch costs the same few statements as a single update,
which is what lets one process on SQLite keep up with a busy compound. A batch never
holds two updates of one conversation, and its handlers run one after another in the
batch's transaction, so the result is what handling them one at a time would give.

The pipeline (each a named step below, each one statement for the whole batch):

    _lock_conversations  upsert the conversation rows: creates and row-locks them
    _find_processed      a redelivered update returns what it answered before, no effects
    load_viewers         who is each sender
    _route               per update: button → command → current flow step → fallback
    _save_states         write the flow positions back
    _enqueue             every reply becomes an outbox row (signed buttons)
    _record              remember the update ids and their reply ids
    commit               all of the above, or none of it

A handler that raises rolls the whole batch back; each of its updates is then handled
alone, and the one that fails again is recorded with a generic apology, so the user is
never left without an answer and a redelivery does not replay the failure. Database
outages propagate, so the adapter can ask the platform to redeliver.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.buttons import ButtonSigner, unpack
from bot.core.catalog import Catalog
from bot.core.context import Context, CoreConfig, FlowState
from bot.core.events import Command, Incoming
from bot.core.flows import STEP_ACTION, Route, Router
from bot.core.locks import KeyedLocks
from bot.core.replies import Reply
from bot.core.viewer import Viewer, load_viewers
from bot.outbox.enqueue import OutboxWriter
from bot.storage.db import Database, pairs_in
from bot.storage.group_commit import GroupCommit
from bot.storage.models import (
    ConversationState,
    OutboxMessage,
    ProcessedUpdate,
    utcnow,
)

log = logging.getLogger(__name__)

INFRASTRUCTURE_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)
# Updates per transaction at most: enough that a burst of webhook deliveries shares a few
# commits, few enough that one batch's statements stay far below SQLite's variable limit.
MAX_BATCH = 64


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
        max_batch: int = MAX_BATCH,
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
        self.batches: GroupCommit[Incoming, Outcome | None] = GroupCommit(
            self._run_batch, max_batch=max_batch
        )

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
        # The key lock keeps a conversation's updates in arrival order and out of each
        # other's batch: a batch is built from updates whose conversations are free.
        async with self._locks.hold(event.conversation_key):
            try:
                outcome = await self.batches.submit(event)
                if outcome is None:  # its batch rolled back for another update's failure
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

    async def _run_batch(self, take: Callable[[], list[Incoming]]) -> list[Outcome | None]:
        """The waiting updates in one transaction; None for each if it rolled back.

        A single update's failure propagates to its caller, which apologises. In a batch
        nobody knows yet whose handler failed: each update is then handled alone.
        """
        events: list[Incoming] = []

        def take_and_keep() -> list[Incoming]:
            events.extend(take())
            return events

        try:
            return list(await self._process_many(take_and_keep, self._route))
        except Exception as exc:
            if len(events) <= 1:
                raise
            log.info("a batch of %d updates rolled back (%s): each alone", len(events), exc)
            return [None] * len(events)

    async def _process(self, event: Incoming, decide: Decide) -> Outcome:
        return (await self._process_many(lambda: [event], decide))[0]

    async def _process_many(
        self, take: Callable[[], list[Incoming]], decide: Decide
    ) -> list[Outcome]:
        async with self.db.transaction() as session:
            events = take()  # after the write lock: latecomers join this transaction
            now = self.clock()
            states = await self._lock_conversations(session, events, now)
            priors = await self._find_processed(session, events)
            viewers = await load_viewers(session, [(e.channel, e.user_id) for e in events])
            outcomes: list[Outcome | None] = []
            decided: list[tuple[Context, list[Reply]]] = []
            for event, state in zip(events, states, strict=True):
                prior = priors.get((event.channel, event.update_id))
                if prior is not None:
                    outcomes.append(Outcome(await self._replay(session, prior), duplicate=True))
                    continue
                ctx = Context(
                    session=session,
                    event=event,
                    viewer=viewers[(event.channel, event.user_id)],
                    state=state,
                    catalog=self.catalog,
                    router=self.router,
                    outbox=OutboxWriter(session, self.signer),
                    now=now,
                    config=self.config,
                )
                decided.append((ctx, await decide(event, ctx)))
                outcomes.append(None)
            await self._save_states(session, [ctx for ctx, _ in decided], now)
            sent = await self._enqueue(session, decided)
            await self._record(session, [ctx.event for ctx, _ in decided], sent, now)
        if self.on_commit is not None and decided:
            self.on_commit()
        fresh = iter(sent)
        return [outcome or Outcome(next(fresh)) for outcome in outcomes]

    # -- pipeline steps -----------------------------------------------------
    async def _lock_conversations(
        self, session: AsyncSession, events: list[Incoming], now: datetime
    ) -> list[FlowState]:
        """Every conversation row of the batch, created if new and row-locked. Upserted
        in key order, so two processes' batches lock shared rows in the same order."""
        table = ConversationState.__table__
        keys = sorted({event.conversation_key for event in events})
        stmt = self.db.insert(table).values(
            [
                {
                    "channel": channel,
                    "chat_id": chat_id,
                    "user_id": user_id,
                    "scope": "",
                    "data": {},
                    "nonce": "",
                    "version": 0,
                    "updated_at": now,
                }
                for channel, chat_id, user_id in keys
            ]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["channel", "chat_id", "user_id", "scope"],
            set_={"updated_at": stmt.excluded.updated_at},
        ).returning(
            table.c.channel,
            table.c.chat_id,
            table.c.user_id,
            table.c.flow,
            table.c.step,
            table.c.data,
            table.c.nonce,
            table.c.expires_at,
        )
        states = {
            (row.channel, row.chat_id, row.user_id): FlowState(
                flow=row.flow,
                step=row.step,
                data=row.data or {},  # decoded for this row: the handler's own to edit
                nonce=row.nonce,
                expires_at=row.expires_at,
                original=copy.deepcopy(row.data or {}),
            )
            for row in await session.execute(stmt)
        }
        return [states[event.conversation_key] for event in events]

    async def _find_processed(
        self, session: AsyncSession, events: list[Incoming]
    ) -> dict[tuple[str, str], list[int]]:
        rows = await session.execute(
            select(
                ProcessedUpdate.channel, ProcessedUpdate.update_id, ProcessedUpdate.reply_refs
            ).where(
                pairs_in(
                    ProcessedUpdate.channel,
                    ProcessedUpdate.update_id,
                    [(e.channel, e.update_id) for e in events],
                )
            )
        )
        return {(channel, update_id): list(refs or []) for channel, update_id, refs in rows}

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

    async def _save_states(
        self, session: AsyncSession, contexts: list[Context], now: datetime
    ) -> None:
        """The flow positions that changed, in one executemany UPDATE."""
        changed = [ctx for ctx in contexts if ctx.state.dirty]
        if not changed:
            return
        table = ConversationState.__table__
        await session.execute(
            update(table)
            .where(
                table.c.channel == bindparam("k_channel"),
                table.c.chat_id == bindparam("k_chat_id"),
                table.c.user_id == bindparam("k_user_id"),
                table.c.scope == "",
            )
            .values(
                flow=bindparam("v_flow"),
                step=bindparam("v_step"),
                data=bindparam("v_data"),
                nonce=bindparam("v_nonce"),
                expires_at=bindparam("v_expires_at"),
                version=table.c.version + 1,
                updated_at=now,
            ),
            [
                {
                    "k_channel": ctx.event.channel,
                    "k_chat_id": ctx.event.chat_id,
                    "k_user_id": ctx.event.user_id,
                    "v_flow": ctx.state.flow,
                    "v_step": ctx.state.step,
                    "v_data": ctx.state.data,
                    "v_nonce": ctx.state.nonce,
                    "v_expires_at": ctx.state.expires_at,
                }
                for ctx in changed
            ],
        )

    async def _enqueue(
        self, session: AsyncSession, decided: list[tuple[Context, list[Reply]]]
    ) -> list[list[SentReply]]:
        """Every update's replies as outbox rows in one INSERT; per update, its replies."""
        drafts = [
            [
                ctx.outbox.draft(
                    channel=ctx.event.channel,
                    chat_id=ctx.event.chat_id,
                    audience_id=button_audience(ctx.event),
                    reply=reply,
                    user_id=ctx.viewer.user.id if ctx.viewer.user else None,
                    origin=f"{ctx.event.channel}:{ctx.event.update_id}"[:80],
                )
                for reply in replies
            ]
            for ctx, replies in decided
        ]
        rows = [row for update_rows in drafts for row in update_rows]
        refs = iter(await OutboxWriter(session, self.signer).insert(*rows))
        return [
            [SentReply(next(refs), row["payload"]) for row in update_rows] for update_rows in drafts
        ]

    async def _record(
        self,
        session: AsyncSession,
        events: list[Incoming],
        sent: list[list[SentReply]],
        now: datetime,
    ) -> None:
        if not events:
            return
        await session.execute(
            insert(ProcessedUpdate),
            [
                {
                    "channel": event.channel,
                    "update_id": event.update_id,
                    "user_id": event.user_id,
                    "reply_refs": [s.ref for s in replies],
                    "processed_at": now,
                }
                for event, replies in zip(events, sent, strict=True)
            ],
        )

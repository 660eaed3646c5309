"""GET /metrics over HTTP: the figures move as updates are handled, messages are sent or
refused, cases are reported and escalated; each App keeps its own registry."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bot.app import App
from bot.channels.base import Rejected, RetryAfter, TransientFailure, Unreachable
from bot.channels.recording import RecordingChannel
from bot.observability.metrics import Metrics
from bot.storage.db import Database
from tests.chat import CoreChat
from tests.conftest import make_app, settings_for
from tests.factories import UNREACHABLE_DB, enqueue, web_client
from tests.scenarios.test_cases import _clock, _report_leak

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def served(db: Database) -> AsyncIterator[tuple[App, TestClient]]:
    app = await make_app(db)  # the web channel records what it is given
    client = await web_client(app)
    yield app, client
    await client.close()


async def scrape(client: TestClient, **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status == 200
    assert response.content_type == "text/plain"
    return parse(await response.text())


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_handled_updates_are_counted_by_outcome_with_their_latency(
    served: tuple[App, TestClient],
) -> None:
    _, client = served
    for _ in range(2):  # the second is a redelivery of the first
        response = await client.post(
            "/api/chat/resident-1/messages", json={"text": "/start", "client_id": "u-1"}
        )
        assert response.status == 200
    samples = await scrape(client)
    assert value(samples, "linli_updates_total", channel="web", outcome="ok") == 1
    assert value(samples, "linli_updates_total", channel="web", outcome="duplicate") == 1
    assert value(samples, "linli_update_handle_seconds_count", channel="web") == 2
    assert value(samples, "linli_update_handle_seconds_sum", channel="web") > 0


async def test_a_failing_handler_counts_as_failed(served: tuple[App, TestClient]) -> None:
    app, client = served

    async def broken(*_: object) -> list[object]:
        raise RuntimeError("handler bug")

    app.router.fallback = broken  # type: ignore[assignment]
    await client.post("/api/chat/resident-1/messages", json={"text": "随便说点什么"})
    samples = await scrape(client)
    assert value(samples, "linli_updates_total", channel="web", outcome="failed") == 1
    assert value(samples, "linli_updates_total", channel="web", outcome="ok") == 0


async def test_outbox_queue_gauges_follow_the_database_and_sent_messages_are_counted(
    served: tuple[App, TestClient],
) -> None:
    app, client = served
    empty = await scrape(client)
    assert value(empty, "linli_database_up") == 1
    assert value(empty, "linli_outbox_queue_depth", channel="web", lane="interactive") == 0
    assert ("linli_outbox_queue_depth", frozenset({"channel": "web", "lane": "bulk"}.items())) in (
        empty
    )
    await client.post("/api/chat/resident-1/messages", json={"text": "/start"})
    queued = await scrape(client)
    depth = value(queued, "linli_outbox_queue_depth", channel="web", lane="interactive")
    assert depth >= 1
    age = value(queued, "linli_outbox_oldest_unsent_age_seconds", channel="web", lane="interactive")
    assert 0 <= age < 60

    assert await app.worker.drain() == depth
    drained = await scrape(client)
    assert value(drained, "linli_outbox_queue_depth", channel="web", lane="interactive") == 0
    assert value(drained, "linli_outbox_messages_total", channel="web", result="sent") == depth


async def test_refused_sends_are_counted_by_reason(served: tuple[App, TestClient]) -> None:
    app, client = served
    channel = app.channels["web"]
    assert isinstance(channel, RecordingChannel)
    for chat in ("c1", "c2", "c3", "c4", "c5"):
        await enqueue(app.db, chat, "通知")
    channel.fail_next(
        RetryAfter(5), Unreachable("403 blocked"), TransientFailure("reset"), Rejected("400")
    )
    assert await app.worker.run_once() == 5
    samples = await scrape(client)
    for result in ("sent", "rate_limited", "unreachable", "transient", "rejected"):
        assert value(samples, "linli_outbox_messages_total", channel="web", result=result) == 1
    # The rate-limited and the transient one wait for their retry: still unsent.
    assert value(samples, "linli_outbox_queue_depth", channel="web", lane="interactive") == 2


async def test_open_cases_by_compound_and_escalations_by_the_sla_sweep(db: Database) -> None:
    chat = CoreChat(await make_app(db))
    await chat.open()
    client = await web_client(chat.app)
    try:
        clock = _clock(chat)
        await _report_leak(chat)
        reported = await scrape(client)
        assert value(reported, "linli_open_cases", compound="SDDJ") == 1
        assert value(reported, "linli_escalations_total") == 0

        clock.advance(hours=49)  # past the floor level's 48 h
        assert chat.app.scheduler is not None
        await chat.app.scheduler.tick()
        escalated = await scrape(client)
        assert value(escalated, "linli_escalations_total") == 1
        assert value(escalated, "linli_open_cases", compound="SDDJ") == 1
    finally:
        await client.close()
        await chat.close()


async def test_each_app_counts_in_its_own_registry(db: Database) -> None:
    first = await make_app(db)
    second = App(settings_for(db), channels={"web": RecordingChannel("web")}, db=db)
    await second.start(migrate=False)
    clients = [await web_client(first), await web_client(second)]
    try:
        await clients[0].post("/api/chat/resident-1/messages", json={"text": "/start"})
        assert value(await scrape(clients[0]), "linli_updates_total", channel="web", outcome="ok")
        assert not value(
            await scrape(clients[1]), "linli_updates_total", channel="web", outcome="ok"
        )
    finally:
        for client in clients:
            await client.close()


async def test_metrics_token_is_required_when_configured(db: Database) -> None:
    app = await make_app(db, metrics_token="s3cret")
    client = await web_client(app)
    try:
        assert (await client.get("/metrics")).status == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        samples = await scrape(client, Authorization="Bearer s3cret")
        assert value(samples, "linli_database_up") == 1
    finally:
        await client.close()


async def test_database_gauges_say_down_when_the_database_does_not_answer() -> None:
    db = Database(UNREACHABLE_DB)
    try:
        samples = parse((await Metrics(db, channels=["web"]).exposition()).decode())
    finally:
        await db.dispose()
    assert value(samples, "linli_database_up") == 0
    assert ("linli_open_cases", frozenset()) not in samples

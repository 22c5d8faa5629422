"""Outbox, inbox and migrations against the real PostgreSQL and the real broker."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from skuhub_contracts.codec import Envelope, decode, encode
from skuhub_contracts.events import StockMoved
from skuhub_runtime import inbox, migrations, outbox
from skuhub_runtime.db import create_engine
from skuhub_runtime.kafka import ensure_topics
from skuhub_runtime.outbox import OutboxRelay
from skuhub_runtime.producer import KafkaPublisher
from skuhub_runtime.service import ServiceRuntime
from skuhub_runtime.settings import ServiceSettings
from tests.harness import Infrastructure, wait_until_async
from tests.integration.conftest import STOCK_MIGRATIONS
from tests.upstream import records_until

pytestmark = pytest.mark.integration


def receipt(sku: str, sequence: int) -> Envelope[StockMoved]:
    return Envelope(
        StockMoved(
            sku=sku,
            kind="receipt",
            location="4012345000009",
            quantity=Decimal(1),
            source_system="it",
            source_sequence=sequence,
            occurred_at=datetime.now(UTC),
        )
    )


def event_id(message: Any) -> str:
    """The event id of a Kafka message as the consumer reads it."""
    return decode(message.value(), message.headers()).id


async def outbox_rows(engine: AsyncEngine, schema: str) -> int:
    async with engine.connect() as conn:
        found = await conn.execute(text(f'SELECT count(*) FROM "{schema}".outbox'))
        return int(found.scalar_one())


async def ids_until(infra: Infrastructure, topic: str, sku: str, last: str) -> list[str]:
    """The event ids on ``topic`` keyed by ``sku``, up to and including the event ``last``."""
    records = await asyncio.to_thread(
        records_until,
        infra.kafka_bootstrap,
        topic,
        lambda m: m.key() == sku.encode(),
        lambda m: event_id(m) == last,
    )
    return [event_id(m) for m in records]


@contextlib.asynccontextmanager
async def started(settings: ServiceSettings, **updates: Any) -> AsyncIterator[ServiceRuntime[Any]]:
    """A stock-schema runtime with ``updates`` to its settings, started, stopped after."""
    runtime = ServiceRuntime(
        settings.model_copy(update=updates),
        unit_of_work=lambda conn: conn,
        migrations_dir=STOCK_MIGRATIONS,
    )
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


async def test_migrations_run_concurrently_apply_once(settings: ServiceSettings) -> None:
    engines = [create_engine(settings) for _ in range(3)]
    try:
        await asyncio.gather(
            *(migrations.upgrade(e, STOCK_MIGRATIONS, settings.db_schema) for e in engines)
        )
        async with engines[0].connect() as conn:
            version = (
                await conn.execute(
                    text(f'SELECT version_num FROM "{settings.db_schema}".alembic_version')
                )
            ).scalar_one()
        # The newest revision file's number: every migration applied, once.
        assert version == max(path.name[:4] for path in STOCK_MIGRATIONS.glob("[0-9]*.py"))
    finally:
        for e in engines:
            await e.dispose()


async def test_inbox_claims_each_event_id_once(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        first = await inbox.claim(conn, "c", ["a", "b", "a"])
    async with engine.begin() as conn:
        second = await inbox.claim(conn, "c", ["b", "c"])
        other_consumer = await inbox.claim(conn, "other", ["a"])
    assert first == {"a", "b"}
    assert second == {"c"}
    assert other_consumer == {"a"}


async def test_inbox_claim_rolls_back_with_the_transaction(engine: AsyncEngine) -> None:
    async def claim_then_fail() -> None:
        async with engine.begin() as conn:
            await inbox.claim(conn, "c", ["x"])
            raise RuntimeError("effect failed")

    with pytest.raises(RuntimeError, match="effect failed"):
        await claim_then_fail()
    async with engine.begin() as conn:
        assert await inbox.claim(conn, "c", ["x"]) == {"x"}


async def test_relay_publishes_committed_rows_in_order_and_never_rolled_back_ones(
    settings: ServiceSettings, engine: AsyncEngine, infra: Infrastructure
) -> None:
    await ensure_topics(settings, partitions=1)
    topic = settings.topic("stock.stock-moved.v1")
    sku = f"IT-{uuid.uuid4().hex[:6]}"
    committed = [receipt(sku, n) for n in range(5)]
    async with engine.begin() as conn:
        await outbox.enqueue(conn, [(topic, encode(e)) for e in committed])

    async def enqueue_then_fail() -> None:
        async with engine.begin() as conn:
            await outbox.enqueue(conn, [(topic, encode(receipt(sku, 99)))])
            raise RuntimeError("business rule failed after the outbox write")

    with pytest.raises(RuntimeError, match="business rule"):
        await enqueue_then_fail()

    publisher = KafkaPublisher(settings)
    await publisher.start()
    relay = OutboxRelay(engine, publisher, service="stock", batch_size=2)
    fence = receipt(sku, 100)
    try:
        assert await relay.drain() == 5
        assert await relay.drain() == 0
        async with engine.begin() as conn:
            await outbox.enqueue(conn, [(topic, encode(fence))])
        assert await relay.drain() == 1
    finally:
        await publisher.stop()

    ids = await ids_until(infra, topic, sku, fence.id)
    assert ids == [e.id for e in committed] + [fence.id]
    assert await outbox_rows(engine, settings.db_schema) == 0


async def test_stopping_a_service_publishes_what_its_outbox_still_holds(
    settings: ServiceSettings, infra: Infrastructure
) -> None:
    await ensure_topics(settings, partitions=1)
    topic = settings.topic("stock.stock-moved.v1")
    sku = f"IT-{uuid.uuid4().hex[:6]}"
    # The relay polls once an hour: only stop() can publish rows committed without a wake-up.
    queued = [receipt(sku, n) for n in range(3)]
    async with (
        started(settings, outbox_poll_interval_s=3600.0) as runtime,
        runtime.engine.begin() as conn,
    ):
        await outbox.enqueue(conn, [(topic, encode(e)) for e in queued])

    engine = create_engine(settings)
    try:
        left = await outbox_rows(engine, settings.db_schema)
    finally:
        await engine.dispose()
    assert left == 0
    assert await ids_until(infra, topic, sku, queued[-1].id) == [e.id for e in queued]


async def published_and_deleted(
    runtime: ServiceRuntime[Any], infra: Infrastructure, topic: str, sku: str, last: str
) -> list[str]:
    """The event ids of ``sku`` on ``topic`` up to the event ``last``, once the outbox is
    empty again."""
    ids = await ids_until(infra, topic, sku, last)

    async def emptied() -> bool:
        return await outbox_rows(runtime.engine, runtime.settings.db_schema) == 0

    await wait_until_async(emptied, within_s=10, what="the published rows deleted")
    return ids


async def test_a_transaction_hands_its_rows_to_the_relay_after_commit_and_a_rolled_back_one_none(
    settings: ServiceSettings, infra: Infrastructure
) -> None:
    await ensure_topics(settings, partitions=1)
    topic = settings.topic("stock.stock-moved.v1")
    sku = f"IT-{uuid.uuid4().hex[:6]}"
    first, second = [receipt(sku, n) for n in range(3)], [receipt(sku, n) for n in (3, 4)]
    # The relay never polls after its start: only what transactions hand over goes out.
    async with started(settings, outbox_poll_interval_s=3600.0) as runtime:
        async with runtime.transactions.begin() as (conn, _):
            await outbox.enqueue(conn, [(topic, encode(e)) for e in first])

        async def record_then_fail() -> None:
            async with runtime.transactions.begin() as (conn, _):
                await outbox.enqueue(conn, [(topic, encode(receipt(sku, 99)))])
                raise RuntimeError("rolled back after the outbox write")

        with pytest.raises(RuntimeError, match="rolled back"):
            await record_then_fail()
        async with runtime.transactions.begin() as (conn, _):
            await outbox.enqueue(conn, [(topic, encode(e)) for e in second])
        ids = await published_and_deleted(runtime, infra, topic, sku, second[-1].id)
    assert ids == [e.id for e in first + second]


async def test_rows_nobody_handed_over_are_read_back_once_stale(
    settings: ServiceSettings, infra: Infrastructure
) -> None:
    await ensure_topics(settings, partitions=1)
    topic = settings.topic("stock.stock-moved.v1")
    sku = f"IT-{uuid.uuid4().hex[:6]}"
    orphans = [receipt(sku, n) for n in range(2)]
    async with started(settings, outbox_poll_interval_s=0.05, outbox_stale_after_s=0.5) as runtime:
        # Written as a process that died before its hand-over would have left them.
        async with runtime.engine.begin() as conn:
            await outbox.enqueue(conn, [(topic, encode(e)) for e in orphans])
        ids = await published_and_deleted(runtime, infra, topic, sku, orphans[-1].id)
    assert ids == [e.id for e in orphans]


class GatedPublisher:
    """The real publisher behind a gate: a broker that does not answer until it opens."""

    def __init__(self, publisher: KafkaPublisher) -> None:
        self.publisher = publisher
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def send_batch(self, records: list[tuple[str, Any]]) -> None:
        self.waiting.set()
        await self.gate.wait()
        await self.publisher.send_batch(records)


async def test_a_queue_beyond_its_limit_is_dropped_and_the_table_read_back_in_order(
    settings: ServiceSettings, engine: AsyncEngine, infra: Infrastructure
) -> None:
    await ensure_topics(settings, partitions=1)
    topic = settings.topic("stock.stock-moved.v1")
    sku = f"IT-{uuid.uuid4().hex[:6]}"
    events = [receipt(sku, n) for n in range(5)]
    publisher = KafkaPublisher(settings)
    await publisher.start()
    gated = GatedPublisher(publisher)
    relay = OutboxRelay(engine, gated, service="stock", poll_interval_s=3600, queue_limit=2)
    relay.start()
    try:
        for event in events:
            with outbox.collecting() as enqueued:
                async with engine.begin() as conn:
                    await outbox.enqueue(conn, [(topic, encode(event))])
            relay.committed(enqueued)
            if event is events[0]:
                await asyncio.wait_for(gated.waiting.wait(), 10)  # the first send hangs
        assert relay.queued <= 2, "the queue grew beyond its limit"
        gated.gate.set()
        ids = await ids_until(infra, topic, sku, events[-1].id)
        await relay.stop()
    finally:
        await publisher.stop()
    assert ids == [e.id for e in events]
    assert await outbox_rows(engine, settings.db_schema) == 0


async def test_what_an_earlier_run_left_goes_out_before_what_was_handed_over_and_each_once(
    settings: ServiceSettings, engine: AsyncEngine, infra: Infrastructure
) -> None:
    await ensure_topics(settings, partitions=1)
    topic = settings.topic("stock.stock-moved.v1")
    sku = f"IT-{uuid.uuid4().hex[:6]}"
    left, handed = receipt(sku, 1), receipt(sku, 2)
    async with engine.begin() as conn:  # an earlier run's row, never handed over
        await outbox.enqueue(conn, [(topic, encode(left))])
    publisher = KafkaPublisher(settings)
    await publisher.start()
    relay = OutboxRelay(engine, publisher, service="stock")
    try:
        with outbox.collecting() as enqueued:
            async with engine.begin() as conn:
                await outbox.enqueue(conn, [(topic, encode(handed))])
        relay.committed(enqueued)
        assert await relay.drain() == 2
        fence = receipt(sku, 3)
        await publisher.send_batch([(topic, encode(fence))])
    finally:
        await publisher.stop()
    ids = await ids_until(infra, topic, sku, fence.id)
    assert ids == [left.id, handed.id, fence.id]
    assert await outbox_rows(engine, settings.db_schema) == 0

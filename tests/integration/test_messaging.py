"""Outbox, inbox and migrations against the real PostgreSQL and the real broker."""

from __future__ import annotations

import asyncio
import uuid
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
from tests.harness import Infrastructure
from tests.integration.conftest import STOCK_MIGRATIONS
from tests.upstream import find_records, records_until

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

    def event_id(message: Any) -> str:
        return decode(message.value(), message.headers()).id

    records = await asyncio.to_thread(
        records_until,
        infra.kafka_bootstrap,
        topic,
        lambda m: m.key() == sku.encode(),
        lambda m: event_id(m) == fence.id,
    )
    assert [event_id(m) for m in records] == [e.id for e in committed] + [fence.id]
    async with engine.connect() as conn:
        left = (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar_one()
    assert left == 0


async def test_stopping_a_service_publishes_what_its_outbox_still_holds(
    settings: ServiceSettings, infra: Infrastructure
) -> None:
    await ensure_topics(settings, partitions=1)
    topic = settings.topic("stock.stock-moved.v1")
    sku = f"IT-{uuid.uuid4().hex[:6]}"
    # The relay polls once an hour: only stop() can publish rows committed without a wake-up.
    runtime = ServiceRuntime(
        settings.model_copy(update={"outbox_poll_interval_s": 3600.0}),
        unit_of_work=lambda conn: conn,
        migrations_dir=STOCK_MIGRATIONS,
    )
    await runtime.start()
    queued = [receipt(sku, n) for n in range(3)]
    try:
        async with runtime.engine.begin() as conn:
            await outbox.enqueue(conn, [(topic, encode(e)) for e in queued])
    finally:
        await runtime.stop()

    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            left = (
                await conn.execute(text(f'SELECT count(*) FROM "{settings.db_schema}".outbox'))
            ).scalar_one()
    finally:
        await engine.dispose()
    assert left == 0
    records = await asyncio.to_thread(
        find_records,
        infra.kafka_bootstrap,
        topic,
        lambda m: m.key() == sku.encode(),
        expect=len(queued),
    )
    assert [decode(m.value(), m.headers()).id for m in records] == [e.id for e in queued]

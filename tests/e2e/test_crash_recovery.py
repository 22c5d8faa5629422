"""Exactly-once effects across a crash between the database commit and the offset commit."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from skuhub_contracts.subscriptions import STOCK_MOVEMENTS
from skuhub_contracts.topics import STOCK_LEVEL_CHANGED, STOCK_MOVED
from tests.e2e.crash_hook.sitecustomize import CRASHED_AFTER_DB_COMMIT
from tests.e2e.observe import metric
from tests.harness import Infrastructure, Stack, run_async, wait_until
from tests.upstream import Upstream, body_of, find_records, movement, records_until

pytestmark = pytest.mark.e2e

CRASH_HOOK = Path(__file__).resolve().parent / "crash_hook"


def committed_offset(bootstrap: str, group: str, topic: str, partition: int) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        [tp] = consumer.committed([TopicPartition(topic, partition)], timeout=10)
        offset: int = tp.offset
        return offset
    finally:
        consumer.close()


async def ledger_rows(database_url: str, schema: str, sku: str) -> tuple[Decimal | None, int, int]:
    """(on_hand, journaled movements, inbox entries) for a SKU, read straight from PostgreSQL."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            on_hand = (
                await conn.execute(
                    text(f'SELECT on_hand FROM "{schema}".positions WHERE sku = :s'), {"s": sku}
                )
            ).scalar()
            journaled = (
                await conn.execute(
                    text(f'SELECT count(*) FROM "{schema}".movements WHERE sku = :s'), {"s": sku}
                )
            ).scalar_one()
            inboxed = (
                await conn.execute(text(f'SELECT count(*) FROM "{schema}".inbox'))
            ).scalar_one()
        return on_hand, journaled, inboxed
    finally:
        await engine.dispose()


def test_consumer_killed_between_db_commit_and_offset_commit_applies_the_event_once(
    infra: Infrastructure, workdir: Path
) -> None:
    stack = Stack(infra, workdir)
    stack.start(
        ("stock",),
        env={"SKUHUB_TEST_CRASH_AFTER_DB_COMMIT": "1", "PYTHONPATH": str(CRASH_HOOK)},
    )
    stock = stack.services["stock"]
    try:
        sku = f"CRASH-{uuid.uuid4().hex[:8].upper()}"
        upstream = Upstream(infra.kafka_bootstrap)
        topic = stack.topic(STOCK_MOVED.name)
        upstream.publish_movement(topic, movement(sku, quantity="7"))
        [record] = find_records(infra.kafka_bootstrap, topic, lambda m: m.key() == sku.encode())

        assert stock.wait_exit(timeout=60) == CRASHED_AFTER_DB_COMMIT, "the fault hook did not fire"
        schema = f"{stack.prefix}_stock"
        assert run_async(ledger_rows(infra.database_url, schema, sku)) == (Decimal(7), 1, 1)
        group = stack.settings.consumer_group(STOCK_MOVEMENTS)
        before = committed_offset(infra.kafka_bootstrap, group, topic, record.partition())
        assert before <= record.offset(), "the offset was committed before the crash"

        stock.env.pop("SKUHUB_TEST_CRASH_AFTER_DB_COMMIT")
        stock.start()
        stock.wait_ready(90)
        wait_until(
            lambda: (
                committed_offset(infra.kafka_bootstrap, group, topic, record.partition())
                > record.offset()
            ),
            what="the restarted consumer to commit past the re-delivered record",
        )

        assert run_async(ledger_rows(infra.database_url, schema, sku)) == (Decimal(7), 1, 1)
        assert metric(stack, "stock", "skuhub_events_duplicate_total") == 1
        # A later movement of the same SKU (same partition) fences the derived topic:
        # a re-published version 1 would sit before version 2.
        upstream.publish_movement(topic, movement(sku, quantity="1"))
        derived = records_until(
            infra.kafka_bootstrap,
            stack.topic(STOCK_LEVEL_CHANGED.name),
            lambda m: body_of(m)["sku"] == sku,
            lambda m: body_of(m)["sku"] == sku and body_of(m)["position_version"] == 2,
        )
        assert [body_of(m)["position_version"] for m in derived] == [1, 2]
    finally:
        stack.stop()

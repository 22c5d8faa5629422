"""Consumer lag read from the real broker, and the outbox backlog from real PostgreSQL.

Oracles: the records this test produced (with timestamps it chose) and the offsets it
committed itself; the outbox rows it inserted and the age it gave them.
"""

from __future__ import annotations

import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from skuhub_contracts.codec import KafkaRecord
from skuhub_runtime import outbox
from skuhub_runtime.kafka import ensure_topics
from skuhub_runtime.lag_monitor import LagMonitor
from skuhub_runtime.outbox import OutboxRelay
from skuhub_runtime.producer import KafkaPublisher
from skuhub_runtime.settings import ServiceSettings

NOW_MS = int(time.time() * 1000)
"""The monitor's clock in these tests; record timestamps lie before it (a broker refuses
timestamps far in the future)."""


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, partition: int, timestamps_ms: list[int]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for n, ts in enumerate(timestamps_ms):
            await producer.send_and_wait(
                topic, f"r{n}".encode(), partition=partition, timestamp_ms=ts
            )
    finally:
        await producer.stop()


async def commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


def exported(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_lag_is_the_records_after_the_committed_offset_and_the_age_of_the_first(
    settings: ServiceSettings,
) -> None:
    bootstrap = settings.kafka_bootstrap
    topic = f"{settings.topic_prefix}lag-{uuid.uuid4().hex[:6]}"
    await create_topic(bootstrap, topic, 2)
    # Partition 0: 7 records, 100 s old down to 40 s; partition 1: 4 records, 30 s old on.
    p0 = [NOW_MS - 100_000 + n * 10_000 for n in range(7)]
    p1 = [NOW_MS - 30_000 + n * 1_000 for n in range(4)]
    await produce(bootstrap, topic, 0, p0)
    await produce(bootstrap, topic, 1, p1)
    behind, ahead = f"{topic}.behind", f"{topic}.ahead"
    tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    await commit(bootstrap, behind, {tp0: 3})  # nothing in partition 1: reads it from 0
    await commit(bootstrap, ahead, {tp0: 6, tp1: 4})
    clock = [NOW_MS]

    async with LagMonitor(
        settings, {behind: [topic], ahead: [topic]}, clock_ms=lambda: clock[0]
    ) as monitor:
        first = {g.group: g for g in await monitor.refresh()}
        clock[0] += 5_000
        later = {g.group: g for g in await monitor.refresh()}
        await commit(bootstrap, behind, {tp0: 7, tp1: 4})
        caught_up = {g.group: g for g in await monitor.refresh()}

    rows = {(p.partition, p.records, p.seconds) for p in first[behind].partitions}
    assert rows == {(0, 7 - 3, (NOW_MS - p0[3]) / 1000), (1, 4, (NOW_MS - p1[0]) / 1000)}
    assert {(p.partition, p.records, p.seconds) for p in first[ahead].partitions} == {
        (0, 1, (NOW_MS - p0[6]) / 1000),
        (1, 0, 0.0),
    }
    assert (first[behind].sum_records, first[behind].max_records) == (8, 4)
    assert later[behind].max_seconds == first[behind].max_seconds + 5.0
    assert caught_up[behind].sum_records == 0
    assert caught_up[behind].max_seconds == 0.0

    labels = {"group": behind, "topic": topic}
    assert exported("kafka_consumergroup_group_lag", **labels, partition="0") == 0
    assert exported("kafka_consumergroup_group_lag_seconds", **labels, partition="0") == 0
    assert exported("kafka_consumergroup_group_offset", **labels, partition="0") == 7
    assert exported("kafka_partition_latest_offset", topic=topic, partition="1") == 4
    assert exported("kafka_consumergroup_group_sum_lag", group=ahead) == 1
    assert exported("kafka_consumergroup_group_max_lag", group=ahead) == 1
    assert exported("kafka_consumergroup_group_max_lag_seconds", group=ahead) == (
        (NOW_MS + 5_000 - p0[6]) / 1000
    )


async def test_a_group_on_an_empty_topic_has_no_lag(settings: ServiceSettings) -> None:
    topic = f"{settings.topic_prefix}empty-{uuid.uuid4().hex[:6]}"
    await create_topic(settings.kafka_bootstrap, topic, 1)

    async with LagMonitor(settings, {f"{topic}.g": [topic]}) as monitor:
        [group] = await monitor.refresh()

    assert [(p.records, p.seconds, p.position) for p in group.partitions] == [(0, 0.0, 0)]


async def test_outbox_backlog_counts_unpublished_rows_and_the_age_of_the_oldest(
    settings: ServiceSettings, engine: AsyncEngine
) -> None:
    await ensure_topics(settings, partitions=1)
    topic = settings.topic("stock.stock-moved.v1")
    async with engine.begin() as conn:
        await outbox.enqueue(conn, [(topic, KafkaRecord(b"k", b"v", [])) for _ in range(3)])
        await conn.execute(
            text(
                "UPDATE outbox SET created_at = now() - interval '30 seconds' WHERE id = "
                "(SELECT min(id) FROM outbox)"
            )
        )
    publisher = KafkaPublisher(settings)
    await publisher.start()
    relay = OutboxRelay(engine, publisher, service="stock")
    try:
        rows, age = await relay.backlog()
        exported_rows = exported("skuhub_outbox_backlog_records", service="stock")
        exported_age = exported("skuhub_outbox_oldest_age_seconds", service="stock")
        assert await relay.drain() == 3
        after = await relay.backlog()
    finally:
        await publisher.stop()

    assert rows == 3
    assert 30.0 <= age < 90.0
    assert (exported_rows, exported_age) == (3, age)
    assert after == (0, 0.0)
    assert exported("skuhub_outbox_backlog_records", service="stock") == 0

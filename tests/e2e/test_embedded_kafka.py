"""The embedded Apache Kafka keeps its records and committed offsets across a restart,
and a broker that cannot start says why."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from skuhub_cli.embedded_kafka import EmbeddedKafka
from skuhub_cli.processes import StackError

pytestmark = pytest.mark.e2e

TOPIC = "durability"
GROUP = "durability-reader"
RECORDS = 1_000
CONSUMED = 600


async def _write_and_consume_part(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for n in range(RECORDS):
            await producer.send(TOPIC, str(n).encode())
        await producer.flush()
    finally:
        await producer.stop()
    async with _group_member(bootstrap) as (consumer, partition):
        await consumer.commit({partition: CONSUMED})


@contextlib.asynccontextmanager
async def _group_member(bootstrap: str) -> AsyncIterator[tuple[AIOKafkaConsumer, TopicPartition]]:
    """A consumer of the group, assigned the topic's one partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=GROUP, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partition = TopicPartition(TOPIC, 0)
        consumer.assign([partition])
        yield consumer, partition
    finally:
        await consumer.stop()


async def _read_back(bootstrap: str) -> tuple[int | None, list[bytes]]:
    async with _group_member(bootstrap) as (consumer, partition):
        committed = await consumer.committed(partition)
        await consumer.seek_to_beginning(partition)
        values: list[bytes] = []
        async with asyncio.timeout(60):
            while len(values) < RECORDS:
                batch = await consumer.getmany(partition, timeout_ms=1_000)
                values += [record.value for record in batch.get(partition, []) if record.value]
        return committed, values


def test_records_and_committed_offsets_survive_a_restart_on_another_port(
    tmp_path: Path,
) -> None:
    first = EmbeddedKafka(tmp_path / "kafka", log_path=tmp_path / "first.log")
    first.start()
    try:
        asyncio.run(_write_and_consume_part(first.bootstrap))
    finally:
        first.stop()

    second = EmbeddedKafka(tmp_path / "kafka", log_path=tmp_path / "second.log")
    assert second.port != first.port
    second.start()
    try:
        committed, values = asyncio.run(_read_back(second.bootstrap))
    finally:
        second.stop()
    assert committed == CONSUMED
    assert values == [str(n).encode() for n in range(RECORDS)]


def test_a_second_broker_on_the_same_data_names_its_port_and_shows_its_log(
    tmp_path: Path,
) -> None:
    running = EmbeddedKafka(tmp_path / "kafka", log_path=tmp_path / "running.log")
    running.start()
    try:
        intruder = EmbeddedKafka(tmp_path / "kafka", log_path=tmp_path / "intruder.log")
        with pytest.raises(StackError) as failure:
            intruder.start(timeout=60)
    finally:
        running.stop()
    message = str(failure.value)
    assert f"port {intruder.port}" in message
    assert "log tail" in message
    assert "lock" in message.lower(), message

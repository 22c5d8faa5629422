"""Reads a service's dead-letter topic: a consumer without a group, assigned and sought.

No group: reading for an operator must neither move nor rebalance anyone's offsets. Each
read is bounded twice: by the newest ``dead_letter_scan_max`` records of each partition,
and by ``dead_letter_read_timeout_s``. A read that does not finish in time raises
``TimeoutError``, Kafka not answering ``ConnectionError``: the HTTP layer answers both
with 503 and Retry-After.
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from skuhub_contracts.topics import dead_letter
from skuhub_runtime.dead_letter_records import DeadLetter, Place
from skuhub_runtime.kafka import client_options
from skuhub_runtime.settings import ServiceSettings


class DeadLetterLog:
    """The dead letters of one service, as its dead-letter topic holds them."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self.topic = settings.topic(dead_letter(settings.service_name).name)

    async def all(self) -> list[DeadLetter]:
        """Every dead letter within the scan bound, in no particular order."""
        async with _Reader(self._settings) as consumer:
            partitions = await _partitions(consumer, self.topic)
            if not partitions:
                return []
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            starts = await consumer.beginning_offsets(partitions)
            bound = self._settings.dead_letter_scan_max
            wanted = {}
            for tp in partitions:
                start = max(starts[tp], ends[tp] - bound)
                if start < ends[tp]:
                    consumer.seek(tp, start)
                    wanted[tp] = ends[tp]
            return await self._read_until(consumer, wanted)

    async def one(self, place: Place) -> DeadLetter | None:
        """The dead letter at ``place``, or None when the topic keeps no such record."""
        async with _Reader(self._settings) as consumer:
            partitions = await _partitions(consumer, self.topic)
            tp = TopicPartition(self.topic, place.partition)
            if tp not in partitions:
                return None
            consumer.assign([tp])
            start = (await consumer.beginning_offsets([tp]))[tp]
            end = (await consumer.end_offsets([tp]))[tp]
            if not start <= place.offset < end:
                return None
            consumer.seek(tp, place.offset)
            found = await self._read_until(consumer, {tp: place.offset + 1})
        return next((letter for letter in found if letter.place == place), None)

    async def _read_until(
        self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]
    ) -> list[DeadLetter]:
        """Records of each partition up to (not including) its end offset."""
        deadline = time.monotonic() + self._settings.dead_letter_read_timeout_s
        letters: list[DeadLetter] = []
        pending = {tp: end for tp, end in ends.items() if await consumer.position(tp) < end}
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"reading {self.topic} did not finish in time")
            batches = await consumer.getmany(*pending, timeout_ms=int(min(left, 1.0) * 1000))
            for tp, records in batches.items():
                letters += [
                    DeadLetter(
                        Place(r.timestamp, r.partition, r.offset),
                        r.key,
                        r.value,
                        [(name, bytes(value or b"")) for name, value in r.headers or ()],
                    )
                    for r in records
                    if r.offset < pending.get(tp, 0)
                ]
            for tp in list(pending):
                if await consumer.position(tp) >= pending[tp]:
                    del pending[tp]
        return letters


class _Reader:
    """A started group-less consumer, stopped on leaving."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> AIOKafkaConsumer:
        try:
            return await self._start()
        except KafkaError as exc:
            # An outage (503, as for PostgreSQL), not a failure of the request (500).
            raise ConnectionError(f"Kafka did not answer: {exc}") from exc

    async def _start(self) -> AIOKafkaConsumer:
        self._consumer = AIOKafkaConsumer(
            **client_options(self._settings),
            client_id=f"skuhub-{self._settings.service_name}-dead-letters",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        try:
            await asyncio.wait_for(
                self._consumer.start(), timeout=self._settings.dead_letter_read_timeout_s
            )
        except BaseException:
            await self._consumer.stop()
            raise
        return self._consumer

    async def __aexit__(self, kind: object, error: object, _: object) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        if isinstance(error, KafkaError):
            raise ConnectionError(f"Kafka did not answer: {error}") from error


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """The partitions of ``topic`` (none when it does not exist)."""
    # What consumer.topics() fetches, kept: it does not update the metadata that
    # partitions_for_topic() reads, which a consumer without a subscription never loads.
    cluster = await consumer._client.fetch_all_metadata()
    return [TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic) or ())]

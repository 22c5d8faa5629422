"""The one Kafka producer a service writes with: the outbox relay and direct HTTP ingest.

It sends records exactly as encoded (byte headers, repeated headers, the key
as given), which faststream's publish API would turn into a dict of strings.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from skuhub_contracts.codec import KafkaRecord
from skuhub_runtime import messaging_spans, telemetry
from skuhub_runtime.kafka import client_options
from skuhub_runtime.settings import ServiceSettings


class KafkaPublisher:
    """Sends batches of records and returns once the broker has acknowledged every one.

    Idempotent: a retried send after a lost acknowledgement is not written twice,
    and records to one partition stay in order through retries. Not transactional:
    docs/runtime.md ("Why the outbox relay does not use Kafka transactions") says why.
    """

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        # aiokafka binds a client to the running loop, so it is made here, not in __init__.
        settings = self._settings
        self._producer = AIOKafkaProducer(
            **client_options(settings),
            client_id=f"skuhub-{settings.service_name}",
            acks="all",
            enable_idempotence=True,
            linger_ms=1,
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def check(self) -> None:
        """Return once a broker answers a metadata request; raise if none can (callers
        bound the wait: aiokafka gives up only after its request timeout)."""
        await self._started().client.fetch_all_metadata()

    async def send_batch(self, records: list[tuple[str, KafkaRecord]]) -> None:
        """Send all records in one flight; raises if any is not acknowledged."""
        producer = self._started()
        if telemetry.exporting():
            await self._send_traced(producer, records)
            return
        pending = [
            await producer.send(topic, record.value, key=record.key, headers=list(record.headers))
            for topic, record in records
        ]
        await asyncio.gather(*pending)

    async def _send_traced(
        self, producer: AIOKafkaProducer, records: list[tuple[str, KafkaRecord]]
    ) -> None:
        """send_batch with a ``send`` span per topic of the batch (messaging_spans)."""
        spans = messaging_spans.send_spans(records)
        try:
            pending = [
                await producer.send(
                    topic, record.value, key=record.key, headers=list(record.headers)
                )
                for topic, record in records
            ]
            acknowledged = await asyncio.gather(*pending)
        except BaseException as exc:
            messaging_spans.failed([s.span for s in spans], exc)
            raise
        for span in spans:
            messaging_spans.sent(span, acknowledged)

    def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("KafkaPublisher.start() has not been called")
        return self._producer

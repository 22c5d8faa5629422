"""Batch consumption with exactly-once effects.

Per batch of Kafka records: decode them, claim their ids in the inbox, let the
service's handler apply the new ones, and write dead letters, all in one
database transaction; only after that commits are the Kafka offsets
committed. faststream's default ack policy would commit before the handler
runs (at most once) and ``NACK_ON_ERROR`` would re-read a poison record in a
hot loop, so subscribers run with ``AckPolicy.MANUAL`` and this module decides.

Failures: an error that is not the data's fault (database or broker
unreachable, a serialization conflict, and also a bug or a schema out of step,
SQLSTATE classes 42/55/XX, which would otherwise dead-letter every good record)
retries the same batch with back-off and never moves the offset. Any other error
splits the batch so that the one record causing it goes to the dead-letter topic
with the reason, and the partition keeps flowing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiokafka import TopicPartition
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from skuhub_contracts.codec import DecodeError, Envelope, KafkaRecord, decode
from skuhub_contracts.events import EventPayload
from skuhub_contracts.topics import Topic, dead_letter
from skuhub_runtime import inbox, metrics, outbox, telemetry
from skuhub_runtime.db import sqlstate
from skuhub_runtime.settings import ServiceSettings

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord
    from faststream.kafka import KafkaBroker

log = logging.getLogger(__name__)

DLQ_REASON = "skuhub_dlq_reason"
DLQ_TOPIC = "skuhub_dlq_topic"
DLQ_PARTITION = "skuhub_dlq_partition"
DLQ_OFFSET = "skuhub_dlq_offset"
DLQ_SERVICE = "skuhub_dlq_service"
DLQ_AT = "skuhub_dlq_at"
# Not the record's fault: connection (08), resources (53), operator (57), system (58),
# and what needs a code or schema fix rather than a dead letter: syntax or access
# (42), object state (55), internal (XX).
_RETRY_SQLSTATE_CLASSES = ("08", "53", "57", "58", "42", "55", "XX")
_RETRY_SQLSTATES = ("40001", "40P01")


@dataclass(frozen=True, slots=True)
class Incoming:
    """One decoded event in a batch, with the trace context its derived events continue."""

    envelope: Envelope[Any]
    record: Any = field(repr=False)
    traceparent: str | None = None
    tracestate: str | None = None

    @property
    def payload(self) -> Any:
        return self.envelope.payload

    def derive(self, payload: EventPayload, *, source: str) -> Envelope[Any]:
        """A new event caused by this one: same origin time, same trace, new id."""
        return Envelope(
            payload=payload,
            id=str(uuid.uuid4()),
            source=source,
            time=datetime.now(UTC),
            origin_time=self.envelope.origin_time,
            traceparent=self.traceparent,
            tracestate=self.tracestate,
        )


@dataclass(frozen=True, slots=True)
class Rejection:
    """An event the domain refused; it goes to the dead-letter topic with ``reason``."""

    incoming: Incoming
    reason: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a handler did with a batch of new events.

    ``rejections`` go to the dead-letter topic; ``ignored`` are the ids of events
    the domain recognised as facts it already had (the same movement under a new
    event id, an older snapshot): neither counted as applied nor as latency.
    """

    rejections: Sequence[Rejection] = ()
    ignored: frozenset[str] = frozenset()


BatchHandler = Callable[[AsyncConnection, Sequence[Incoming]], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class ConsumerSpec:
    """A service's subscription: topics, the events it accepts and its batch handler."""

    name: str
    topics: Sequence[Topic]
    handler: BatchHandler

    @property
    def accepts(self) -> tuple[type[EventPayload], ...]:
        return tuple(t.event for t in self.topics if t.event is not None)


class BatchConsumer:
    """Runs one :class:`ConsumerSpec` on a faststream broker."""

    def __init__(
        self,
        spec: ConsumerSpec,
        *,
        settings: ServiceSettings,
        engine: AsyncEngine,
        after_commit: Callable[[], None],
    ) -> None:
        self.spec = spec
        self._settings = settings
        self._engine = engine
        self._after_commit = after_commit
        self._service = settings.service_name
        self._dead_letter_topic = settings.topic(dead_letter(self._service).name)
        self._subscriber: Any = None

    def register(self, broker: KafkaBroker) -> None:
        subscriber = broker.subscriber(
            *(self._settings.topic(t.name) for t in self.spec.topics),
            group_id=self._settings.consumer_group(self.spec.name),
            batch=True,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            max_records=self._settings.consumer_max_records,
            batch_timeout_ms=self._settings.consumer_fetch_wait_ms,
            fetch_max_wait_ms=self._settings.consumer_fetch_wait_ms,
            session_timeout_ms=self._settings.consumer_session_timeout_ms,
            heartbeat_interval_ms=self._settings.consumer_session_timeout_ms // 3,
            title=f"{self._service}.{self.spec.name}",
            parser=_parse_any_headers,
            decoder=_bodies,
        )
        subscriber(self._on_batch)
        self._subscriber = subscriber

    async def _on_batch(self, message: KafkaMessage) -> None:
        records: tuple[ConsumerRecord[bytes, bytes], ...] = message.raw_message
        try:
            await self.process(records)
        except Exception:
            # The consumer's position is already past this batch: without a seek back an
            # unexpected error would skip it silently. Re-read it after a pause instead.
            log.exception("batch of %d failed unexpectedly; it will be read again", len(records))
            self._rewind(records)
            await asyncio.sleep(1.0)
            return
        clock = _PhaseClock(self._service)
        await message.ack()
        clock.lap("offsets")
        clock.report(len(records))
        self._record_lag(self._subscriber.consumer, records)

    def _rewind(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        for partition, (first, _) in _offset_spans(records).items():
            self._subscriber.consumer.seek(partition, first)

    def _record_lag(self, consumer: Any, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Lag per partition in this batch: high watermark minus the next offset to read."""
        for partition, (_, last) in _offset_spans(records).items():
            highwater = consumer.highwater(partition)
            if highwater is not None:
                metrics.CONSUMER_LAG.labels(
                    self._service, partition.topic, str(partition.partition)
                ).set(max(highwater - (last + 1), 0))

    async def process(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Apply a batch; returns only once its effects are committed."""
        items: list[Incoming] = []
        bad: list[tuple[Any, str]] = []
        spans = []
        for record in records:
            try:
                envelope = decode(
                    record.value,
                    record.headers,
                    key=record.key,
                    timestamp_ms=record.timestamp,
                    accept=self.spec.accepts,
                )
            except DecodeError as exc:
                bad.append((record, exc.reason))
                continue
            except Exception as exc:  # a codec bug must not stop the partition either
                bad.append((record, f"could not be decoded: {type(exc).__name__}: {exc}"))
                continue
            span = telemetry.tracer().start_span(
                f"{self._service} apply {envelope.type}",
                context=telemetry.extract(envelope.traceparent, envelope.tracestate),
                attributes={
                    "messaging.kafka.offset": record.offset,
                    "cloudevents.event_id": envelope.id,
                },
            )
            spans.append(span)
            traceparent, tracestate = telemetry.inject(span)
            items.append(Incoming(envelope, record, traceparent, tracestate))
        try:
            await self._apply_with_retry(items, bad)
        finally:
            for span in spans:
                span.end()

    async def _apply_with_retry(self, items: list[Incoming], bad: list[tuple[Any, str]]) -> None:
        backoff = 0.05
        while True:
            try:
                await self._apply(items, bad)
                return
            except Exception as exc:
                if retry_in_place(exc) or not items:
                    metrics.CONSUMER_RETRIES.labels(self._service).inc()
                    # Once back-off is at its cap this is no blip: say so loudly, with the trace.
                    log.log(
                        logging.ERROR if backoff >= 5.0 else logging.WARNING,
                        "batch of %d failed (%s); retrying in %.2fs",
                        len(items) + len(bad),
                        exc,
                        backoff,
                        exc_info=backoff >= 5.0,
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                if len(items) == 1:
                    log.exception(
                        "event %s could not be applied; dead-lettering it", items[0].envelope.id
                    )
                    reason = (
                        f"processing failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                    )
                    bad = [*bad, (items[0].record, reason)]
                    items = []
                    continue
                log.warning("batch of %d failed (%s); applying one by one", len(items), exc)
                if bad:
                    await self._apply_with_retry([], bad)
                for item in items:
                    await self._apply_with_retry([item], [])
                return

    async def _apply(self, items: list[Incoming], bad: list[tuple[Any, str]]) -> None:
        clock = _PhaseClock(self._service)
        async with self._engine.begin() as conn:
            fresh_ids = await inbox.claim(conn, self.spec.name, [i.envelope.id for i in items])
            clock.lap("claim")
            seen: set[str] = set()
            fresh = []
            for item in items:
                if item.envelope.id in fresh_ids and item.envelope.id not in seen:
                    seen.add(item.envelope.id)
                    fresh.append(item)
            outcome = await self.spec.handler(conn, fresh) if fresh else Outcome()
            rejections = outcome.rejections
            dead = [*bad, *((r.incoming.record, r.reason) for r in rejections)]
            await outbox.enqueue(
                conn, (self._dead_letter(record, reason) for record, reason in dead)
            )
            clock.lap("handle")
        clock.lap("commit")
        records = len(items) + len(bad)
        clock.report(records)
        self._after_commit()
        if fresh and self._settings.fault_crash_after_db_commit:
            log.error(
                "fault injection: exiting after the database commit, before the offset commit"
            )
            os._exit(70)
        self._count(records, items, fresh, outcome, dead)

    def _count(
        self,
        records: int,
        items: list[Incoming],
        fresh: list[Incoming],
        outcome: Outcome,
        dead: list[tuple[Any, str]],
    ) -> None:
        service = self._service
        metrics.BATCH_SIZE.labels(service).observe(records)
        duplicates = len(items) - len(fresh) + len(outcome.ignored)
        if duplicates:
            metrics.EVENTS_DUPLICATE.labels(service).inc(duplicates)
        not_applied = {r.incoming.envelope.id for r in outcome.rejections} | outcome.ignored
        now = datetime.now(UTC)
        for item in fresh:
            if item.envelope.id in not_applied:
                continue
            metrics.EVENTS_APPLIED.labels(service, item.envelope.type).inc()
            latency = (now - item.envelope.origin_time).total_seconds()
            metrics.DATA_LATENCY.labels(service, item.envelope.type).observe(max(latency, 0.0))
        for record, reason in dead:
            metrics.DEAD_LETTERED.labels(service, record.topic).inc()
            log.warning(
                "dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason
            )

    def _dead_letter(self, record: Any, reason: str) -> tuple[str, KafkaRecord]:
        headers = [
            (name, bytes(value or b""))
            for name, value in (record.headers or ())
            if not name.startswith("skuhub_dlq_")
        ]
        headers += [
            (DLQ_REASON, reason.encode()),
            (DLQ_TOPIC, record.topic.encode()),
            (DLQ_PARTITION, str(record.partition).encode()),
            (DLQ_OFFSET, str(record.offset).encode()),
            (DLQ_SERVICE, self._service.encode()),
            (DLQ_AT, datetime.now(UTC).isoformat().encode()),
        ]
        return self._dead_letter_topic, KafkaRecord(record.key or b"", record.value or b"", headers)


def _offset_spans(
    records: Sequence[ConsumerRecord[bytes, bytes]],
) -> dict[TopicPartition, tuple[int, int]]:
    """First and last offset of a batch in each partition it touches."""
    spans: dict[TopicPartition, tuple[int, int]] = {}
    for record in records:
        partition = TopicPartition(record.topic, record.partition)
        first = spans[partition][0] if partition in spans else record.offset
        spans[partition] = (first, record.offset)
    return spans


class _PhaseClock:
    """Times the phases of a batch into ``skuhub_consumer_batch_seconds``; logs slow ones."""

    SLOW_S = 0.5

    def __init__(self, service: str, clock: Callable[[], float] = time.perf_counter) -> None:
        self._service = service
        self._clock = clock
        self._last = clock()
        self.laps: dict[str, float] = {}

    def lap(self, phase: str) -> None:
        now = self._clock()
        self.laps[phase] = now - self._last
        self._last = now
        metrics.BATCH_SECONDS.labels(self._service, phase).observe(self.laps[phase])

    def report(self, records: int) -> None:
        if sum(self.laps.values()) >= self.SLOW_S:
            spent = ", ".join(
                f"{phase} {seconds * 1000:.0f} ms" for phase, seconds in self.laps.items()
            )
            log.warning("slow batch of %d records: %s", records, spent)


async def _parse_any_headers(
    records: tuple[ConsumerRecord[bytes, bytes], ...],
    original: Callable[[tuple[ConsumerRecord[bytes, bytes], ...]], Awaitable[Any]],
) -> Any:
    """faststream's batch parser, made safe for header values that are not UTF-8 or null.

    faststream decodes every header value as UTF-8 before any handler runs; one binary
    or null header would fail the whole batch there and, with manual acks, the batch
    would be skipped. Such batches get text-safe copies for faststream, while the
    handler still receives the original records (``raw_message``), bytes intact.
    """
    try:
        return await original(records)
    except (UnicodeDecodeError, AttributeError):
        safe = tuple(
            dataclasses.replace(
                record,
                headers=[
                    (name, (value or b"").decode("utf-8", "replace").encode())
                    for name, value in record.headers
                ],
            )
            for record in records
        )
        message = await original(safe)
        message.raw_message = records
        return message


async def _bodies(message: Any) -> Any:
    """The batch's raw values; the handler decodes records itself (faststream's decoder
    would parse each record's headers as UTF-8 again)."""
    return message.body


def retry_in_place(exc: BaseException) -> bool:
    """True for errors the records did not cause: retry the batch instead of dead-lettering.

    Transient ones clear by themselves; the others (a bug, a missing table) need a
    fix and a restart, and holding the partition until then loses nothing.
    """
    if isinstance(exc, (OSError, TimeoutError, ConnectionError)):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        state = sqlstate(exc)
        if state is not None:
            return state in _RETRY_SQLSTATES or state[:2] in _RETRY_SQLSTATE_CLASSES
        return isinstance(
            exc, (sa_exc.InterfaceError, sa_exc.OperationalError, sa_exc.ProgrammingError)
        )
    return False

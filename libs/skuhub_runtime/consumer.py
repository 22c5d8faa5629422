"""Batch consumption with exactly-once effects.

Per batch of Kafka records: decode them, claim their ids in the inbox, let the
service's handler decide about the new ones, and write what it emitted and the
dead letters, all in one database transaction (:class:`Transactions`); only
after that commits are the Kafka offsets committed. faststream's default ack
policy would commit before the handler runs (at most once) and
``NACK_ON_ERROR`` would re-read a poison record in a hot loop, so subscribers
run with ``AckPolicy.MANUAL`` and this module decides.

Failures: an error that is not the data's fault (database or broker
unreachable, a serialization conflict, and also a bug or a schema out of step,
SQLSTATE classes 42/55/XX, which would otherwise dead-letter every good record)
retries the same batch with back-off and never moves the offset. Any other error
splits the batch so that the one record causing it goes to the dead-letter topic
as an internal error with a reference to the logged detail, and the partition
keeps flowing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_contracts import dead_letters
from skuhub_contracts.codec import DecodeError, KafkaRecord, decode
from skuhub_contracts.events import EventPayload
from skuhub_contracts.topics import dead_letter
from skuhub_runtime import inbox, messaging_spans, metrics
from skuhub_runtime.db import sqlstate
from skuhub_runtime.dependencies import describe
from skuhub_runtime.handling import ConsumerSpec, Incoming, Outcome
from skuhub_runtime.settings import ServiceSettings
from skuhub_runtime.transactions import Transactions

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord
    from faststream.kafka import KafkaBroker

log = logging.getLogger(__name__)

P = TypeVar("P", bound=EventPayload)
U = TypeVar("U")
Record = Any  # aiokafka's ConsumerRecord[bytes, bytes] (tests pass look-alikes)

# Not the record's fault: connection (08), resources (53), operator (57), system (58),
# and what needs a code or schema fix rather than a dead letter: syntax or access
# (42), object state (55), internal (XX).
_RETRY_SQLSTATE_CLASSES = ("08", "53", "57", "58", "42", "55", "XX")
_RETRY_SQLSTATES = ("40001", "40P01")
GATHER_BYTES = 512 * 1024
"""What a consumer that gathers (``ConsumerSpec.gather_ms``) asks the broker to wait for:
about a full batch (``consumer_max_records``) of events of 1 kB."""


@dataclass
class BatchResult:
    """What became of a batch: ids applied, duplicates skipped, records dead-lettered."""

    applied: list[str] = field(default_factory=list)
    duplicates: int = 0
    dead_lettered: list[tuple[Record, str]] = field(default_factory=list)

    def add(self, other: BatchResult) -> None:
        self.applied += other.applied
        self.duplicates += other.duplicates
        self.dead_lettered += other.dead_lettered


@dataclass(frozen=True, slots=True)
class _Item(Generic[P]):
    incoming: Incoming[P]
    record: Record


class BatchConsumer(Generic[P, U]):
    """Runs one :class:`ConsumerSpec` on a faststream broker."""

    def __init__(
        self,
        spec: ConsumerSpec[P, U],
        *,
        settings: ServiceSettings,
        transactions: Transactions[U],
    ) -> None:
        self.spec = spec
        self._settings = settings
        self._transactions = transactions
        self._service = settings.service_name
        self._source = f"/skuhub/{self._service}"
        self._accepts = spec.subscription.events
        self._dead_letter_topic = settings.topic(dead_letter(self._service).name)
        self._group = settings.consumer_group(spec.subscription)
        self._subscriber: Any = None

    def register(self, broker: KafkaBroker) -> None:
        subscription = self.spec.subscription
        subscriber = broker.subscriber(
            *(self._settings.topic(t.name) for t in subscription.topics),
            group_id=self._group,
            batch=True,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            max_records=self._settings.consumer_max_records,
            batch_timeout_ms=self._settings.consumer_fetch_wait_ms,
            fetch_max_wait_ms=self.spec.gather_ms or self._settings.consumer_fetch_wait_ms,
            fetch_min_bytes=GATHER_BYTES if self.spec.gather_ms else 1,
            session_timeout_ms=self._settings.consumer_session_timeout_ms,
            heartbeat_interval_ms=self._settings.consumer_session_timeout_ms // 3,
            # Static membership: a restarted instance is recognised and handed back its
            # partitions without a rebalance of the whole group (see docs/running.md).
            group_instance_id=self._settings.instance_id or None,
            title=f"{self._service}.{subscription.name}",
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
        try:
            await message.ack()
        except KafkaError as exc:
            # The effects are committed; without the offsets the batch comes again (after the
            # broker is back, or a rebalance) and the inbox recognises every record of it.
            log.warning(
                "offsets of a batch of %d not committed (%s); its records will be read again "
                "and skipped as applied",
                len(records),
                exc,
            )
            return
        clock.lap("offsets")
        clock.report(len(records))

    def _rewind(self, records: Sequence[Record]) -> None:
        for partition, (first, _) in _offset_spans(records).items():
            self._subscriber.consumer.seek(partition, first)

    async def process(self, records: Sequence[Record]) -> BatchResult:
        """Apply a batch; returns only once its effects are committed."""
        started_ns = time.time_ns()
        items: list[_Item[P]] = []
        bad: list[tuple[Record, str]] = []
        spans = messaging_spans.ProcessSpans(self._group)
        for record in records:
            try:
                envelope = decode(
                    record.value,
                    record.headers or (),
                    key=record.key,
                    timestamp_ms=record.timestamp,
                    accept=self._accepts,
                )
            except DecodeError as exc:
                bad.append((record, exc.reason))
                continue
            except Exception as exc:  # a codec bug must not stop the partition either
                bad.append((record, _internal_error(exc, f"decoding {_where(record)}")))
                continue
            traceparent, tracestate = spans.start(
                record,
                message_id=envelope.id,
                traceparent=envelope.traceparent,
                tracestate=envelope.tracestate,
            )
            incoming = Incoming(
                envelope, self._source, traceparent, tracestate, replay_of=_replay_of(record)
            )
            items.append(_Item(incoming, record))
        receive = messaging_spans.receive_span(
            records,
            ((i.incoming.envelope.traceparent, i.incoming.envelope.tracestate) for i in items),
            self._group,
            started_ns,
        )
        try:
            result = await self._apply_with_retry(items, bad)
        finally:
            spans.end()
            if receive is not None:
                receive.end()
        return result

    async def _apply_with_retry(
        self, items: list[_Item[P]], bad: list[tuple[Record, str]]
    ) -> BatchResult:
        backoff = 0.05
        while True:
            try:
                return await self._apply(items, bad)
            except Exception as exc:
                if retry_in_place(exc) or not items:
                    metrics.CONSUMER_RETRIES.labels(self._service).inc()
                    # Once back-off is at its cap this is no blip: say so loudly, with the trace.
                    log.log(
                        logging.ERROR if backoff >= 5.0 else logging.WARNING,
                        "batch of %d failed (%s); retrying in %.2fs",
                        len(items) + len(bad),
                        describe(exc),
                        backoff,
                        exc_info=backoff >= 5.0,
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                if len(items) == 1:
                    [item] = items
                    reason = _internal_error(exc, f"applying event {item.incoming.id}")
                    bad = [*bad, (item.record, reason)]
                    items = []
                    continue
                log.warning("batch of %d failed (%s); applying one by one", len(items), exc)
                result = BatchResult()
                if bad:
                    result.add(await self._apply_with_retry([], bad))
                for item in items:
                    result.add(await self._apply_with_retry([item], []))
                return result

    async def _apply(self, items: list[_Item[P]], bad: list[tuple[Record, str]]) -> BatchResult:
        clock = _PhaseClock(self._service)
        records = len(items) + len(bad)
        async with self._transactions.begin() as (conn, unit_of_work):
            await self._judge_replays_again(conn, items)
            fresh_ids = await inbox.claim(conn, self.spec.name, [i.incoming.id for i in items])
            bad = await self._not_dead_lettered_before(conn, bad)
            clock.lap("claim")
            fresh: dict[str, _Item[P]] = {}
            for item in items:
                if item.incoming.id in fresh_ids:
                    fresh.setdefault(item.incoming.id, item)
            batch = [item.incoming for item in fresh.values()]
            outcome = await self.spec.handle(unit_of_work, batch) if batch else Outcome()
            dead = [*bad, *((fresh[i].record, why) for i, why in outcome.rejected.items())]
            if outcome.rejected:
                # Claimed and refused: marked, so that a replay of its dead letter is judged
                # again rather than skipped as a duplicate.
                refused = [i for i in outcome.rejected if i in fresh]
                await inbox.claim(conn, inbox.refused_inbox(self.spec.name), refused)
            await self._transactions.record(
                conn, outcome.emitted, (self._dead_letter(record, why) for record, why in dead)
            )
            clock.lap("handle")
        clock.lap("commit")
        clock.report(records)
        return self._count(records, len(items), batch, outcome, dead)

    async def _judge_replays_again(self, conn: AsyncConnection, items: list[_Item[P]]) -> None:
        """Release the inbox claims of refused events that come again as replays of their
        dead letters (docs/operations.md, Dead letters), so they are claimed afresh.

        Once per replayed record: its place is claimed in an inbox of its own, so a second
        read of the same batch (offsets not committed) finds the event claimed as the first
        read left it, applied or refused, and neither applies nor dead-letters it again.
        """
        replays = {_place(i.record): i.incoming.id for i in items if i.incoming.replay_of}
        if not replays:
            return
        first_reads = await inbox.claim(conn, f"{self.spec.name}#replays", list(replays))
        await inbox.release_refused(conn, self.spec.name, [replays[place] for place in first_reads])

    async def _not_dead_lettered_before(
        self, conn: AsyncConnection, bad: list[tuple[Record, str]]
    ) -> list[tuple[Record, str]]:
        """The bad records not dead-lettered by an earlier read of the same batch.

        A record that is not applied has no event id the inbox could claim (it may not
        even decode), so its place on the topic stands in for one, in an inbox of its own
        so that no upstream event id can collide with it.
        """
        if not bad:
            return bad
        places = {_place(r): (r, why) for r, why in bad}
        fresh = await inbox.claim(conn, f"{self.spec.name}#dead-letters", list(places))
        return [entry for place, entry in places.items() if place in fresh]

    def _count(
        self,
        records: int,
        decoded: int,
        fresh: Sequence[Incoming[P]],
        outcome: Outcome,
        dead: list[tuple[Record, str]],
    ) -> BatchResult:
        service = self._service
        metrics.BATCH_SIZE.labels(service).observe(records)
        duplicates = decoded - len(fresh) + len(outcome.ignored)
        if duplicates:
            metrics.EVENTS_DUPLICATE.labels(service).inc(duplicates)
        not_applied = outcome.rejected.keys() | outcome.ignored
        applied = [incoming for incoming in fresh if incoming.id not in not_applied]
        now = datetime.now(UTC)
        for incoming in applied:
            metrics.EVENTS_APPLIED.labels(service, incoming.envelope.type).inc()
            latency = (now - incoming.envelope.origin_time).total_seconds()
            metrics.DATA_LATENCY.labels(service, incoming.envelope.type).observe(max(latency, 0.0))
        for record, reason in dead:
            metrics.DEAD_LETTERED.labels(service, record.topic).inc()
            log.warning("dead-lettered %s: %s", _where(record), reason)
        return BatchResult([i.id for i in applied], duplicates, dead)

    def _dead_letter(self, record: Record, reason: str) -> tuple[str, KafkaRecord]:
        headers = [
            (name, bytes(value or b""))
            for name, value in (record.headers or ())
            if not name.startswith(dead_letters.PREFIX)
        ]
        headers += [
            (dead_letters.REASON, reason.encode()),
            (dead_letters.TOPIC, record.topic.encode()),
            (dead_letters.PARTITION, str(record.partition).encode()),
            (dead_letters.OFFSET, str(record.offset).encode()),
            (dead_letters.SERVICE, self._service.encode()),
            (dead_letters.AT, datetime.now(UTC).isoformat().encode()),
        ]
        return self._dead_letter_topic, KafkaRecord(record.key or b"", record.value or b"", headers)


def _place(record: Record) -> str:
    """A record's place on its topic: the inbox key of what has no event id to claim."""
    return f"{record.topic}/{record.partition}@{record.offset}"


def _replay_of(record: Record) -> str | None:
    """The dead letter a record replays (its ``skuhub_replay_of`` header), if any."""
    for name, value in record.headers or ():
        if name == dead_letters.REPLAY_OF and value:
            return bytes(value).decode("utf-8", "replace")
    return None


def _where(record: Record) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"


def _internal_error(exc: BaseException, doing: str) -> str:
    """The dead-letter reason of a failure the record did not cause; the detail goes to the log.

    A library's message is no reason a producer can act on, and may show internals:
    the reason carries a reference that finds the logged traceback instead.
    """
    reference = uuid.uuid4().hex[:12]
    log.error("internal error %s while %s", reference, doing, exc_info=exc)
    return (
        f"internal error (reference {reference}): the record was not applied; the service "
        "log has the detail under this reference"
    )


def _offset_spans(records: Sequence[Record]) -> dict[TopicPartition, tuple[int, int]]:
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
    # sqlalchemy's TimeoutError: no pooled connection came free in time (PostgreSQL slow or
    # unreachable), as much an outage as a statement timing out.
    if isinstance(exc, (OSError, TimeoutError, ConnectionError, sa_exc.TimeoutError)):
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

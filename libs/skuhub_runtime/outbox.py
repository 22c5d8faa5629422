"""Transactional outbox: record events in the business transaction, publish them after.

:func:`enqueue` writes records with the same connection (so the same
transaction) as the change they describe. :class:`OutboxRelay` publishes them,
waits for the broker's acks and only then deletes the rows, so a crash
re-publishes (at least once) and never loses.

Two ways lead from the table to the broker (docs/runtime.md, "Outbox"):

- **Handed over.** A transaction opened with :func:`collecting` (every service
  transaction, :class:`~skuhub_runtime.transactions.Transactions`) keeps what it
  enqueued; after the commit the relay gets it (:meth:`OutboxRelay.committed`) and
  publishes it from memory, in commit order, then deletes the rows in one
  statement. Nothing is read back.
- **Polled.** At start, at stop, after the queue in memory overflowed, and for rows
  older than ``stale_after_s`` that nobody handed over (a process that died between
  its commit and the publish, a transaction opened without :func:`collecting`), the
  relay reads the table in id order under ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections import deque
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from aiokafka.errors import KafkaError
from sqlalchemy import delete, func, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from skuhub_contracts.codec import Headers, KafkaRecord
from skuhub_runtime import metrics
from skuhub_runtime.bulk import Among, BulkInsert
from skuhub_runtime.dependencies import describe
from skuhub_runtime.messaging_tables import outbox

log = logging.getLogger(__name__)


class Publisher(Protocol):
    """What the relay needs from a Kafka producer."""

    async def send_batch(self, records: list[tuple[str, KafkaRecord]]) -> None:
        """Send all records and return once the broker has acknowledged every one."""


_BASE64 = "base64"


def stored_headers(headers: Headers) -> list[list[str]]:
    """Kafka headers as JSON the outbox can always store, byte for byte.

    Readable text stays as ``[name, value]``. A value that is not UTF-8 or holds
    a NUL (which PostgreSQL's JSONB refuses) is kept as ``[name, base64, "base64"]``,
    so a dead letter of hostile input can never fail to be written (a NUL in a
    header *name* is dropped).
    """
    stored: list[list[str]] = []
    for name, value in headers:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is None or "\x00" in text or "\x00" in name:
            stored.append([name.replace("\x00", ""), base64.b64encode(value).decode(), _BASE64])
        else:
            stored.append([name, text])
    return stored


def kafka_headers(stored: list[list[str]]) -> Headers:
    """The inverse of :func:`stored_headers`."""
    return [
        (entry[0], base64.b64decode(entry[1]) if entry[2:] == [_BASE64] else entry[1].encode())
        for entry in stored
    ]


_ENQUEUE = BulkInsert(outbox, ("topic", "key", "value", "headers"), returning=("id",))
_PUBLISHED = Among([outbox.c.id], "ids")
_DELETE_PUBLISHED = delete(outbox).where(_PUBLISHED.clause)
_QUEUED = Among([outbox.c.id], "queued")


@dataclass
class Enqueued:
    """Outbox rows of one transaction: their ids and records, in the order written."""

    ids: list[int] = field(default_factory=list)
    records: list[tuple[str, KafkaRecord]] = field(default_factory=list)


_collecting: ContextVar[Enqueued | None] = ContextVar("outbox_collecting", default=None)


@contextlib.contextmanager
def collecting() -> Iterator[Enqueued]:
    """Keep what :func:`enqueue` writes in this context (one transaction), to hand it to
    the relay once the transaction committed."""
    enqueued = Enqueued()
    token = _collecting.set(enqueued)
    try:
        yield enqueued
    finally:
        _collecting.reset(token)


async def enqueue(conn: AsyncConnection, records: Iterable[tuple[str, KafkaRecord]]) -> int:
    """Add records (topic, record) to the outbox in the caller's transaction, in order."""
    listed = list(records)
    rows = [
        (topic, record.key, record.value, stored_headers(record.headers))
        for topic, record in listed
    ]
    result = await _ENQUEUE.execute(conn, rows)
    enqueued = _collecting.get()
    if enqueued is not None and result is not None:
        enqueued.ids.extend(result.scalars())
        enqueued.records.extend(listed)
    return len(rows)


class OutboxRelay:
    """Publishes what transactions hand over after their commit, in commit order; polls the
    table for the rest (see the module's docstring)."""

    def __init__(
        self,
        engine: AsyncEngine,
        publisher: Publisher,
        *,
        service: str,
        batch_size: int = 1000,
        poll_interval_s: float = 0.5,
        stale_after_s: float = 5.0,
        queue_limit: int = 10_000,
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._service = service
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._stale_after = timedelta(seconds=stale_after_s)
        self._queue_limit = queue_limit
        self._queue: deque[Enqueued] = deque()
        self._queued = 0
        self._overflowed = False
        self._unconfirmed: list[int] = []
        """Ids published and not yet deleted (the delete failed): deleted first next time."""
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def queued(self) -> int:
        """Records handed over and not yet published."""
        return self._queued

    def committed(self, enqueued: Enqueued) -> None:
        """Take over the rows a transaction committed, to publish them from memory.

        Beyond ``queue_limit`` records waiting (the broker is out), the queue is dropped:
        the table holds every row, and the relay reads it back once the broker answers.
        """
        if enqueued.ids and not self._overflowed:
            if self._queued + len(enqueued.ids) > self._queue_limit:
                self._overflowed = True  # the relay drops the queue between two sends
            else:
                self._queue.append(enqueued)
                self._queued += len(enqueued.ids)
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._service}")

    async def stop(self) -> None:
        """Drain what is committed, then stop."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    async def drain(self) -> int:
        """Publish everything committed so far; return how many records went out.

        First the rows in the table that were not handed over (what an earlier run or a
        dead replica left: older than anything handed over since), then the queue.
        """
        total = 0
        while True:
            sent = await self._publish_one_batch()
            total += sent
            if sent < self._batch_size:
                return total + await self._publish_handed_over()

    async def backlog(self) -> tuple[int, float]:
        """Rows committed and not yet published, and the age in seconds of the oldest
        (0 when none), exported as ``skuhub_outbox_backlog_records`` and
        ``skuhub_outbox_oldest_age_seconds``."""
        async with self._engine.connect() as conn:
            count, age = (
                await conn.execute(
                    select(
                        func.count(),
                        func.coalesce(
                            func.extract("epoch", func.now() - func.min(outbox.c.created_at)), 0
                        ),
                    ).select_from(outbox)
                )
            ).one()
        rows, seconds = int(count), max(float(age), 0.0)
        metrics.OUTBOX_BACKLOG.labels(self._service).set(rows)
        metrics.OUTBOX_OLDEST_AGE.labels(self._service).set(seconds)
        return rows, seconds

    async def watch_backlog(self, interval_s: float) -> None:
        """Measure the backlog every ``interval_s`` until cancelled; an unreachable
        database leaves the last figures (the dependency watch reports it)."""
        while True:
            try:
                await self.backlog()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox backlog not measured (%s)", describe(exc))
            # The measuring clock, not a synchronisation.
            await asyncio.sleep(interval_s)

    async def _run(self) -> None:
        backoff = 0.1
        whole_table = True  # at start: what an earlier run left
        polled = asyncio.get_running_loop().time()
        while True:
            try:
                if self._overflowed:
                    # From here on commits are queued again; a row both queued and read back
                    # below is published twice (the inbox of its consumer drops the second).
                    self._queue.clear()
                    self._queued = 0
                    self._overflowed = False
                    whole_table = True
                if whole_table or self._stopping:
                    await self.drain()
                    whole_table = False
                else:
                    await self._publish_handed_over()
                    now = asyncio.get_running_loop().time()
                    if now - polled >= self._poll_interval_s:
                        polled = now
                        while await self._publish_one_batch(stale=True) == self._batch_size:
                            pass
                backoff = 0.1
            except Exception as exc:
                if self._stopping:
                    log.exception("outbox relay could not drain while stopping; rows stay queued")
                    return
                # An outage is reported by the dependency watch; a traceback adds nothing.
                log.log(
                    logging.WARNING if _outage(exc) else logging.ERROR,
                    "outbox relay failed (%s); retrying in %.1fs",
                    describe(exc),
                    backoff,
                    exc_info=not _outage(exc),
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if self._stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._poll_interval_s)
            self._wakeup.clear()

    async def _publish_handed_over(self) -> int:
        """Publish the queue of committed rows in batches, deleting each batch's rows."""
        total = 0
        if self._unconfirmed:
            await self._delete(self._unconfirmed)
        while self._queue and not self._overflowed:
            taken: list[Enqueued] = []
            size = 0
            for enqueued in self._queue:
                if taken and size + len(enqueued.ids) > self._batch_size:
                    break
                taken.append(enqueued)
                size += len(enqueued.ids)
            await self._publisher.send_batch([r for e in taken for r in e.records])
            for _ in taken:
                self._queue.popleft()
            self._queued -= size
            self._unconfirmed = [i for e in taken for i in e.ids]
            metrics.OUTBOX_PUBLISHED.labels(self._service).inc(size)
            total += size
            await self._delete(self._unconfirmed)
        return total

    async def _delete(self, ids: list[int]) -> None:
        """Delete published rows in a statement of its own (no transaction around it: a
        delete lost in a crash only means those rows are published again)."""
        async with self._engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(_DELETE_PUBLISHED, _PUBLISHED.keys(ids))
        self._unconfirmed = []

    async def _publish_one_batch(self, *, stale: bool = False) -> int:
        """Read a batch of rows back from the table, but those in the queue (and those not
        older than ``stale_after_s`` when ``stale``), publish and delete them."""
        query = (
            select(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.value, outbox.c.headers)
            .where(~_QUEUED.clause)
            .order_by(outbox.c.id)
            .limit(self._batch_size)
            .with_for_update(skip_locked=True)
        )
        if stale:
            query = query.where(outbox.c.created_at < func.now() - self._stale_after)
        queued = [i for enqueued in self._queue for i in enqueued.ids]
        async with self._engine.begin() as conn:
            rows = (await conn.execute(query, _QUEUED.keys(queued))).all()
            if not rows:
                return 0
            await self._publisher.send_batch(
                [
                    (
                        row.topic,
                        KafkaRecord(row.key, row.value, kafka_headers(row.headers)),
                    )
                    for row in rows
                ]
            )
            await conn.execute(_DELETE_PUBLISHED, _PUBLISHED.keys([row.id for row in rows]))
        metrics.OUTBOX_PUBLISHED.labels(self._service).inc(len(rows))
        return len(rows)


def _outage(exc: BaseException) -> bool:
    """True for errors of an unreachable or timed-out Kafka or PostgreSQL."""
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated
    return isinstance(exc, (OSError, TimeoutError, KafkaError, sa_exc.TimeoutError))

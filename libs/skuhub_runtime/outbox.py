"""Transactional outbox: record events in the business transaction, publish them after.

:func:`enqueue` writes records with the same connection (so the same
transaction) as the change they describe. :class:`OutboxRelay` drains the
table in batches: it publishes a batch, waits for the broker's acks and only
then deletes the rows, so a crash re-publishes (at least once) and never loses.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Iterable
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


_ENQUEUE = BulkInsert(outbox, ("topic", "key", "value", "headers"))
_PUBLISHED = Among([outbox.c.id], "ids")
_DELETE_PUBLISHED = delete(outbox).where(_PUBLISHED.clause)


async def enqueue(conn: AsyncConnection, records: Iterable[tuple[str, KafkaRecord]]) -> int:
    """Add records (topic, record) to the outbox in the caller's transaction, in order."""
    rows = [
        (topic, record.key, record.value, stored_headers(record.headers))
        for topic, record in records
    ]
    await _ENQUEUE.execute(conn, rows)
    return len(rows)


class OutboxRelay:
    """Publishes outbox rows in id order; woken right after a commit, polls as a fallback."""

    def __init__(
        self,
        engine: AsyncEngine,
        publisher: Publisher,
        *,
        service: str,
        batch_size: int = 1000,
        poll_interval_s: float = 0.5,
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._service = service
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        """Ask the relay to drain now (call after committing outbox rows)."""
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
        """Publish everything committed so far; return how many records went out."""
        total = 0
        while True:
            sent = await self._publish_one_batch()
            total += sent
            if sent < self._batch_size:
                return total

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
        while True:
            try:
                await self.drain()
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

    async def _publish_one_batch(self) -> int:
        async with self._engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(
                        outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.value, outbox.c.headers
                    )
                    .order_by(outbox.c.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
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

"""What a dead letter says when the record did not cause the failure: no library internals."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from skuhub_contracts import dead_letters
from skuhub_contracts.codec import Envelope, KafkaRecord, encode
from skuhub_contracts.events import StockMoved
from skuhub_contracts.subscriptions import STOCK_MOVEMENTS
from skuhub_runtime.consumer import BatchConsumer
from skuhub_runtime.dead_letter_log import DeadLetterLog
from skuhub_runtime.handling import ConsumerSpec, Incoming, Outcome
from skuhub_runtime.outbox import kafka_headers
from skuhub_runtime.settings import ServiceSettings
from skuhub_runtime.transactions import Transactions
from tests.upstream import as_consumed, movement

pytestmark = pytest.mark.integration

INTERNAL = re.compile(
    r"^internal error \(reference ([0-9a-f]{12})\): the record was not applied; "
    r"the service log has the detail under this reference$"
)


async def fails_on_poison(conn: AsyncConnection, batch: Sequence[Incoming[StockMoved]]) -> Outcome:
    """A handler with a bug: a statement PostgreSQL refuses (SQLSTATE 22P02) for one record."""
    for incoming in batch:
        if incoming.payload.source_system == "poison":
            await conn.execute(text("SELECT CAST('not a number' AS integer)"))
    return Outcome()


async def test_an_unexpected_failure_dead_letters_only_its_record_with_a_reference_to_the_log(
    engine: AsyncEngine, settings: ServiceSettings, caplog: pytest.LogCaptureFixture
) -> None:
    sku = f"DLQ-{uuid.uuid4().hex[:8]}"
    poison = Envelope(movement(sku, source_system="poison"))
    good = Envelope(movement(sku))
    topic = settings.topic("stock.stock-moved.v1")
    consumer = BatchConsumer(
        ConsumerSpec(STOCK_MOVEMENTS, fails_on_poison),
        settings=settings,
        transactions=Transactions(
            engine, lambda conn: conn, settings=settings, after_commit=lambda _: None
        ),
    )

    with caplog.at_level(logging.ERROR, logger="skuhub_runtime.consumer"):
        result = await consumer.process(
            [as_consumed(topic, encode(poison), 0), as_consumed(topic, encode(good), 1)]
        )

    assert result.applied == [good.id], "the good record in the same batch is applied"
    [(record, reason)] = result.dead_lettered
    assert record.offset == 0
    matched = INTERNAL.match(reason)
    assert matched is not None, reason
    for internal in ("CAST", "asyncpg", "SQL"):
        assert internal not in reason
    reference = matched.group(1)
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged, "the log holds the detail under the reference"
    assert logged[0].exc_info is not None
    assert "invalid input syntax" in str(logged[0].exc_info[1])
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT headers FROM outbox"))).scalars().all()
    written = [dict(kafka_headers(row)) for row in rows]
    assert [h[dead_letters.REASON].decode() for h in written] == [reason]


async def test_a_batch_read_again_dead_letters_each_bad_record_once(
    engine: AsyncEngine, settings: ServiceSettings
) -> None:
    # A batch whose offsets were not committed (a rebalance, a broker outage) comes again.
    # Its good records are skipped by the inbox; the bad ones have no event id to claim, so
    # the record's place (topic, partition, offset) stands in for one.
    sku = f"DLQ-{uuid.uuid4().hex[:8]}"
    topic = settings.topic("stock.stock-moved.v1")
    poison = as_consumed(topic, encode(Envelope(movement(sku, source_system="poison"))), 0)
    good = as_consumed(topic, encode(Envelope(movement(sku))), 1)
    record = encode(Envelope(movement(sku)))
    malformed = as_consumed(topic, KafkaRecord(record.key, b"{not json", record.headers), 2)
    consumer = BatchConsumer(
        ConsumerSpec(STOCK_MOVEMENTS, fails_on_poison),
        settings=settings,
        transactions=Transactions(
            engine, lambda conn: conn, settings=settings, after_commit=lambda _: None
        ),
    )

    first = await consumer.process([poison, good, malformed])
    again = await consumer.process([poison, good, malformed])

    assert sorted(record.offset for record, _ in first.dead_lettered) == [0, 2]
    assert again.dead_lettered == []
    assert again.applied == []
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT headers FROM outbox"))).scalars().all()
    offsets = sorted(int(dict(kafka_headers(row))[dead_letters.OFFSET]) for row in rows)
    assert offsets == [0, 2], "each bad record is dead-lettered once"


class Refuses:
    """A handler that refuses every event until its cause is fixed, then applies them."""

    def __init__(self) -> None:
        self.fixed = False
        self.applied: list[str] = []

    async def __call__(self, _: AsyncConnection, batch: Sequence[Incoming[StockMoved]]) -> Outcome:
        if not self.fixed:
            return Outcome(rejected={i.id: "unit CS cannot be converted" for i in batch})
        self.applied += [i.id for i in batch]
        return Outcome()


def replayed(record: KafkaRecord, dead_letter_id: str) -> KafkaRecord:
    return KafkaRecord(
        record.key,
        record.value,
        [*record.headers, (dead_letters.REPLAY_OF, dead_letter_id.encode())],
    )


async def test_a_replay_of_a_refused_event_is_judged_again_and_applied_once_its_cause_is_fixed(
    engine: AsyncEngine, settings: ServiceSettings
) -> None:
    topic = settings.topic("stock.stock-moved.v1")
    record = encode(Envelope(movement(f"DLQ-{uuid.uuid4().hex[:8]}")))
    handler = Refuses()
    consumer = BatchConsumer(
        ConsumerSpec(STOCK_MOVEMENTS, handler),
        settings=settings,
        transactions=Transactions(
            engine, lambda conn: conn, settings=settings, after_commit=lambda _: None
        ),
    )

    refused = await consumer.process([as_consumed(topic, record, 0)])
    redelivered = await consumer.process([as_consumed(topic, record, 0)])
    too_early = await consumer.process([as_consumed(topic, replayed(record, "0-0-1"), 5)])
    read_again = await consumer.process([as_consumed(topic, replayed(record, "0-0-1"), 5)])
    handler.fixed = True
    fixed = await consumer.process([as_consumed(topic, replayed(record, "0-1-2"), 7)])
    once_more = await consumer.process([as_consumed(topic, replayed(record, "0-0-1"), 9)])

    assert [r.offset for r, _ in refused.dead_lettered] == [0]
    assert (redelivered.dead_lettered, redelivered.duplicates) == ([], 1)
    assert [r.offset for r, _ in too_early.dead_lettered] == [5], "refused again: a new letter"
    assert (read_again.dead_lettered, read_again.duplicates) == ([], 1)
    assert fixed.applied == [record_id(record)]
    assert fixed.dead_lettered == []
    assert (once_more.applied, once_more.dead_lettered, once_more.duplicates) == ([], [], 1)
    assert handler.applied == [record_id(record)], "applied exactly once"


def record_id(record: KafkaRecord) -> str:
    return dict(record.headers)["ce_id"].decode()


async def test_reading_dead_letters_without_kafka_is_an_outage_not_a_crash(
    settings: ServiceSettings,
) -> None:
    # Nothing listens on port 9 (discard) here: the HTTP layer answers OSError with a 503.
    unreachable = settings.model_copy(
        update={"kafka_bootstrap": "127.0.0.1:9", "dead_letter_read_timeout_s": 5.0}
    )

    with pytest.raises(OSError, match=r"Kafka did not answer|did not finish"):
        await DeadLetterLog(unreachable).all()

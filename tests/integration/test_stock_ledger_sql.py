"""The stock ledger's SQL repository against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from skuhub_stock.adapters.ledger_repository import SqlLedgerRepository
from skuhub_stock.domain.ledger import SkuFacts
from skuhub_stock.domain.movements import Movement, MovementKind
from skuhub_stock.service_layer.facts import Described, record_facts
from skuhub_stock.service_layer.ports import ReportedMovement
from skuhub_stock.service_layer.record_movements import record_movements
from tests.harness import wait_until_async

pytestmark = pytest.mark.integration

GLN = "4012345000009"


def receipt(sku: str, quantity: int) -> ReportedMovement:
    return ReportedMovement(
        event_id=str(uuid.uuid4()),
        source_system="it",
        source_sequence=uuid.uuid4().int % 10**12,
        movement=Movement(
            MovementKind.RECEIPT, sku, GLN, Decimal(quantity), "EA", datetime.now(UTC)
        ),
    )


async def _backend_pid(conn: AsyncConnection) -> int:
    return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _waiting_on_a_lock(engine: AsyncEngine, pid: int) -> bool:
    async with engine.connect() as conn:
        state = await conn.execute(
            text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        )
        return state.scalar() == "Lock"


async def test_two_writers_creating_the_same_new_position_lose_no_update(
    engine: AsyncEngine,
) -> None:
    """Two replicas (say, around a rebalance) record receipts for a SKU nobody has seen yet."""
    sku = f"RACE-{uuid.uuid4().hex[:6]}"
    first_recorded = asyncio.Event()
    second_pid: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def first() -> None:
        async with engine.begin() as conn:
            await record_movements(SqlLedgerRepository(conn), [receipt(sku, 3)], datetime.now(UTC))
            first_recorded.set()
            # Commit only once the second writer is stuck behind this transaction.
            pid = await second_pid
            await wait_until_async(
                lambda: _waiting_on_a_lock(engine, pid),
                what="the second writer to wait for the first",
            )

    async def second() -> None:
        await first_recorded.wait()
        async with engine.begin() as conn:
            second_pid.set_result(await _backend_pid(conn))
            await record_movements(SqlLedgerRepository(conn), [receipt(sku, 4)], datetime.now(UTC))

    await asyncio.wait_for(asyncio.gather(first(), second()), 60)

    async with engine.connect() as conn:
        [position] = await SqlLedgerRepository(conn).positions_of(sku)
    assert (position.on_hand, position.version) == (Decimal(7), 2)


async def test_a_kit_defined_while_its_components_move_counts_their_stock(
    engine: AsyncEngine,
) -> None:
    """The catalog makes a kit while its components' first receipts are being recorded:
    the receipts look for kits before the kit's definition is committed, the kit must
    then read the receipts' positions (each transaction would otherwise miss the other's
    change, and the kit would stay at 0 until a component moved again)."""
    tag = uuid.uuid4().hex[:6]
    mug, lid, kit = f"MUG-{tag}", f"LID-{tag}", f"KIT-{tag}"
    receipts_recorded, defined = asyncio.Event(), asyncio.Event()
    kit_pid: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def receipts() -> None:
        async with engine.begin() as conn:
            repo = SqlLedgerRepository(conn)
            await record_movements(repo, [receipt(mug, 7), receipt(lid, 5)], datetime.now(UTC))
            receipts_recorded.set()
            # Commit once the kit's transaction, beside this one, waits for it or is done.
            pid = await kit_pid

            async def waiting_or_done() -> bool:
                return defined.is_set() or await _waiting_on_a_lock(engine, pid)

            await wait_until_async(waiting_or_done, what="the kit's transaction to get this far")

    async def definition() -> None:
        await receipts_recorded.wait()
        async with engine.begin() as conn:
            kit_pid.set_result(await _backend_pid(conn))
            facts = SkuFacts("EA", components=((mug, Decimal(2)), (lid, Decimal(1))))
            await record_facts(
                SqlLedgerRepository(conn),
                [Described(kit, facts, 1, str(uuid.uuid4()))],
                datetime.now(UTC),
                unknown_sku="accept",
            )
        defined.set()

    await asyncio.wait_for(asyncio.gather(receipts(), definition()), 60)

    async with engine.connect() as conn:
        kits = await SqlLedgerRepository(conn).kit_positions_of([kit])
    # min(floor(7 / 2), floor(5 / 1)) whole kits at the location both are stocked.
    assert [(k.location, k.available) for k in kits] == [(GLN, Decimal(3))]


async def test_a_review_taking_a_place_does_not_hold_up_a_writer_queuing_it_again(
    engine: AsyncEngine,
) -> None:
    """The replenishment review takes places off the queue in a transaction that lasts as
    long as the review; a consumer changing one of those places meanwhile queues it again
    at once (it used to wait on the queue's unique index until the review committed), and
    the place is there for the next review."""
    sku = f"QUEUE-{uuid.uuid4().hex[:6]}"
    async with engine.begin() as conn:
        await record_movements(SqlLedgerRepository(conn), [receipt(sku, 3)], datetime.now(UTC))
    async with engine.connect() as reviewing:
        review = await reviewing.begin()
        taken = await SqlLedgerRepository(reviewing).take_review_queue(10_000)
        assert (sku, GLN) in taken
        # The review's transaction is still open: the writer must not wait for it.
        async with engine.begin() as conn:
            await asyncio.wait_for(
                record_movements(SqlLedgerRepository(conn), [receipt(sku, 2)], datetime.now(UTC)),
                10,
            )
        await review.commit()
    async with engine.begin() as conn:
        assert (sku, GLN) in await SqlLedgerRepository(conn).take_review_queue(10_000)

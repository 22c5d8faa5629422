"""Time in the ledger against the real PostgreSQL: lots expire on the clock and are
re-published; late cycle counts and late movements land by when they happened."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from skuhub_stock.adapters.ledger_repository import SqlLedgerRepository, sql_unit_of_work
from skuhub_stock.domain.ledger import SkuFacts
from skuhub_stock.domain.movements import Movement, MovementKind
from skuhub_stock.entrypoints.schedules import expire_due_lots
from skuhub_stock.service_layer.ports import ReportedMovement
from skuhub_stock.service_layer.record_movements import record_movements

pytestmark = pytest.mark.integration

GLN = "4012345000009"
MORNING = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def reported(
    kind: MovementKind, sku: str, quantity: int, minutes: int, **fields: object
) -> ReportedMovement:
    movement = Movement(
        kind,
        sku,
        GLN,
        Decimal(quantity),
        "EA",
        MORNING + timedelta(minutes=minutes),
        **fields,  # type: ignore[arg-type]
    )
    return ReportedMovement(str(uuid.uuid4()), "it", uuid.uuid4().int % 10**12, movement)


async def record(engine: AsyncEngine, *batch: ReportedMovement) -> None:
    async with engine.begin() as conn:
        await record_movements(SqlLedgerRepository(conn), batch, MORNING + timedelta(hours=4))


async def test_a_lot_leaves_atp_at_its_expiry_and_is_published_once(engine: AsyncEngine) -> None:
    sku = f"MILK-{uuid.uuid4().hex[:6]}"
    await record(
        engine,
        reported(MovementKind.RECEIPT, sku, 6, 0, lot="L1", expires_on=date(2026, 12, 3)),
        reported(MovementKind.RECEIPT, sku, 4, 1, lot="L2", expires_on=date(2026, 12, 9)),
    )

    async def run_job(now: datetime) -> list[tuple[str | None, Decimal, Decimal, Decimal]]:
        async with engine.begin() as conn:
            decision = await expire_due_lots(sql_unit_of_work(conn), now)
        return [
            (
                e.payload.lot,
                e.payload.expired,
                e.payload.available_to_promise,
                e.payload.location_available_to_promise,
            )
            for e in decision.emitted
            if e.payload.sku == sku
        ]

    assert await run_job(datetime(2026, 12, 2, 23, 59, tzinfo=UTC)) == []
    at_midnight = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
    assert await run_job(at_midnight) == [("L1", Decimal(6), Decimal(0), Decimal(4))]
    assert await run_job(at_midnight + timedelta(seconds=1)) == [], "published once"

    async with engine.connect() as conn:
        positions = await SqlLedgerRepository(conn).positions_of(sku)
    assert [(p.lot, p.expired, p.version) for p in positions] == [("L1", True, 2), ("L2", False, 1)]


async def test_a_late_count_and_a_late_movement_land_by_when_they_happened(
    engine: AsyncEngine,
) -> None:
    sku = f"SOAP-{uuid.uuid4().hex[:6]}"
    await record(engine, reported(MovementKind.RECEIPT, sku, 10, 0))
    await record(engine, reported(MovementKind.SHIPMENT, sku, 2, 30))
    count = reported(MovementKind.CYCLE_COUNT, sku, 7, 20)
    await record(engine, count)  # counted 7 at 08:20; the 08:30 shipment still applies
    early = reported(MovementKind.RECEIPT, sku, 5, 10)
    await record(engine, early)  # happened at 08:10, before the count: absorbed

    async with engine.connect() as conn:
        repo = SqlLedgerRepository(conn)
        [position] = await repo.positions_of(sku)
        journal = await repo.journal_of(sku, after=None, limit=10)
        [variance] = await repo.variances_of(sku, limit=10)
    assert (position.on_hand, position.received, position.counted_at) == (
        Decimal(5),
        Decimal(15),
        MORNING + timedelta(minutes=20),
    )
    assert [e.outcome for e in journal] == [None, None, None, "absorbed"]
    assert (variance.variance.cause, variance.variance.expected) == (count.event_id, Decimal(10))


async def test_kits_follow_their_components_in_postgresql(engine: AsyncEngine) -> None:
    tag = uuid.uuid4().hex[:6]
    kit, board, piece = f"CHESS-{tag}", f"BOARD-{tag}", f"PIECE-{tag}"
    async with engine.begin() as conn:
        repo = SqlLedgerRepository(conn)
        facts = SkuFacts("EA", components=((board, Decimal(1)), (piece, Decimal(32))))
        assert await repo.save_facts(kit, facts, 1)
    async with engine.begin() as conn:
        recorded = await record_movements(
            SqlLedgerRepository(conn),
            [
                reported(MovementKind.RECEIPT, board, 4, 0),
                reported(MovementKind.RECEIPT, piece, 70, 1),
            ],
            MORNING,
        )
    assert [(k.sku, k.available, k.version) for k in recorded.kits] == [(kit, Decimal(2), 1)]
    async with engine.begin() as conn:
        recorded = await record_movements(
            SqlLedgerRepository(conn), [reported(MovementKind.SHIPMENT, piece, 40, 2)], MORNING
        )
    assert [(k.available, k.version) for k in recorded.kits] == [(Decimal(0), 2)]

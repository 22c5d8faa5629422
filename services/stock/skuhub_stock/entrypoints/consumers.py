"""Kafka entrypoint: stock-moved records in, stock-level-changed events out (via the outbox)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_contracts.events import StockLevelChanged, StockMoved
from skuhub_contracts.topics import STOCK_LEVEL_CHANGED, STOCK_MOVED
from skuhub_runtime.consumer import ConsumerSpec, Incoming, Outcome, Rejection
from skuhub_runtime.outbox import enqueue_events
from skuhub_runtime.settings import ServiceSettings
from skuhub_stock.adapters.ledger_repository import SqlLedgerRepository
from skuhub_stock.domain.ledger import Movement, MovementKind, Position
from skuhub_stock.service_layer.ports import ReportedMovement
from skuhub_stock.service_layer.record_movements import record_movements

SOURCE = "/skuhub/stock"


def to_reported(incoming: Incoming) -> ReportedMovement:
    event: StockMoved = incoming.payload
    return ReportedMovement(
        event_id=incoming.envelope.id,
        source_system=event.source_system,
        source_sequence=event.source_sequence,
        occurred_at=event.occurred_at,
        movement=Movement(
            kind=MovementKind(event.kind.value),
            sku=event.sku,
            location=event.location,
            quantity=event.quantity,
            unit=event.unit,
            lot=event.lot,
            destination=event.destination,
            expires_on=event.expires_on,
        ),
    )


def to_stock_level_changed(position: Position, caused_by: str) -> StockLevelChanged:
    return StockLevelChanged(
        sku=position.sku,
        location=position.location,
        lot=position.lot or None,
        unit=position.unit,
        on_hand=position.on_hand,
        reserved=position.reserved,
        in_transit=position.in_transit,
        available_to_promise=position.available_to_promise,
        expires_on=position.expires_on,
        position_version=position.version,
        caused_by=caused_by,
        changed_at=datetime.now(UTC),
    )


def stock_moved_consumer(settings: ServiceSettings) -> ConsumerSpec:
    out_topic = settings.topic(STOCK_LEVEL_CHANGED.name)

    async def handle(conn: AsyncConnection, batch: Sequence[Incoming]) -> Outcome:
        by_id = {i.envelope.id: i for i in batch}
        recorded = await record_movements(
            SqlLedgerRepository(conn), [to_reported(i) for i in batch]
        )
        await enqueue_events(
            conn,
            (
                (out_topic, by_id[cause].derive(to_stock_level_changed(p, cause), source=SOURCE))
                for p, cause in recorded.changed
            ),
        )
        return Outcome(
            rejections=[Rejection(by_id[i], reason) for i, reason in recorded.rejected.items()],
            ignored=frozenset(recorded.duplicates),
        )

    return ConsumerSpec(name="stock-moved", topics=[STOCK_MOVED], handler=handle)

"""Translation at the edge between wire contracts and the stock domain."""

from __future__ import annotations

from datetime import UTC, datetime

from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import StockLevelChanged, StockMoved
from skuhub_stock.domain.ledger import Movement, MovementKind, Position
from skuhub_stock.service_layer.ports import ReportedMovement


def to_movement(event: StockMoved) -> Movement:
    return Movement(
        kind=MovementKind(event.kind.value),
        sku=event.sku,
        location=event.location,
        quantity=event.quantity,
        unit=event.unit,
        lot=event.lot,
        destination=event.destination,
        expires_on=event.expires_on,
    )


def to_reported(envelope: Envelope[StockMoved]) -> ReportedMovement:
    event = envelope.payload
    return ReportedMovement(
        event_id=envelope.id,
        source_system=event.source_system,
        source_sequence=event.source_sequence,
        occurred_at=event.occurred_at,
        movement=to_movement(event),
        reason=event.reason,
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

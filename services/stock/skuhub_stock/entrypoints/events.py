"""Translation at the edge between wire contracts and the stock domain."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import (
    PositionAnomaly,
    ProductChanged,
    StockLevelChanged,
    StockMoved,
)
from skuhub_stock.domain.kits import KitPosition
from skuhub_stock.domain.ledger import SkuFacts
from skuhub_stock.domain.movements import Movement, MovementKind
from skuhub_stock.service_layer.ports import ReportedMovement
from skuhub_stock.service_layer.record_movements import Changed


def to_movement(event: StockMoved) -> Movement:
    return Movement(
        kind=MovementKind(event.kind.value),
        sku=event.sku,
        location=event.location,
        quantity=event.quantity,
        unit=event.unit,
        occurred_at=event.occurred_at,
        lot=event.lot,
        destination=event.destination,
        expires_on=event.expires_on,
        reservation_id=event.reservation_id,
        transfer_ref=event.transfer_ref,
        order_ref=event.order_ref,
        expected_on=event.expected_on,
    )


def to_facts(event: ProductChanged) -> SkuFacts:
    return SkuFacts(
        unit=event.unit,
        packs=dict(event.packs),
        lot_tracked=event.lot_tracked,
        shelf_life_days=event.shelf_life_days,
        components=tuple((c.sku, c.quantity) for c in event.kit_components),
    )


def to_reported(envelope: Envelope[StockMoved]) -> ReportedMovement:
    event = envelope.payload
    return ReportedMovement(
        event_id=envelope.id,
        source_system=event.source_system,
        source_sequence=event.source_sequence,
        movement=to_movement(event),
        reason=event.reason,
    )


def to_stock_level_changed(changed: Changed) -> StockLevelChanged:
    """The event of a changed position. Built without validation: every figure comes from
    the ledger, which keeps them valid (validating 20 decimals per event was a fifth of the
    consumer's time; tests/unit/test_stock_handlers.py validates what it emits)."""
    p = changed.position
    return StockLevelChanged.model_construct(
        sku=p.sku,
        location=p.location,
        lot=p.lot or None,
        unit=p.unit,
        on_hand=p.on_hand,
        reserved=p.reserved,
        quality_hold=p.quality_hold,
        expired=p.expired_quantity,
        in_transit=p.in_transit,
        incoming=p.incoming,
        available_to_promise=p.available_to_promise,
        location_available_to_promise=changed.location_available_to_promise,
        expires_on=p.expires_on,
        counted_at=p.counted_at,
        received=p.received,
        shipped=p.shipped,
        returned=p.returned,
        scrapped=p.scrapped,
        lost_sales=p.lost_sales,
        anomalies=sorted(PositionAnomaly(a.value) for a in p.anomalies),
        position_version=p.version,
        caused_by=changed.cause,
        changed_at=datetime.now(UTC),
    )


def to_kit_level_changed(kit: KitPosition) -> StockLevelChanged:
    zero = Decimal(0)
    return StockLevelChanged(
        sku=kit.sku,
        location=kit.location,
        unit=kit.unit,
        on_hand=zero,
        reserved=zero,
        quality_hold=zero,
        expired=zero,
        in_transit=zero,
        incoming=zero,
        available_to_promise=kit.available,
        location_available_to_promise=kit.available,
        received=zero,
        shipped=zero,
        returned=zero,
        scrapped=zero,
        lost_sales=zero,
        kit=True,
        position_version=kit.version,
        caused_by=kit.cause,
        changed_at=datetime.now(UTC),
    )


def stock_levels(
    changed: Iterable[Changed], kits: Iterable[KitPosition]
) -> list[tuple[StockLevelChanged, str]]:
    """The stock-level-changed events of a decision, each with the event id that caused it."""
    return [(to_stock_level_changed(c), c.cause) for c in changed] + [
        (to_kit_level_changed(k), k.cause) for k in kits
    ]

"""What upstream reports: movements of stock, as facts (docs/stock.md, "Movements")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

PositionKey = tuple[str, str, str]
"""(sku, location GLN, lot; empty string for stock without a lot)."""

Place = tuple[str, str]
"""(sku, location GLN): every lot of a SKU at one location."""

NO_LOT = ""


class MovementKind(StrEnum):
    RECEIPT = "receipt"
    SHIPMENT = "shipment"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    ADJUSTMENT = "adjustment"
    RETURN = "return"
    SCRAP = "scrap"
    RESERVATION = "reservation"
    RESERVATION_RELEASE = "reservation_release"
    CYCLE_COUNT = "cycle_count"
    QUALITY_HOLD = "quality_hold"
    QUALITY_RELEASE = "quality_release"
    EXPECTED_RECEIPT = "expected_receipt"
    LOST_SALE = "lost_sale"


INBOUND = frozenset({MovementKind.RECEIPT, MovementKind.TRANSFER_IN, MovementKind.RETURN})
"""The kinds that bring a lot in, and with it its expiry date."""

OUTBOUND = frozenset(
    {
        MovementKind.SHIPMENT,
        MovementKind.SCRAP,
        MovementKind.TRANSFER_OUT,
        MovementKind.RESERVATION,
    }
)
"""The kinds that take from a location's lots first-expiring-first when they name no lot."""


class MovementRejected(Exception):
    """A movement cannot be read as a fact; ``reason`` says why, ``field`` which input."""

    def __init__(self, reason: str, *, field: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


@dataclass(frozen=True, slots=True)
class Movement:
    """One reported movement; ``quantity`` is in ``unit`` as reported."""

    kind: MovementKind
    sku: str
    location: str
    quantity: Decimal
    unit: str
    occurred_at: datetime
    lot: str | None = None
    destination: str | None = None
    expires_on: date | None = None
    reservation_id: str | None = None
    transfer_ref: str | None = None
    order_ref: str | None = None
    expected_on: date | None = None

    @property
    def key(self) -> PositionKey:
        return (self.sku, self.location, self.lot or NO_LOT)

    @property
    def places(self) -> tuple[Place, ...]:
        """The locations of the SKU the movement touches: its own, and a transfer's
        destination."""
        if self.kind is MovementKind.TRANSFER_OUT and self.destination:
            return ((self.sku, self.location), (self.sku, self.destination))
        return ((self.sku, self.location),)

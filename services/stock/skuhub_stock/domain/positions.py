"""A stock position and its buckets, and the formulas over them (docs/stock.md)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum

from skuhub_stock.domain.movements import NO_LOT, PositionKey

ZERO = Decimal(0)


class Anomaly(StrEnum):
    """A state facts put a position in that a person should look at."""

    NEGATIVE_ON_HAND = "negative_on_hand"
    OVERSOLD = "oversold"
    NEGATIVE_IN_TRANSIT = "negative_in_transit"


def expiry_instant(expires_on: date) -> datetime:
    """When a lot stops being sellable: the start (UTC) of its expiry date."""
    return datetime.combine(expires_on, time(), UTC)


@dataclass(slots=True)
class Position:
    """One SKU at one location in one lot; every quantity in the SKU's stock unit."""

    sku: str
    location: str
    lot: str
    unit: str
    on_hand: Decimal = ZERO
    reserved: Decimal = ZERO
    quality_hold: Decimal = ZERO
    in_transit: Decimal = ZERO
    incoming: Decimal = ZERO
    received: Decimal = ZERO
    shipped: Decimal = ZERO
    returned: Decimal = ZERO
    scrapped: Decimal = ZERO
    lost_sales: Decimal = ZERO
    version: int = 0
    expires_on: date | None = None
    expired: bool = False
    """Whether the lot had expired when the position last changed (the scheduler sets it
    at the expiry instant)."""
    counted_at: datetime | None = None

    @property
    def key(self) -> PositionKey:
        return (self.sku, self.location, self.lot)

    @property
    def expired_quantity(self) -> Decimal:
        return max(self.on_hand, ZERO) if self.expired else ZERO

    @property
    def sellable(self) -> Decimal:
        """On hand less what is held and expired (may be negative)."""
        return self.on_hand - self.quality_hold - self.expired_quantity

    @property
    def free(self) -> Decimal:
        """Sellable less reserved, signed: what location ATP sums."""
        return self.sellable - self.reserved

    @property
    def available_to_promise(self) -> Decimal:
        return max(self.free, ZERO)

    @property
    def projected(self) -> Decimal:
        return self.on_hand + self.in_transit + self.incoming - self.reserved

    @property
    def anomalies(self) -> frozenset[Anomaly]:
        found = set()
        if self.on_hand < 0:
            found.add(Anomaly.NEGATIVE_ON_HAND)
        if self.reserved > max(self.sellable, ZERO):
            found.add(Anomaly.OVERSOLD)
        if self.in_transit < 0:
            found.add(Anomaly.NEGATIVE_IN_TRANSIT)
        return frozenset(found)

    def expired_at(self, now: datetime) -> bool:
        return self.expires_on is not None and expiry_instant(self.expires_on) <= now

    @property
    def fefo_order(self) -> tuple[int, date, str]:
        """Sort key of first-expiring-first: dated lots by date, then undated lots by code,
        the lot-less position last."""
        if self.lot == NO_LOT:
            return (2, date.max, "")
        if self.expires_on is None:
            return (1, date.max, self.lot)
        return (0, self.expires_on, self.lot)


def location_available_to_promise(lots: Iterable[Position]) -> Decimal:
    """ATP of one SKU at one location: the signed sum over its lots, never below zero."""
    return max(sum((p.free for p in lots), ZERO), ZERO)

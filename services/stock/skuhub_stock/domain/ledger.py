"""The stock ledger: positions per SKU x location (GLN) x lot, changed by movements.

Pure Python: no I/O, no frameworks. Movements are applied as deltas except
cycle counts, which set on_hand to what was counted. On hand and in transit
may go below zero when upstream reports events out of order (a transfer-in
before its transfer-out); the ledger records what it was told and converges
once the late event arrives. Reserved never goes below zero: a release of more
than is reserved (one that arrives before its reservation) leaves zero.

One formula (docs/decisions.md): available_to_promise = max(on_hand - reserved, 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)

PositionKey = tuple[str, str, str]
"""(sku, location GLN, lot; empty string when the stock is not lot-tracked)."""


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


class MovementRejected(Exception):
    """The ledger cannot accept a movement; ``reason`` says why, ``field`` which input."""

    def __init__(self, reason: str, *, field: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


@dataclass(frozen=True, slots=True)
class Movement:
    kind: MovementKind
    sku: str
    location: str
    quantity: Decimal
    unit: str
    lot: str | None = None
    destination: str | None = None
    expires_on: date | None = None

    @property
    def key(self) -> PositionKey:
        return (self.sku, self.location, self.lot or "")


@dataclass(slots=True)
class Position:
    sku: str
    location: str
    lot: str
    unit: str
    on_hand: Decimal = ZERO
    reserved: Decimal = ZERO
    in_transit: Decimal = ZERO
    version: int = 0
    expires_on: date | None = None

    @property
    def key(self) -> PositionKey:
        return (self.sku, self.location, self.lot)

    @property
    def available_to_promise(self) -> Decimal:
        """What can be sold now: on hand less reserved, never below zero."""
        return max(self.on_hand - self.reserved, ZERO)


_INBOUND = frozenset({MovementKind.RECEIPT, MovementKind.TRANSFER_IN, MovementKind.RETURN})
"""The kinds that bring stock in, and with it a lot's expiry date."""


@dataclass
class Ledger:
    """The positions touched by one batch of movements, and which of them changed."""

    positions: dict[PositionKey, Position] = field(default_factory=dict)
    changed: dict[PositionKey, Position] = field(default_factory=dict)

    def position(self, key: PositionKey, unit: str) -> Position:
        found = self.positions.get(key)
        if found is None:
            found = Position(sku=key[0], location=key[1], lot=key[2], unit=unit)
            self.positions[key] = found
        return found

    def apply(self, movement: Movement) -> list[Position]:
        """Apply one movement; return the positions it changed.

        Raises:
            MovementRejected: the movement's unit differs from the position's, or it brings
                a lot in with another expiry date than the lot has.
        """
        there_key = (
            (movement.sku, movement.destination, movement.lot or "")
            if movement.kind is MovementKind.TRANSFER_OUT and movement.destination
            else None
        )
        # Check every position before creating any: a rejected movement leaves no trace.
        inbound = movement.kind in _INBOUND
        current = self.positions.get(movement.key)
        if (
            inbound
            and movement.expires_on is not None
            and current is not None
            and current.expires_on not in (None, movement.expires_on)
        ):
            raise MovementRejected(
                f"lot {current.lot} of {current.sku} at {current.location} expires on "
                f"{current.expires_on}, not {movement.expires_on}: a lot has one expiry date",
                field="expires_on",
            )
        for key in (movement.key, there_key):
            existing = self.positions.get(key) if key is not None else None
            if existing is not None and existing.unit != movement.unit:
                raise MovementRejected(
                    f"unit {movement.unit} does not match the position's unit {existing.unit} "
                    f"for {existing.sku} at {existing.location}; convert before sending",
                    field="unit",
                )
        here = self.position(movement.key, movement.unit)
        there = self.position(there_key, movement.unit) if there_key is not None else None
        q = movement.quantity
        match movement.kind:
            case MovementKind.RECEIPT | MovementKind.RETURN | MovementKind.ADJUSTMENT:
                here.on_hand += q
            case MovementKind.SHIPMENT | MovementKind.SCRAP:
                here.on_hand -= q
            case MovementKind.TRANSFER_OUT:
                here.on_hand -= q
                if there is not None:
                    there.in_transit += q
            case MovementKind.TRANSFER_IN:
                here.on_hand += q
                here.in_transit -= q
            case MovementKind.RESERVATION:
                here.reserved += q
            case MovementKind.RESERVATION_RELEASE:
                # Nothing can be released that is not reserved; parking an early release
                # until its reservation arrives needs reservation ids (the stock issue).
                here.reserved = max(here.reserved - q, ZERO)
            case MovementKind.CYCLE_COUNT:
                here.on_hand = q
        if inbound and movement.expires_on is not None:
            here.expires_on = movement.expires_on
        touched = [p for p in (here, there) if p is not None]
        for position in touched:
            position.version += 1
            self.changed[position.key] = position
        return touched

"""Commands (docs/stock.md, "Facts and commands"), which the service may refuse:

- reservations, granted only within what is available to promise, then released,
  confirmed (a shipment of their lots) or expired by id;
- set quantity, a count that applies only while on hand is what the caller expects.

Each turns into movements the ledger applies like upstream's, so the journal and the
positions read the same whichever way a change came."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from skuhub_stock.domain.ledger import Ledger, Reservation
from skuhub_stock.domain.movements import Movement, MovementKind

OPEN = "open"


class ReservationRefused(Exception):
    """Less is available to promise than a reservation asks for."""

    def __init__(self, requested: Decimal, available: Decimal, unit: str, where: str) -> None:
        super().__init__(f"{where}: {requested} {unit} requested, {available} available")
        self.requested = requested
        self.available = available
        self.unit = unit

    @property
    def shortage(self) -> Decimal:
        return self.requested - self.available


class ReservationClosed(Exception):
    """A reservation that is no longer open cannot be released or confirmed again."""

    def __init__(self, reservation: Reservation) -> None:
        super().__init__(f"reservation {reservation.reservation_id} is {reservation.status}")
        self.reservation = reservation


@dataclass(frozen=True, slots=True)
class Made:
    """A movement a command made, with the event id it is journaled under."""

    event_id: str
    movement: Movement


@dataclass(frozen=True, slots=True)
class ReserveCommand:
    reservation_id: str
    sku: str
    location: str
    quantity: Decimal
    unit: str
    lot: str | None
    expires_at: datetime
    idempotency_key: str | None


def reserve(ledger: Ledger, command: ReserveCommand, event_id: str) -> list[Made]:
    """Reserve within ATP (the location's, or the lot's when one is named), first expiring
    lots first.

    Raises:
        ReservationRefused: less is available than asked for; nothing changed.
        MovementRejected: the unit does not convert to the SKU's stock unit.
    """
    movement = Movement(
        MovementKind.RESERVATION,
        command.sku,
        command.location,
        command.quantity,
        command.unit,
        ledger.now,
        lot=command.lot,
        reservation_id=command.reservation_id,
    )
    quantity = ledger.quantity_in_stock_unit(movement)
    place = (command.sku, command.location)
    if command.lot is None:
        available = ledger.location_available_to_promise(place)
        where = f"{command.sku} at {command.location}"
    else:
        position = ledger.positions.get((*place, command.lot))
        available = position.available_to_promise if position is not None else Decimal(0)
        if position is not None and position.expired_at(ledger.now):
            available = Decimal(0)
        where = f"lot {command.lot} of {command.sku} at {command.location}"
    if quantity > available:
        unit = ledger.stock_unit(command.sku, place, command.unit)
        raise ReservationRefused(quantity, available, unit, where)
    ledger.apply(movement, event_id)
    reservation = ledger.reservations[(command.sku, command.reservation_id)]
    reservation.expires_at = command.expires_at
    reservation.idempotency_key = command.idempotency_key
    reservation.created_at = ledger.now
    return [Made(event_id, movement)]


def release(ledger: Ledger, reservation: Reservation, event_id: str, *, status: str) -> list[Made]:
    """Give back what an open reservation holds; it ends ``released`` or ``expired``."""
    if reservation.status != OPEN:
        raise ReservationClosed(reservation)
    made = []
    if reservation.quantity > 0:
        movement = _release_movement(ledger, reservation)
        ledger.apply(movement, event_id)
        made.append(Made(event_id, movement))
    reservation.status = status
    ledger.changed_references.add(("reservation", reservation.sku, reservation.reservation_id))
    return made


def confirm(ledger: Ledger, reservation: Reservation, event_ids: list[str]) -> list[Made]:
    """Ship what an open reservation holds, lot by lot; it ends ``confirmed``.

    ``event_ids`` gives one id for the release and one per lot shipped (the caller makes
    as many as the reservation has lots, plus one).
    """
    if reservation.status != OPEN:
        raise ReservationClosed(reservation)
    lots = [(lot, q) for lot, q in reservation.lots.items() if q > 0]
    made = release(ledger, reservation, event_ids[0], status="confirmed")
    unit = ledger.stock_unit(reservation.sku, (reservation.sku, reservation.location), "EA")
    for (lot, quantity), event_id in zip(lots, event_ids[1:], strict=False):
        # An explicit lot ("" for stock without one): the units reserved are the ones shipped.
        movement = Movement(
            MovementKind.SHIPMENT,
            reservation.sku,
            reservation.location,
            quantity,
            unit,
            ledger.now,
            lot=lot,
        )
        ledger.apply(movement, event_id)
        made.append(Made(event_id, movement))
    return made


def _release_movement(ledger: Ledger, reservation: Reservation) -> Movement:
    unit = ledger.stock_unit(reservation.sku, (reservation.sku, reservation.location), "EA")
    return Movement(
        MovementKind.RESERVATION_RELEASE,
        reservation.sku,
        reservation.location,
        reservation.quantity,
        unit,
        ledger.now,
        reservation_id=reservation.reservation_id,
    )


class StaleQuantity(Exception):
    """Set quantity expected another on hand than the position has (compare-and-set)."""

    def __init__(self, expected: Decimal, current: Decimal, where: str) -> None:
        super().__init__(
            f"{where} has {current} on hand, not the expected {expected}: read it again and "
            "decide with the current quantity"
        )
        self.expected = expected
        self.current = current


@dataclass(frozen=True, slots=True)
class SetQuantityCommand:
    sku: str
    location: str
    lot: str | None
    on_hand: Decimal
    expected_on_hand: Decimal
    unit: str


def set_quantity(ledger: Ledger, command: SetQuantityCommand, event_id: str) -> list[Made]:
    """Count the position as ``on_hand`` now, if it still has ``expected_on_hand``.

    Raises:
        StaleQuantity: on hand is not what the caller expected; nothing changed.
        MovementRejected: the unit does not convert to the SKU's stock unit.
    """
    movement = Movement(
        MovementKind.CYCLE_COUNT,
        command.sku,
        command.location,
        command.on_hand,
        command.unit,
        ledger.now,
        lot=command.lot if command.lot is not None else "",
    )
    expected = ledger.quantity_in_stock_unit(
        Movement(
            MovementKind.CYCLE_COUNT,
            command.sku,
            command.location,
            command.expected_on_hand,
            command.unit,
            ledger.now,
        )
    )
    position = ledger.positions.get(movement.key)
    current = position.on_hand if position is not None else Decimal(0)
    if current != expected:
        where = f"{command.sku} at {command.location}" + (
            f" in lot {command.lot}" if command.lot else ""
        )
        raise StaleQuantity(expected, current, where)
    ledger.apply(movement, event_id)
    return [Made(event_id, movement)]

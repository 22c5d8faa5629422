"""Use cases of the commands made over HTTP: reserve, release, confirm, expire; set quantity."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from skuhub_stock.domain.commands import (
    Made,
    ReservationRefused,
    ReserveCommand,
    SetQuantityCommand,
    confirm,
    release,
    reserve,
    set_quantity,
)
from skuhub_stock.domain.kits import KitPosition
from skuhub_stock.domain.ledger import Ledger, Reservation
from skuhub_stock.domain.movements import MovementRejected
from skuhub_stock.domain.positions import Position
from skuhub_stock.service_layer.kits import settle
from skuhub_stock.service_layer.ports import LedgerRepository, ReportedMovement, Scope
from skuhub_stock.service_layer.record_movements import Changed, changes_of

COMMAND_SOURCE = "skuhub-stock"
"""The source system the journal names for movements the service's commands make."""


class ReservationNotFound(Exception):
    def __init__(self, reservation_id: str) -> None:
        super().__init__(f"no reservation {reservation_id}")


class IdempotencyKeyReused(Exception):
    """An idempotency key sent again with another SKU, location or quantity."""

    def __init__(self, key: str, reservation: Reservation) -> None:
        super().__init__(
            f"Idempotency-Key {key} was used for reservation {reservation.reservation_id} of "
            f"{reservation.sku} at {reservation.location}; use a new key for a new reservation"
        )


@dataclass
class Commanded:
    """A reservation after a command, the positions it changed, and whether the command
    had been carried out before (an idempotent replay: nothing changed now)."""

    reservation: Reservation
    changed: list[Changed] = field(default_factory=list)
    kits: list[KitPosition] = field(default_factory=list)
    replayed: bool = False
    ledger: Ledger | None = None
    event_ids: list[str] = field(default_factory=list)
    """The journaled movements the command made (their ids cause the changed positions)."""


@dataclass
class Reserved:
    """A batch of reservation commands made in one transaction: the answer to each, in
    order (a reservation, or why it was refused), and the positions the batch changed."""

    answers: list[Commanded | Exception]
    changed: list[Changed]
    kits: list[KitPosition]
    ledger: Ledger


REFUSALS = (ReservationRefused, MovementRejected)
"""What reserving may refuse a command with (besides an idempotency key reused)."""


async def make_reservations(
    repo: LedgerRepository, commands: Sequence[ReserveCommand], now: datetime
) -> Reserved:
    """Reserve for each command in turn, in one transaction under the SKUs' locks.

    Each command is answered on its own: the reservation, the one made before under the
    same idempotency key (a replay, also within the batch), or its refusal
    (:class:`IdempotencyKeyReused` or one of :data:`REFUSALS`: nothing kept for that
    command). A refusal does not hold up the others; later commands see what earlier ones
    reserved.
    """
    scope = Scope(
        places=frozenset((c.sku, c.location) for c in commands),
        reservations=frozenset((c.sku, c.reservation_id) for c in commands),
    )
    ledger = (await repo.load(scope)).ledger(now)
    # Looked up under the SKUs' locks: racing requests with one key make one reservation.
    keys = {c.idempotency_key for c in commands if c.idempotency_key is not None}
    earlier = await repo.reservations_with_keys(keys) if keys else {}
    answers: list[Commanded | Exception] = []
    made: list[Made] = []
    for command in commands:
        key = command.idempotency_key
        if key is not None and key in earlier:
            found = earlier[key]
            answers.append(
                IdempotencyKeyReused(key, found)
                if (found.sku, found.location) != (command.sku, command.location)
                else Commanded(found, replayed=True)
            )
            continue
        try:
            made_now = reserve(ledger, command, str(uuid.uuid4()))
        except REFUSALS as refused:
            answers.append(refused)
            continue
        made += made_now
        reservation = ledger.reservations[(command.sku, command.reservation_id)]
        if key is not None:
            earlier[key] = reservation
        answers.append(Commanded(reservation, event_ids=[m.event_id for m in made_now]))
    await _journal(repo, made)
    kits = await settle(repo, ledger)
    return Reserved(answers, changes_of(ledger), kits, ledger)


async def release_reservation(
    repo: LedgerRepository, reservation_id: str, now: datetime, *, status: str = "released"
) -> Commanded:
    """Give back what the reservation holds.

    Raises:
        ReservationNotFound: no reservation has this id.
        ReservationClosed: it is released, confirmed or expired already.
    """
    ledger, reservation = await _load_reservation(repo, reservation_id, now)
    made = release(ledger, reservation, str(uuid.uuid4()), status=status)
    return await _finish(repo, ledger, reservation, made)


async def confirm_reservation(
    repo: LedgerRepository, reservation_id: str, now: datetime
) -> Commanded:
    """Ship what the reservation holds (its lots).

    Raises:
        ReservationNotFound: no reservation has this id.
        ReservationClosed: it is released, confirmed or expired already.
    """
    ledger, reservation = await _load_reservation(repo, reservation_id, now)
    event_ids = [str(uuid.uuid4()) for _ in range(len(reservation.lots) + 1)]
    made = confirm(ledger, reservation, event_ids)
    return await _finish(repo, ledger, reservation, made)


async def expire_reservations(
    repo: LedgerRepository, now: datetime, limit: int
) -> tuple[Ledger, list[KitPosition], int]:
    """Release (as ``expired``) the open reservations whose time to live has ended: the
    ledger, the kits that changed, and how many reservations were due."""
    due = await repo.reservations_due_to_expire(now, limit)
    if not due:
        return Ledger(now), [], 0
    scope = Scope(
        places=frozenset((sku, location) for sku, location, _ in due),
        reservations=frozenset((sku, reservation_id) for sku, _, reservation_id in due),
    )
    ledger = (await repo.load(scope)).ledger(now)
    made: list[Made] = []
    for sku, _, reservation_id in due:
        reservation = ledger.reservations.get((sku, reservation_id))
        if reservation is not None and reservation.status == "open":
            made += release(ledger, reservation, str(uuid.uuid4()), status="expired")
    await _journal(repo, made)
    return ledger, await settle(repo, ledger), len(due)


async def set_on_hand(
    repo: LedgerRepository, command: SetQuantityCommand, now: datetime
) -> tuple[Position, list[Changed], list[KitPosition], Ledger]:
    """Set a position's on hand if it is what the caller expects (compare-and-set).

    Raises:
        StaleQuantity: it is not; nothing changed.
    """
    scope = Scope(places=frozenset({(command.sku, command.location)}))
    ledger = (await repo.load(scope)).ledger(now)
    made = set_quantity(ledger, command, str(uuid.uuid4()))
    await _journal(repo, made)
    kits = await settle(repo, ledger)
    return ledger.positions[made[0].movement.key], changes_of(ledger), kits, ledger


async def _load_reservation(
    repo: LedgerRepository, reservation_id: str, now: datetime
) -> tuple[Ledger, Reservation]:
    found = await repo.reservation(reservation_id)
    if found is None:
        raise ReservationNotFound(reservation_id)
    scope = Scope(
        places=frozenset({(found.sku, found.location)}),
        reservations=frozenset({(found.sku, reservation_id)}),
    )
    ledger = (await repo.load(scope)).ledger(now)
    return ledger, ledger.reservations[(found.sku, reservation_id)]


async def _finish(
    repo: LedgerRepository, ledger: Ledger, reservation: Reservation, made: Sequence[Made]
) -> Commanded:
    await _journal(repo, made)
    kits = await settle(repo, ledger)
    return Commanded(reservation, changes_of(ledger), kits, ledger=ledger)


async def _journal(repo: LedgerRepository, made: Sequence[Made]) -> None:
    if not made:
        return
    sequences = await repo.next_sequences(len(made))
    await repo.record_movements(
        [
            ReportedMovement(m.event_id, COMMAND_SOURCE, sequence, m.movement)
            for m, sequence in zip(made, sequences, strict=True)
        ]
    )

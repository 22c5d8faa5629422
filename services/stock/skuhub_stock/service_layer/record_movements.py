"""Use cases of the ledger: record reported movements, check them first, expire lots."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from skuhub_stock.domain.kits import KitPosition
from skuhub_stock.domain.ledger import ACCEPT, Ledger
from skuhub_stock.domain.movements import Movement, MovementRejected
from skuhub_stock.domain.positions import Position
from skuhub_stock.service_layer.kits import settle
from skuhub_stock.service_layer.ports import LedgerRepository, ReportedMovement, Scope


@dataclass(frozen=True, slots=True)
class Changed:
    """A position a batch changed, the events that changed it in the order applied (the
    last one is the cause of its new version), and the SKU's ATP at its location now."""

    position: Position
    causes: tuple[str, ...]
    location_available_to_promise: Decimal

    @property
    def cause(self) -> str:
        return self.causes[-1]


@dataclass
class Recorded:
    """What a batch did: final positions (with the events that changed each), rejects,
    duplicates (movements journaled before under the same source system and sequence),
    and the ledger with everything else it recorded (parked, anomalies, variances)."""

    changed: list[Changed] = field(default_factory=list)
    kits: list[KitPosition] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    duplicates: set[str] = field(default_factory=set)
    ledger: Ledger | None = None


async def record_movements(
    repo: LedgerRepository,
    batch: Sequence[ReportedMovement],
    now: datetime,
    *,
    unknown_sku: str = ACCEPT,
    judged_again: Sequence[str] = (),
) -> Recorded:
    """Journal the movements, apply the new ones in order, save what changed.

    A movement already journaled under the same (source system, source
    sequence) is a duplicate delivery and changes nothing; except one refused
    before and named in ``judged_again`` (a replay of its dead letter), whose
    refusal is forgotten so that it is judged again.
    """
    result = Recorded()
    if judged_again:
        await repo.forget_refusals(judged_again)
    new_ids = await repo.record_movements(batch)
    # The first of each new event id: a record delivered twice in one batch applies once.
    fresh = list({m.event_id: m for m in reversed(batch) if m.event_id in new_ids}.values())[::-1]
    result.duplicates = {m.event_id for m in batch} - new_ids
    if not fresh:
        return result
    ledger = (await repo.load(Scope.of(m.movement for m in fresh))).ledger(now, unknown_sku)
    for reported in fresh:
        try:
            ledger.apply(reported.movement, reported.event_id)
        except MovementRejected as rejected:
            result.rejected[reported.event_id] = rejected.reason
    await repo.mark_rejected(result.rejected)
    result.kits = await settle(repo, ledger)
    result.changed = changes_of(ledger)
    result.ledger = ledger
    return result


async def expire_lots(
    repo: LedgerRepository, now: datetime, limit: int, cause: str
) -> tuple[Ledger, list[KitPosition]]:
    """Mark the positions whose lot expired by ``now`` (at most ``limit``) as expired; the
    ledger and the kits that changed."""
    due = await repo.positions_due_to_expire(now, limit)
    scope = Scope(places=frozenset(key[:2] for key in due))
    ledger = (await repo.load(scope)).ledger(now)
    ledger.expire(due, cause)
    return ledger, await settle(repo, ledger)


def changes_of(ledger: Ledger) -> list[Changed]:
    return [
        Changed(
            position,
            tuple(ledger.causes[key]),
            ledger.location_available_to_promise(key[:2]),
        )
        for key, position in ledger.changed.items()
    ]


async def refusals(
    repo: LedgerRepository,
    movements: Sequence[Movement],
    now: datetime,
    *,
    unknown_sku: str = ACCEPT,
) -> dict[int, MovementRejected]:
    """Which of ``movements`` the ledger would refuse now, by index, and why.

    The same domain code as :func:`record_movements`, on a copy of the current
    state; nothing is locked or saved. HTTP ingest asks this before it takes
    movements, so a client hears about a refusal instead of the dead-letter topic.
    """
    state = await repo.load(Scope.of(movements), lock=False)
    ledger = copy.deepcopy(state).ledger(now, unknown_sku)
    refused: dict[int, MovementRejected] = {}
    for index, movement in enumerate(movements):
        try:
            ledger.apply(movement, f"check-{index}")
        except MovementRejected as rejected:
            refused[index] = rejected
    return refused

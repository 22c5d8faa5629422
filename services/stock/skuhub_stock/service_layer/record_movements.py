"""Use cases: record a batch of reported stock movements; check movements before taking them."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from skuhub_stock.domain.ledger import (
    Ledger,
    Movement,
    MovementKind,
    MovementRejected,
    Position,
    PositionKey,
)
from skuhub_stock.service_layer.ports import LedgerRepository, ReportedMovement


@dataclass(frozen=True, slots=True)
class Changed:
    """A position a batch changed, and the events that changed it, in the order applied
    (the last one is the cause of its new version)."""

    position: Position
    causes: tuple[str, ...]

    @property
    def cause(self) -> str:
        return self.causes[-1]


@dataclass
class Recorded:
    """What a batch did: final positions (with the events that changed each), rejects,
    and duplicates (movements journaled before under the same source system and sequence)."""

    changed: list[Changed] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    duplicates: set[str] = field(default_factory=set)


async def record_movements(repo: LedgerRepository, batch: Sequence[ReportedMovement]) -> Recorded:
    """Journal the movements, apply the new ones in order, save the changed positions.

    A movement already journaled under the same (source system, source
    sequence) is a duplicate delivery and changes nothing.
    """
    result = Recorded()
    new_ids = await repo.record_movements(batch)
    fresh = [m for m in batch if m.event_id in new_ids]
    result.duplicates = {m.event_id for m in batch} - new_ids
    if not fresh:
        return result

    ledger = Ledger(
        {p.key: p for p in await repo.load_positions(_touched(m.movement for m in fresh))}
    )
    causes: dict[PositionKey, list[str]] = {}
    for reported in fresh:
        try:
            touched = ledger.apply(reported.movement)
        except MovementRejected as rejected:
            result.rejected[reported.event_id] = rejected.reason
            await repo.mark_rejected(reported.event_id, rejected.reason)
            continue
        for position in touched:
            causes.setdefault(position.key, []).append(reported.event_id)
    await repo.save_positions(ledger.changed.values())
    result.changed = [Changed(p, tuple(causes[k])) for k, p in ledger.changed.items()]
    return result


async def refusals(
    repo: LedgerRepository, movements: Sequence[Movement]
) -> dict[int, MovementRejected]:
    """Which of ``movements`` the ledger would refuse now, by index, and why.

    The same domain code as :func:`record_movements`, on a copy of the current
    positions; nothing is locked or saved. HTTP ingest asks this before it takes
    movements, so a client hears about a refusal instead of the dead-letter topic.
    """
    current = await repo.load_positions(_touched(movements), lock=False)
    ledger = Ledger({p.key: copy.copy(p) for p in current})
    refused: dict[int, MovementRejected] = {}
    for index, movement in enumerate(movements):
        try:
            ledger.apply(movement)
        except MovementRejected as rejected:
            refused[index] = rejected
    return refused


def _touched(movements: Iterable[Movement]) -> set[PositionKey]:
    """Every position the movements change: their own, and a transfer's destination."""
    keys: set[PositionKey] = set()
    for movement in movements:
        keys.add(movement.key)
        if movement.kind is MovementKind.TRANSFER_OUT and movement.destination:
            keys.add((movement.sku, movement.destination, movement.lot or ""))
    return keys

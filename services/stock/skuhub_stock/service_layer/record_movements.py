"""Use case: record a batch of reported stock movements in the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from skuhub_stock.domain.ledger import Ledger, MovementKind, MovementRejected, Position
from skuhub_stock.service_layer.ports import LedgerRepository, ReportedMovement


@dataclass
class Recorded:
    """What a batch did: final positions (with the event that last changed each), rejects,
    and duplicates (movements journaled before under the same source system and sequence)."""

    changed: list[tuple[Position, str]] = field(default_factory=list)
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

    keys = {m.movement.key for m in fresh}
    keys |= {
        (m.movement.sku, m.movement.destination, m.movement.lot or "")
        for m in fresh
        if m.movement.kind is MovementKind.TRANSFER_OUT and m.movement.destination
    }
    ledger = Ledger({p.key: p for p in await repo.load_positions(keys)})
    last_cause: dict[tuple[str, str, str], str] = {}
    for reported in fresh:
        try:
            touched = ledger.apply(reported.movement)
        except MovementRejected as rejected:
            result.rejected[reported.event_id] = rejected.reason
            await repo.mark_rejected(reported.event_id, rejected.reason)
            continue
        for position in touched:
            last_cause[position.key] = reported.event_id
    await repo.save_positions(ledger.changed.values())
    result.changed = [(p, last_cause[k]) for k, p in ledger.changed.items()]
    return result

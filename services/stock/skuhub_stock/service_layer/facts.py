"""Use case: the catalog describes SKUs (stock unit, packs, lots, shelf life, kit components).

Movements quarantined until their SKU was known apply now, in the order they arrived; a
kit whose components changed is recomputed at every location its components are stocked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from skuhub_stock.domain.kits import KitPosition, kit_available
from skuhub_stock.domain.ledger import SkuFacts
from skuhub_stock.domain.movements import MovementRejected
from skuhub_stock.domain.positions import Position, location_available_to_promise
from skuhub_stock.service_layer.kits import settle
from skuhub_stock.service_layer.ports import LedgerRepository, Scope
from skuhub_stock.service_layer.record_movements import Recorded, changes_of


@dataclass(frozen=True, slots=True)
class Described:
    """A SKU's stock facts from one product-changed (its version and event id)."""

    sku: str
    facts: SkuFacts
    version: int
    cause: str


async def record_facts(
    repo: LedgerRepository,
    described: Sequence[Described],
    now: datetime,
    *,
    unknown_sku: str,
) -> Recorded:
    """Keep each SKU's newest facts; apply what waited for them."""
    stored = [
        (d.sku, d.facts) for d in described if await repo.save_facts(d.sku, d.facts, d.version)
    ]
    causes = {d.sku: d.cause for d in described}
    result = Recorded()
    if not stored:
        return result
    waiting = await repo.load(Scope(products=frozenset(sku for sku, _ in stored)), lock=False)
    movements = [p.movement for queue in waiting.parked.values() for p in queue]
    scope = dataclasses.replace(Scope.of(movements), products=frozenset(sku for sku, _ in stored))
    ledger = (await repo.load(scope)).ledger(now, unknown_sku)
    for sku, facts in stored:
        for parked in ledger.describe(sku, facts):
            try:
                ledger.apply(parked.movement, parked.cause)
            except MovementRejected as rejected:
                result.rejected[parked.cause] = rejected.reason
                await repo.mark_rejected(parked.cause, rejected.reason)
    result.kits = await settle(repo, ledger)
    result.kits += await redefine_kits(repo, [(s, f, causes[s]) for s, f in stored if f.components])
    result.changed = changes_of(ledger)
    result.ledger = ledger
    return result


async def redefine_kits(
    repo: LedgerRepository, kits: Sequence[tuple[str, SkuFacts, str]]
) -> list[KitPosition]:
    """Kits whose components may have changed, at every location a component is stocked."""
    if not kits:
        return []
    changed: list[KitPosition] = []
    for kit_sku, facts, cause in kits:
        positions: list[Position] = []
        for component, _ in facts.components:
            positions += await repo.positions_of(component)
        places = sorted({(kit_sku, p.location) for p in positions})
        stored = await repo.kit_positions(places)
        for place in places:
            location = place[1]
            atp = {
                sku: location_available_to_promise(
                    [p for p in positions if (p.sku, p.location) == (sku, location)]
                )
                for sku, _ in facts.components
            }
            available = kit_available(facts.components, atp)
            current = stored.get(place) or KitPosition(kit_sku, location, facts.unit, available)
            if current.version and current.available == available:
                continue
            current.available, current.version = available, current.version + 1
            current.cause = cause
            changed.append(current)
    await repo.save_kit_positions(changed)
    return changed

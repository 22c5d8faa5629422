"""Use case: the catalog describes SKUs (stock unit, packs, lots, shelf life, kit components).

Movements quarantined until their SKU was known apply now, in the order they arrived; a
kit whose components may have changed is recomputed at every location its components are
stocked (:func:`skuhub_stock.service_layer.kits.redefine_kits`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from skuhub_stock.domain.kits import Kit
from skuhub_stock.domain.ledger import SkuFacts
from skuhub_stock.domain.movements import MovementRejected
from skuhub_stock.service_layer.kits import redefine_kits, settle
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
    await repo.mark_rejected(result.rejected)
    result.kits = await settle(repo, ledger)
    kits = [(Kit(s, f.unit, f.components), causes[s]) for s, f in stored if f.components]
    result.kits += await redefine_kits(repo, kits)
    result.changed = changes_of(ledger)
    result.ledger = ledger
    return result

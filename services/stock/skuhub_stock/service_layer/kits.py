"""Use case: after a change, the kits made of the changed SKUs at those locations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from skuhub_stock.domain.kits import Kit, KitPosition, kit_available
from skuhub_stock.domain.ledger import Ledger
from skuhub_stock.domain.movements import Place
from skuhub_stock.domain.positions import Position, location_available_to_promise
from skuhub_stock.service_layer.ports import LedgerRepository, Scope


async def settle(repo: LedgerRepository, ledger: Ledger) -> list[KitPosition]:
    """Save what the ledger changed, then the kits it touched; the kits that changed."""
    await repo.save(ledger)
    return await refresh_kits(repo, ledger)


async def refresh_kits(repo: LedgerRepository, ledger: Ledger) -> list[KitPosition]:
    """Recompute (and save) the kits the ledger's changes touch; return those that changed.

    Call after the ledger is saved: the components are read back from storage, under the
    kits' locks, so two batches changing different components of one kit end in the
    figure of both.
    """
    causes: dict[Place, str] = {key[:2]: ledger.causes[key][-1] for key in ledger.changed}
    if not causes:
        return []
    kits = await repo.kits_containing(sorted({sku for sku, _ in causes}))
    targets: dict[Place, str] = {}
    for kit in kits.values():
        members = {sku for sku, _ in kit.components}
        for (sku, location), cause in causes.items():
            if sku in members:
                targets[(kit.sku, location)] = cause
    return await recompute_kits(repo, kits, targets)


async def redefine_kits(
    repo: LedgerRepository, kits: Sequence[tuple[Kit, str]]
) -> list[KitPosition]:
    """Kits whose components may have changed (``(kit, cause)``), at every location one of
    their components is stocked.

    The components are read under their locks. A batch moving one of them may be running
    beside this one, and it looked for the kits that contain it before this kit's
    definition was committed. Waiting for it means its positions are read here. Without
    the wait, each transaction would miss the other's change.
    """
    components = frozenset(sku for kit, _ in kits for sku, _ in kit.components)
    if components:
        await repo.load(Scope(products=components))  # the components' locks
    targets: dict[Place, str] = {}
    for kit, cause in kits:
        for component, _ in kit.components:
            for position in await repo.positions_of(component):
                targets[(kit.sku, position.location)] = cause
    return await recompute_kits(repo, {kit.sku: kit for kit, _ in kits}, targets)


async def recompute_kits(
    repo: LedgerRepository, kits: Mapping[str, Kit], targets: Mapping[Place, str]
) -> list[KitPosition]:
    """Each target kit's availability at its location (``(kit SKU, location)`` -> the
    cause), from its components' positions read under the kits' locks; save and return the
    kits whose availability changed (or that are new)."""
    if not targets:
        return []
    await repo.load(Scope(places=frozenset(targets)))  # the kits' locks
    needed = frozenset(
        (sku, location) for kit_sku, location in targets for sku, _ in kits[kit_sku].components
    )
    state = await repo.load(Scope(places=needed), lock=False)
    by_place: dict[Place, list[Position]] = {}
    for position in state.positions:
        by_place.setdefault(position.key[:2], []).append(position)
    stored = await repo.kit_positions(sorted(targets))
    changed: list[KitPosition] = []
    for (kit_sku, location), cause in sorted(targets.items()):
        kit = kits[kit_sku]
        atp = {
            sku: location_available_to_promise(by_place.get((sku, location), []))
            for sku, _ in kit.components
        }
        available = kit_available(kit.components, atp)
        current = stored.get((kit_sku, location)) or KitPosition(
            kit_sku, location, kit.unit, Decimal(0)
        )
        if current.version and current.available == available:
            continue
        current.available, current.version, current.cause = available, current.version + 1, cause
        changed.append(current)
    await repo.save_kit_positions(changed)
    return changed

"""Use cases: families and the completeness of each product against its family.

A product's family is its own, or else its model's (the resolved family). A family change
that alters a product's completeness makes a new version of that product, with a history
entry (``via`` the family), which the caller publishes: completeness is kept current on
every change, never by a batch job.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime

from skuhub_catalog.domain.completeness import (
    Family,
    FamilyChange,
    FamilyExistsError,
    FamilyNotFoundError,
    NewFamily,
    apply_family_change,
    completeness,
    new_family,
)
from skuhub_catalog.domain.history import ANONYMOUS, entry_for
from skuhub_catalog.domain.product import Product
from skuhub_catalog.domain.product_model import Lineage, resolve
from skuhub_catalog.service_layer.ports import CatalogUnitOfWork
from skuhub_catalog.service_layer.product_models import lineage_of
from skuhub_catalog.service_layer.snapshots import Channels, Families, Republished


@dataclass(frozen=True, slots=True)
class FamilySaved:
    family: Family
    republished: tuple[Republished, ...] = ()


async def create_family(
    uow: CatalogUnitOfWork,
    data: NewFamily,
    channels: Channels,
    *,
    actor: str = ANONYMOUS,
    now: datetime | None = None,
) -> FamilySaved:
    """Create a family; products that already name it get their completeness.

    Raises:
        FamilyExistsError, InvalidFamilyError.
    """
    now = now or datetime.now(UTC)
    family = new_family(data, channels, now=now)
    if not await uow.families.add(family):
        raise FamilyExistsError(
            f"a family with code {data.code} exists already; change it with PATCH"
        )
    return FamilySaved(family, await _republish(uow, None, family, channels, actor, now))


async def update_family(
    uow: CatalogUnitOfWork,
    code: str,
    change: FamilyChange,
    channels: Channels,
    *,
    expected_version: int | None = None,
    actor: str = ANONYMOUS,
    now: datetime | None = None,
) -> FamilySaved:
    """Change a family; then a new version of each product whose completeness it altered.

    Raises:
        FamilyNotFoundError, VersionConflictError, InvalidFamilyError.
    """
    now = now or datetime.now(UTC)
    current = await uow.families.get(code, for_update=True)
    if current is None:
        raise FamilyNotFoundError(f"no family {code}; create it with POST /v1/families")
    family = apply_family_change(
        current, change, channels, now=now, expected_version=expected_version
    )
    if family is current:
        return FamilySaved(current)
    await uow.families.update(family)
    return FamilySaved(family, await _republish(uow, current, family, channels, actor, now))


async def _republish(
    uow: CatalogUnitOfWork,
    before: Family | None,
    after: Family,
    channels: Channels,
    actor: str,
    now: datetime,
) -> tuple[Republished, ...]:
    republished: list[Republished] = []
    definitions = await Families(uow).definitions(after)
    was_defined = await Families(uow).definitions(before)
    for product, lineage in await _members(uow, after.code):
        shown = resolve(product, lineage)
        now_complete = completeness(shown, after, channels, definitions)
        if completeness(shown, before, channels, was_defined) == now_complete:
            continue
        newer = dataclasses.replace(
            product, version=product.version + 1, updated_at=now, completeness=now_complete
        )
        await uow.products.update(newer)
        entry = entry_for(shown, resolve(newer, lineage), actor=actor, via=f"family {after.code}")
        await uow.history.record(entry)
        republished.append(Republished(newer, lineage))
    return tuple(republished)


async def _members(uow: CatalogUnitOfWork, code: str) -> list[tuple[Product, Lineage | None]]:
    """The live products whose resolved family is ``code``, with their lineage."""
    members: list[tuple[Product, Lineage | None]] = []
    # Locked, like every product a use case gives a new version: a concurrent save of one
    # of them waits, so no two writers make the same version.
    for product in await uow.products.in_family(code, for_update=True):
        lineage = (
            await lineage_of(uow.models, product.product_model) if product.product_model else None
        )
        members.append((product, lineage))
    for model in await uow.models.in_family(code):
        for holder in (model, *await uow.models.children(model.code)):
            lineage = await lineage_of(uow.models, holder.code)
            for variant in await uow.products.variants_of(holder.code, for_update=True):
                if variant.family is None:  # its own family wins, and is counted above
                    members.append((variant, lineage))
    return list({p.sku: (p, lineage) for p, lineage in members}.values())

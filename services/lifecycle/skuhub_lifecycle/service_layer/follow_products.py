"""Use case: follow a batch of product-changed snapshots from the catalog."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from skuhub_lifecycle.domain.policy import InventoryPolicy
from skuhub_lifecycle.domain.stages import ProductFacts, SkuStage, StageChange
from skuhub_lifecycle.service_layer.policies import refresh_policies
from skuhub_lifecycle.service_layer.ports import LifecycleUnitOfWork


@dataclass(frozen=True, slots=True)
class ReportedProduct:
    """A product snapshot with the id of the event that carried it."""

    event_id: str
    product: ProductFacts


@dataclass
class Followed:
    """What a batch did: stage and policy changes (with the event causing each), and
    snapshots already seen (duplicates or older versions arriving late)."""

    changes: list[tuple[StageChange, str]] = field(default_factory=list)
    policies: list[tuple[InventoryPolicy, str]] = field(default_factory=list)
    already_seen: set[str] = field(default_factory=set)


async def follow_products(
    uow: LifecycleUnitOfWork, batch: Sequence[ReportedProduct], *, now: datetime | None = None
) -> Followed:
    """Apply the snapshots in order; save every state they touched in one go.

    A new SKU enters at concept; the catalog's facts (approval, completeness, model,
    replacement) are kept for the gates; a deletion moves the SKU to discontinued.
    """
    now = now or datetime.now(UTC)
    result = Followed()
    states = await uow.stages.load({r.product.sku for r in batch})
    touched: dict[str, SkuStage] = {}
    causes: dict[str, str] = {}
    for reported in batch:
        product = reported.product
        state = states.get(product.sku)
        if state is None:
            state = states[product.sku] = SkuStage.enter(product, now=now)
            result.changes.append((state.history[-1], reported.event_id))
        elif state.has_seen(product):
            result.already_seen.add(reported.event_id)  # a duplicate or a late older snapshot
            continue
        else:
            change = state.follow(product, now=now)
            if change is not None:
                result.changes.append((change, reported.event_id))
        touched[product.sku] = state
        causes[product.sku] = reported.event_id
    if touched:
        await uow.stages.save(touched.values())
        moved = {change.sku: change.stage for change, _ in result.changes}
        for policy in await refresh_policies(uow, moved.items(), now=now):
            result.policies.append((policy, causes[policy.sku]))
    return result

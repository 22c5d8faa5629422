"""Use case: follow a batch of product-changed snapshots from the catalog."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from skuhub_lifecycle.domain.stages import (
    ForbiddenTransitionError,
    ProductFacts,
    SkuStage,
    StageChange,
)
from skuhub_lifecycle.service_layer.ports import StageRepository


@dataclass(frozen=True, slots=True)
class ReportedProduct:
    """A product snapshot with the id of the event that carried it."""

    event_id: str
    product: ProductFacts


@dataclass
class Followed:
    """What a batch did: stage changes (with the event causing each), refused events, and
    snapshots already seen (duplicates or older versions arriving late)."""

    changes: list[tuple[StageChange, str]] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    already_seen: set[str] = field(default_factory=set)


async def follow_products(
    repo: StageRepository, batch: Sequence[ReportedProduct], *, now: datetime | None = None
) -> Followed:
    """Apply the snapshots in order; save every state they touched in one go."""
    now = now or datetime.now(UTC)
    result = Followed()
    states = await repo.load({r.product.sku for r in batch})
    touched: dict[str, SkuStage] = {}
    for reported in batch:
        product = reported.product
        state = states.get(product.sku)
        change: StageChange | None
        if state is None:
            state, change = SkuStage.enter(product, now=now)
            states[product.sku] = state
        elif state.has_seen(product):
            result.already_seen.add(reported.event_id)  # a duplicate or a late older snapshot
            continue
        else:
            try:
                change = state.follow(product, now=now)
            except ForbiddenTransitionError as forbidden:
                result.rejected[reported.event_id] = forbidden.reason
                continue
        touched[product.sku] = state  # its product_version moved on, maybe its stage too
        if change is not None:
            result.changes.append((change, reported.event_id))
    if touched:
        await repo.save(touched.values())
    return result

"""The lifecycle service's handlers: they decide; the runtime does the I/O around them."""

from __future__ import annotations

from collections.abc import Sequence

from skuhub_contracts.events import ProductChanged
from skuhub_lifecycle.domain.stages import SkuStage, Stage
from skuhub_lifecycle.entrypoints.events import to_product_facts, to_stage_changed
from skuhub_lifecycle.service_layer.follow_products import ReportedProduct, follow_products
from skuhub_lifecycle.service_layer.ports import LifecycleUnitOfWork
from skuhub_lifecycle.service_layer.transitions import transition_stage
from skuhub_runtime.handling import Decision, Incoming, Outcome
from skuhub_runtime.origin import Origin


async def on_product_changed(
    uow: LifecycleUnitOfWork, batch: Sequence[Incoming[ProductChanged]]
) -> Outcome:
    """Follow the catalog's snapshots; emit the stage changes they cause."""
    by_id = {incoming.id: incoming for incoming in batch}
    reported = [ReportedProduct(i.id, to_product_facts(i.payload)) for i in batch]
    followed = await follow_products(uow.stages, reported)
    return Outcome(
        emitted=[
            by_id[cause].derive(to_stage_changed(change)) for change, cause in followed.changes
        ],
        rejected=followed.rejected,
        ignored=frozenset(followed.already_seen),
    )


async def transition(
    uow: LifecycleUnitOfWork,
    sku: str,
    target: Stage,
    reason: str,
    origin: Origin,
    *,
    expected_version: int | None,
) -> Decision[SkuStage]:
    """An operator moves a SKU; emit the stage change."""
    moved = await transition_stage(
        uow.stages, sku, target, reason, expected_version=expected_version
    )
    change = origin.envelope(to_stage_changed(moved.change), time=moved.change.changed_at)
    return Decision(moved.state, emitted=[change])

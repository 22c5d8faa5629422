"""The lifecycle service's inventory policies in: translation at the edge, and the handler.

The lifecycle service publishes a SKU's policy (``skuhub.inventory-policy-changed.v1``)
whenever its stage or classes change it. The stock service keeps the highest version per
SKU; the review applies it (docs/stock.md, "Lifecycle policy").
"""

from __future__ import annotations

from collections.abc import Sequence

from skuhub_contracts.events import InventoryPolicyChanged
from skuhub_runtime.handling import Incoming, Outcome
from skuhub_stock.domain.replenishment import LifecyclePolicy
from skuhub_stock.service_layer.replenishment import (
    ReplenishmentUnitOfWork,
    apply_lifecycle_policies,
)


def to_lifecycle_policy(event: InventoryPolicyChanged) -> LifecyclePolicy:
    return LifecyclePolicy(
        sku=event.sku,
        version=event.policy_version,
        stage=event.stage.value,
        replenish=event.replenish,
        service_level=event.service_level,
        review_period_days=event.review_period_days,
        buffer_multiplier=event.buffer_multiplier,
        changed_at=event.changed_at,
        velocity_class=event.velocity_class.value if event.velocity_class else None,
        variability_class=event.variability_class.value if event.variability_class else None,
        reason=event.reason,
    )


async def on_inventory_policy_changed(
    uow: ReplenishmentUnitOfWork, batch: Sequence[Incoming[InventoryPolicyChanged]]
) -> Outcome:
    """Keep each SKU's newest lifecycle policy; the SKU's places are reviewed again.

    Emits nothing: proposals come from the periodic review. An event whose version is not
    above the stored one (or another's in the batch) is ``ignored``: a re-delivery or a late
    arrival, which changes nothing.
    """
    applied = await apply_lifecycle_policies(
        uow.replenishment, [(i.id, to_lifecycle_policy(i.payload)) for i in batch]
    )
    return Outcome(ignored=frozenset(i.id for i in batch if i.id not in applied))

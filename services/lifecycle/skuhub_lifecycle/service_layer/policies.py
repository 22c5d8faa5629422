"""Use case: keep each SKU's inventory policy in step with its stage and classes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from skuhub_lifecycle.domain.policy import InventoryPolicy, next_policy
from skuhub_lifecycle.domain.stages import Stage
from skuhub_lifecycle.service_layer.ports import LifecycleUnitOfWork


async def refresh_policies(
    uow: LifecycleUnitOfWork, stages: Iterable[tuple[str, Stage]], *, now: datetime
) -> list[InventoryPolicy]:
    """New policies for the SKUs whose stage or classes changed them; saved, to publish."""
    wanted = dict(stages)
    if not wanted:
        return []
    current = await uow.policies.policies(wanted, for_update=True)
    classes = await uow.policies.classes(wanted)
    changed: list[InventoryPolicy] = []
    for sku, stage in sorted(wanted.items()):
        found = classes.get(sku)
        policy = next_policy(
            current.get(sku),
            sku,
            stage,
            found.velocity if found else None,
            found.variability if found else None,
            now=now,
        )
        if policy is not None:
            changed.append(policy)
    await uow.policies.save_policies(changed)
    return changed

"""Translation at the edge between wire contracts and the lifecycle domain."""

from __future__ import annotations

from skuhub_contracts.events import (
    LifecycleStage,
    LifecycleStageChanged,
    ProductChanged,
    ProductStatus,
)
from skuhub_lifecycle.domain.stages import ProductFacts, StageChange


def to_product_facts(event: ProductChanged) -> ProductFacts:
    return ProductFacts(
        sku=event.sku,
        product_version=event.product_version,
        enabled=event.status is ProductStatus.ENABLED,
        deleted=event.deleted,
    )


def to_stage_changed(change: StageChange) -> LifecycleStageChanged:
    return LifecycleStageChanged(
        sku=change.sku,
        stage=LifecycleStage(change.stage.value),
        previous_stage=LifecycleStage(change.previous.value) if change.previous else None,
        stage_version=change.version,
        reason=change.reason,
        changed_at=change.changed_at,
    )

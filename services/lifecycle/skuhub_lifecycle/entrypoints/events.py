"""Translation at the edge between wire contracts and the lifecycle domain."""

from __future__ import annotations

from skuhub_contracts.events import (
    InventoryPolicyChanged,
    LifecycleStage,
    LifecycleStageChanged,
    ProductChanged,
    RelationKind,
    StockLevelChanged,
    VariabilityClass,
    VelocityClass,
    WorkflowState,
)
from skuhub_lifecycle.domain.flows import PositionReport
from skuhub_lifecycle.domain.policy import InventoryPolicy
from skuhub_lifecycle.domain.stages import ChannelReadiness, ProductFacts, StageChange

APPROVED = frozenset({WorkflowState.APPROVED, WorkflowState.PUBLISHED})


def to_product_facts(event: ProductChanged) -> ProductFacts:
    replacements = event.relations.get(RelationKind.REPLACEMENT, [])
    return ProductFacts(
        sku=event.sku,
        product_version=event.product_version,
        deleted=event.deleted,
        approved=event.workflow in APPROVED,
        readiness=tuple(
            ChannelReadiness(c.channel, c.locale, c.complete, tuple(c.missing))
            for c in event.completeness
        ),
        product_model=event.product_model,
        replacement=replacements[0] if replacements else None,
    )


def to_position_report(event: StockLevelChanged) -> PositionReport:
    return PositionReport(
        sku=event.sku,
        location=event.location,
        lot=event.lot,
        version=event.position_version,
        on_hand=event.on_hand,
        reserved=event.reserved,
        location_available_to_promise=event.location_available_to_promise,
        received=event.received,
        shipped=event.shipped,
        returned=event.returned,
        scrapped=event.scrapped,
        lost_sales=event.lost_sales,
        changed_at=event.changed_at,
    )


def to_stage_changed(change: StageChange) -> LifecycleStageChanged:
    return LifecycleStageChanged(
        sku=change.sku,
        stage=LifecycleStage(change.stage.value),
        previous_stage=LifecycleStage(change.previous.value) if change.previous else None,
        stage_version=change.version,
        reason=change.reason,
        actor=change.actor,
        product_model=change.product_model,
        pre_order=change.pre_order,
        successor=change.successor,
        changed_at=change.changed_at,
    )


def to_policy_changed(policy: InventoryPolicy) -> InventoryPolicyChanged:
    return InventoryPolicyChanged(
        sku=policy.sku,
        policy_version=policy.version,
        stage=LifecycleStage(policy.stage.value),
        velocity_class=VelocityClass(policy.velocity.value) if policy.velocity else None,
        variability_class=(
            VariabilityClass(policy.variability.value) if policy.variability else None
        ),
        replenish=policy.terms.replenish,
        service_level=policy.terms.service_level,
        review_period_days=policy.terms.review_period_days,
        buffer_multiplier=policy.terms.buffer_multiplier,
        reason=policy.terms.reason,
        changed_at=policy.changed_at,
    )

"""Translation at the edge between wire contracts and replenishment, and its defaults.

What the ledger's handler needs to wire replenishment in, per batch, in its transaction::

    await note_demands(uow.replenishment, filter(None, (demand_of(i.payload) for i in batch)))
    proposals = await review(uow.replenishment, figures, now, defaults=defaults)
    emitted += [incoming.derive(to_replenishment_proposed(p)) for p in proposals]

(``figures``: the :class:`PositionFigures` of the SKU-locations the batch changed, their
lots added up; ``incoming``: the movement that caused the review.)
"""

from __future__ import annotations

from datetime import UTC

from skuhub_contracts.events import ReplenishmentProposed, StockMoved
from skuhub_runtime.settings import ServiceSettings
from skuhub_stock.domain.replenishment import (
    DemandNoted,
    Proposal,
    ReplenishmentPolicy,
    demand_from,
)
from skuhub_stock.service_layer.replenishment import ReplenishmentDefaults
from skuhub_stock.settings import StockSettings


def to_replenishment_proposed(proposal: Proposal) -> ReplenishmentProposed:
    return ReplenishmentProposed(
        sku=proposal.sku,
        location=proposal.location,
        unit=proposal.unit,
        available_to_promise=proposal.available_to_promise,
        reorder_point=proposal.reorder_point,
        safety_stock=proposal.safety_stock,
        proposed_quantity=proposal.quantity,
        proposed_at=proposal.created_at,
        proposal_id=proposal.id,
        inventory_position=proposal.inventory_position,
        order_up_to=proposal.order_up_to,
    )


def demand_of(event: StockMoved) -> DemandNoted | None:
    """The demand a reported movement stands for (shipments and lost sales), on the UTC day
    it happened."""
    day = event.occurred_at.astimezone(UTC).date()
    return demand_from(event.kind.value, event.sku, event.location, day, event.quantity)


def replenishment_defaults(settings: ServiceSettings) -> ReplenishmentDefaults:
    """The default policy and history window (settings ``SKUHUB_REPLENISHMENT_*``)."""
    stock = settings if isinstance(settings, StockSettings) else StockSettings()
    return ReplenishmentDefaults(
        policy=ReplenishmentPolicy(
            lead_time_days=stock.replenishment_lead_time_days,
            review_period_days=stock.replenishment_review_period_days,
            service_level=stock.replenishment_service_level,
            order_multiple=stock.replenishment_order_multiple,
        ),
        history_days=stock.replenishment_history_days,
    )

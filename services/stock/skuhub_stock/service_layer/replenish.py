"""Use case: after the ledger changed, note the demand it saw and review the places it
changed against their reorder points (docs/replenishment.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from skuhub_stock.domain.ledger import Ledger
from skuhub_stock.domain.replenishment import DemandNoted, PositionFigures, Proposal
from skuhub_stock.service_layer.replenishment import (
    ReplenishmentDefaults,
    ReplenishmentRepository,
    note_demands,
    review,
)


async def replenish(
    repo: ReplenishmentRepository,
    ledger: Ledger | None,
    now: datetime,
    defaults: ReplenishmentDefaults,
) -> list[Proposal]:
    """Note the ledger's shipments and lost sales; propose where a changed place fell to its
    reorder point. Inventory position counts sellable units only (not held or expired)."""
    if ledger is None:
        return []
    await note_demands(
        repo,
        (
            DemandNoted(d.place[0], d.place[1], d.day, d.shipped, d.lost_sales)
            for d in ledger.demand
        ),
    )
    places = sorted({key[:2] for key in ledger.changed})
    figures = []
    for place in places:
        lots = ledger.at(place)
        if not lots:
            continue
        figures.append(
            PositionFigures(
                sku=place[0],
                location=place[1],
                unit=lots[0].unit,
                on_hand=sum((p.sellable for p in lots), Decimal(0)),
                reserved=sum((p.reserved for p in lots), Decimal(0)),
                in_transit=sum((p.in_transit for p in lots), Decimal(0)),
                incoming=sum((p.incoming for p in lots), Decimal(0)),
            )
        )
    return await review(repo, figures, now.astimezone(UTC), defaults=defaults)

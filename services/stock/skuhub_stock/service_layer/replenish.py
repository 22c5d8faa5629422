"""Use cases joining the ledger and replenishment (docs/replenishment.md).

Per batch, only the demand the ledger saw is noted (one statement). The review against
reorder points is periodic, as the review period of the policy suggests: the ledger queues
the places it changed, and a job reviews them a few hundred at a time, off the path of
movements and commands.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from skuhub_stock.domain.ledger import Ledger
from skuhub_stock.domain.movements import Place
from skuhub_stock.domain.positions import Position
from skuhub_stock.domain.replenishment import DemandNoted, PositionFigures, Proposal
from skuhub_stock.service_layer.ports import LedgerRepository, Scope
from skuhub_stock.service_layer.replenishment import (
    ReplenishmentDefaults,
    ReplenishmentRepository,
    note_demands,
    review,
)


async def note_demand(repo: ReplenishmentRepository, ledger: Ledger | None) -> None:
    """Add the shipments and lost sales the ledger applied to the daily demand."""
    if ledger is None or not ledger.demand:
        return
    await note_demands(
        repo,
        (
            DemandNoted(d.place[0], d.place[1], d.day, d.shipped, d.lost_sales)
            for d in ledger.demand
        ),
    )


async def review_changed_places(
    ledger_repo: LedgerRepository,
    repo: ReplenishmentRepository,
    now: datetime,
    defaults: ReplenishmentDefaults,
    limit: int,
) -> tuple[list[Proposal], int]:
    """Review up to ``limit`` queued places against their reorder points: the proposals
    made, and how many places were reviewed. Inventory position counts sellable units only
    (not held or expired)."""
    places = await ledger_repo.take_review_queue(limit)
    if not places:
        return [], 0
    state = await ledger_repo.load(Scope(places=frozenset(places)), lock=False)
    figures = _figures(places, state.positions)
    return await review(repo, figures, now.astimezone(UTC), defaults=defaults), len(places)


def _figures(places: Sequence[Place], positions: Sequence[Position]) -> list[PositionFigures]:
    lots: dict[Place, list[Position]] = {}
    for position in positions:
        lots.setdefault(position.key[:2], []).append(position)
    figures = []
    for place in sorted(set(places)):
        found = lots.get(place)
        if not found:
            continue
        figures.append(
            PositionFigures(
                sku=place[0],
                location=place[1],
                unit=found[0].unit,
                on_hand=sum((p.sellable for p in found), Decimal(0)),
                reserved=sum((p.reserved for p in found), Decimal(0)),
                in_transit=sum((p.in_transit for p in found), Decimal(0)),
                incoming=sum((p.incoming for p in found), Decimal(0)),
            )
        )
    return figures

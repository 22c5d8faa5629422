"""Use case: follow a batch of stock-level-changed positions from the stock service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from skuhub_lifecycle.domain.flows import PositionReport, apply_reports
from skuhub_lifecycle.service_layer.ports import FlowRepository


@dataclass(frozen=True, slots=True)
class FollowedStock:
    """Which reports of the batch were already applied (by index)."""

    already_seen: frozenset[int]


async def follow_stock(repo: FlowRepository, batch: Sequence[PositionReport]) -> FollowedStock:
    """Fold the reports into each SKU's network stock and day ledger; save in one go."""
    stocks = await repo.load({r.sku for r in batch})
    applied = apply_reports(stocks, batch)
    if applied.positions:
        touched = {r.sku for r in applied.positions}
        await repo.save(
            [stocks[sku] for sku in touched],
            applied.positions,
            applied.days.values(),
            applied.stockouts,
        )
    return FollowedStock(frozenset(applied.already_seen))

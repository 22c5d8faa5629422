"""The stock service's handlers: they decide; the runtime does the I/O around them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from skuhub_contracts.events import InventoryPolicyChanged, ProductChanged, StockMoved
from skuhub_contracts.subscriptions import STOCK_MOVEMENTS, STOCK_POLICIES, STOCK_PRODUCTS
from skuhub_runtime.handling import ConsumerSpec, Incoming, Outcome
from skuhub_stock.domain.ledger import ACCEPT
from skuhub_stock.entrypoints.events import (
    to_facts,
    to_kit_level_changed,
    to_reported,
    to_stock_level_changed,
)
from skuhub_stock.entrypoints.lifecycle_policies import on_inventory_policy_changed
from skuhub_stock.entrypoints.metrics import observe
from skuhub_stock.service_layer.facts import Described, record_facts
from skuhub_stock.service_layer.ports import StockUnitOfWork
from skuhub_stock.service_layer.record_movements import Recorded, record_movements
from skuhub_stock.service_layer.replenish import note_demand


@dataclass(frozen=True, slots=True)
class StockHandlers:
    """The handlers of the stock service's subscriptions, with the settings they follow."""

    unknown_sku: str = ACCEPT
    """Movements of SKUs the catalog has not described: accept, quarantine or reject."""

    async def on_stock_moved(
        self, uow: StockUnitOfWork, batch: Sequence[Incoming[StockMoved]]
    ) -> Outcome:
        """Apply upstream movements to the ledger; emit the changed positions.

        One stock-level-changed per position per batch, caused by the last movement that
        changed it and as old as the oldest: its origin time is the earliest of theirs, so
        the latency measured from it includes the wait of every movement it stands for.
        """
        reported = [to_reported(i.envelope) for i in batch]
        now = datetime.now(UTC)
        recorded = await record_movements(
            uow.ledger,
            reported,
            now,
            unknown_sku=self.unknown_sku,
            judged_again=[i.id for i in batch if i.replay_of],
        )
        await note_demand(uow.replenishment, recorded.ledger)
        return _outcome(recorded, batch)

    async def on_product_changed(
        self, uow: StockUnitOfWork, batch: Sequence[Incoming[ProductChanged]]
    ) -> Outcome:
        """Keep each SKU's stock facts; apply movements that waited for them; re-publish
        kits whose components changed."""
        described = [
            Described(i.payload.sku, to_facts(i.payload), i.payload.product_version, i.id)
            for i in batch
            if not i.payload.deleted
        ]
        now = datetime.now(UTC)
        recorded = await record_facts(uow.ledger, described, now, unknown_sku=self.unknown_sku)
        await note_demand(uow.replenishment, recorded.ledger)
        return _outcome(recorded, batch)

    async def on_inventory_policy_changed(
        self, uow: StockUnitOfWork, batch: Sequence[Incoming[InventoryPolicyChanged]]
    ) -> Outcome:
        """Keep each SKU's newest lifecycle policy for replenishment (older or equal versions
        are ignored); its places are reviewed again."""
        return await on_inventory_policy_changed(uow, batch)


def _outcome(recorded: Recorded, batch: Sequence[Incoming[Any]]) -> Outcome:
    observe(recorded.ledger)
    by_id = {incoming.id: incoming for incoming in batch}
    emitted = []
    for changed in recorded.changed:
        # A movement parked in an earlier batch is not in this one: the event that let it
        # through (its partner, or the product that made its SKU known) stands for it.
        here = [by_id[c] for c in changed.causes if c in by_id] or [batch[-1]]
        emitted.append(
            here[-1].derive(
                to_stock_level_changed(changed),
                origin_time=min(i.envelope.origin_time for i in here),
                joins=here,
            )
        )
    for kit in recorded.kits:
        emitted.append(by_id.get(kit.cause, batch[-1]).derive(to_kit_level_changed(kit)))
    return Outcome(
        emitted=emitted,
        # Only this batch's events can be dead-lettered. A parked movement refused when its
        # partner or product arrived was consumed long before: its refusal, with the reason,
        # is in the journal (mark_rejected), and the event that released it is not at fault.
        rejected={i: why for i, why in recorded.rejected.items() if i in by_id},
        ignored=frozenset(recorded.duplicates),
    )


def consumers(handlers: StockHandlers) -> list[ConsumerSpec[Any, StockUnitOfWork]]:
    """What the stock service consumes, and the handler of each subscription."""
    return [
        ConsumerSpec(STOCK_MOVEMENTS, handlers.on_stock_moved),
        ConsumerSpec(STOCK_PRODUCTS, handlers.on_product_changed),
        ConsumerSpec(STOCK_POLICIES, handlers.on_inventory_policy_changed),
    ]

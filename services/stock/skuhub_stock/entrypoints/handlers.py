"""The stock service's handlers: they decide; the runtime does the I/O around them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from skuhub_contracts.events import StockMoved
from skuhub_runtime.handling import Incoming, Outcome
from skuhub_stock.entrypoints.events import (
    to_kit_level_changed,
    to_reported,
    to_stock_level_changed,
)
from skuhub_stock.entrypoints.metrics import observe
from skuhub_stock.service_layer.ports import StockUnitOfWork
from skuhub_stock.service_layer.record_movements import record_movements


async def on_stock_moved(uow: StockUnitOfWork, batch: Sequence[Incoming[StockMoved]]) -> Outcome:
    """Apply upstream movements to the ledger; emit the changed positions.

    One stock-level-changed per position per batch, caused by the last movement that
    changed it and as old as the oldest: its origin time is the earliest of theirs, so the
    latency measured from it includes the wait of every movement it stands for.
    """
    by_id = {incoming.id: incoming for incoming in batch}
    reported = [to_reported(i.envelope) for i in batch]
    recorded = await record_movements(uow.ledger, reported, datetime.now(UTC))
    observe(recorded.ledger)
    emitted = []
    for changed in recorded.changed:
        # A movement parked in an earlier batch is not in this one: the event that let it
        # through (its partner) stands for it.
        here = [by_id[c] for c in changed.causes if c in by_id]
        emitted.append(
            here[-1].derive(
                to_stock_level_changed(changed),
                origin_time=min(i.envelope.origin_time for i in here),
            )
        )
    for kit in recorded.kits:
        emitted.append(by_id.get(kit.cause, batch[-1]).derive(to_kit_level_changed(kit)))
    return Outcome(
        emitted=emitted,
        rejected=recorded.rejected,
        ignored=frozenset(recorded.duplicates),
    )

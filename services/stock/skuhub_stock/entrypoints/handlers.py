"""The stock service's handlers: they decide; the runtime does the I/O around them."""

from __future__ import annotations

from collections.abc import Sequence

from skuhub_contracts.events import StockMoved
from skuhub_runtime.handling import Incoming, Outcome
from skuhub_stock.entrypoints.events import to_reported, to_stock_level_changed
from skuhub_stock.service_layer.ports import StockUnitOfWork
from skuhub_stock.service_layer.record_movements import record_movements


async def on_stock_moved(uow: StockUnitOfWork, batch: Sequence[Incoming[StockMoved]]) -> Outcome:
    """Apply upstream movements to the ledger; emit the changed positions.

    One stock-level-changed per position per batch, caused by the last movement that
    changed it and as old as the oldest: its origin time is the earliest of theirs, so the
    latency measured from it includes the wait of every movement it stands for.
    """
    by_id = {incoming.id: incoming for incoming in batch}
    recorded = await record_movements(uow.ledger, [to_reported(i.envelope) for i in batch])
    return Outcome(
        emitted=[
            by_id[changed.cause].derive(
                to_stock_level_changed(changed.position, changed.cause),
                origin_time=min(by_id[c].envelope.origin_time for c in changed.causes),
            )
            for changed in recorded.changed
        ],
        rejected=recorded.rejected,
        ignored=frozenset(recorded.duplicates),
    )

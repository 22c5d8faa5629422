"""The stock service's handlers: they decide; the runtime does the I/O around them."""

from __future__ import annotations

from collections.abc import Sequence

from skuhub_contracts.events import StockMoved
from skuhub_runtime.handling import Incoming, Outcome
from skuhub_stock.entrypoints.events import to_reported, to_stock_level_changed
from skuhub_stock.service_layer.ports import StockUnitOfWork
from skuhub_stock.service_layer.record_movements import record_movements


async def on_stock_moved(uow: StockUnitOfWork, batch: Sequence[Incoming[StockMoved]]) -> Outcome:
    """Apply upstream movements to the ledger; emit the changed positions."""
    by_id = {incoming.id: incoming for incoming in batch}
    recorded = await record_movements(uow.ledger, [to_reported(i.envelope) for i in batch])
    return Outcome(
        emitted=[
            by_id[cause].derive(to_stock_level_changed(position, cause))
            for position, cause in recorded.changed
        ],
        rejected=recorded.rejected,
        ignored=frozenset(recorded.duplicates),
    )

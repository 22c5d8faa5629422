"""What the stock use cases need from storage: the ledger repository and the unit of work."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from skuhub_stock.domain.ledger import Movement, Position, PositionKey


@dataclass(frozen=True, slots=True)
class ReportedMovement:
    """A movement as upstream reported it, with its idempotency keys."""

    event_id: str
    source_system: str
    source_sequence: int
    occurred_at: datetime
    movement: Movement


class LedgerRepository(Protocol):
    async def record_movements(self, movements: Sequence[ReportedMovement]) -> set[str]:
        """Journal movements; return the event ids that were new (not duplicates by source)."""

    async def load_positions(
        self, keys: Iterable[PositionKey], *, lock: bool = True
    ) -> list[Position]:
        """Positions with these keys (those that exist); with ``lock``, locked (and the
        SKUs' not-yet-existing positions reserved) for this transaction."""

    async def save_positions(self, positions: Iterable[Position]) -> None:
        """Insert or update these positions."""

    async def mark_rejected(self, event_id: str, reason: str) -> None:
        """Note in the journal why a movement was refused."""

    async def positions_of(self, sku: str) -> list[Position]:
        """Every position of one SKU, by location and lot."""


class StockUnitOfWork(Protocol):
    """The stock service's repositories, bound to one transaction."""

    @property
    def ledger(self) -> LedgerRepository: ...

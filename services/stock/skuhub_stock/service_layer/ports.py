"""What the stock use cases need from storage."""

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

    async def load_positions(self, keys: Iterable[PositionKey]) -> list[Position]:
        """Positions with these keys, locked for this transaction."""

    async def save_positions(self, positions: Iterable[Position]) -> None: ...

    async def mark_rejected(self, event_id: str, reason: str) -> None: ...

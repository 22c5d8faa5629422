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
    reason: str | None = None
    """Upstream's free text for people (why it moved)."""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A journaled movement as reported, with where it stands in the journal and whether
    the ledger refused it."""

    seq: int
    """Increases with every entry journaled: the paging cursor."""
    reported: ReportedMovement
    recorded_at: datetime
    rejected_reason: str | None


class LedgerRepository(Protocol):
    """The movement journal and the positions (SKU x location x lot, no lot being "").

    Positions come back as copies: changing one changes nothing stored until it is
    saved. Positions are ordered by key, as the database collates text (byte order
    in the C collation of the embedded PostgreSQL).
    ``tests/integration/test_repository_contracts.py`` holds every implementation to
    this contract.
    """

    async def record_movements(self, movements: Sequence[ReportedMovement]) -> set[str]:
        """Journal movements; return the event ids that were new.

        A movement is not new when its ``(source_system, source_sequence)`` or its event id
        is journaled already, earlier in the same batch included (the first one counts).
        """

    async def load_positions(
        self, keys: Iterable[PositionKey], *, lock: bool = True
    ) -> list[Position]:
        """Positions with these keys (those that exist), in key order; with ``lock``, locked
        (and the SKUs' not-yet-existing positions reserved) for this transaction: another
        locking load of any of these SKUs waits until this transaction ends."""

    async def save_positions(self, positions: Iterable[Position]) -> None:
        """Insert or overwrite these positions, every field as given."""

    async def mark_rejected(self, event_id: str, reason: str) -> None:
        """Note in the journal why a movement was refused; it stays journaled (a redelivery is
        still a duplicate). An event id never journaled is left unknown."""

    async def positions_of(self, sku: str) -> list[Position]:
        """Every position of one SKU, by location and lot."""

    async def journal_of(self, sku: str, *, after: int | None, limit: int) -> list[JournalEntry]:
        """Up to ``limit`` journaled movements of one SKU in the order they were journaled,
        those after the entry numbered ``after`` (from the first when None)."""


class StockUnitOfWork(Protocol):
    """The stock service's repositories, bound to one transaction."""

    @property
    def ledger(self) -> LedgerRepository: ...

"""The stock ledger repository in memory, and its unit of work."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from skuhub_stock.domain.ledger import Position, PositionKey
from skuhub_stock.service_layer.ports import JournalEntry, ReportedMovement


class FakeLedgerRepository:
    """Journal and positions in memory; the contract suite holds it to ``SqlLedgerRepository``.

    ``rejections`` maps journaled event ids to the reason :meth:`mark_rejected` noted.
    """

    def __init__(self, *positions: Position) -> None:
        self._positions = {p.key: dataclasses.replace(p) for p in positions}
        self._journal: dict[str, JournalEntry] = {}
        self._sources: set[tuple[str, int]] = set()
        self.rejections: dict[str, str] = {}

    async def record_movements(self, movements: Sequence[ReportedMovement]) -> set[str]:
        new: set[str] = set()
        for reported in movements:
            source = (reported.source_system, reported.source_sequence)
            if reported.event_id in self._journal or source in self._sources:
                continue
            self._journal[reported.event_id] = JournalEntry(
                len(self._journal) + 1, reported, datetime.now(UTC), None
            )
            self._sources.add(source)
            new.add(reported.event_id)
        return new

    async def load_positions(
        self, keys: Iterable[PositionKey], *, lock: bool = True
    ) -> list[Position]:
        wanted = sorted(set(keys) & self._positions.keys())
        return [dataclasses.replace(self._positions[key]) for key in wanted]

    async def save_positions(self, positions: Iterable[Position]) -> None:
        self._positions.update({p.key: dataclasses.replace(p) for p in positions})

    async def mark_rejected(self, event_id: str, reason: str) -> None:
        if event_id in self._journal:
            self.rejections[event_id] = reason
            entry = self._journal[event_id]
            self._journal[event_id] = dataclasses.replace(entry, rejected_reason=reason)

    async def positions_of(self, sku: str) -> list[Position]:
        return [
            dataclasses.replace(p) for key, p in sorted(self._positions.items()) if key[0] == sku
        ]

    async def journal_of(self, sku: str, *, after: int | None, limit: int) -> list[JournalEntry]:
        entries = sorted(self._journal.values(), key=lambda e: e.seq)
        return [
            e
            for e in entries
            if e.reported.movement.sku == sku and (after is None or e.seq > after)
        ][:limit]


@dataclass(frozen=True, slots=True)
class FakeStockUnitOfWork:
    """The stock service's repositories, in memory."""

    ledger: FakeLedgerRepository = field(default_factory=FakeLedgerRepository)

"""What the stock use cases need from storage: the ledger repository and the unit of work."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from skuhub_stock.domain.kits import Kit, KitPosition
from skuhub_stock.domain.ledger import (
    AnomalyRecord,
    Ledger,
    LotKey,
    OrderLineKey,
    Parked,
    RefKey,
    Reservation,
    SkuFacts,
    Transfer,
    Variance,
    WaitingFor,
)
from skuhub_stock.domain.movements import Movement, MovementKind, Place, PositionKey
from skuhub_stock.domain.positions import Position
from skuhub_stock.service_layer.replenishment import ReplenishmentRepository


@dataclass(frozen=True, slots=True)
class ReportedMovement:
    """A movement as upstream reported it, with its idempotency keys."""

    event_id: str
    source_system: str
    source_sequence: int
    movement: Movement
    reason: str | None = None
    """Upstream's free text for people (why it moved)."""

    @property
    def occurred_at(self) -> datetime:
        return self.movement.occurred_at


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A journaled movement as reported, with where it stands in the journal and what the
    ledger made of it."""

    seq: int
    """Increases with every entry journaled: the paging cursor."""
    reported: ReportedMovement
    recorded_at: datetime
    rejected_reason: str | None
    outcome: str | None = None
    """None while the movement is applied as reported; ``parked`` while it waits for the
    movement it refers to, ``superseded`` for a cycle count a later count had replaced,
    ``absorbed`` when a later cycle count had already counted its effect on hand."""


@dataclass(frozen=True, slots=True)
class Scope:
    """What a batch of movements reads and may change: its places (every lot of a SKU at a
    location), the lots, reservations, transfers and order lines it names, and the times
    of its cycle counts."""

    places: frozenset[Place] = frozenset()
    lots: frozenset[LotKey] = frozenset()
    reservations: frozenset[RefKey] = frozenset()
    transfers: frozenset[RefKey] = frozenset()
    order_lines: frozenset[OrderLineKey] = frozenset()
    counts: frozenset[tuple[PositionKey, datetime]] = frozenset()
    products: frozenset[str] = frozenset()
    """SKUs whose quarantined movements (waiting for the catalog) to load."""

    @property
    def skus(self) -> frozenset[str]:
        return frozenset(sku for sku, _ in self.places) | self.products

    @classmethod
    def of(cls, movements: Iterable[Movement]) -> Scope:
        places: set[Place] = set()
        lots: set[LotKey] = set()
        reservations: set[RefKey] = set()
        transfers: set[RefKey] = set()
        order_lines: set[OrderLineKey] = set()
        counts: set[tuple[PositionKey, datetime]] = set()
        for m in movements:
            places.update(m.places)
            if m.lot:
                lots.add((m.sku, m.lot))
            if m.reservation_id:
                reservations.add((m.sku, m.reservation_id))
            if m.transfer_ref:
                transfers.add((m.sku, m.transfer_ref))
            if m.order_ref:
                order_lines.add((m.sku, m.location, m.order_ref))
            if m.kind is MovementKind.CYCLE_COUNT:
                counts.add((m.key, m.occurred_at))
        return cls(
            frozenset(places),
            frozenset(lots),
            frozenset(reservations),
            frozenset(transfers),
            frozenset(order_lines),
            frozenset(counts),
        )


@dataclass
class LedgerState:
    """What storage holds for one :class:`Scope`: the makings of a :class:`Ledger`."""

    positions: list[Position] = field(default_factory=list)
    facts: dict[str, SkuFacts] = field(default_factory=dict)
    lots: dict[LotKey, date] = field(default_factory=dict)
    reservations: dict[RefKey, Reservation] = field(default_factory=dict)
    transfers: dict[RefKey, Transfer] = field(default_factory=dict)
    order_lines: dict[OrderLineKey, Decimal] = field(default_factory=dict)
    parked: dict[WaitingFor, list[Parked]] = field(default_factory=dict)
    counted_later: dict[tuple[PositionKey, datetime], Decimal] = field(default_factory=dict)

    def ledger(self, now: datetime, unknown_sku: str = "accept") -> Ledger:
        return Ledger(
            now=now,
            positions={p.key: p for p in self.positions},
            facts=self.facts,
            lots=self.lots,
            reservations=self.reservations,
            transfers=self.transfers,
            order_lines=self.order_lines,
            parked=self.parked,
            counted_later=self.counted_later,
            unknown_sku=unknown_sku,
        )


@dataclass(frozen=True, slots=True)
class ParkedEntry:
    """A parked movement as listed: what it waits for, since when."""

    reported: ReportedMovement
    waiting_for: WaitingFor
    parked_at: datetime


@dataclass(frozen=True, slots=True)
class AnomalyEntry:
    record: AnomalyRecord
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class VarianceEntry:
    variance: Variance
    recorded_at: datetime


class LedgerRepository(Protocol):
    """The movement journal, the positions and what ties movements together.

    Positions come back as copies: changing one changes nothing stored until it is
    saved. Lists are ordered by key, as the database collates text (byte order in the
    C collation of the embedded PostgreSQL).
    ``tests/integration/test_repository_contracts.py`` holds every implementation to
    this contract.
    """

    async def record_movements(self, movements: Sequence[ReportedMovement]) -> set[str]:
        """Journal movements; return the event ids that were new.

        A movement is not new when its ``(source_system, source_sequence)`` or its event id
        is journaled already, earlier in the same batch included (the first one counts).
        """

    async def load(self, scope: Scope, *, lock: bool = True) -> LedgerState:
        """Everything stored within ``scope``. With ``lock``, the scope's SKUs are locked
        for this transaction (positions that do not exist yet included): another locking
        load of any of them waits until this transaction ends."""

    async def save(self, ledger: Ledger) -> None:
        """Store everything ``ledger`` changed: positions, new lots, the reservations,
        transfers and order lines it touched, effects on hand, variances, anomalies,
        parked and no-longer-parked movements, superseded counts; and queue the places it
        changed for replenishment's review."""

    async def take_review_queue(self, limit: int) -> list[Place]:
        """The places of up to ``limit`` queue entries (each place once), taken off the
        queue: places that changed since replenishment last reviewed them (``save`` queues
        every place it changes; a place may be queued more than once)."""

    async def mark_rejected(self, reasons: Mapping[str, str]) -> None:
        """Note in the journal why movements were refused (event id -> reason); they stay
        journaled (a redelivery is still a duplicate). An event id never journaled is left
        unknown."""

    async def forget_refusals(self, event_ids: Sequence[str]) -> None:
        """Take those of ``event_ids`` that were refused out of the journal, so that they are
        journaled and judged again when they come back (an operator's replay of their dead
        letters). Movements that were not refused stay."""

    async def save_facts(self, sku: str, facts: SkuFacts, version: int) -> bool:
        """Keep the catalog's stock facts of a SKU unless newer ones are stored; True when
        stored."""

    async def kits_containing(self, skus: Sequence[str]) -> dict[str, Kit]:
        """The kits with any of these SKUs among their components, by kit SKU."""

    async def kit_positions(self, places: Sequence[Place]) -> dict[Place, KitPosition]:
        """The stored availability of kits at locations ((kit SKU, location) pairs)."""

    async def save_kit_positions(self, positions: Sequence[KitPosition]) -> None:
        """Insert or overwrite kits' availability."""

    async def positions_of(self, sku: str) -> list[Position]:
        """Every position of one SKU, by location and lot."""

    async def positions_of_skus(self, skus: Sequence[str]) -> list[Position]:
        """Every position of these SKUs, by SKU, location and lot (one read for many)."""

    async def kit_positions_of(self, skus: Sequence[str]) -> list[KitPosition]:
        """The stored availability of those of these SKUs that are kits, by SKU and
        location (none for a SKU that is not a kit)."""

    async def positions_due_to_expire(self, now: datetime, limit: int) -> list[PositionKey]:
        """Positions whose lot expired by ``now`` and that are not marked expired yet."""

    async def reservation(self, reservation_id: str) -> Reservation | None:
        """The reservation with this id, if any."""

    async def reservations_with_keys(self, keys: Collection[str]) -> dict[str, Reservation]:
        """The reservations made under these idempotency keys, by key."""

    async def reservations_due_to_expire(
        self, now: datetime, limit: int
    ) -> list[tuple[str, str, str]]:
        """``(sku, location, reservation_id)`` of open reservations whose time to live ended
        by ``now``, soonest first."""

    async def next_sequences(self, count: int) -> list[int]:
        """``count`` new numbers of the service's own sequence, for the movements commands
        make (journaled under source system ``skuhub-stock``)."""

    async def journal_of(self, sku: str, *, after: int | None, limit: int) -> list[JournalEntry]:
        """Up to ``limit`` journaled movements of one SKU in the order they were journaled,
        those after the entry numbered ``after`` (from the first when None)."""

    async def parked(self, *, limit: int) -> list[ParkedEntry]:
        """Movements waiting for their partner, oldest first."""

    async def parked_summary(self) -> tuple[int, datetime | None]:
        """How many movements are parked, and since when the oldest waits."""

    async def anomalies_of(self, sku: str | None, *, limit: int) -> list[AnomalyEntry]:
        """Recorded anomalies, newest first (of one SKU, or all)."""

    async def variances_of(self, sku: str | None, *, limit: int) -> list[VarianceEntry]:
        """Recorded cycle-count variances, newest first (of one SKU, or all)."""


class StockUnitOfWork(Protocol):
    """The stock service's repositories, bound to one transaction."""

    @property
    def ledger(self) -> LedgerRepository: ...

    @property
    def replenishment(self) -> ReplenishmentRepository: ...

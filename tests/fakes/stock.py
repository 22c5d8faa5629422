"""The stock ledger repository in memory, and its unit of work."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from skuhub_stock.domain.kits import Kit, KitPosition
from skuhub_stock.domain.ledger import (
    Ledger,
    LotKey,
    OrderLineKey,
    Parked,
    RefKey,
    Reservation,
    SkuFacts,
    Transfer,
    WaitingFor,
)
from skuhub_stock.domain.movements import Place, PositionKey
from skuhub_stock.domain.positions import Position
from skuhub_stock.service_layer.ports import (
    AnomalyEntry,
    JournalEntry,
    LedgerState,
    ParkedEntry,
    ReportedMovement,
    Scope,
    VarianceEntry,
)
from tests.fakes.replenishment import FakeReplenishmentRepository


class FakeLedgerRepository:
    """The ledger in memory; the contract suite holds it to ``SqlLedgerRepository``.

    ``rejections`` maps journaled event ids to the reason :meth:`mark_rejected` noted.
    """

    def __init__(self, *positions: Position) -> None:
        self._positions = {p.key: dataclasses.replace(p) for p in positions}
        self._journal: dict[str, JournalEntry] = {}
        self._sources: set[tuple[str, int]] = set()
        self._facts: dict[str, tuple[SkuFacts, int]] = {}
        self._lots: dict[LotKey, date] = {}
        self._reservations: dict[RefKey, Reservation] = {}
        self._transfers: dict[RefKey, Transfer] = {}
        self._order_lines: dict[OrderLineKey, Decimal] = {}
        self._parked: dict[str, tuple[WaitingFor, datetime]] = {}
        self._effects: list[tuple[PositionKey, datetime, Decimal, bool]] = []
        self._variances: list[VarianceEntry] = []
        self._anomalies: list[AnomalyEntry] = []
        self._sequence = 0
        self._kits: dict[Place, KitPosition] = {}
        self._review_queue: set[Place] = set()
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

    async def load(self, scope: Scope, *, lock: bool = True) -> LedgerState:
        reservations = {
            r: copy.deepcopy(v) for r, v in self._reservations.items() if r in scope.reservations
        }
        transfers = {
            t: copy.deepcopy(v) for t, v in self._transfers.items() if t in scope.transfers
        }
        places = set(scope.places)
        places |= {(r.sku, r.location) for r in reservations.values()}
        places |= {(t.sku, t.source) for t in transfers.values()}
        places |= {(t.sku, t.destination) for t in transfers.values()}
        positions = [
            dataclasses.replace(p)
            for key, p in sorted(self._positions.items())
            if key[:2] in places or (key[0], key[2]) in scope.lots
        ]
        wanted_lots = set(scope.lots) | {(p.sku, p.lot) for p in positions if p.lot}
        waiting = (
            {("reservation", sku, r) for sku, r in scope.reservations}
            | {("transfer", sku, t) for sku, t in scope.transfers}
            | {("product", sku, "") for sku in scope.products}
        )
        state = LedgerState(
            positions=positions,
            facts={s: f for s, (f, _) in self._facts.items() if s in scope.skus},
            lots={k: d for k, d in self._lots.items() if k in wanted_lots},
            reservations=reservations,
            transfers=transfers,
            order_lines={k: q for k, q in self._order_lines.items() if k in scope.order_lines},
        )
        for event_id, (waiting_for, _) in self._parked.items():
            if waiting_for in waiting:
                movement = self._journal[event_id].reported.movement
                state.parked.setdefault(waiting_for, []).append(
                    Parked(event_id, waiting_for, movement)
                )
        for key, occurred_at in scope.counts:
            state.counted_later[(key, occurred_at)] = sum(
                (
                    d
                    for k, t, d, absorbed in self._effects
                    if k == key and t > occurred_at and not absorbed
                ),
                Decimal(0),
            )
        return state

    async def save(self, ledger: Ledger) -> None:
        now = datetime.now(UTC)
        self._positions.update({k: dataclasses.replace(p) for k, p in ledger.changed.items()})
        self._review_queue |= {k[:2] for k in ledger.changed}
        for key, expires_on in ledger.new_lots.items():
            self._lots.setdefault(key, expires_on)
        for kind, sku, ref in ledger.changed_references:
            if kind == "reservation":
                self._reservations[(sku, ref)] = copy.deepcopy(ledger.reservations[(sku, ref)])
            elif kind == "transfer":
                self._transfers[(sku, ref)] = copy.deepcopy(ledger.transfers[(sku, ref)])
            else:
                self._order_lines.update(
                    {k: q for k, q in ledger.order_lines.items() if (k[0], k[2]) == (sku, ref)}
                )
        self._effects += [(e.key, e.occurred_at, e.on_hand, e.absorbed) for e in ledger.effects]
        self._variances += [VarianceEntry(v, now) for v in ledger.variances]
        self._anomalies += [AnomalyEntry(a, now) for a in ledger.anomalies]
        outcomes: dict[str, str | None] = {}
        for parked in ledger.newly_parked:
            self._parked[parked.cause] = (parked.waiting_for, now)
            outcomes[parked.cause] = "parked"
        for cause in ledger.unparked:
            self._parked.pop(cause, None)
            outcomes[cause] = None
        outcomes.update(dict.fromkeys(ledger.superseded, "superseded"))
        outcomes.update({e.cause: "absorbed" for e in ledger.effects if e.absorbed})
        for event_id, outcome in outcomes.items():
            if event_id in self._journal:
                entry = self._journal[event_id]
                self._journal[event_id] = dataclasses.replace(entry, outcome=outcome)

    async def take_review_queue(self, limit: int) -> list[Place]:
        taken = sorted(self._review_queue)[:limit]
        self._review_queue -= set(taken)
        return taken

    async def mark_rejected(self, reasons: Mapping[str, str]) -> None:
        for event_id, reason in reasons.items():
            if event_id in self._journal:
                self.rejections[event_id] = reason
                entry = self._journal[event_id]
                self._journal[event_id] = dataclasses.replace(entry, rejected_reason=reason)

    async def forget_refusals(self, event_ids: Sequence[str]) -> None:
        for event_id in event_ids:
            entry = self._journal.get(event_id)
            if entry is not None and entry.rejected_reason is not None:
                del self._journal[event_id]
                self.rejections.pop(event_id, None)
                self._sources.discard(
                    (entry.reported.source_system, entry.reported.source_sequence)
                )

    async def save_facts(self, sku: str, facts: SkuFacts, version: int) -> bool:
        stored = self._facts.get(sku)
        if stored is not None and stored[1] >= version:
            return False
        self._facts[sku] = (facts, version)
        return True

    async def kits_containing(self, skus: Sequence[str]) -> dict[str, Kit]:
        return {
            kit: Kit(kit, facts.unit, tuple(sorted(facts.components)))
            for kit, (facts, _) in sorted(self._facts.items())
            if any(component in skus for component, _ in facts.components)
        }

    async def kit_positions(self, places: Sequence[Place]) -> dict[Place, KitPosition]:
        return {p: dataclasses.replace(self._kits[p]) for p in places if p in self._kits}

    async def save_kit_positions(self, positions: Sequence[KitPosition]) -> None:
        self._kits.update({(p.sku, p.location): dataclasses.replace(p) for p in positions})

    async def positions_of(self, sku: str) -> list[Position]:
        return [
            dataclasses.replace(p) for key, p in sorted(self._positions.items()) if key[0] == sku
        ]

    async def positions_of_skus(self, skus: Sequence[str]) -> list[Position]:
        wanted = set(skus)
        return [
            dataclasses.replace(p) for key, p in sorted(self._positions.items()) if key[0] in wanted
        ]

    async def kit_positions_of(self, skus: Sequence[str]) -> list[KitPosition]:
        wanted = set(skus)
        return [
            KitPosition(p.sku, p.location, p.unit, p.available, p.version)
            for place, p in sorted(self._kits.items())
            if place[0] in wanted
        ]

    async def positions_due_to_expire(self, now: datetime, limit: int) -> list[PositionKey]:
        due = sorted(
            (p.expires_on, key)
            for key, p in self._positions.items()
            if p.expires_on is not None and not p.expired and p.expired_at(now)
        )
        return [key for _, key in due[:limit]]

    async def reservation(self, reservation_id: str) -> Reservation | None:
        for found in self._reservations.values():
            if found.reservation_id == reservation_id:
                return copy.deepcopy(found)
        return None

    async def reservations_with_keys(self, keys: Collection[str]) -> dict[str, Reservation]:
        return {
            r.idempotency_key: copy.deepcopy(r)
            for r in self._reservations.values()
            if r.idempotency_key is not None and r.idempotency_key in keys
        }

    async def reservations_due_to_expire(
        self, now: datetime, limit: int
    ) -> list[tuple[str, str, str]]:
        due = sorted(
            (r.expires_at, r.reservation_id, r.sku, r.location)
            for r in self._reservations.values()
            if r.status == "open" and r.expires_at is not None and r.expires_at <= now
        )
        return [(sku, location, reservation_id) for _, reservation_id, sku, location in due[:limit]]

    async def next_sequences(self, count: int) -> list[int]:
        start = self._sequence
        self._sequence += count
        return list(range(start + 1, start + count + 1))

    async def journal_of(self, sku: str, *, after: int | None, limit: int) -> list[JournalEntry]:
        entries = sorted(self._journal.values(), key=lambda e: e.seq)
        return [
            e
            for e in entries
            if e.reported.movement.sku == sku and (after is None or e.seq > after)
        ][:limit]

    async def parked(self, *, limit: int) -> list[ParkedEntry]:
        entries = [
            ParkedEntry(self._journal[event_id].reported, waiting_for, at)
            for event_id, (waiting_for, at) in self._parked.items()
        ]
        return sorted(entries, key=lambda e: e.parked_at)[:limit]

    async def parked_summary(self) -> tuple[int, datetime | None]:
        since = [at for _, at in self._parked.values()]
        return len(since), min(since, default=None)

    async def anomalies_of(self, sku: str | None, *, limit: int) -> list[AnomalyEntry]:
        found = [a for a in reversed(self._anomalies) if sku is None or a.record.key[0] == sku]
        return found[:limit]

    async def variances_of(self, sku: str | None, *, limit: int) -> list[VarianceEntry]:
        found = [v for v in reversed(self._variances) if sku is None or v.variance.key[0] == sku]
        return found[:limit]


@dataclass(frozen=True, slots=True)
class FakeStockUnitOfWork:
    """The stock service's repositories, in memory."""

    ledger: FakeLedgerRepository = field(default_factory=FakeLedgerRepository)
    replenishment: FakeReplenishmentRepository = field(default_factory=FakeReplenishmentRepository)

"""PostgreSQL implementation of the ledger repository: a few statements per batch."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_runtime.bulk import DO_NOTHING, Among, BulkInsert, key_arrays, update_on_conflict
from skuhub_stock.adapters.replenishment_repository import SqlReplenishmentRepository
from skuhub_stock.adapters.tables import (
    anomalies,
    effects,
    kit_components,
    kit_positions,
    lots,
    movements,
    order_lines,
    parked,
    positions,
    reservations,
    review_queue,
    sku_facts,
    transfers,
    variances,
)
from skuhub_stock.domain.kits import Kit, KitPosition
from skuhub_stock.domain.ledger import (
    AnomalyRecord,
    Ledger,
    Parked,
    Reservation,
    SkuFacts,
    Transfer,
    Variance,
)
from skuhub_stock.domain.movements import Movement, MovementKind, Place, PositionKey
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

_LOCK_SKUS = sa.text(
    "SELECT pg_advisory_xact_lock(hashtext(current_schema()), hashtext(sku))"
    " FROM unnest(CAST(:skus AS text[])) AS sku ORDER BY sku"
)
_POSITION_FIELDS = (
    "unit",
    "on_hand",
    "reserved",
    "quality_hold",
    "in_transit",
    "incoming",
    "received",
    "shipped",
    "returned",
    "scrapped",
    "lost_sales",
    "version",
    "expires_on",
    "expired",
    "counted_at",
)
_MOVEMENT_FIELDS = (
    "kind",
    "sku",
    "location",
    "destination",
    "lot",
    "quantity",
    "unit",
    "occurred_at",
    "expires_on",
    "reservation_id",
    "transfer_ref",
    "order_ref",
    "expected_on",
)


# Every statement a batch of movements runs has fixed SQL (skuhub_runtime.bulk): rows travel
# as column arrays, keys as arrays, whatever their number.
_RECORD_MOVEMENTS = BulkInsert(
    movements,
    ("event_id", "source_system", "source_sequence", *_MOVEMENT_FIELDS, "recorded_at", "reason"),
    on_conflict=DO_NOTHING,
    returning=("event_id",),
)
_QUEUE_FOR_REVIEW = BulkInsert(review_queue, ("sku", "location"))
_SAVE_POSITIONS = BulkInsert(
    positions,
    ("sku", "location", "lot", *_POSITION_FIELDS, "updated_at"),
    on_conflict=update_on_conflict(("sku", "location", "lot"), (*_POSITION_FIELDS, "updated_at")),
)
_SAVE_LOTS = BulkInsert(lots, ("sku", "lot", "expires_on"), on_conflict=DO_NOTHING)
_SAVE_EFFECTS = BulkInsert(
    effects,
    ("event_id", "sku", "location", "lot", "occurred_at", "on_hand", "absorbed"),
    on_conflict=DO_NOTHING,
)
_SAVE_VARIANCES = BulkInsert(
    variances,
    ("event_id", "sku", "location", "lot", "occurred_at", "counted", "expected", "recorded_at"),
    on_conflict=DO_NOTHING,
)
_SAVE_ANOMALIES = BulkInsert(
    anomalies, ("sku", "location", "lot", "anomaly", "quantity", "event_id", "recorded_at")
)
_PARK = BulkInsert(
    parked,
    ("event_id", "waiting_kind", "waiting_sku", "waiting_ref", "parked_at"),
    on_conflict=DO_NOTHING,
)
_PARKED_IDS = Among([parked.c.event_id], "ids")
_UNPARK = sa.delete(parked).where(_PARKED_IDS.clause)
_MOVEMENT_IDS = Among([movements.c.event_id], "ids")
_NOTE_OUTCOME = (
    sa.update(movements)
    .where(_MOVEMENT_IDS.clause)
    .values(outcome=sa.bindparam("outcome", type_=sa.Text))
)
_MARK_REJECTED = sa.text(
    "UPDATE movements SET rejected_reason = r.reason"
    " FROM unnest(CAST(:ids AS text[]), CAST(:reasons AS text[])) AS r(event_id, reason)"
    " WHERE movements.event_id = r.event_id"
)
_ORDER_OF_POSITIONS = (positions.c.sku, positions.c.location, positions.c.lot)
_AT_PLACES = Among([positions.c.sku, positions.c.location], "places")
_OF_LOTS = Among([positions.c.sku, positions.c.lot], "lots")
_POSITIONS_AT = sa.select(positions).where(_AT_PLACES.clause).order_by(*_ORDER_OF_POSITIONS)
# A UNION, not an OR of the two: PostgreSQL looks each list up in the primary key, where an
# OR of two IN (SELECT …) reads the whole table (tests/integration/test_bulk_plans.py).
_POSITIONS_AT_OR_OF_LOTS = sa.union(
    sa.select(positions).where(_AT_PLACES.clause),
    sa.select(positions).where(_OF_LOTS.clause),
).order_by(sa.text("sku, location, lot"))
_FACT_SKUS = Among([sku_facts.c.sku], "skus")
_FACTS_OF = sa.select(sku_facts).where(_FACT_SKUS.clause)
_LOT_KEYS = Among([lots.c.sku, lots.c.lot], "lots")
_LOTS_NAMED = sa.select(lots).where(_LOT_KEYS.clause)
_RESERVATION_REFS = Among([reservations.c.sku, reservations.c.reservation_id], "refs")
_RESERVATIONS_NAMED = sa.select(reservations).where(_RESERVATION_REFS.clause)
_TRANSFER_REFS = Among([transfers.c.sku, transfers.c.transfer_ref], "refs")
_TRANSFERS_NAMED = sa.select(transfers).where(_TRANSFER_REFS.clause)
_LINE_KEYS = Among([order_lines.c.sku, order_lines.c.location, order_lines.c.order_ref], "lines")
_ORDER_LINES_NAMED = sa.select(order_lines).where(_LINE_KEYS.clause)
_WAITING_FOR = Among([parked.c.waiting_kind, parked.c.waiting_sku, parked.c.waiting_ref], "waiting")
_PARKED_WAITING = (
    sa.select(parked.c.waiting_kind, parked.c.waiting_sku, parked.c.waiting_ref, movements)
    .join(movements, movements.c.event_id == parked.c.event_id)
    .where(_WAITING_FOR.clause)
    .order_by(movements.c.journal_seq)
)
_COUNT_COLUMNS: tuple[sa.ColumnClause[Any], ...] = (
    sa.column("sku", sa.Text),
    sa.column("location", sa.Text),
    sa.column("lot", sa.Text),
    sa.column("counted_at", sa.DateTime(timezone=True)),
)
_counts = (
    sa.func.unnest(
        *(sa.bindparam(f"counts{i}", type_=ARRAY(c.type)) for i, c in enumerate(_COUNT_COLUMNS))
    )
    .table_valued(*_COUNT_COLUMNS, name="wanted")
    .render_derived()
)
_COUNTED_LATER = (
    sa.select(
        _counts.c.sku,
        _counts.c.location,
        _counts.c.lot,
        _counts.c.counted_at,
        sa.func.coalesce(sa.func.sum(effects.c.on_hand), 0),
    )
    .select_from(
        _counts.outerjoin(
            effects,
            sa.and_(
                effects.c.sku == _counts.c.sku,
                effects.c.location == _counts.c.location,
                effects.c.lot == _counts.c.lot,
                effects.c.occurred_at > _counts.c.counted_at,
                ~effects.c.absorbed,
            ),
        )
    )
    .group_by(_counts.c.sku, _counts.c.location, _counts.c.lot, _counts.c.counted_at)
)
"""For each count, the on-hand effects at its position that happened after it."""
_COMPONENT_SKUS = Among([kit_components.c.component_sku], "skus")
_KITS_CONTAINING = (
    sa.select(kit_components, sku_facts.c.unit)
    .join(sku_facts, sku_facts.c.sku == kit_components.c.kit_sku)
    .where(
        kit_components.c.kit_sku.in_(
            sa.select(kit_components.c.kit_sku).where(_COMPONENT_SKUS.clause).scalar_subquery()
        )
    )
    .order_by(kit_components.c.kit_sku, kit_components.c.component_sku)
)
_KIT_PLACES = Among([kit_positions.c.kit_sku, kit_positions.c.location], "places")
_KIT_POSITIONS_AT = sa.select(kit_positions).where(_KIT_PLACES.clause)


class SqlLedgerRepository:
    """The ledger in PostgreSQL: journal, positions, references, per-SKU locks."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def record_movements(self, batch: Sequence[ReportedMovement]) -> set[str]:
        if not batch:
            return set()
        now = datetime.now(UTC)
        rows = [
            (
                r.event_id,
                r.source_system,
                r.source_sequence,
                *_movement_values(r.movement),
                now,
                r.reason,
            )
            for r in batch
        ]
        # A duplicate inside the batch conflicts with the first and is skipped.
        result = await _RECORD_MOVEMENTS.execute(self._conn, rows)
        return set(result.scalars()) if result is not None else set()

    async def load(self, scope: Scope, *, lock: bool = True) -> LedgerState:
        state = LedgerState()
        if not scope.skus:
            return state
        if lock:
            # Row locks cannot cover positions that do not exist yet; a per-SKU lock for the
            # transaction does, so two replicas (say, during a rebalance) never both create
            # one. Sorted: a stable lock order avoids deadlocks between replicas.
            await self._conn.execute(_LOCK_SKUS, {"skus": sorted(scope.skus)})
        if scope.reservations:
            rows = await self._conn.execute(
                _RESERVATIONS_NAMED, _RESERVATION_REFS.keys(sorted(scope.reservations))
            )
            state.reservations = {
                (r["sku"], r["reservation_id"]): _to_reservation(r) for r in rows.mappings()
            }
        if scope.transfers:
            rows = await self._conn.execute(
                _TRANSFERS_NAMED, _TRANSFER_REFS.keys(sorted(scope.transfers))
            )
            state.transfers = {
                (r["sku"], r["transfer_ref"]): Transfer(
                    r["transfer_ref"],
                    r["sku"],
                    r["source"],
                    r["destination"],
                    _quantities(r["lots"]),
                )
                for r in rows.mappings()
            }
        # The places the references name hold the lots they took; the lots named, their
        # positions everywhere (one expiry per lot).
        places = set(scope.places)
        places |= {(r.sku, r.location) for r in state.reservations.values()}
        places |= {(t.sku, t.source) for t in state.transfers.values()}
        places |= {(t.sku, t.destination) for t in state.transfers.values()}
        at_places = _AT_PLACES.keys(sorted(places))
        if scope.lots:
            rows = await self._conn.execute(
                _POSITIONS_AT_OR_OF_LOTS, at_places | _OF_LOTS.keys(sorted(scope.lots))
            )
        else:
            rows = await self._conn.execute(_POSITIONS_AT, at_places)
        state.positions = [_to_position(row) for row in rows.mappings()]
        rows = await self._conn.execute(_FACTS_OF, _FACT_SKUS.keys(sorted(scope.skus)))
        state.facts = {r["sku"]: _to_facts(r) for r in rows.mappings()}
        # Every lot of the places, dated or not: a transfer takes a lot from here to a
        # position at its destination, which gets the date from the ledger's lots.
        wanted_lots = set(scope.lots) | {(p.sku, p.lot) for p in state.positions if p.lot}
        if wanted_lots:
            rows = await self._conn.execute(_LOTS_NAMED, _LOT_KEYS.keys(sorted(wanted_lots)))
            state.lots = {(r["sku"], r["lot"]): r["expires_on"] for r in rows.mappings()}
        if scope.order_lines:
            rows = await self._conn.execute(
                _ORDER_LINES_NAMED, _LINE_KEYS.keys(sorted(scope.order_lines))
            )
            state.order_lines = {
                (r["sku"], r["location"], r["order_ref"]): r["open_quantity"]
                for r in rows.mappings()
            }
        waiting = (
            [("reservation", sku, ref) for sku, ref in scope.reservations]
            + [("transfer", sku, ref) for sku, ref in scope.transfers]
            + [("product", sku, "") for sku in scope.products]
        )
        if waiting:
            rows = await self._conn.execute(_PARKED_WAITING, _WAITING_FOR.keys(sorted(waiting)))
            for r in rows.mappings():
                waiting_for = (r["waiting_kind"], r["waiting_sku"], r["waiting_ref"])
                state.parked.setdefault(waiting_for, []).append(
                    Parked(r["event_id"], waiting_for, _to_movement(r))
                )
        if scope.counts:
            state.counted_later = await self._counted_later(sorted(scope.counts))
        return state

    async def _counted_later(
        self, counts: list[tuple[PositionKey, datetime]]
    ) -> dict[tuple[PositionKey, datetime], Decimal]:
        """For each count, the on-hand effects at its position that happened after it (one
        statement for the batch's counts)."""
        wanted = key_arrays("counts", [(*key, occurred_at) for key, occurred_at in counts], 4)
        return {
            ((r[0], r[1], r[2]), r[3]): Decimal(r[4])
            for r in await self._conn.execute(_COUNTED_LATER, wanted)
        }

    async def save(self, ledger: Ledger) -> None:
        now = datetime.now(UTC)
        await self._save_positions(ledger.changed.values(), now)
        conn = self._conn
        await _SAVE_LOTS.execute(
            conn, [(sku, lot, expires_on) for (sku, lot), expires_on in ledger.new_lots.items()]
        )
        await self._save_references(ledger)
        await _SAVE_EFFECTS.execute(
            conn, [(e.cause, *e.key, e.occurred_at, e.on_hand, e.absorbed) for e in ledger.effects]
        )
        await _SAVE_VARIANCES.execute(
            conn,
            [
                (v.cause, *v.key, v.occurred_at, v.counted, v.expected, now)
                for v in ledger.variances
            ],
        )
        await _SAVE_ANOMALIES.execute(
            conn,
            [(*a.key, a.anomaly, a.quantity, a.cause, now) for a in ledger.anomalies],
        )
        await self._save_outcomes(ledger, now)

    async def take_review_queue(self, limit: int) -> list[Place]:
        # Entries, not places: a place queued again meanwhile stays queued for a later run.
        taken = (
            sa.select(review_queue.c.entry)
            .order_by(review_queue.c.entry)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("taken")
        )
        statement = (
            sa.delete(review_queue)
            .where(review_queue.c.entry.in_(sa.select(taken.c.entry)))
            .returning(review_queue.c.sku, review_queue.c.location)
        )
        return sorted({(r.sku, r.location) for r in await self._conn.execute(statement)})

    async def _save_positions(self, changed: Iterable[Position], now: datetime) -> None:
        # Sorted: a stable order of row locks between batches that touch the same places.
        rows = [
            (p.sku, p.location, p.lot, *[getattr(p, name) for name in _POSITION_FIELDS], now)
            for p in sorted(changed, key=lambda p: p.key)
        ]
        if not rows:
            return
        # A plain insert: it never waits for a review taking the same place (migration 0005).
        await _QUEUE_FOR_REVIEW.execute(self._conn, sorted({(r[0], r[1]) for r in rows}))
        await _SAVE_POSITIONS.execute(self._conn, rows)

    async def _save_references(self, ledger: Ledger) -> None:
        touched: dict[str, set[tuple[str, str]]] = {}
        for kind, sku, ref in ledger.changed_references:
            touched.setdefault(kind, set()).add((sku, ref))
        if refs := touched.get("reservation"):
            statement = insert(reservations)
            await self._conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[reservations.c.sku, reservations.c.reservation_id],
                    set_={
                        c: statement.excluded[c]
                        for c in ("lots", "status", "expires_at", "idempotency_key", "created_at")
                    },
                ),
                [
                    {
                        "reservation_id": r.reservation_id,
                        "sku": r.sku,
                        "location": r.location,
                        "lots": _json_quantities(r.lots),
                        "status": r.status,
                        "expires_at": r.expires_at,
                        "idempotency_key": r.idempotency_key,
                        "created_at": r.created_at,
                    }
                    for ref in sorted(refs)
                    if (r := ledger.reservations.get(ref)) is not None
                ],
            )
        if refs := touched.get("transfer"):
            statement = insert(transfers)
            await self._conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[transfers.c.sku, transfers.c.transfer_ref],
                    set_={"lots": statement.excluded.lots},
                ),
                [
                    {
                        "transfer_ref": t.transfer_ref,
                        "sku": t.sku,
                        "source": t.source,
                        "destination": t.destination,
                        "lots": _json_quantities(t.lots),
                    }
                    for ref in sorted(refs)
                    if (t := ledger.transfers.get(ref)) is not None
                ],
            )
        if refs := touched.get("order"):
            statement = insert(order_lines)
            await self._conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[
                        order_lines.c.sku,
                        order_lines.c.location,
                        order_lines.c.order_ref,
                    ],
                    set_={"open_quantity": statement.excluded.open_quantity},
                ),
                [
                    {"sku": s, "location": loc, "order_ref": ref, "open_quantity": quantity}
                    for (s, loc, ref), quantity in sorted(ledger.order_lines.items())
                    if (s, ref) in refs
                ],
            )

    async def _save_outcomes(self, ledger: Ledger, now: datetime) -> None:
        await _PARK.execute(
            self._conn, [(p.cause, *p.waiting_for, now) for p in ledger.newly_parked]
        )
        if ledger.unparked:
            await self._conn.execute(_UNPARK, _PARKED_IDS.keys(sorted(ledger.unparked)))
        outcomes: dict[str, str | None] = {p.cause: "parked" for p in ledger.newly_parked}
        outcomes.update(dict.fromkeys(ledger.unparked))
        outcomes.update(dict.fromkeys(ledger.superseded, "superseded"))
        outcomes.update({e.cause: "absorbed" for e in ledger.effects if e.absorbed})
        for outcome in ("parked", "superseded", "absorbed", None):
            ids = sorted(cause for cause, o in outcomes.items() if o == outcome)
            if ids:
                await self._conn.execute(
                    _NOTE_OUTCOME, _MOVEMENT_IDS.keys(ids) | {"outcome": outcome}
                )

    async def mark_rejected(self, reasons: Mapping[str, str]) -> None:
        if reasons:
            await self._conn.execute(
                _MARK_REJECTED, {"ids": list(reasons), "reasons": list(reasons.values())}
            )

    async def forget_refusals(self, event_ids: Sequence[str]) -> None:
        if event_ids:
            await self._conn.execute(
                sa.delete(movements).where(
                    movements.c.event_id.in_(sorted(event_ids)),
                    movements.c.rejected_reason.is_not(None),
                )
            )

    async def save_facts(self, sku: str, facts: SkuFacts, version: int) -> bool:
        upsert = insert(sku_facts).values(
            sku=sku,
            unit=facts.unit,
            packs=_json_quantities(dict(facts.packs)),
            lot_tracked=facts.lot_tracked,
            shelf_life_days=facts.shelf_life_days,
            product_version=version,
        )
        statement = upsert.on_conflict_do_update(
            index_elements=[sku_facts.c.sku],
            set_={
                c: upsert.excluded[c]
                for c in ("unit", "packs", "lot_tracked", "shelf_life_days", "product_version")
            },
            where=sku_facts.c.product_version < upsert.excluded.product_version,
        ).returning(sku_facts.c.sku)
        if (await self._conn.execute(statement)).first() is None:
            return False
        await self._conn.execute(sa.delete(kit_components).where(kit_components.c.kit_sku == sku))
        if facts.components:
            await self._conn.execute(
                sa.insert(kit_components),
                [
                    {"kit_sku": sku, "component_sku": component, "quantity": quantity}
                    for component, quantity in facts.components
                ],
            )
        return True

    async def kits_containing(self, skus: Sequence[str]) -> dict[str, Kit]:
        if not skus:
            return {}
        rows = await self._conn.execute(_KITS_CONTAINING, _COMPONENT_SKUS.keys(sorted(set(skus))))
        found: dict[str, Kit] = {}
        for r in rows.mappings():
            kit = found.get(r["kit_sku"]) or Kit(r["kit_sku"], r["unit"], ())
            found[kit.sku] = Kit(
                kit.sku, kit.unit, (*kit.components, (r["component_sku"], r["quantity"]))
            )
        return found

    async def kit_positions(self, places: Sequence[Place]) -> dict[Place, KitPosition]:
        if not places:
            return {}
        rows = await self._conn.execute(_KIT_POSITIONS_AT, _KIT_PLACES.keys(sorted(set(places))))
        return {
            (r["kit_sku"], r["location"]): KitPosition(
                r["kit_sku"], r["location"], r["unit"], r["available"], r["version"]
            )
            for r in rows.mappings()
        }

    async def save_kit_positions(self, positions: Sequence[KitPosition]) -> None:
        if not positions:
            return
        now = datetime.now(UTC)
        statement = insert(kit_positions)
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=[kit_positions.c.kit_sku, kit_positions.c.location],
                set_={
                    c: statement.excluded[c] for c in ("unit", "available", "version", "updated_at")
                },
            ),
            [
                {
                    "kit_sku": p.sku,
                    "location": p.location,
                    "unit": p.unit,
                    "available": p.available,
                    "version": p.version,
                    "updated_at": now,
                }
                for p in sorted(positions, key=lambda p: (p.sku, p.location))
            ],
        )

    async def positions_of(self, sku: str) -> list[Position]:
        rows = await self._conn.execute(_POSITIONS_OF, {"sku": sku})
        return [_to_position(row) for row in rows.mappings()]

    async def positions_of_skus(self, skus: Sequence[str]) -> list[Position]:
        if not skus:
            return []
        rows = await self._conn.execute(
            sa.select(positions)
            .where(positions.c.sku.in_(sorted(set(skus))))
            .order_by(positions.c.sku, positions.c.location, positions.c.lot)
        )
        return [_to_position(row) for row in rows.mappings()]

    async def kit_positions_of(self, skus: Sequence[str]) -> list[KitPosition]:
        if not skus:
            return []
        rows = await self._conn.execute(
            sa.select(kit_positions)
            .where(kit_positions.c.kit_sku.in_(sorted(set(skus))))
            .order_by(kit_positions.c.kit_sku, kit_positions.c.location)
        )
        return [
            KitPosition(r["kit_sku"], r["location"], r["unit"], r["available"], r["version"])
            for r in rows.mappings()
        ]

    async def positions_due_to_expire(self, now: datetime, limit: int) -> list[PositionKey]:
        statement = (
            sa.select(positions.c.sku, positions.c.location, positions.c.lot)
            .where(
                positions.c.expires_on.is_not(None),
                ~positions.c.expired,
                positions.c.expires_on <= now.astimezone(UTC).date(),
            )
            .order_by(
                positions.c.expires_on, positions.c.sku, positions.c.location, positions.c.lot
            )
            .limit(limit)
        )
        return [(r.sku, r.location, r.lot) for r in await self._conn.execute(statement)]

    async def reservation(self, reservation_id: str) -> Reservation | None:
        statement = sa.select(reservations).where(reservations.c.reservation_id == reservation_id)
        row = (await self._conn.execute(statement)).first()
        return _to_reservation(row._mapping) if row is not None else None

    async def reservations_with_keys(self, keys: Collection[str]) -> dict[str, Reservation]:
        statement = sa.select(reservations).where(reservations.c.idempotency_key.in_(sorted(keys)))
        rows = (await self._conn.execute(statement)).mappings()
        return {r["idempotency_key"]: _to_reservation(r) for r in rows}

    async def reservations_due_to_expire(
        self, now: datetime, limit: int
    ) -> list[tuple[str, str, str]]:
        statement = (
            sa.select(reservations.c.sku, reservations.c.location, reservations.c.reservation_id)
            .where(reservations.c.status == "open", reservations.c.expires_at <= now)
            .order_by(reservations.c.expires_at, reservations.c.reservation_id)
            .limit(limit)
        )
        return [(r.sku, r.location, r.reservation_id) for r in await self._conn.execute(statement)]

    async def next_sequences(self, count: int) -> list[int]:
        statement = sa.select(sa.func.nextval("command_sequence")).select_from(
            sa.func.generate_series(1, count)
        )
        return list((await self._conn.execute(statement)).scalars())

    async def journal_of(self, sku: str, *, after: int | None, limit: int) -> list[JournalEntry]:
        statement = sa.select(movements).where(movements.c.sku == sku)
        if after is not None:
            statement = statement.where(movements.c.journal_seq > after)
        statement = statement.order_by(movements.c.journal_seq).limit(limit)
        return [_to_entry(row) for row in (await self._conn.execute(statement)).mappings()]

    async def parked(self, *, limit: int) -> list[ParkedEntry]:
        statement = (
            sa.select(
                parked.c.waiting_kind,
                parked.c.waiting_sku,
                parked.c.waiting_ref,
                parked.c.parked_at,
                movements,
            )
            .join(movements, movements.c.event_id == parked.c.event_id)
            .order_by(parked.c.parked_at, movements.c.journal_seq)
            .limit(limit)
        )
        return [
            ParkedEntry(
                _to_entry(r).reported,
                (r["waiting_kind"], r["waiting_sku"], r["waiting_ref"]),
                r["parked_at"],
            )
            for r in (await self._conn.execute(statement)).mappings()
        ]

    async def parked_summary(self) -> tuple[int, datetime | None]:
        row = (
            await self._conn.execute(sa.select(sa.func.count(), sa.func.min(parked.c.parked_at)))
        ).one()
        return row[0], row[1]

    async def anomalies_of(self, sku: str | None, *, limit: int) -> list[AnomalyEntry]:
        statement = sa.select(anomalies).order_by(anomalies.c.anomaly_id.desc()).limit(limit)
        if sku is not None:
            statement = statement.where(anomalies.c.sku == sku)
        return [
            AnomalyEntry(
                AnomalyRecord(
                    (r["sku"], r["location"], r["lot"]), r["anomaly"], r["quantity"], r["event_id"]
                ),
                r["recorded_at"],
            )
            for r in (await self._conn.execute(statement)).mappings()
        ]

    async def variances_of(self, sku: str | None, *, limit: int) -> list[VarianceEntry]:
        statement = (
            sa.select(variances)
            .order_by(variances.c.recorded_at.desc(), variances.c.event_id)
            .limit(limit)
        )
        if sku is not None:
            statement = statement.where(variances.c.sku == sku)
        return [
            VarianceEntry(
                Variance(
                    (r["sku"], r["location"], r["lot"]),
                    r["occurred_at"],
                    r["counted"],
                    r["expected"],
                    r["event_id"],
                ),
                r["recorded_at"],
            )
            for r in (await self._conn.execute(statement)).mappings()
        ]


def _movement_values(m: Movement) -> tuple[Any, ...]:
    """The movement's values in the order of ``_MOVEMENT_FIELDS`` (its kind as text)."""
    return (m.kind.value, *[getattr(m, name) for name in _MOVEMENT_FIELDS[1:]])


def _to_movement(row: sa.RowMapping) -> Movement:
    values = {name: row[name] for name in _MOVEMENT_FIELDS}
    return Movement(**(values | {"kind": MovementKind(row["kind"])}))


def _to_entry(row: sa.RowMapping) -> JournalEntry:
    reported = ReportedMovement(
        event_id=row["event_id"],
        source_system=row["source_system"],
        source_sequence=row["source_sequence"],
        movement=_to_movement(row),
        reason=row["reason"],
    )
    return JournalEntry(
        row["journal_seq"], reported, row["recorded_at"], row["rejected_reason"], row["outcome"]
    )


_POSITIONS_OF = (
    sa.select(positions)
    .where(positions.c.sku == sa.bindparam("sku"))
    .order_by(positions.c.location, positions.c.lot)
)
"""A SKU's positions: built once, the hottest read (a statement per call costs a tenth)."""


def _to_position(row: sa.RowMapping) -> Position:
    return Position(
        sku=row["sku"],
        location=row["location"],
        lot=row["lot"],
        **{name: row[name] for name in _POSITION_FIELDS},
    )


def _to_reservation(row: sa.RowMapping) -> Reservation:
    return Reservation(
        row["reservation_id"],
        row["sku"],
        row["location"],
        _quantities(row["lots"]),
        status=row["status"],
        expires_at=row["expires_at"],
        idempotency_key=row["idempotency_key"],
        created_at=row["created_at"],
    )


def _to_facts(row: sa.RowMapping) -> SkuFacts:
    # A kit's components are read where they are needed (kits_containing), not per batch.
    return SkuFacts(
        unit=row["unit"],
        packs=_quantities(row["packs"]),
        lot_tracked=row["lot_tracked"],
        shelf_life_days=row["shelf_life_days"],
    )


def _json_quantities(quantities: dict[str, Decimal]) -> list[list[str]]:
    """Quantities per key as JSON pairs: ordered (FEFO order matters), exact (as text)."""
    return [[key, str(quantity)] for key, quantity in quantities.items()]


def _quantities(pairs: Any) -> dict[str, Decimal]:
    if isinstance(pairs, str):
        pairs = json.loads(pairs)
    if isinstance(pairs, dict):
        pairs = pairs.items()
    return {str(key): Decimal(str(quantity)) for key, quantity in pairs}


@dataclass(frozen=True, slots=True)
class SqlUnitOfWork:
    """The stock service's repositories on one connection (and its transaction)."""

    ledger: SqlLedgerRepository
    replenishment: SqlReplenishmentRepository


def sql_unit_of_work(conn: AsyncConnection) -> SqlUnitOfWork:
    return SqlUnitOfWork(
        ledger=SqlLedgerRepository(conn), replenishment=SqlReplenishmentRepository(conn)
    )

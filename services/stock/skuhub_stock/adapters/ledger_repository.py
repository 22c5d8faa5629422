"""PostgreSQL implementation of the ledger repository: a few statements per batch."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_stock.adapters.tables import movements, positions
from skuhub_stock.domain.ledger import Movement, MovementKind, Position, PositionKey
from skuhub_stock.service_layer.ports import JournalEntry, ReportedMovement

_RECORD_MOVEMENT = insert(movements).on_conflict_do_nothing().returning(movements.c.event_id)
_LOCK_SKUS = sa.text(
    "SELECT pg_advisory_xact_lock(hashtext(current_schema()), hashtext(sku))"
    " FROM unnest(CAST(:skus AS text[])) AS sku ORDER BY sku"
)


class SqlLedgerRepository:
    """The ledger in PostgreSQL: journal, positions, per-SKU locks."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def record_movements(self, batch: Sequence[ReportedMovement]) -> set[str]:
        if not batch:
            return set()
        now = datetime.now(UTC)
        rows = [
            {
                "event_id": r.event_id,
                "source_system": r.source_system,
                "source_sequence": r.source_sequence,
                "kind": r.movement.kind.value,
                "sku": r.movement.sku,
                "location": r.movement.location,
                "destination": r.movement.destination,
                "lot": r.movement.lot,
                "quantity": r.movement.quantity,
                "unit": r.movement.unit,
                "occurred_at": r.occurred_at,
                "recorded_at": now,
                "expires_on": r.movement.expires_on,
                "reason": r.reason,
            }
            for r in batch
        ]
        # executemany of one cached statement (batched into multi-row INSERTs by SQLAlchemy);
        # a duplicate inside the batch conflicts with the first and is skipped.
        result = await self._conn.execute(_RECORD_MOVEMENT, rows)
        return set(result.scalars())

    async def load_positions(
        self, keys: Iterable[PositionKey], *, lock: bool = True
    ) -> list[Position]:
        wanted = sorted(set(keys))  # a stable lock order avoids deadlocks between replicas
        if not wanted:
            return []
        statement = (
            sa.select(positions)
            .where(sa.tuple_(positions.c.sku, positions.c.location, positions.c.lot).in_(wanted))
            .order_by(positions.c.sku, positions.c.location, positions.c.lot)
        )
        if lock:
            # Row locks cannot cover positions that do not exist yet; a per-SKU lock for the
            # transaction does, so two replicas (say, during a rebalance) never both create one.
            await self._conn.execute(_LOCK_SKUS, {"skus": sorted({key[0] for key in wanted})})
            statement = statement.with_for_update()
        return [_to_position(row) for row in (await self._conn.execute(statement)).mappings()]

    async def save_positions(self, changed: Iterable[Position]) -> None:
        now = datetime.now(UTC)
        rows = [
            {
                "sku": p.sku,
                "location": p.location,
                "lot": p.lot,
                "unit": p.unit,
                "on_hand": p.on_hand,
                "reserved": p.reserved,
                "in_transit": p.in_transit,
                "version": p.version,
                "expires_on": p.expires_on,
                "updated_at": now,
            }
            for p in sorted(changed, key=lambda p: p.key)
        ]
        if not rows:
            return
        statement = insert(positions)
        statement = statement.on_conflict_do_update(
            index_elements=[positions.c.sku, positions.c.location, positions.c.lot],
            set_={
                c: statement.excluded[c]
                for c in (
                    "unit",
                    "on_hand",
                    "reserved",
                    "in_transit",
                    "version",
                    "expires_on",
                    "updated_at",
                )
            },
        )
        await self._conn.execute(statement, rows)

    async def mark_rejected(self, event_id: str, reason: str) -> None:
        await self._conn.execute(
            sa.update(movements)
            .where(movements.c.event_id == event_id)
            .values(rejected_reason=reason)
        )

    async def positions_of(self, sku: str) -> list[Position]:
        statement = (
            sa.select(positions)
            .where(positions.c.sku == sku)
            .order_by(positions.c.location, positions.c.lot)
        )
        return [_to_position(row) for row in (await self._conn.execute(statement)).mappings()]

    async def journal_of(self, sku: str, *, after: int | None, limit: int) -> list[JournalEntry]:
        statement = sa.select(movements).where(movements.c.sku == sku)
        if after is not None:
            statement = statement.where(movements.c.journal_seq > after)
        statement = statement.order_by(movements.c.journal_seq).limit(limit)
        return [_to_entry(row) for row in (await self._conn.execute(statement)).mappings()]


def _to_entry(row: sa.RowMapping) -> JournalEntry:
    movement = Movement(
        kind=MovementKind(row["kind"]),
        sku=row["sku"],
        location=row["location"],
        quantity=row["quantity"],
        unit=row["unit"],
        lot=row["lot"],
        destination=row["destination"],
        expires_on=row["expires_on"],
    )
    reported = ReportedMovement(
        event_id=row["event_id"],
        source_system=row["source_system"],
        source_sequence=row["source_sequence"],
        occurred_at=row["occurred_at"],
        movement=movement,
        reason=row["reason"],
    )
    return JournalEntry(row["journal_seq"], reported, row["recorded_at"], row["rejected_reason"])


def _to_position(row: sa.RowMapping) -> Position:
    return Position(
        sku=row["sku"],
        location=row["location"],
        lot=row["lot"],
        unit=row["unit"],
        on_hand=row["on_hand"],
        reserved=row["reserved"],
        in_transit=row["in_transit"],
        version=row["version"],
        expires_on=row["expires_on"],
    )


@dataclass(frozen=True, slots=True)
class SqlUnitOfWork:
    """The stock service's repositories on one connection (and its transaction)."""

    ledger: SqlLedgerRepository


def sql_unit_of_work(conn: AsyncConnection) -> SqlUnitOfWork:
    return SqlUnitOfWork(ledger=SqlLedgerRepository(conn))

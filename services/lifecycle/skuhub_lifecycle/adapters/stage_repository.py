"""PostgreSQL implementation of the stage repository: one statement to load, one to save."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_lifecycle.adapters.tables import stages
from skuhub_lifecycle.domain.stages import SkuStage, Stage

_UPDATED = ("stage", "version", "product_version", "reason", "changed_at", "updated_at")


class SqlStageRepository:
    """Stages in PostgreSQL."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def load(self, skus: Iterable[str]) -> dict[str, SkuStage]:
        wanted = sorted(set(skus))  # a stable lock order avoids deadlocks between replicas
        if not wanted:
            return {}
        statement = (
            sa.select(stages)
            .where(stages.c.sku.in_(wanted))
            .order_by(stages.c.sku)
            .with_for_update()
        )
        rows = (await self._conn.execute(statement)).mappings()
        return {row["sku"]: _to_state(row) for row in rows}

    async def get(self, sku: str, *, for_update: bool = False) -> SkuStage | None:
        statement = sa.select(stages).where(stages.c.sku == sku)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._conn.execute(statement)).mappings().first()
        return _to_state(row) if row is not None else None

    async def save(self, states: Iterable[SkuStage]) -> None:
        now = datetime.now(UTC)
        rows = [
            {
                "sku": s.sku,
                "stage": s.stage.value,
                "version": s.version,
                "product_version": s.product_version,
                "reason": s.reason,
                "changed_at": s.changed_at,
                "updated_at": now,
            }
            for s in sorted(states, key=lambda s: s.sku)
        ]
        if not rows:
            return
        statement = insert(stages)
        statement = statement.on_conflict_do_update(
            index_elements=[stages.c.sku],
            set_={c: statement.excluded[c] for c in _UPDATED},
        )
        await self._conn.execute(statement, rows)


def _to_state(row: sa.RowMapping) -> SkuStage:
    return SkuStage(
        sku=row["sku"],
        stage=Stage(row["stage"]),
        version=row["version"],
        product_version=row["product_version"],
        reason=row["reason"],
        changed_at=row["changed_at"],
    )


@dataclass(frozen=True, slots=True)
class SqlUnitOfWork:
    """The lifecycle service's repositories on one connection (and its transaction)."""

    stages: SqlStageRepository


def sql_unit_of_work(conn: AsyncConnection) -> SqlUnitOfWork:
    return SqlUnitOfWork(stages=SqlStageRepository(conn))

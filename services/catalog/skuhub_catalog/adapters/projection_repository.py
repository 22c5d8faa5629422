"""PostgreSQL implementation of the catalog's projection of stock and stages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_catalog.adapters.tables import lifecycle_stages, stock_positions
from skuhub_catalog.domain.availability import PositionFact, StageFact


class SqlProjectionRepository:
    """Positions and stages, each kept at its newest version."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def keep_positions(self, facts: Sequence[PositionFact]) -> None:
        if not facts:
            return
        statement = insert(stock_positions)
        newer = stock_positions.c.position_version < statement.excluded.position_version
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=[
                    stock_positions.c.sku,
                    stock_positions.c.location,
                    stock_positions.c.lot,
                ],
                set_={c: statement.excluded[c] for c in _POSITION_UPDATES},
                where=newer,
            ),
            [asdict(f) for f in facts],
        )

    async def keep_stages(self, facts: Sequence[StageFact]) -> None:
        if not facts:
            return
        statement = insert(lifecycle_stages)
        newer = lifecycle_stages.c.stage_version < statement.excluded.stage_version
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=[lifecycle_stages.c.sku],
                set_={c: statement.excluded[c] for c in ("stage", "stage_version", "changed_at")},
                where=newer,
            ),
            [asdict(f) for f in facts],
        )

    async def positions_of(self, skus: Sequence[str]) -> dict[str, list[PositionFact]]:
        rows = await self._conn.execute(
            sa.select(stock_positions)
            .where(stock_positions.c.sku.in_(skus))
            .order_by(stock_positions.c.sku, stock_positions.c.location, stock_positions.c.lot)
        )
        found: dict[str, list[PositionFact]] = {}
        for row in rows.mappings():
            found.setdefault(row["sku"], []).append(PositionFact(**row))
        return found

    async def stages_of(self, skus: Sequence[str]) -> dict[str, StageFact]:
        rows = await self._conn.execute(
            sa.select(lifecycle_stages).where(lifecycle_stages.c.sku.in_(skus))
        )
        return {row["sku"]: StageFact(**row) for row in rows.mappings()}


_POSITION_UPDATES = (
    "unit",
    "on_hand",
    "quality_hold",
    "expired",
    "reserved",
    "available_to_promise",
    "kit",
    "position_version",
    "changed_at",
)

"""PostgreSQL implementation of the catalog's projection of stock and stages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
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

    async def shown_of(
        self, skus: Sequence[str]
    ) -> tuple[dict[str, list[PositionFact]], dict[str, StageFact]]:
        # One statement for both (a product read is a handful of round trips): each SKU's
        # stage, joined to each of its positions.
        asked = (
            sa.func.unnest(sa.cast(list(skus), ARRAY(sa.Text)))
            .table_valued("sku")
            .render_derived(name="k")
        )
        p, s = stock_positions, lifecycle_stages
        statement = (
            sa.select(
                asked.c.sku.label("k_sku"),
                *(c.label(f"p_{c.name}") for c in p.c),
                *(c.label(f"s_{c.name}") for c in s.c),
            )
            .select_from(
                asked.outerjoin(s, s.c.sku == asked.c.sku).outerjoin(p, p.c.sku == asked.c.sku)
            )
            .order_by(asked.c.sku, p.c.location, p.c.lot)
        )
        positions: dict[str, list[PositionFact]] = {}
        stages: dict[str, StageFact] = {}
        for row in (await self._conn.execute(statement)).mappings():
            if row["p_sku"] is not None:
                positions.setdefault(row["k_sku"], []).append(
                    PositionFact(**{c.name: row[f"p_{c.name}"] for c in p.c})
                )
            if row["s_sku"] is not None:
                stages[row["k_sku"]] = StageFact(**{c.name: row[f"s_{c.name}"] for c in s.c})
        return positions, stages


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

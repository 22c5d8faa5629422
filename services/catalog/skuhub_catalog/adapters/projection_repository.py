"""PostgreSQL implementation of the catalog's projection of stock and stages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

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
        positions: dict[str, list[PositionFact]] = {}
        stages: dict[str, StageFact] = {}
        rows = await self._conn.execute(_SHOWN, {"skus": list(skus)})
        for row in rows.mappings():
            if row["p_sku"] is not None:
                positions.setdefault(row["k_sku"], []).append(
                    PositionFact(**{name: row[label] for name, label in _POSITION_LABELS})
                )
            if row["s_sku"] is not None:
                stages[row["k_sku"]] = StageFact(
                    **{name: row[label] for name, label in _STAGE_LABELS}
                )
        return positions, stages


def _shown_statement() -> sa.Select[Any]:
    """One statement for both (a product read is a handful of round trips): each SKU's
    stage, joined to each of its positions. Built once: building it and its cache key took
    a quarter of a product read's CPU."""
    asked = (
        sa.func.unnest(sa.cast(sa.bindparam("skus", type_=ARRAY(sa.Text)), ARRAY(sa.Text)))
        .table_valued("sku")
        .render_derived(name="k")
    )
    p, s = stock_positions, lifecycle_stages
    return (
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


_SHOWN = _shown_statement()
_POSITION_LABELS = tuple((c.name, f"p_{c.name}") for c in stock_positions.c)
_STAGE_LABELS = tuple((c.name, f"s_{c.name}") for c in lifecycle_stages.c)


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

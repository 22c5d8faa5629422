"""PostgreSQL implementation of the catalog's projection of stock and stages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_catalog.adapters.tables import lifecycle_stages, stock_positions
from skuhub_catalog.domain.availability import PositionFact, StageFact
from skuhub_runtime.bulk import BulkInsert, update_on_conflict


class SqlProjectionRepository:
    """Positions and stages, each kept at its newest version."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def keep_positions(self, facts: Sequence[PositionFact]) -> None:
        await _KEEP_POSITIONS.execute(
            self._conn, [tuple(getattr(f, name) for name in _POSITION_COLUMNS) for f in facts]
        )

    async def keep_stages(self, facts: Sequence[StageFact]) -> None:
        await _KEEP_STAGES.execute(
            self._conn, [(f.sku, f.stage, f.stage_version, f.changed_at) for f in facts]
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
_POSITION_COLUMNS = tuple(f.name for f in fields(PositionFact))
# One fact per key (the use case keeps the newest): a statement may not update a row twice.
_KEEP_POSITIONS = BulkInsert(
    stock_positions,
    _POSITION_COLUMNS,
    on_conflict=update_on_conflict(
        ("sku", "location", "lot"),
        _POSITION_UPDATES,
        where="stock_positions.position_version < EXCLUDED.position_version",
    ),
)
_KEEP_STAGES = BulkInsert(
    lifecycle_stages,
    ("sku", "stage", "stage_version", "changed_at"),
    on_conflict=update_on_conflict(
        ("sku",),
        ("stage", "stage_version", "changed_at"),
        where="lifecycle_stages.stage_version < EXCLUDED.stage_version",
    ),
)

"""PostgreSQL projection of products, positions and stages; upserts guarded by version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_contracts.events import LifecycleStageChanged, ProductChanged, StockLevelChanged
from skuhub_sync_gateway.adapters.tables import positions, products, stages
from skuhub_sync_gateway.domain.offers import PositionFacts, ProductFacts, StageFacts
from skuhub_sync_gateway.service_layer.projection import Fact


class SqlProjectionRepository:
    """The projection in PostgreSQL; every upsert is guarded by version."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def upsert_products(self, facts: Sequence[Fact[ProductChanged]]) -> None:
        await self._upsert(
            products,
            ["sku"],
            [
                {
                    "sku": f.value.sku,
                    "version": f.version,
                    "status": f.value.status.value,
                    "deleted": f.value.deleted,
                    "unit": f.value.unit,
                    "gtin": f.value.gtin,
                    "title": dict(f.value.title),
                    **_provenance(f),
                }
                for f in facts
            ],
        )

    async def upsert_positions(self, facts: Sequence[Fact[StockLevelChanged]]) -> None:
        await self._upsert(
            positions,
            ["sku", "location", "lot"],
            [
                {
                    "sku": f.value.sku,
                    "location": f.value.location,
                    "lot": f.value.lot or "",
                    "version": f.version,
                    "unit": f.value.unit,
                    "on_hand": f.value.on_hand,
                    "available_to_promise": f.value.available_to_promise,
                    **_provenance(f),
                }
                for f in facts
            ],
        )

    async def upsert_stages(self, facts: Sequence[Fact[LifecycleStageChanged]]) -> None:
        await self._upsert(
            stages,
            ["sku"],
            [
                {
                    "sku": f.value.sku,
                    "stage": f.value.stage.value,
                    "version": f.version,
                    **_provenance(f),
                }
                for f in facts
            ],
        )

    async def _upsert(self, table: sa.Table, keys: list[str], rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        statement = insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=keys,
            set_={c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys},
            where=table.c.version < statement.excluded.version,
        )
        await self._conn.execute(statement, sorted(rows, key=lambda r: [r[k] for k in keys]))

    async def facts_of(
        self, sku: str
    ) -> tuple[ProductFacts | None, list[PositionFacts], StageFacts | None, dict[str, Any]]:
        """Everything known about a SKU, plus provenance (versions and trace ids) per fact."""
        product_row = (
            (await self._conn.execute(sa.select(products).where(products.c.sku == sku)))
            .mappings()
            .first()
        )
        position_rows = (
            (
                await self._conn.execute(
                    sa.select(positions)
                    .where(positions.c.sku == sku)
                    .order_by(positions.c.location, positions.c.lot)
                )
            )
            .mappings()
            .all()
        )
        stage_row = (
            (await self._conn.execute(sa.select(stages).where(stages.c.sku == sku)))
            .mappings()
            .first()
        )
        product = (
            ProductFacts(
                sku=sku,
                version=product_row["version"],
                status=product_row["status"],
                deleted=product_row["deleted"],
                unit=product_row["unit"],
                gtin=product_row["gtin"],
                title=product_row["title"],
            )
            if product_row
            else None
        )
        position_facts = [
            PositionFacts(
                location=r["location"],
                lot=r["lot"],
                version=r["version"],
                unit=r["unit"],
                available_to_promise=r["available_to_promise"],
            )
            for r in position_rows
        ]
        stage = (
            StageFacts(stage=stage_row["stage"], version=stage_row["version"])
            if stage_row
            else None
        )
        provenance: dict[str, Any] = {
            "product": _source(product_row),
            "stage": _source(stage_row),
            "positions": [
                {"location": r["location"], "lot": r["lot"] or None, **(_source(r) or {})}
                for r in position_rows
            ],
        }
        return product, position_facts, stage, provenance


def _provenance(fact: Fact[Any]) -> dict[str, Any]:
    return {
        "trace_id": fact.trace_id,
        "origin_time": fact.origin_time,
        "applied_at": datetime.now(UTC),
    }


def _source(row: sa.RowMapping | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "version": row["version"],
        "trace_id": row["trace_id"],
        "origin_time": row["origin_time"].isoformat(),
        "applied_at": row["applied_at"].isoformat(),
    }


@dataclass(frozen=True, slots=True)
class SqlUnitOfWork:
    """The gateway's repositories on one connection (and its transaction)."""

    projection: SqlProjectionRepository


def sql_unit_of_work(conn: AsyncConnection) -> SqlUnitOfWork:
    return SqlUnitOfWork(projection=SqlProjectionRepository(conn))

"""PostgreSQL projection of products, positions and stages; upserts guarded by version."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_contracts.events import LifecycleStageChanged, ProductChanged, StockLevelChanged
from skuhub_sync_gateway.adapters.tables import positions, products, stages
from skuhub_sync_gateway.domain.offers import PositionFacts, ProductFacts, StageFacts
from skuhub_sync_gateway.service_layer.projection import Fact, newest_per_key

T = TypeVar("T")


class SqlProjectionRepository:
    """The projection in PostgreSQL; every upsert is guarded by version."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def upsert_products(
        self, facts: Sequence[Fact[ProductChanged]]
    ) -> list[Fact[ProductChanged]]:
        return await self._upsert(
            products,
            newest_per_key(facts, lambda p: (p.sku,)),
            lambda f: {
                "sku": f.value.sku,
                "status": f.value.status.value,
                "deleted": f.value.deleted,
                "unit": f.value.unit,
                "gtin": f.value.published.gtin if f.value.published else None,
                "title": dict(f.value.published.title) if f.value.published else {},
                "published_version": f.value.published.version if f.value.published else None,
            },
        )

    async def upsert_positions(
        self, facts: Sequence[Fact[StockLevelChanged]]
    ) -> list[Fact[StockLevelChanged]]:
        return await self._upsert(
            positions,
            newest_per_key(facts, lambda p: (p.sku, p.location, p.lot or "")),
            lambda f: {
                "sku": f.value.sku,
                "location": f.value.location,
                "lot": f.value.lot or "",
                "unit": f.value.unit,
                "on_hand": f.value.on_hand,
                "available_to_promise": f.value.available_to_promise,
            },
        )

    async def upsert_stages(
        self, facts: Sequence[Fact[LifecycleStageChanged]]
    ) -> list[Fact[LifecycleStageChanged]]:
        return await self._upsert(
            stages,
            newest_per_key(facts, lambda s: (s.sku,)),
            lambda f: {
                "sku": f.value.sku,
                "stage": f.value.stage.value,
                "pre_order": f.value.pre_order,
                "successor": f.value.successor,
            },
        )

    async def _upsert(
        self, table: sa.Table, facts: list[Fact[T]], columns: Callable[[Fact[T]], dict[str, Any]]
    ) -> list[Fact[T]]:
        """One statement for the newest fact of each key; the facts whose rows it wrote."""
        if not facts:
            return []
        keys = [c.name for c in table.primary_key.columns]
        rows = [{**columns(f), "version": f.version, **_provenance(f)} for f in facts]
        new = insert(table)
        statement = new.on_conflict_do_update(
            index_elements=keys,
            set_={c.name: new.excluded[c.name] for c in table.columns if c.name not in keys},
            where=table.c.version < new.excluded.version,
        ).returning(*(table.c[k] for k in keys))
        # A stable order of keys keeps two writers from deadlocking on each other's rows.
        ordered = sorted(zip(rows, facts, strict=True), key=lambda rf: [rf[0][k] for k in keys])
        written = await self._conn.execute(statement, [row for row, _ in ordered])
        stored = {tuple(row) for row in written}
        return [fact for row, fact in ordered if tuple(row[k] for k in keys) in stored]

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
                published_version=product_row["published_version"],
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
            StageFacts(
                stage=stage_row["stage"],
                version=stage_row["version"],
                pre_order=stage_row["pre_order"],
                successor=stage_row["successor"],
            )
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

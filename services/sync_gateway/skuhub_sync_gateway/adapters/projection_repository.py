"""PostgreSQL projection of products, positions and stages; upserts guarded by version."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_contracts.events import (
    LifecycleStageChanged,
    ProductChanged,
    StockLevelChanged,
    WorkflowState,
)
from skuhub_runtime.bulk import Among, BulkInsert
from skuhub_sync_gateway.adapters.tables import positions, products, stages
from skuhub_sync_gateway.domain.offers import (
    SUCCEEDED_STAGES,
    Completeness,
    PositionFacts,
    ProductFacts,
    StageFacts,
)
from skuhub_sync_gateway.service_layer.projection import Fact, SkuFacts, newest_per_key

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
                **_published_extras(f.value),
            },
            keep_if_null=("completeness",),
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
                "location_available_to_promise": f.value.location_available_to_promise,
                "kit": f.value.kit,
                "caused_by": f.value.caused_by,
                "changed_at": f.value.changed_at,
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
        self,
        table: sa.Table,
        facts: list[Fact[T]],
        columns: Callable[[Fact[T]], dict[str, Any]],
        keep_if_null: tuple[str, ...] = (),
    ) -> list[Fact[T]]:
        """One statement for the newest fact of each key; the facts whose rows it wrote.

        A ``keep_if_null`` column given as JSON null keeps what the row had.
        """
        if not facts:
            return []
        keys = [c.name for c in table.primary_key.columns]
        rows = [{**columns(f), "version": f.version, **_provenance(f)} for f in facts]
        # A stable order of keys keeps two writers from deadlocking on each other's rows.
        ordered = sorted(zip(rows, facts, strict=True), key=lambda rf: [rf[0][k] for k in keys])
        statement = _upsert_statement(table, tuple(rows[0]), keep_if_null)
        written = await statement.execute(self._conn, [tuple(row.values()) for row, _ in ordered])
        stored = {tuple(row) for row in written or ()}
        return [fact for row, fact in ordered if tuple(row[k] for k in keys) in stored]

    async def facts_for(self, skus: Sequence[str]) -> dict[str, SkuFacts]:
        """Everything known about each SKU, plus provenance (versions, trace ids, causes)."""
        if not skus:
            return {}
        wanted = list(skus)
        product_rows = await self._rows(_PRODUCTS_OF, _PRODUCT_SKUS.keys(wanted))
        position_rows = await self._rows(_POSITIONS_OF, _POSITION_SKUS.keys(wanted))
        stage_rows = await self._rows(_STAGES_OF, _STAGE_SKUS.keys(wanted))
        by_sku: dict[str, list[sa.RowMapping]] = {}
        for row in position_rows:
            by_sku.setdefault(row["sku"], []).append(row)
        products_by_sku = {r["sku"]: r for r in product_rows}
        stages_by_sku = {r["sku"]: r for r in stage_rows}
        successors = {
            r["successor"]
            for r in stage_rows
            if r["successor"] and r["stage"] in SUCCEEDED_STAGES and r["successor"] not in wanted
        }
        if successors:
            for row in await self._rows(_PRODUCTS_OF, _PRODUCT_SKUS.keys(sorted(successors))):
                products_by_sku[row["sku"]] = row
        found: dict[str, SkuFacts] = {}
        for sku in wanted:
            product_row = products_by_sku.get(sku)
            stage_row = stages_by_sku.get(sku)
            rows = by_sku.get(sku, [])
            if product_row is None and stage_row is None and not rows:
                continue
            stage = _stage(stage_row) if stage_row else None
            successor_row = (
                products_by_sku.get(stage.successor)
                if stage and stage.successor and stage.stage in SUCCEEDED_STAGES
                else None
            )
            found[sku] = SkuFacts(
                sku=sku,
                product=_product(product_row) if product_row else None,
                positions=[_position(r) for r in rows],
                stage=stage,
                successor=_product(successor_row) if successor_row else None,
                sources={
                    "product": _source(product_row),
                    "stage": _source(stage_row),
                    "positions": [
                        {
                            "location": r["location"],
                            "lot": r["lot"] or None,
                            "caused_by": r["caused_by"],
                            **(_source(r) or {}),
                        }
                        for r in rows
                    ],
                },
            )
        return found

    async def skus_succeeded_by(self, skus: Sequence[str]) -> dict[str, str]:
        if not skus:
            return {}
        rows = await self._rows(_SUCCEEDED_BY, _SUCCESSORS.keys(sorted(set(skus))))
        return {r["sku"]: r["successor"] for r in rows}

    async def known_skus(self, after: str, limit: int) -> list[str]:
        # The first ``limit`` of each table by its primary key's order, then the first
        # ``limit`` of those: no table is read past what one step needs.
        firsts = [
            sa.select(t.c.sku)
            .where(t.c.sku > after)
            .group_by(t.c.sku)
            .order_by(t.c.sku)
            .limit(limit)
            .subquery()
            for t in (products, positions, stages)
        ]
        known = sa.union(*(sa.select(f.c.sku) for f in firsts)).subquery()
        result = await self._conn.execute(sa.select(known.c.sku).order_by(known.c.sku).limit(limit))
        return list(result.scalars())

    async def _rows(
        self, statement: sa.Select[Any], parameters: dict[str, Any] | None = None
    ) -> Sequence[sa.RowMapping]:
        result = await self._conn.execute(statement, parameters)
        rows: Sequence[sa.RowMapping] = result.mappings().all()
        return rows


_PRODUCT_SKUS = Among([products.c.sku], "skus")
_POSITION_SKUS = Among([positions.c.sku], "skus")
_STAGE_SKUS = Among([stages.c.sku], "skus")
_PRODUCTS_OF = sa.select(products).where(_PRODUCT_SKUS.clause)
_POSITIONS_OF = (
    sa.select(positions)
    .where(_POSITION_SKUS.clause)
    .order_by(positions.c.sku, positions.c.location, positions.c.lot)
)
_STAGES_OF = sa.select(stages).where(_STAGE_SKUS.clause)
_SUCCESSORS = Among([stages.c.successor], "successors")
_SUCCEEDED_BY = sa.select(stages.c.sku, stages.c.successor).where(
    _SUCCESSORS.clause, stages.c.stage.in_(sorted(SUCCEEDED_STAGES))
)


@functools.cache
def _upsert_statement(
    table: sa.Table, columns: tuple[str, ...], keep_if_null: tuple[str, ...]
) -> BulkInsert:
    """Rows of ``columns`` written over older versions (every other column is set from the
    new row); a ``keep_if_null`` column given as JSON null keeps what the row had. Returns
    the keys of the rows written."""
    keys = [c.name for c in table.primary_key.columns]
    name = table.name

    def new_value(column: str) -> str:
        if column in keep_if_null:
            return (
                f"CASE WHEN EXCLUDED.{column} = CAST('null' AS JSONB) THEN {name}.{column}"
                f" ELSE EXCLUDED.{column} END"
            )
        return f"EXCLUDED.{column}"

    updates = ", ".join(
        f"{c.name} = {new_value(c.name)}" for c in table.columns if c.name not in keys
    )
    return BulkInsert(
        table,
        columns,
        on_conflict=f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        f" WHERE {name}.version < EXCLUDED.version",
        returning=keys,
    )


def _published_extras(p: ProductChanged) -> dict[str, Any]:
    """The published content beyond title and GTIN; completeness only from a published
    snapshot (JSON null keeps the stored one: a draft's gaps do not stop what is live)."""
    published = p.published
    return {
        "description": dict(published.description) if published else {},
        "attributes": published.model_dump(mode="json")["attributes"] if published else {},
        "categories": list(published.categories) if published else [],
        "completeness": [c.model_dump(mode="json") for c in p.completeness]
        if p.workflow is WorkflowState.PUBLISHED
        else None,
        "kit": bool(p.kit_components),
    }


def _product(row: sa.RowMapping) -> ProductFacts:
    return ProductFacts(
        sku=row["sku"],
        version=row["version"],
        status=row["status"],
        deleted=row["deleted"],
        unit=row["unit"],
        gtin=row["gtin"],
        title=row["title"],
        published_version=row["published_version"],
        description=row["description"],
        attributes=row["attributes"],
        categories=tuple(row["categories"]),
        completeness=tuple(
            Completeness(
                scope=c["channel"],
                locale=c["locale"],
                complete=c["complete"],
                missing=tuple(c.get("missing", ())),
            )
            for c in row["completeness"] or ()
        ),
        kit=row["kit"],
    )


def _position(row: sa.RowMapping) -> PositionFacts:
    return PositionFacts(
        location=row["location"],
        lot=row["lot"],
        version=row["version"],
        unit=row["unit"],
        available_to_promise=row["available_to_promise"],
        location_available_to_promise=row["location_available_to_promise"],
        changed_at=row["changed_at"],
    )


def _stage(row: sa.RowMapping) -> StageFacts:
    return StageFacts(
        stage=row["stage"],
        version=row["version"],
        pre_order=row["pre_order"],
        successor=row["successor"],
    )


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

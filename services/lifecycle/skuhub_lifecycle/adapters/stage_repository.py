"""PostgreSQL implementation of the stage repository: one statement to load, one to save."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_lifecycle.adapters.tables import stage_history, stages
from skuhub_lifecycle.domain.gates import SuccessorLink
from skuhub_lifecycle.domain.stages import (
    ChannelReadiness,
    ProductFacts,
    SkuStage,
    Stage,
    StageChange,
)

_UPDATED = (
    "stage",
    "version",
    "product_version",
    "reason",
    "changed_at",
    "updated_at",
    "actor",
    "pre_order",
    "successor",
    "product_model",
    "deleted",
    "approved",
    "readiness",
    "replacement",
)


class SqlStageRepository:
    """Stages, the catalog facts their gates read, and their history, in PostgreSQL."""

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

    async def of_model(self, product_model: str, *, for_update: bool = False) -> list[SkuStage]:
        statement = (
            sa.select(stages).where(stages.c.product_model == product_model).order_by(stages.c.sku)
        )
        if for_update:
            statement = statement.with_for_update()
        return [_to_state(row) for row in (await self._conn.execute(statement)).mappings()]

    async def in_stage(self, stage: Stage, *, after: str = "", limit: int = 100) -> list[SkuStage]:
        statement = (
            sa.select(stages)
            .where(stages.c.stage == stage.value, stages.c.sku > after)
            .order_by(stages.c.sku)
            .limit(limit)
        )
        return [_to_state(row) for row in (await self._conn.execute(statement)).mappings()]

    async def successor_links(self, start: str, *, depth: int) -> dict[str, SuccessorLink]:
        found: dict[str, SuccessorLink] = {}
        # One recursive statement follows the chain, however long (up to ``depth``).
        chain = (
            sa.select(stages.c.sku, stages.c.stage, stages.c.successor, sa.literal(1).label("n"))
            .where(stages.c.sku == start)
            .cte("chain", recursive=True)
        )
        chain = chain.union(
            sa.select(stages.c.sku, stages.c.stage, stages.c.successor, chain.c.n + 1)
            .join(chain, stages.c.sku == chain.c.successor)
            .where(chain.c.n < depth)
        )
        for row in (await self._conn.execute(sa.select(chain))).mappings():
            found[row["sku"]] = SuccessorLink(Stage(row["stage"]), row["successor"])
        return found

    async def history(self, sku: str) -> list[StageChange]:
        return await self._history(stage_history.c.sku == sku, stage_history.c.version)

    async def model_history(self, product_model: str) -> list[StageChange]:
        return await self._history(
            stages.c.product_model == product_model,
            stage_history.c.changed_at,
            stage_history.c.sku,
            stage_history.c.version,
        )

    async def _history(
        self, which: sa.ColumnElement[bool], *order: sa.ColumnElement[object]
    ) -> list[StageChange]:
        statement = (
            sa.select(stage_history, stages.c.product_model)
            .join(stages, stages.c.sku == stage_history.c.sku)
            .where(which)
            .order_by(*order)
        )
        return [
            StageChange(
                sku=row["sku"],
                stage=Stage(row["stage"]),
                previous=Stage(row["previous_stage"]) if row["previous_stage"] else None,
                version=row["version"],
                reason=row["reason"],
                actor=row["actor"],
                changed_at=row["changed_at"].astimezone(UTC),
                product_model=row["product_model"],
                pre_order=row["pre_order"],
                successor=row["successor"],
            )
            for row in (await self._conn.execute(statement)).mappings()
        ]

    async def save(self, states: Iterable[SkuStage]) -> None:
        now = datetime.now(UTC)
        ordered = sorted(states, key=lambda s: s.sku)
        if not ordered:
            return
        statement = insert(stages)
        statement = statement.on_conflict_do_update(
            index_elements=[stages.c.sku],
            set_={c: statement.excluded[c] for c in _UPDATED},
        )
        await self._conn.execute(statement, [_to_row(s, now) for s in ordered])
        changes = [change for s in ordered for change in s.history]
        if changes:
            await self._conn.execute(
                insert(stage_history).on_conflict_do_nothing(),
                [
                    {
                        "sku": c.sku,
                        "version": c.version,
                        "stage": c.stage.value,
                        "previous_stage": c.previous.value if c.previous else None,
                        "reason": c.reason,
                        "actor": c.actor,
                        "pre_order": c.pre_order,
                        "successor": c.successor,
                        "changed_at": c.changed_at,
                    }
                    for c in changes
                ],
            )
        for s in ordered:
            s.history.clear()


def _to_row(s: SkuStage, now: datetime) -> dict[str, object]:
    product = s.product
    return {
        "sku": s.sku,
        "stage": s.stage.value,
        "version": s.version,
        "product_version": product.product_version,
        "reason": s.reason,
        "changed_at": s.changed_at,
        "updated_at": now,
        "actor": s.actor,
        "pre_order": s.pre_order,
        "successor": s.successor,
        "product_model": product.product_model,
        "deleted": product.deleted,
        "approved": product.approved,
        "readiness": [
            {
                "channel": r.channel,
                "locale": r.locale,
                "complete": r.complete,
                "missing": list(r.missing),
            }
            for r in product.readiness
        ],
        "replacement": product.replacement,
    }


def _to_state(row: sa.RowMapping) -> SkuStage:
    product = ProductFacts(
        sku=row["sku"],
        product_version=row["product_version"],
        deleted=row["deleted"],
        approved=row["approved"],
        readiness=tuple(
            ChannelReadiness(r["channel"], r["locale"], r["complete"], tuple(r["missing"]))
            for r in row["readiness"]
        ),
        product_model=row["product_model"],
        replacement=row["replacement"],
    )
    return SkuStage(
        sku=row["sku"],
        stage=Stage(row["stage"]),
        version=row["version"],
        reason=row["reason"],
        actor=row["actor"],
        changed_at=row["changed_at"].astimezone(UTC),
        product=product,
        pre_order=row["pre_order"],
        successor=row["successor"],
    )

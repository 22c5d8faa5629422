"""Kafka entrypoint: product, stock-level and lifecycle events into the offer projection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_contracts.events import LifecycleStageChanged, ProductChanged, StockLevelChanged
from skuhub_contracts.topics import LIFECYCLE_STAGE_CHANGED, PRODUCT_CHANGED, STOCK_LEVEL_CHANGED
from skuhub_runtime.consumer import ConsumerSpec, Incoming, Outcome
from skuhub_runtime.telemetry import trace_id_of
from skuhub_sync_gateway.adapters.projection_repository import SqlProjectionRepository
from skuhub_sync_gateway.service_layer.projection import Fact, newest_per_key


def _fact(incoming: Incoming, version: int) -> Fact[Any]:
    return Fact(
        value=incoming.payload,
        version=version,
        trace_id=trace_id_of(incoming.envelope.traceparent),
        origin_time=incoming.envelope.origin_time,
    )


async def project(conn: AsyncConnection, batch: Sequence[Incoming]) -> Outcome:
    """Fold one batch of state events into the projection (idempotent, order-tolerant)."""
    product_facts: list[Fact[Any]] = []
    position_facts: list[Fact[Any]] = []
    stage_facts: list[Fact[Any]] = []
    for incoming in batch:
        payload = incoming.payload
        if isinstance(payload, ProductChanged):
            product_facts.append(_fact(incoming, payload.product_version))
        elif isinstance(payload, StockLevelChanged):
            position_facts.append(_fact(incoming, payload.position_version))
        elif isinstance(payload, LifecycleStageChanged):
            stage_facts.append(_fact(incoming, payload.stage_version))
    repo = SqlProjectionRepository(conn)
    await repo.upsert_products(newest_per_key(product_facts, lambda p: p.sku))
    await repo.upsert_positions(
        newest_per_key(position_facts, lambda p: (p.sku, p.location, p.lot or ""))
    )
    await repo.upsert_stages(newest_per_key(stage_facts, lambda p: p.sku))
    return Outcome()  # older facts are not an error; the version guard keeps the newest


def projection_consumer() -> ConsumerSpec:
    return ConsumerSpec(
        name="offer-projection",
        topics=[STOCK_LEVEL_CHANGED, PRODUCT_CHANGED, LIFECYCLE_STAGE_CHANGED],
        handler=project,
    )

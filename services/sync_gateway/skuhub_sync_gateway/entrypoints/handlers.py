"""The gateway's handler: product, stock-level and lifecycle facts into the offer projection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from skuhub_contracts.events import LifecycleStageChanged, ProductChanged, StockLevelChanged
from skuhub_contracts.subscriptions import OfferFact
from skuhub_runtime.handling import Incoming, Outcome
from skuhub_runtime.telemetry import trace_id_of
from skuhub_sync_gateway.service_layer.projection import Fact, GatewayUnitOfWork, newest_per_key


def _fact(incoming: Incoming[Any], version: int) -> Fact[Any]:
    return Fact(
        value=incoming.payload,
        version=version,
        trace_id=trace_id_of(incoming.envelope.traceparent),
        origin_time=incoming.envelope.origin_time,
    )


async def project(uow: GatewayUnitOfWork, batch: Sequence[Incoming[OfferFact]]) -> Outcome:
    """Fold one batch of state events into the projection (idempotent, order-tolerant)."""
    products: list[Fact[ProductChanged]] = []
    positions: list[Fact[StockLevelChanged]] = []
    stages: list[Fact[LifecycleStageChanged]] = []
    for incoming in batch:
        payload = incoming.payload
        if isinstance(payload, ProductChanged):
            products.append(_fact(incoming, payload.product_version))
        elif isinstance(payload, StockLevelChanged):
            positions.append(_fact(incoming, payload.position_version))
        else:
            stages.append(_fact(incoming, payload.stage_version))
    projection = uow.projection
    await projection.upsert_products(newest_per_key(products, lambda p: p.sku))
    await projection.upsert_positions(
        newest_per_key(positions, lambda p: (p.sku, p.location, p.lot or ""))
    )
    await projection.upsert_stages(newest_per_key(stages, lambda p: p.sku))
    return Outcome()  # older facts are not an error; the version guard keeps the newest

"""The gateway's handler: product, stock-level and lifecycle facts into the offer projection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from skuhub_contracts.events import LifecycleStageChanged, ProductChanged, StockLevelChanged
from skuhub_contracts.subscriptions import OfferFact
from skuhub_runtime.handling import Incoming, Outcome
from skuhub_runtime.telemetry import trace_id_of
from skuhub_sync_gateway.service_layer.projection import Fact, GatewayUnitOfWork


def _fact(incoming: Incoming[Any], version: int) -> Fact[Any]:
    return Fact(
        value=incoming.payload,
        version=version,
        trace_id=trace_id_of(incoming.envelope.traceparent),
        origin_time=incoming.envelope.origin_time,
        event_id=incoming.id,
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
    stored: list[Fact[Any]] = [
        *await projection.upsert_products(products),
        *await projection.upsert_positions(positions),
        *await projection.upsert_stages(stages),
    ]
    # An older fact (or one a newer event of this batch replaced) is no error: the
    # projection already had it, so it counts as a duplicate, not as applied.
    applied = {fact.event_id for fact in stored}
    return Outcome(ignored=frozenset(i.id for i in batch if i.id not in applied))

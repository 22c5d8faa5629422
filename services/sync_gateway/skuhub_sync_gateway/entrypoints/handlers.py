"""The gateway's handler: product, stock-level and lifecycle facts into the projection,
then every channel's offer of the SKUs they touched, published when it changed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Histogram

from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import (
    LifecycleStageChanged,
    OfferCause,
    ProductChanged,
    StockLevelChanged,
)
from skuhub_contracts.subscriptions import OfferFact
from skuhub_runtime.handling import Decision, Incoming, Outcome
from skuhub_runtime.metrics import LATENCY_BUCKETS
from skuhub_runtime.telemetry import trace_id_of
from skuhub_sync_gateway.service_layer.offers import (
    OfferChange,
    Trigger,
    rebuild_step,
    refresh_offers,
)
from skuhub_sync_gateway.service_layer.projection import Fact, GatewayUnitOfWork

OFFER_LATENCY = Histogram(
    "skuhub_offer_latency_seconds",
    "Data latency: from the origin time of the fact that changed an offer to the new offer "
    "version stored (in the transaction that commits it with its feed entry and event).",
    ["channel", "cause"],
    buckets=LATENCY_BUCKETS,
)
SOURCE = "/skuhub/sync_gateway"
CAUSES: dict[type[Any], OfferCause] = {
    ProductChanged: OfferCause.PRODUCT,
    StockLevelChanged: OfferCause.STOCK,
    LifecycleStageChanged: OfferCause.LIFECYCLE,
}


def _fact(incoming: Incoming[Any], version: int) -> Fact[Any]:
    return Fact(
        value=incoming.payload,
        version=version,
        trace_id=trace_id_of(incoming.envelope.traceparent),
        origin_time=incoming.envelope.origin_time,
        event_id=incoming.id,
    )


async def project(uow: GatewayUnitOfWork, batch: Sequence[Incoming[OfferFact]]) -> Outcome:
    """Fold one batch of state events into the projection (idempotent, order-tolerant) and
    publish the offers that changed."""
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
    by_id = {incoming.id: incoming for incoming in batch}
    causes: dict[str, Incoming[Any]] = {}
    facts_of: dict[str, list[Incoming[Any]]] = {}
    for fact in sorted(stored, key=lambda f: f.origin_time):
        # The earliest fact of a SKU stands for the batch's change of it (latency from it);
        # the others' traces are linked to the offers it changes.
        causes.setdefault(fact.value.sku, by_id[fact.event_id])
        facts_of.setdefault(fact.value.sku, []).append(by_id[fact.event_id])
    now = datetime.now(UTC)
    triggers = {
        sku: Trigger(CAUSES[type(i.payload)], i.envelope.origin_time, i.traceparent, _caused_by(i))
        for sku, i in causes.items()
    }
    changes = await refresh_offers(uow, triggers, now)
    emitted = [_publish(change, causes, facts_of, batch[0], now) for change in changes]
    return Outcome(emitted=emitted, ignored=frozenset(i.id for i in batch if i.id not in applied))


def _caused_by(incoming: Incoming[Any]) -> str:
    """The upstream event a fact goes back to: a position's movement, else the fact itself."""
    payload = incoming.payload
    return payload.caused_by if isinstance(payload, StockLevelChanged) else incoming.id


def _publish(
    change: OfferChange,
    causes: dict[str, Incoming[Any]],
    facts_of: dict[str, list[Incoming[Any]]],
    fallback: Incoming[Any],
    now: datetime,
) -> Envelope[Any]:
    """The change as an event continuing the trace of the fact that caused it."""
    # A SKU whose successor changed has no fact of its own in the batch.
    cause = causes.get(change.sku) or fallback
    OFFER_LATENCY.labels(change.channel, change.event.cause.value).observe(
        max((now - change.origin_time).total_seconds(), 0.0)
    )
    return cause.derive(
        change.event, origin_time=change.origin_time, joins=facts_of.get(change.sku, ())
    )


async def rebuild(uow: GatewayUnitOfWork, now: datetime, *, batch: int) -> Decision[bool]:
    """Periodic job: the next SKUs of a due rebuild (channels changed)."""
    changes, more = await rebuild_step(uow, now, batch)
    return Decision(more, emitted=[_derived(change, now) for change in changes])


def _derived(change: OfferChange, now: datetime) -> Envelope[Any]:
    return Envelope(payload=change.event, source=SOURCE, origin_time=change.origin_time, time=now)

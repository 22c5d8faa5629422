"""Where a SKU's offer changes came from and where they went: the gateway's hops of a trace,
from its own records, for ``skuhub trace`` where no trace backend runs (docs/operations.md,
"Tracing")."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from skuhub_contracts.identifiers import Sku
from skuhub_runtime.access_http import PrincipalDep
from skuhub_runtime.http import get_runtime
from skuhub_runtime.service import ServiceRuntime
from skuhub_runtime.telemetry import trace_id_of
from skuhub_sync_gateway.service_layer.offers import TracedChange
from skuhub_sync_gateway.service_layer.projection import GatewayUnitOfWork

router = APIRouter(prefix="/v1", tags=["trace"])
GatewayRuntime = Annotated[ServiceRuntime[GatewayUnitOfWork], Depends(get_runtime)]


class DeliveryHop(BaseModel):
    subscription_id: str
    webhook_id: str = Field(description="The webhook-id header of every attempt.")
    status: str = Field(description="pending, retrying, delivered, dead or superseded.")
    attempts: int
    created_at: datetime = Field(description="When the fan-out added the delivery.")
    delivered_at: datetime | None = Field(description="When the receiver answered 2xx.")


class OfferChangeHop(BaseModel):
    """One logged offer change: the fact behind it, when it was stored, its deliveries."""

    channel: str
    sku: str
    offer_version: int
    cause: str = Field(description="stock, product, lifecycle or channel.")
    caused_by: str | None = Field(
        description="The upstream event behind it: the stock movement of a stock change, "
        "else the fact's own event id (null for changes logged before this was recorded)."
    )
    origin_time: datetime = Field(description="When that change first entered skuhub.")
    changed_at: datetime = Field(description="When the gateway stored this offer version.")
    trace_id: str | None = Field(description="The trace the change belongs to.")
    deliveries: list[DeliveryHop]


@router.get(
    "/offer-changes",
    response_model=list[OfferChangeHop],
    summary="A SKU's last offer changes, with their cause and deliveries",
    description="Newest first, every channel the token serves: the upstream event behind "
    "each change, its origin time, when the offer version was stored, its trace id and its "
    "webhook deliveries. An unknown SKU has none (an empty list).",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": [
                        {
                            "channel": "web",
                            "sku": "TSHIRT-RED-M",
                            "offer_version": 3,
                            "cause": "stock",
                            "caused_by": "5f0c6a59-4f7e-4d0c-9d62-1b1f6c1f2a10",
                            "origin_time": "2026-05-04T10:15:00.120Z",
                            "changed_at": "2026-05-04T10:15:00.310Z",
                            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                            "deliveries": [
                                {
                                    "subscription_id": "1d3c1a2e-9a43-4c55-8b9e-1b0f3c1e0a11",
                                    "webhook_id": "msg_9c1b2a3d4e5f60718293a4b5c6d7e8f9",
                                    "status": "delivered",
                                    "attempts": 1,
                                    "created_at": "2026-05-04T10:15:00.330Z",
                                    "delivered_at": "2026-05-04T10:15:00.360Z",
                                }
                            ],
                        }
                    ]
                }
            }
        }
    },
)
async def get_offer_changes(
    runtime: GatewayRuntime,
    principal: PrincipalDep,
    sku: Annotated[Sku, Query(description="The SKU whose changes to show.")],
    limit: Annotated[int, Query(ge=1, le=200, description="At most this many changes.")] = 20,
) -> list[OfferChangeHop]:
    found = await runtime.read(lambda uow: uow.offers.changes_of(sku, limit))
    # A channel adapter's token sees its own channels' changes only.
    return [_hop(c) for c in found if principal.refuses_channel(c.channel) is None]


def _hop(change: TracedChange) -> OfferChangeHop:
    return OfferChangeHop(
        channel=change.channel,
        sku=change.sku,
        offer_version=change.offer_version,
        cause=change.cause,
        caused_by=change.caused_by,
        origin_time=change.origin_time,
        changed_at=change.changed_at,
        trace_id=trace_id_of(change.traceparent),
        deliveries=[DeliveryHop(**dataclasses.asdict(d)) for d in change.deliveries],
    )

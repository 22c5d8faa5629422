"""HTTP entrypoint of the sync gateway: channels and their offers."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from skuhub_contracts.identifiers import Sku
from skuhub_runtime.http import error_responses, get_runtime
from skuhub_runtime.service import ServiceRuntime
from skuhub_sync_gateway.domain.offers import Channel, build_offer, channels_for
from skuhub_sync_gateway.service_layer.projection import GatewayUnitOfWork, offer_facts
from skuhub_sync_gateway.settings import SyncGatewaySettings

GatewayRuntime = Annotated[ServiceRuntime[GatewayUnitOfWork], Depends(get_runtime)]


class ChannelView(BaseModel):
    id: str
    name: str
    locale: str
    locations: list[str] = Field(description="GLNs feeding the channel; empty means all.")
    low_stock_threshold: Decimal


class OfferView(BaseModel):
    channel: str
    sku: str
    locale: str
    title: str | None
    gtin: str | None
    available: Decimal = Field(description="Available to promise over the channel's locations.")
    unit: str
    stage: str | None = Field(
        description="Lifecycle stage (concept, development, pre-launch, active, mature, "
        "phase-out, discontinued, retired); null until the lifecycle service reports one."
    )
    sellable: bool = Field(
        description="Whether the channel should offer the SKU: enabled, published content, a "
        "selling stage (active, mature, phase-out; pre-launch only with pre-order; never "
        "discontinued or retired) and stock available to promise (not needed for a "
        "pre-order)."
    )
    low_stock: bool = Field(description="0 < available <= the channel's low_stock_threshold.")
    pre_order: bool = Field(
        description="The SKU is pre-launch and open for pre-order: the offer is sellable "
        "before stock arrives, even with 0 available (orders are back-orders until launch). "
        "False whenever the offer is not sellable."
    )
    successor: Sku | None = Field(
        description="Discontinued or retired: the SKU that replaces this one, which channels "
        "switch to; null in other stages or when the lifecycle names none."
    )
    successor_title: str | None = Field(
        description="The successor's published title in the channel's locale; null when "
        "there is no successor or the gateway does not know its content (yet)."
    )
    not_sellable_because: list[str]
    sources: dict[str, Any] = Field(
        description="Version, trace id and origin time of each fact the offer is built from."
    )


def configured_channels(settings: SyncGatewaySettings) -> list[Channel]:
    return [
        Channel(
            id=c.id,
            name=c.name,
            locale=c.locale,
            locations=frozenset(c.locations),
            low_stock_threshold=c.low_stock_threshold,
        )
        for c in settings.channels
    ]


def build_router(channels: list[Channel]) -> APIRouter:
    """Routes for the configured channels."""
    router = APIRouter(prefix="/v1", tags=["channels"])

    @router.get("/channels", response_model=list[ChannelView], summary="Configured sales channels")
    async def list_channels() -> list[ChannelView]:
        return [
            ChannelView(
                id=c.id,
                name=c.name,
                locale=c.locale,
                locations=sorted(c.locations),
                low_stock_threshold=c.low_stock_threshold,
            )
            for c in channels
        ]

    @router.get(
        "/channels/{channel}/offers/{sku:path}",
        response_model=OfferView,
        summary="The offer of one SKU on one channel",
        responses=error_responses(
            404, e404="Unknown channel, or a SKU the gateway has never heard of."
        ),
    )
    async def get_offer(channel: str, sku: Sku, runtime: GatewayRuntime) -> OfferView:
        found = channels_for(channels, channel)
        if found is None:
            raise HTTPException(404, f"unknown channel {channel!r}; GET /v1/channels lists them")
        facts = await runtime.read(lambda uow: offer_facts(uow, sku))
        if not facts.known:
            raise HTTPException(404, f"SKU {sku!r} is not known to the gateway (yet)")
        offer = build_offer(
            found, sku, facts.product, facts.positions, facts.stage, facts.successor
        )
        return OfferView(
            channel=offer.channel,
            sku=offer.sku,
            locale=offer.locale,
            title=offer.title,
            gtin=offer.gtin,
            available=offer.available,
            unit=offer.unit,
            stage=offer.stage,
            sellable=offer.sellable,
            low_stock=offer.low_stock,
            pre_order=offer.pre_order,
            successor=offer.successor,
            successor_title=offer.successor_title,
            not_sellable_because=list(offer.reasons),
            sources=facts.sources,
        )

    return router

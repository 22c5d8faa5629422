"""HTTP entrypoint of the sync KPIs: data latency and accuracy, the reconciler's mismatches,
and the lineage of an offer (docs/kpis.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from skuhub_contracts.identifiers import ChannelCode, Sku
from skuhub_runtime.http import error_responses, get_runtime
from skuhub_runtime.reconcile import PositionKey, Tally
from skuhub_runtime.reconciler import (
    SweepView,
    TallyView,
    grace_of,
    positions_accuracy,
    sweep_view,
)
from skuhub_runtime.service import ServiceRuntime
from skuhub_sync_gateway.service_layer.accuracy import LatencyStats, OfferVerdict, overall
from skuhub_sync_gateway.service_layer.channels import channel_named
from skuhub_sync_gateway.service_layer.offers import StoredOffer, stored_offer
from skuhub_sync_gateway.service_layer.projection import GatewayUnitOfWork

GatewayRuntime = Annotated[ServiceRuntime[GatewayUnitOfWork], Depends(get_runtime)]
router = APIRouter(prefix="/v1", tags=["kpis"])

LATENCY_SAMPLE = 10_000
"""At most this many of each channel's newest changes make its latency figures."""


class LatencyView(BaseModel):
    """Data latency of one channel and cause: origin time of the fact that changed an
    offer -> the new offer version stored (and visible in the feed, by GET, to webhooks)."""

    channel: str
    cause: str = Field(description="stock, product, lifecycle or channel.")
    count: int = Field(description="Offer changes measured.")
    p50_s: float
    p90_s: float
    p99_s: float
    max_s: float

    @classmethod
    def of(cls, s: LatencyStats) -> LatencyView:
        return cls(
            channel=s.channel,
            cause=s.cause,
            count=s.count,
            p50_s=s.p50_s,
            p90_s=s.p90_s,
            p99_s=s.p99_s,
            max_s=s.max_s,
        )


class LatencyWindow(BaseModel):
    window_s: float = Field(description="Changes made this many seconds back count.")
    sample_per_channel: int = Field(description="At most this many newest changes per channel.")
    by_channel_and_cause: list[LatencyView]


class ChannelAccuracyView(TallyView):
    channel: str


class AccuracyKpis(BaseModel):
    offers: TallyView = Field(
        description="Every stored offer's available against stock's location ATP at the same "
        "position versions, allocated by its channel's rule."
    )
    channels: list[ChannelAccuracyView] = Field(description="The same per channel.")
    positions: TallyView = Field(
        description="The gateway's projected positions against the ledger at the same version."
    )
    grace_s: float = Field(description="How long stock may be ahead before it is a mismatch.")
    last_sweep: SweepView | None = Field(description="The reconciler's last complete pass.")


class KpisView(BaseModel):
    generated_at: datetime
    latency: LatencyWindow
    accuracy: AccuracyKpis


class VersionView(BaseModel):
    location: str
    lot: str | None
    version: int


class OfferMismatchView(BaseModel):
    sku: str
    channel: str
    offer_version: int | None = Field(description="The stored offer's version; null: none.")
    offer_available: Decimal | None = Field(description="What the offer promises.")
    expected_available: Decimal | None = Field(
        description="What stock's location ATP allocates to the channel at the same position "
        "versions; null when the versions differ (then `reason` says where)."
    )
    gateway_versions: list[VersionView] = Field(
        description="Position versions in the gateway's projection."
    )
    stock_versions: list[VersionView] = Field(description="Position versions at stock.")
    reason: str
    first_seen: datetime = Field(description="When the discrepancy was first seen.")
    age_s: float
    checked_at: datetime | None


def _versions(versions: dict[PositionKey, int]) -> list[VersionView]:
    return [
        VersionView(location=location, lot=lot or None, version=version)
        for (location, lot), version in sorted(versions.items())
    ]


def _mismatch(v: OfferVerdict, now: datetime) -> OfferMismatchView:
    return OfferMismatchView(
        sku=v.sku,
        channel=v.channel,
        offer_version=v.offer_version,
        offer_available=v.offer_available,
        expected_available=v.expected_available,
        gateway_versions=_versions(dict(v.local_versions)),
        stock_versions=_versions(dict(v.stock_versions)),
        reason=v.standing.reason,
        first_seen=v.standing.since,
        age_s=max((now - v.standing.since).total_seconds(), 0.0),
        checked_at=v.checked_at,
    )


@router.get(
    "/kpis",
    response_model=KpisView,
    summary="The sync KPIs: data latency and data accuracy",
    description="Latency per channel and cause over the recent offer changes (origin time of "
    "the causing fact -> offer version stored); accuracy of every stored offer and projected "
    "position against the stock service, as the continuous reconciler last found them. "
    "docs/kpis.md defines both.",
)
async def get_kpis(
    runtime: GatewayRuntime,
    window_s: Annotated[
        float,
        Query(gt=0, le=86_400, description="Latency over the changes of this many seconds."),
    ] = 900.0,
) -> KpisView:
    now = datetime.now(UTC)

    async def read(uow: GatewayUnitOfWork) -> tuple[list[LatencyStats], dict[str, Tally]]:
        return (
            await uow.accuracy.latency(now - timedelta(seconds=window_s), LATENCY_SAMPLE),
            await uow.accuracy.tallies(),
        )

    latency, tallies = await runtime.read(read)
    async with runtime.engine.connect() as conn:
        positions, sweep = await positions_accuracy(conn)
    return KpisView(
        generated_at=now,
        latency=LatencyWindow(
            window_s=window_s,
            sample_per_channel=LATENCY_SAMPLE,
            by_channel_and_cause=[LatencyView.of(s) for s in latency],
        ),
        accuracy=AccuracyKpis(
            offers=TallyView.of(overall(tallies.values()), now),
            channels=[
                ChannelAccuracyView(channel=c, **TallyView.of(t, now).model_dump())
                for c, t in sorted(tallies.items())
            ],
            positions=TallyView.of(positions, now),
            grace_s=grace_of(runtime.settings),
            last_sweep=sweep_view(sweep),
        ),
    )


@router.get(
    "/kpis/mismatches",
    response_model=list[OfferMismatchView],
    summary="Every offer that disagrees with the stock service",
    description="Oldest first, each with what it promises, what stock's figures at the same "
    "position versions allocate, both sides' versions and the age of the discrepancy. "
    "Positions that disagree are at GET /v1/accuracy/mismatches.",
    responses=error_responses(404, e404="Unknown channel."),
)
async def get_mismatches(
    runtime: GatewayRuntime,
    channel: Annotated[ChannelCode | None, Query(description="Only this channel's.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
) -> list[OfferMismatchView]:
    async def read(uow: GatewayUnitOfWork) -> list[OfferVerdict]:
        if channel is not None:
            await channel_named(uow, channel)
        return await uow.accuracy.mismatches(channel, limit)

    found = await runtime.read(read)
    now = datetime.now(UTC)
    return [_mismatch(v, now) for v in found]


# ---- lineage


class SourceView(BaseModel):
    version: int = Field(description="The fact's version (product_version, stage_version).")
    trace_id: str | None = Field(description="The trace of the event that carried it.")
    origin_time: datetime = Field(description="When it first entered skuhub.")
    applied_at: datetime = Field(description="When the gateway stored it.")


class ProductLineage(SourceView):
    published_version: int | None = Field(
        description="The catalog version whose content the offer shows; null: never published."
    )


class StageLineage(SourceView):
    stage: str | None


class PositionLineage(BaseModel):
    location: str
    lot: str | None
    version: int = Field(description="The position_version of its stock-level-changed.")
    caused_by: str | None = Field(description="The stock movement (event id) that changed it.")
    trace_id: str | None
    origin_time: datetime = Field(description="When that movement entered skuhub.")
    applied_at: datetime = Field(description="When the gateway stored the position.")


class LocationAtpView(BaseModel):
    location: str
    available_to_promise: Decimal = Field(description="Its ATP over all lots, as stock reported.")


class ChannelLineage(BaseModel):
    code: str
    version: int | None = Field(description="The channel's version the offer was built with.")
    allocation_rule: str | None = Field(description="share, exclusive, priority or shared-pool.")
    safety_buffer: Decimal | None = Field(description="Held back from the allocation.")


class LineageView(BaseModel):
    """Why the channel shows what it shows: the facts this offer version was built from."""

    channel: str
    sku: str
    offer_version: int
    available: Decimal = Field(description="What the channel may promise.")
    sellable: bool
    not_sellable_because: list[str]
    cause: str = Field(description="The kind of fact that made this version.")
    origin_time: datetime = Field(description="When that fact entered skuhub.")
    changed_at: datetime = Field(description="When this version was stored.")
    latency_s: float = Field(description="changed_at - origin_time.")
    explanation: str = Field(description="available, from the figures below, in words.")
    allocated: Decimal | None = Field(
        description="The channel's allocation of location_atp, before the safety buffer."
    )
    location_atp: list[LocationAtpView] = Field(description="The figures allocated.")
    positions: list[PositionLineage] = Field(
        description="Every position of the SKU the offer was built from."
    )
    product: ProductLineage | None
    stage: StageLineage | None
    channel_config: ChannelLineage


def _source(data: dict[str, Any] | None) -> dict[str, Any] | None:
    if not data:
        return None
    return {k: data[k] for k in ("version", "trace_id", "origin_time", "applied_at")}


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def lineage_view(offer: StoredOffer) -> LineageView:
    """The stored lineage of an offer version, shaped to answer "why this number?"."""
    lineage, payload = offer.lineage, offer.offer
    available = Decimal(str(payload["available"]))
    allocated = Decimal(lineage["allocated"]) if "allocated" in lineage else None
    buffer = Decimal(lineage["safety_buffer"]) if "safety_buffer" in lineage else None
    atp = {loc: Decimal(q) for loc, q in lineage.get("location_atp", {}).items()}
    rule = lineage.get("allocation_rule")
    parts = ", ".join(f"{loc}: {_plain(q)}" for loc, q in sorted(atp.items())) or "none"
    explanation = f"{_plain(available)} available"
    if allocated is not None:
        explanation += (
            f" = the channel's allocation {_plain(allocated)}"
            + (f" ({rule})" if rule else "")
            + f" of the location ATP ({parts})"
            + (f" less the safety buffer {_plain(buffer)}" if buffer else "")
            + ", never below 0"
        )
    product = _source(lineage.get("product"))
    stage = _source(lineage.get("stage"))
    return LineageView(
        channel=offer.channel,
        sku=offer.sku,
        offer_version=offer.offer_version,
        available=available,
        sellable=payload["sellable"],
        not_sellable_because=payload.get("not_sellable_because", []),
        cause=offer.cause,
        origin_time=offer.origin_time,
        changed_at=offer.changed_at,
        latency_s=max((offer.changed_at - offer.origin_time).total_seconds(), 0.0),
        explanation=explanation,
        allocated=allocated,
        location_atp=[
            LocationAtpView(location=loc, available_to_promise=q) for loc, q in sorted(atp.items())
        ],
        positions=[
            PositionLineage(
                location=p["location"],
                lot=p.get("lot"),
                version=p["version"],
                caused_by=p.get("caused_by"),
                trace_id=p.get("trace_id"),
                origin_time=p["origin_time"],
                applied_at=p["applied_at"],
            )
            for p in lineage.get("positions", [])
        ],
        product=ProductLineage(**product, published_version=payload.get("published_version"))
        if product
        else None,
        stage=StageLineage(**stage, stage=payload.get("stage")) if stage else None,
        channel_config=ChannelLineage(
            code=offer.channel,
            version=lineage.get("channel_version"),
            allocation_rule=rule,
            safety_buffer=buffer,
        ),
    )


@router.get(
    "/channels/{channel}/offers/{sku:path}/lineage",
    response_model=LineageView,
    summary="Why the channel shows this offer",
    description="The facts the current offer version was built from: the product and "
    "published versions, the lifecycle stage version, every stock position (its version, "
    "the movement that changed it, its origin time and trace), the channel's version, the "
    "location ATP and the allocation. (A SKU that itself ends in /lineage is read here as "
    "the lineage of the SKU before it.)",
    responses=error_responses(
        404, e404="Unknown channel, or no offer of the SKU (the gateway knows no product of it)."
    ),
)
async def get_lineage(channel: ChannelCode, sku: Sku, runtime: GatewayRuntime) -> LineageView:
    offer = await runtime.read(lambda uow: stored_offer(uow, channel, sku))
    return lineage_view(offer)

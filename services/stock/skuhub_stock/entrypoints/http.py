"""HTTP entrypoint of the stock service: movement ingest, position and journal queries."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from skuhub_contracts.codec import encode
from skuhub_contracts.events import StockMoved
from skuhub_contracts.identifiers import Sku
from skuhub_contracts.topics import STOCK_MOVED
from skuhub_runtime.access_http import requires
from skuhub_runtime.access_tokens import Scope
from skuhub_runtime.http import OriginDep, error_responses, get_runtime, validation_errors
from skuhub_runtime.origin import Origin
from skuhub_runtime.service import ServiceRuntime
from skuhub_stock.domain.accuracy import record_accuracy
from skuhub_stock.domain.kits import KitPosition
from skuhub_stock.domain.movements import MovementRejected
from skuhub_stock.domain.positions import Position, location_available_to_promise
from skuhub_stock.entrypoints.events import to_movement
from skuhub_stock.service_layer.ports import StockUnitOfWork
from skuhub_stock.service_layer.record_movements import refusals
from skuhub_stock.settings import StockSettings

router = APIRouter(prefix="/v1", tags=["stock"])
StockRuntime = Annotated[ServiceRuntime[StockUnitOfWork], Depends(get_runtime)]
PUBLISH_TIMEOUT_S = 10.0


class MovementBatch(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "movements": [
                        {
                            "sku": "TSHIRT-RED-M",
                            "kind": "receipt",
                            "location": "4012345000009",
                            "quantity": "24",
                            "unit": "EA",
                            "source_system": "wms-berlin",
                            "source_sequence": 184467,
                            "occurred_at": "2025-03-01T08:00:00Z",
                        }
                    ]
                }
            ]
        }
    )

    movements: list[StockMoved] = Field(min_length=1, max_length=10_000)


class Accepted(BaseModel):
    accepted: int
    event_ids: list[str]
    topic: str


class Buckets(BaseModel):
    """Quantities in the SKU's stock unit; docs/stock.md defines each."""

    on_hand: Decimal
    reserved: Decimal
    quality_hold: Decimal
    expired: Decimal
    in_transit: Decimal
    incoming: Decimal
    available_to_promise: Decimal
    projected: Decimal = Field(description="on_hand + in_transit + incoming - reserved.")


class Counters(BaseModel):
    """Cumulative flows (never decrease)."""

    received: Decimal
    shipped: Decimal
    returned: Decimal
    scrapped: Decimal
    lost_sales: Decimal


class PositionView(Buckets, Counters):
    location: str
    lot: str | None
    unit: str
    expires_on: date | None
    counted_at: datetime | None
    anomalies: list[str]
    version: int


class LocationView(Buckets):
    location: str
    unit: str


class PositionsView(BaseModel):
    sku: str
    positions: list[PositionView] = Field(description="Per location and lot.")
    locations: list[LocationView] = Field(
        description="Per location over its lots; available_to_promise is the signed sum of "
        "the lots' (sellable - reserved), never below zero."
    )
    network: Buckets = Field(
        description="Over all locations; available_to_promise is the sum of the locations'."
    )
    available_to_promise: Decimal = Field(
        description="The network's (as network.available_to_promise)."
    )


class JournalEntryView(BaseModel):
    seq: int = Field(description="Position in the journal; pass the last one as `after`.")
    event_id: str
    kind: str
    location: str
    destination: str | None
    lot: str | None
    quantity: Decimal
    unit: str
    expires_on: date | None
    reason: str | None = Field(description="Upstream's free text for people.")
    source_system: str
    source_sequence: int
    occurred_at: datetime
    recorded_at: datetime
    rejected_reason: str | None = Field(
        description="Why the ledger refused the movement (it stays journaled); null if applied."
    )
    outcome: str | None = Field(
        description="null when applied as reported; `parked` while it waits for its partner; "
        "`superseded` for a cycle count a later count had replaced; `absorbed` when a later "
        "cycle count had already counted its effect on on_hand (docs/stock.md, Time)."
    )
    reservation_id: str | None
    transfer_ref: str | None
    order_ref: str | None
    expected_on: date | None


class JournalPage(BaseModel):
    sku: str
    entries: list[JournalEntryView]
    next_after: int | None = Field(
        description="`after` for the next page; null when this page is the last. A full page "
        "at the very end is followed by an empty one."
    )


@router.post(
    "/movements",
    dependencies=[requires(Scope.INGEST)],
    status_code=202,
    response_model=Accepted,
    summary="Report stock movements",
    description="Checks the movements with the same code the stock consumer runs (the "
    "skuhub.stock-moved.v1 contract, then the ledger's rules against the current positions) and "
    "publishes each to the stock-moved topic, the path Kafka producers use. 202 means the broker "
    "has them all; positions follow within moments. 422 lists every refused movement "
    "(`loc` = body, movements, its index, the field) and takes none. 503 means the broker did "
    "not take them all: send the same request again (a movement already taken is recognised by "
    "its source_system and source_sequence and counted once).",
    responses=error_responses(503, e503="Kafka did not acknowledge every movement; retry."),
)
async def post_movements(
    batch: MovementBatch, runtime: StockRuntime, origin: OriginDep
) -> Accepted | JSONResponse:
    refused = await refused_movements(runtime, batch.movements)
    if refused:
        return validation_errors(
            [
                (("body", "movements", index, rejection.field), rejection.reason)
                for index, rejection in sorted(refused.items())
            ]
        )
    return await publish_movements(runtime, origin, batch.movements)


async def refused_movements(
    runtime: StockRuntime, movements: Sequence[StockMoved]
) -> dict[int, MovementRejected]:
    """Which movements the ledger would refuse now (by index): the consumer's own check."""
    now = datetime.now(UTC)
    domain = [to_movement(m) for m in movements]
    settings = runtime.settings
    policy = settings.unknown_sku if isinstance(settings, StockSettings) else "accept"
    return await runtime.read(lambda uow: refusals(uow.ledger, domain, now, unknown_sku=policy))


async def publish_movements(
    runtime: StockRuntime, origin: Origin, movements: Sequence[StockMoved]
) -> Accepted:
    """Publish movements to the stock-moved topic, as upstream producers do.

    Raises:
        HTTPException: 503 when Kafka does not acknowledge them all (the client retries).
    """
    topic = runtime.settings.topic(STOCK_MOVED.name)
    envelopes = [origin.envelope(m, time=m.occurred_at) for m in movements]
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT_S):
            await runtime.publisher.send_batch([(topic, encode(e)) for e in envelopes])
    except (KafkaError, TimeoutError, OSError) as exc:
        raise HTTPException(
            503,
            f"Kafka did not acknowledge every movement ({type(exc).__name__}); send the same "
            "request again: movements already taken are counted once",
            headers={"Retry-After": "1"},
        ) from exc
    return Accepted(accepted=len(envelopes), event_ids=[e.id for e in envelopes], topic=topic)


@router.get(
    "/journal/{sku:path}",
    response_model=JournalPage,
    summary="Movement journal of a SKU",
    description="Every movement reported for the SKU, in the order the service journaled "
    "them, a page at a time: applied ones and refused ones (with the reason). An unknown SKU "
    "has an empty journal, not an error.",
)
async def get_journal(
    sku: Sku,
    runtime: StockRuntime,
    after: Annotated[
        int | None,
        Query(ge=0, le=2**63 - 1, description="`next_after` of the previous page."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Entries per page.")] = 100,
) -> JournalPage:
    found = await runtime.read(lambda uow: uow.ledger.journal_of(sku, after=after, limit=limit))
    entries = [
        JournalEntryView(
            seq=e.seq,
            event_id=e.reported.event_id,
            kind=e.reported.movement.kind.value,
            location=e.reported.movement.location,
            destination=e.reported.movement.destination,
            lot=e.reported.movement.lot,
            quantity=e.reported.movement.quantity,
            unit=e.reported.movement.unit,
            expires_on=e.reported.movement.expires_on,
            reason=e.reported.reason,
            source_system=e.reported.source_system,
            source_sequence=e.reported.source_sequence,
            occurred_at=e.reported.occurred_at,
            recorded_at=e.recorded_at,
            rejected_reason=e.rejected_reason,
            outcome=e.outcome,
            reservation_id=e.reported.movement.reservation_id,
            transfer_ref=e.reported.movement.transfer_ref,
            order_ref=e.reported.movement.order_ref,
            expected_on=e.reported.movement.expected_on,
        )
        for e in found
    ]
    return JournalPage(
        sku=sku,
        entries=entries,
        next_after=entries[-1].seq if len(entries) == limit else None,
    )


MAX_QUERIED_SKUS = 500


class PositionsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skus: list[Sku] = Field(
        min_length=1,
        max_length=MAX_QUERIED_SKUS,
        description=f"Up to {MAX_QUERIED_SKUS} SKUs; one asked twice is answered once.",
        examples=[["TSHIRT-RED-M", "MUG-1"]],
    )


class SkuPositionsView(PositionsView):
    kit: bool = Field(
        description="The SKU is a kit: each position is the kit's availability at a location "
        "(lot null, available_to_promise = how many whole kits its components make there, "
        "every other bucket 0), as stock-level-changed reports it."
    )


class PositionsAnswer(BaseModel):
    skus: list[SkuPositionsView] = Field(
        description="One per SKU asked, in the order asked; an unknown SKU has no positions."
    )


@router.post(
    "/positions/query",
    response_model=PositionsAnswer,
    summary="Stock positions of many SKUs",
    # Before GET /positions/{sku:path}: a method this path does not take is then answered
    # with this route's Allow (POST), not the GET route's.
    description="What GET /v1/positions/{sku} answers, for up to 500 SKUs in one read, with "
    "kits' availability per location besides. Each position carries its version (the "
    "position_version of stock-level-changed), so a projection built from those events can be "
    'compared with the ledger at the same version (docs/stock.md, "Positions of many SKUs").',
)
async def query_positions(query: PositionsQuery, runtime: StockRuntime) -> Response:
    skus = list(dict.fromkeys(query.skus))

    async def read(uow: StockUnitOfWork) -> tuple[list[Position], list[KitPosition]]:
        return await uow.ledger.positions_of_skus(skus), await uow.ledger.kit_positions_of(skus)

    found, kits = await runtime.read(read)
    by_sku: dict[str, list[Position]] = {}
    for position in found:
        by_sku.setdefault(position.sku, []).append(position)
    kits_by_sku: dict[str, list[KitPosition]] = {}
    for kit in kits:
        kits_by_sku.setdefault(kit.sku, []).append(kit)
    answers = []
    for sku in skus:
        if sku in kits_by_sku:
            answers.append(_kit_view(sku, kits_by_sku[sku]))
        else:
            view = positions_view(sku, by_sku.get(sku, []))
            answers.append(SkuPositionsView.model_construct(**dict(view), kit=False))
    # Serialised here: FastAPI would validate the views it was given once more, which was
    # half the cost of a 500-SKU answer (every figure comes from the ledger).
    body = PositionsAnswer.model_construct(skus=answers).model_dump_json()
    return Response(body, media_type="application/json")


@router.get(
    "/positions/{sku:path}",
    response_model=PositionsView,
    summary="Stock positions of a SKU",
    description="Every location and lot of the SKU as the ledger has them now, each location's "
    "totals and the network's (docs/stock.md has the formulas). An unknown SKU has no "
    "positions (empty lists and zeros), not an error.",
)
async def get_positions(sku: Sku, runtime: StockRuntime) -> PositionsView:
    found = await runtime.read(lambda uow: uow.ledger.positions_of(sku))
    return positions_view(sku, found)


def positions_view(sku: str, found: Sequence[Position]) -> PositionsView:
    """One SKU's positions, its locations' totals and the network's."""
    by_location: dict[str, list[Position]] = {}
    for position in found:
        by_location.setdefault(position.location, []).append(position)
    locations = [
        LocationView(location=location, unit=lots[0].unit, **_buckets(lots).model_dump())
        for location, lots in by_location.items()
    ]
    network = _network(locations)
    return PositionsView(
        sku=sku,
        positions=[position_view(p) for p in found],
        locations=locations,
        network=network,
        available_to_promise=network.available_to_promise,
    )


def _network(locations: Sequence[LocationView]) -> Buckets:
    return Buckets(
        **{
            name: sum((getattr(v, name) for v in locations), Decimal(0))
            for name in Buckets.model_fields
        }
    )


def _kit_view(sku: str, kits: Sequence[KitPosition]) -> SkuPositionsView:
    zero = Decimal(0)
    empty = dict.fromkeys(Buckets.model_fields, zero)
    locations = [
        LocationView(
            location=k.location, unit=k.unit, **{**empty, "available_to_promise": k.available}
        )
        for k in kits
    ]
    positions = [
        PositionView(
            location=k.location,
            lot=None,
            unit=k.unit,
            **{**empty, "available_to_promise": k.available},
            **dict.fromkeys(Counters.model_fields, zero),
            expires_on=None,
            counted_at=None,
            anomalies=[],
            version=k.version,
        )
        for k in kits
    ]
    network = _network(locations)
    return SkuPositionsView(
        sku=sku,
        positions=positions,
        locations=locations,
        network=network,
        available_to_promise=network.available_to_promise,
        kit=True,
    )


def _buckets(lots: list[Position]) -> Buckets:
    def total(name: str) -> Decimal:
        return sum((getattr(p, name) for p in lots), Decimal(0))

    return Buckets(
        on_hand=total("on_hand"),
        reserved=total("reserved"),
        quality_hold=total("quality_hold"),
        expired=total("expired_quantity"),
        in_transit=total("in_transit"),
        incoming=total("incoming"),
        available_to_promise=location_available_to_promise(lots),
        projected=total("projected"),
    )


def position_view(p: Position) -> PositionView:
    return PositionView(
        location=p.location,
        lot=p.lot or None,
        unit=p.unit,
        on_hand=p.on_hand,
        reserved=p.reserved,
        quality_hold=p.quality_hold,
        expired=p.expired_quantity,
        in_transit=p.in_transit,
        incoming=p.incoming,
        available_to_promise=p.available_to_promise,
        projected=p.projected,
        received=p.received,
        shipped=p.shipped,
        returned=p.returned,
        scrapped=p.scrapped,
        lost_sales=p.lost_sales,
        expires_on=p.expires_on,
        counted_at=p.counted_at,
        anomalies=sorted(a.value for a in p.anomalies),
        version=p.version,
    )


class ParkedView(BaseModel):
    event_id: str
    sku: str
    kind: str
    location: str
    waiting_for: str = Field(description="`reservation` or `transfer`.")
    reference: str = Field(description="The reservation_id or transfer_ref it waits for.")
    parked_at: datetime
    age_s: float


class AnomalyView(BaseModel):
    sku: str
    location: str
    lot: str | None
    anomaly: str = Field(
        description="negative_on_hand, oversold, negative_in_transit or release_exceeds_reserved."
    )
    quantity: Decimal = Field(description="How far: the shortfall when it was recorded.")
    event_id: str = Field(description="The movement that caused it.")
    recorded_at: datetime


class VarianceView(BaseModel):
    event_id: str = Field(description="The cycle count.")
    sku: str
    location: str
    lot: str | None
    occurred_at: datetime
    counted: Decimal
    expected: Decimal = Field(description="What the ledger had as of the count's time.")
    difference: Decimal


Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many.")]
SkuFilter = Annotated[Sku | None, Query(description="Only this SKU.")]


@router.get(
    "/parked",
    response_model=list[ParkedView],
    summary="Movements waiting for their partner",
    description="Releases that arrived before their reservation and transfer-ins before their "
    "transfer-out, oldest first. Each is applied when its partner arrives.",
)
async def get_parked(runtime: StockRuntime, limit: Limit = 100) -> list[ParkedView]:
    found = await runtime.read(lambda uow: uow.ledger.parked(limit=limit))
    now = datetime.now(UTC)
    return [
        ParkedView(
            event_id=e.reported.event_id,
            sku=e.reported.movement.sku,
            kind=e.reported.movement.kind.value,
            location=e.reported.movement.location,
            waiting_for=e.waiting_for[0],
            reference=e.waiting_for[1],
            parked_at=e.parked_at,
            age_s=(now - e.parked_at).total_seconds(),
        )
        for e in found
    ]


@router.get(
    "/anomalies",
    response_model=list[AnomalyView],
    summary="What upstream's facts implied and should not have",
    description="Each time a position entered an anomalous state (or a release found less "
    "reserved than it released), newest first.",
)
async def get_anomalies(
    runtime: StockRuntime, sku: SkuFilter = None, limit: Limit = 100
) -> list[AnomalyView]:
    found = await runtime.read(lambda uow: uow.ledger.anomalies_of(sku, limit=limit))
    return [
        AnomalyView(
            sku=e.record.key[0],
            location=e.record.key[1],
            lot=e.record.key[2] or None,
            anomaly=e.record.anomaly,
            quantity=e.record.quantity,
            event_id=e.record.cause,
            recorded_at=e.recorded_at,
        )
        for e in found
    ]


@router.get(
    "/variances",
    response_model=list[VarianceView],
    summary="Cycle-count variances",
    description="Each applied cycle count's difference from what the ledger had as of the "
    "count's time, newest first.",
)
async def get_variances(
    runtime: StockRuntime, sku: SkuFilter = None, limit: Limit = 100
) -> list[VarianceView]:
    found = await runtime.read(lambda uow: uow.ledger.variances_of(sku, limit=limit))
    return [
        VarianceView(
            event_id=e.variance.cause,
            sku=e.variance.key[0],
            location=e.variance.key[1],
            lot=e.variance.key[2] or None,
            occurred_at=e.variance.occurred_at,
            counted=e.variance.counted,
            expected=e.variance.expected,
            difference=e.variance.difference,
        )
        for e in found
    ]


class RecordAccuracyView(BaseModel):
    counts: int = Field(description="Cycle counts considered (the newest, up to `limit`).")
    within_tolerance: int
    tolerance: Decimal
    accuracy: Decimal | None = Field(
        description="within_tolerance / counts, 4 places; null without counts."
    )


@router.get(
    "/record-accuracy",
    response_model=RecordAccuracyView,
    summary="Inventory record accuracy",
    description="Share of cycle counts whose variance is within tolerance x max(|counted|, 1) "
    "(docs/stock.md). Per SKU class once the lifecycle service classifies SKUs; until then one "
    "tolerance for all.",
)
async def get_record_accuracy(
    runtime: StockRuntime,
    sku: SkuFilter = None,
    tolerance: Annotated[
        float, Query(ge=0, le=1, description="Allowed share of the count, 0.02 = 2 %.")
    ] = 0.0,
    limit: Annotated[int, Query(ge=1, le=100_000, description="Newest counts to use.")] = 10_000,
) -> RecordAccuracyView:
    found = await runtime.read(lambda uow: uow.ledger.variances_of(sku, limit=limit))
    measured = record_accuracy((e.variance for e in found), Decimal(str(tolerance)))
    return RecordAccuracyView(
        counts=measured.counts,
        within_tolerance=measured.within_tolerance,
        tolerance=measured.tolerance,
        accuracy=measured.accuracy,
    )

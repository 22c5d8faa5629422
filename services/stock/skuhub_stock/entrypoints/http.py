"""HTTP entrypoint of the stock service: movement ingest, position and journal queries."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from skuhub_contracts.codec import encode
from skuhub_contracts.events import StockMoved
from skuhub_contracts.identifiers import Sku
from skuhub_contracts.topics import STOCK_MOVED
from skuhub_runtime.http import OriginDep, error_responses, get_runtime, validation_errors
from skuhub_runtime.service import ServiceRuntime
from skuhub_stock.entrypoints.events import to_movement
from skuhub_stock.service_layer.ports import StockUnitOfWork
from skuhub_stock.service_layer.record_movements import refusals

router = APIRouter(prefix="/v1", tags=["stock"])
StockRuntime = Annotated[ServiceRuntime[StockUnitOfWork], Depends(get_runtime)]
PUBLISH_TIMEOUT_S = 10.0


class MovementBatch(BaseModel):
    movements: list[StockMoved] = Field(min_length=1, max_length=10_000)


class Accepted(BaseModel):
    accepted: int
    event_ids: list[str]
    topic: str


class PositionView(BaseModel):
    location: str
    lot: str | None
    unit: str
    on_hand: Decimal
    reserved: Decimal
    in_transit: Decimal
    available_to_promise: Decimal
    expires_on: str | None
    version: int


class PositionsView(BaseModel):
    sku: str
    positions: list[PositionView]
    available_to_promise: Decimal = Field(description="Sum over all locations and lots.")


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


class JournalPage(BaseModel):
    sku: str
    entries: list[JournalEntryView]
    next_after: int | None = Field(
        description="`after` for the next page; null when this page is the last. A full page "
        "at the very end is followed by an empty one."
    )


@router.post(
    "/movements",
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
    movements = [to_movement(m) for m in batch.movements]
    refused = await runtime.read(lambda uow: refusals(uow.ledger, movements))
    if refused:
        return validation_errors(
            [
                (("body", "movements", index, rejection.field), rejection.reason)
                for index, rejection in sorted(refused.items())
            ]
        )
    topic = runtime.settings.topic(STOCK_MOVED.name)
    envelopes = [origin.envelope(m, time=m.occurred_at) for m in batch.movements]
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
        )
        for e in found
    ]
    return JournalPage(
        sku=sku,
        entries=entries,
        next_after=entries[-1].seq if len(entries) == limit else None,
    )


@router.get(
    "/positions/{sku:path}",
    response_model=PositionsView,
    summary="Stock positions of a SKU",
    description="Every location and lot of the SKU as the ledger has them now. An unknown SKU "
    "has no positions (an empty list), not an error.",
)
async def get_positions(sku: Sku, runtime: StockRuntime) -> PositionsView:
    found = await runtime.read(lambda uow: uow.ledger.positions_of(sku))
    views = [
        PositionView(
            location=p.location,
            lot=p.lot or None,
            unit=p.unit,
            on_hand=p.on_hand,
            reserved=p.reserved,
            in_transit=p.in_transit,
            available_to_promise=p.available_to_promise,
            expires_on=p.expires_on.isoformat() if p.expires_on else None,
            version=p.version,
        )
        for p in found
    ]
    return PositionsView(
        sku=sku,
        positions=views,
        available_to_promise=sum((v.available_to_promise for v in views), Decimal(0)),
    )

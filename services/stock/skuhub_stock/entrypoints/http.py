"""HTTP entrypoint of the stock service: movement ingest and position queries."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Header, HTTPException
from pydantic import BaseModel, Field

from skuhub_contracts.codec import encode
from skuhub_contracts.events import StockMoved
from skuhub_contracts.identifiers import Sku
from skuhub_contracts.topics import STOCK_MOVED
from skuhub_runtime.http import RuntimeDep
from skuhub_runtime.origin import request_origin
from skuhub_stock.adapters.ledger_repository import SqlLedgerRepository

router = APIRouter(prefix="/v1", tags=["stock"])
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


@router.post(
    "/movements",
    status_code=202,
    response_model=Accepted,
    summary="Report stock movements",
    description="Validates the movements and publishes each to the stock-moved topic, the same "
    "path Kafka producers use. 202 means the broker has them; positions follow within moments. "
    "503 means the broker did not take them all: send the same request again (a movement already "
    "taken is recognised by its source_system and source_sequence and counted once).",
    responses={503: {"description": "Kafka did not acknowledge every movement; retry."}},
)
async def post_movements(
    batch: MovementBatch,
    runtime: RuntimeDep,
    traceparent: str | None = Header(default=None),
    tracestate: str | None = Header(default=None),
) -> Accepted:
    topic = runtime.settings.topic(STOCK_MOVED.name)
    with request_origin("stock ingest movements", traceparent, tracestate) as origin:
        envelopes = [
            origin.envelope(m, source="/skuhub/stock/http", time=m.occurred_at)
            for m in batch.movements
        ]
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
    "/positions/{sku:path}",
    response_model=PositionsView,
    summary="Stock positions of a SKU",
    description="Every location and lot of the SKU as the ledger has them now. An unknown SKU "
    "has no positions (an empty list), not an error.",
)
async def get_positions(sku: Sku, runtime: RuntimeDep) -> PositionsView:
    async with runtime.engine.connect() as conn:
        found = await SqlLedgerRepository(conn).positions_of(sku)
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

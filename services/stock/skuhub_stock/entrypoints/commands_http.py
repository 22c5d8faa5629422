"""HTTP commands, which the service may refuse (docs/stock.md, "Facts and commands"):
reservations (201 within ATP or 409 with the shortage; release, confirm, read) and set
quantity (compare-and-set on the expected on hand)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import Lot
from skuhub_contracts.identifiers import Gln, Sku, UnitCode
from skuhub_contracts.values import NonNegativeQuantity, PositiveQuantity, Quantity
from skuhub_runtime.access_http import requires
from skuhub_runtime.access_tokens import Scope
from skuhub_runtime.handling import Decision
from skuhub_runtime.http import ErrorMessage, OriginDep, error_responses
from skuhub_runtime.origin import Origin
from skuhub_stock.domain.commands import (
    ReservationClosed,
    ReservationRefused,
    ReserveCommand,
    SetQuantityCommand,
    StaleQuantity,
)
from skuhub_stock.domain.kits import KitPosition
from skuhub_stock.domain.ledger import Ledger, Reservation
from skuhub_stock.domain.movements import MovementRejected
from skuhub_stock.domain.positions import Position
from skuhub_stock.entrypoints.events import stock_levels
from skuhub_stock.entrypoints.http import PositionView, StockRuntime, position_view
from skuhub_stock.entrypoints.metrics import RESERVATIONS
from skuhub_stock.entrypoints.reservation_desk import ReservationDesk
from skuhub_stock.service_layer.commands import (
    Commanded,
    IdempotencyKeyReused,
    ReservationNotFound,
    confirm_reservation,
    release_reservation,
    set_on_hand,
)
from skuhub_stock.service_layer.ports import StockUnitOfWork
from skuhub_stock.service_layer.record_movements import Changed
from skuhub_stock.service_layer.replenish import note_demand

router = APIRouter(prefix="/v1", tags=["commands"])

ERROR_STATUSES: dict[type[Exception], int] = {
    ReservationNotFound: 404,
    ReservationClosed: 409,
    StaleQuantity: 409,
    IdempotencyKeyReused: 409,
    MovementRejected: 422,
}
"""Each refusal of a reservation command and its HTTP status (the app registers them)."""

MAX_TTL_S = 7 * 24 * 3600


class ReservationRequest(BaseModel):
    """Units to hold for an order at one location (and lot), for a while."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"sku": "TSHIRT-RED-M", "location": "4012345000009", "quantity": "2", "ttl_s": 900}
            ]
        },
    )

    sku: Sku
    location: Gln
    quantity: PositiveQuantity
    unit: UnitCode = Field(
        default="EA", description="Converted to the SKU's stock unit (packs, physical units)."
    )
    lot: Lot | None = Field(
        default=None, description="Only this lot; without it, lots first expiring first."
    )
    ttl_s: int = Field(
        default=900,
        ge=1,
        le=MAX_TTL_S,
        description="Seconds until the reservation expires and its units are released.",
    )


class ReservedLot(BaseModel):
    lot: str | None
    quantity: Decimal


class ReservationView(BaseModel):
    reservation_id: str
    sku: str
    location: str
    status: str = Field(description="open, released, confirmed (shipped) or expired.")
    quantity: Decimal = Field(description="What it holds now, in the stock unit.")
    lots: list[ReservedLot]
    expires_at: datetime | None
    created_at: datetime | None


class Shortage(BaseModel):
    """409: less is available to promise than was asked for; nothing was reserved."""

    detail: str
    requested: Decimal = Field(description="In the SKU's stock unit.")
    available: Decimal
    shortage: Decimal
    unit: str


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Send the same key when retrying: the reservation is made once and the "
        "retry answers with it (header Idempotent-Replayed: true).",
    ),
]


@router.post(
    "/reservations",
    dependencies=[requires(Scope.INGEST)],
    status_code=201,
    response_model=ReservationView,
    summary="Reserve units within what is available to promise",
    description="Granted only within the location's ATP (or the lot's), taking lots first "
    "expiring first; requests for one SKU are served one at a time, so racing requests never "
    "reserve more than there is. 409 with the shortage when there is not enough.",
    responses={
        409: {
            "model": Shortage | ErrorMessage,
            "description": "Not enough available (the shortage); or the Idempotency-Key was "
            "used for another reservation.",
        },
    },
)
async def post_reservation(
    request: ReservationRequest,
    http_request: Request,
    origin: OriginDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ReservationView | JSONResponse:
    now = datetime.now(UTC)
    command = ReserveCommand(
        reservation_id=str(uuid.uuid4()),
        sku=request.sku,
        location=request.location,
        quantity=request.quantity,
        unit=request.unit,
        lot=request.lot,
        expires_at=now + timedelta(seconds=request.ttl_s),
        idempotency_key=idempotency_key,
    )
    try:
        # The app's one desk: every request's reservations go through it (app.py).
        desk: ReservationDesk = http_request.app.state.reservation_desk
        done = await desk.reserve(command, origin)
    except ReservationRefused as refused:
        RESERVATIONS.labels("refused").inc()
        body = Shortage(
            detail=str(refused),
            requested=refused.requested,
            available=refused.available,
            shortage=refused.shortage,
            unit=refused.unit,
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=409)
    if done.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    else:
        RESERVATIONS.labels("granted").inc()
    return _view(done.reservation)


@router.get(
    "/reservations/{reservation_id}",
    response_model=ReservationView,
    summary="A reservation",
    responses=error_responses(404),
)
async def get_reservation(reservation_id: str, runtime: StockRuntime) -> ReservationView:
    found = await runtime.read(lambda uow: uow.ledger.reservation(reservation_id))
    if found is None:
        raise ReservationNotFound(reservation_id)
    return _view(found)


@router.post(
    "/reservations/{reservation_id}/release",
    dependencies=[requires(Scope.INGEST)],
    response_model=ReservationView,
    summary="Release a reservation",
    description="Gives back what it holds; it ends `released`.",
    responses=error_responses(404, 409, e409="It is released, confirmed or expired already."),
)
async def post_release(
    reservation_id: str, runtime: StockRuntime, origin: OriginDep
) -> ReservationView:
    now = datetime.now(UTC)
    done = await _run(
        runtime, origin, lambda uow: release_reservation(uow.ledger, reservation_id, now)
    )
    RESERVATIONS.labels("released").inc()
    return _view(done.reservation)


@router.post(
    "/reservations/{reservation_id}/confirm",
    dependencies=[requires(Scope.INGEST)],
    response_model=ReservationView,
    summary="Confirm a reservation: ship its units",
    description="A shipment of exactly the lots it holds; it ends `confirmed`.",
    responses=error_responses(404, 409, e409="It is released, confirmed or expired already."),
)
async def post_confirm(
    reservation_id: str, runtime: StockRuntime, origin: OriginDep
) -> ReservationView:
    now = datetime.now(UTC)
    done = await _run(
        runtime, origin, lambda uow: confirm_reservation(uow.ledger, reservation_id, now)
    )
    RESERVATIONS.labels("confirmed").inc()
    return _view(done.reservation)


class SetQuantity(BaseModel):
    """Count a position now, if its on hand is still what the caller last read."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "sku": "TSHIRT-RED-M",
                    "location": "4012345000009",
                    "expected_on_hand": "12",
                    "on_hand": "10",
                }
            ]
        },
    )

    sku: Sku
    location: Gln
    lot: Lot | None = Field(default=None, description="The lot; none for stock without one.")
    expected_on_hand: Quantity = Field(description="On hand as the caller last read it.")
    on_hand: NonNegativeQuantity = Field(description="What there is now.")
    unit: UnitCode = Field(default="EA", description="Unit of both quantities.")


@router.post(
    "/on-hand",
    dependencies=[requires(Scope.INGEST)],
    response_model=PositionView,
    summary="Set on hand (compare-and-set)",
    description="A count of the position now, applied only if its on hand is still "
    "`expected_on_hand` (in the stock unit after conversion); 409 with the current quantity "
    "otherwise. Journaled as a cycle count under source system skuhub-stock.",
    responses=error_responses(409, e409="On hand is not the expected quantity any more."),
)
async def post_on_hand(body: SetQuantity, runtime: StockRuntime, origin: OriginDep) -> PositionView:
    now = datetime.now(UTC)
    command = SetQuantityCommand(
        sku=body.sku,
        location=body.location,
        lot=body.lot,
        on_hand=body.on_hand,
        expected_on_hand=body.expected_on_hand,
        unit=body.unit,
    )

    async def decide(uow: StockUnitOfWork) -> Decision[Position]:
        position, changed, kits, ledger = await set_on_hand(uow.ledger, command, now)
        emitted = await _emitted(uow, ledger, changed, kits, origin, runtime)
        return Decision(value=position, emitted=emitted)

    return position_view(await runtime.execute(decide))


async def _run(
    runtime: StockRuntime,
    origin: Origin,
    command: Callable[[StockUnitOfWork], Awaitable[Commanded]],
) -> Commanded:
    """Run a reservation command in one transaction with what it emits."""

    async def decide(uow: StockUnitOfWork) -> Decision[Commanded]:
        done = await command(uow)
        emitted = await _emitted(uow, done.ledger, done.changed, done.kits, origin, runtime)
        return Decision(value=done, emitted=emitted)

    return await runtime.execute(decide)


async def _emitted(
    uow: StockUnitOfWork,
    ledger: Ledger | None,
    changed: Sequence[Changed],
    kits: Sequence[KitPosition],
    origin: Origin,
    runtime: StockRuntime,
) -> list[Envelope[Any]]:
    """The stock levels a command changed (and the demand it shipped, noted)."""
    await note_demand(uow.replenishment, ledger)
    return [origin.envelope(e) for e, _ in stock_levels(changed, kits)]


def _view(reservation: Reservation) -> ReservationView:
    return ReservationView(
        reservation_id=reservation.reservation_id,
        sku=reservation.sku,
        location=reservation.location,
        status=reservation.status,
        quantity=reservation.quantity,
        lots=[ReservedLot(lot=lot or None, quantity=q) for lot, q in reservation.lots.items()],
        expires_at=reservation.expires_at,
        created_at=reservation.created_at,
    )

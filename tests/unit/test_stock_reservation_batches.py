"""Reservations made in batches (one transaction for the requests that arrived together)
answer each request as if it had been served alone, in arrival order.

Expected values follow docs/stock.md ("Facts and commands"): a reservation is granted only
within the location's ATP (on hand - reserved here), a refused one keeps nothing, and a
request sent again with its Idempotency-Key answers with the reservation made the first time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import StockLevelChanged
from skuhub_runtime.handling import Decision
from skuhub_runtime.origin import Origin
from skuhub_stock.domain.commands import ReservationRefused, ReserveCommand
from skuhub_stock.domain.movements import MovementRejected
from skuhub_stock.domain.positions import Position
from skuhub_stock.entrypoints.reservation_desk import ReservationDesk
from skuhub_stock.service_layer.commands import (
    Commanded,
    IdempotencyKeyReused,
    make_reservations,
)
from tests.fakes.stock import FakeLedgerRepository, FakeStockUnitOfWork

SKU = "MUG-1"
HERE = "4012345000009"
THERE = "0614141000012"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def on_hand(quantity: int, location: str = HERE) -> Position:
    return Position(
        sku=SKU, location=location, lot="", unit="EA", on_hand=Decimal(quantity), version=1
    )


def command(
    reservation_id: str,
    quantity: int,
    *,
    key: str | None = None,
    location: str = HERE,
    unit: str = "EA",
) -> ReserveCommand:
    return ReserveCommand(
        reservation_id=reservation_id,
        sku=SKU,
        location=location,
        quantity=Decimal(quantity),
        unit=unit,
        lot=None,
        expires_at=NOW + timedelta(minutes=15),
        idempotency_key=key,
    )


async def test_each_command_of_a_batch_is_answered_as_if_it_came_alone() -> None:
    repo = FakeLedgerRepository(on_hand(5), on_hand(1, THERE))
    reserved = await make_reservations(
        repo,
        [
            command("r1", 3, key="k1"),  # 5 available: granted, 2 left
            command("r2", 3, key="k1"),  # the same key again: r1 replayed, nothing more held
            command("r3", 3),  # 2 left: refused, short by 1
            command("r4", 2),  # 2 left: granted, 0 left
            command("r5", 1, key="k1", location=THERE),  # k1 named another place: refused
            command("r6", 1, unit="FURLONG"),  # no conversion to EA: refused
            command("r7", 1, location=THERE),  # THERE has 1: granted
        ],
        NOW,
    )
    first, replay, short, last, reused, unconvertible, there = reserved.answers
    assert isinstance(first, Commanded)
    assert not first.replayed
    assert (first.reservation.reservation_id, first.reservation.quantity) == ("r1", Decimal(3))
    assert isinstance(replay, Commanded)
    assert replay.replayed
    assert replay.reservation.reservation_id == "r1"
    assert isinstance(short, ReservationRefused)
    assert (short.requested, short.available, short.shortage) == (
        Decimal(3),
        Decimal(2),
        Decimal(1),
    )
    assert isinstance(last, Commanded)
    assert last.reservation.quantity == 2
    assert isinstance(reused, IdempotencyKeyReused)
    assert isinstance(unconvertible, MovementRejected)
    assert isinstance(there, Commanded)
    assert there.reservation.location == THERE

    stored = {p.location: p for p in await repo.positions_of(SKU)}
    assert stored[HERE].reserved == 5
    assert stored[HERE].available_to_promise == 0
    assert stored[THERE].reserved == 1
    assert await repo.reservation("r3") is None
    kept = await repo.reservations_with_keys({"k1"})
    assert [r.reservation_id for r in kept.values()] == ["r1"]


async def test_a_key_used_in_an_earlier_batch_replays_its_reservation() -> None:
    repo = FakeLedgerRepository(on_hand(5))
    await make_reservations(repo, [command("r1", 2, key="k1")], NOW)
    again = await make_reservations(repo, [command("r2", 2, key="k1")], NOW)
    (answer,) = again.answers
    assert isinstance(answer, Commanded)
    assert answer.replayed
    assert answer.reservation.reservation_id == "r1"
    assert (await repo.positions_of(SKU))[0].reserved == 2
    assert again.changed == []


@dataclass
class _Runtime:
    """Runs each transaction on the in-memory unit of work and keeps what it emitted."""

    uow: FakeStockUnitOfWork
    transactions: int = 0
    emitted: list[Envelope[Any]] = field(default_factory=list)

    async def execute(self, decide: Any) -> Any:
        self.transactions += 1
        decision: Decision[Any] = await decide(self.uow)
        self.emitted += decision.emitted
        return decision.value


def _origin(at: datetime, span: str) -> Origin:
    origin = Origin(f"00-{'ab' * 16}-{span * 8}-01", None, source="/skuhub/stock")
    origin.at = at
    return origin


async def test_requests_that_arrive_together_share_one_transaction_and_one_event() -> None:
    runtime = _Runtime(FakeStockUnitOfWork(ledger=FakeLedgerRepository(on_hand(2))))
    desk = ReservationDesk(runtime)  # type: ignore[arg-type]
    early, late = NOW, NOW + timedelta(milliseconds=40)
    answers = await asyncio.gather(
        desk.reserve(command("r1", 1), _origin(early, "11")),
        desk.reserve(command("r2", 1), _origin(late, "22")),
        desk.reserve(command("r3", 1), _origin(late, "33")),
        return_exceptions=True,
    )
    assert runtime.transactions == 1
    assert [type(a) for a in answers] == [Commanded, Commanded, ReservationRefused]
    (event,) = runtime.emitted
    level = StockLevelChanged.model_validate_json(event.payload.model_dump_json())
    assert (level.reserved, level.available_to_promise) == (Decimal(2), Decimal(0))
    # One event for the position both grants changed: in the trace of the last grant, as old
    # as the earliest request it stands for.
    assert event.origin_time == early
    assert event.traceparent is not None
    assert event.traceparent.split("-")[2] == "22" * 8


async def test_a_failed_transaction_fails_every_request_in_it() -> None:
    class Broken(_Runtime):
        async def execute(self, decide: Any) -> Any:
            raise ConnectionRefusedError(111, "Connection refused")

    desk = ReservationDesk(Broken(FakeStockUnitOfWork()))  # type: ignore[arg-type]
    with pytest.raises(ConnectionRefusedError):
        await desk.reserve(command("r1", 1), _origin(NOW, "11"))

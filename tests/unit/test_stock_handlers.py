"""The stock consumer's handler on the fake unit of work: what it emits, refuses and ignores.

Expected values follow docs/stock.md and docs/decisions.md (stock ledger): movement
effects and counters, available to promise = on hand - quality hold - expired - reserved
(never below zero), duplicates by (source_system, source_sequence), one stock-level-changed
per position per batch, unconvertible units refused without a trace.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import StockLevelChanged, StockMoved
from skuhub_runtime.handling import Incoming, Outcome
from skuhub_stock.domain.ledger import QUARANTINE, SkuFacts
from skuhub_stock.entrypoints.handlers import StockHandlers
from skuhub_stock.service_layer.replenish import review_changed_places
from skuhub_stock.service_layer.replenishment import ReplenishmentDefaults
from tests.fakes.stock import FakeStockUnitOfWork
from tests.gateway_facts import published_product

on_stock_moved = StockHandlers().on_stock_moved

SKU = "MUG-1"
HERE = "4012345000009"
THERE = "0614141000012"
SOURCE = "/skuhub/stock"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
ORIGIN = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)


def moved(kind: str, quantity: str, sequence: int, **fields: Any) -> Incoming[StockMoved]:
    """A stock-moved event from the WMS, as the consumer decodes it."""
    values: dict[str, Any] = {"sku": SKU, "location": HERE, "unit": "EA"} | fields
    payload = StockMoved(
        kind=kind,
        quantity=Decimal(quantity),
        source_system="wms",
        source_sequence=sequence,
        occurred_at=ORIGIN,
        **values,
    )
    return Incoming(Envelope(payload, origin_time=ORIGIN), SOURCE, traceparent=TRACEPARENT)


def redelivered(incoming: Incoming[StockMoved]) -> Incoming[StockMoved]:
    """The same movement again under a new event id (an upstream retry)."""
    return Incoming(Envelope(incoming.payload, origin_time=ORIGIN), SOURCE)


def levels(outcome: Outcome) -> list[StockLevelChanged]:
    """The stock-level-changed events emitted, each read back through the contract (the
    handler builds them without validation)."""
    return [
        StockLevelChanged.model_validate_json(e.payload.model_dump_json())
        for e in outcome.emitted
        if isinstance(e.payload, StockLevelChanged)
    ]


def level(**fields: Any) -> dict[str, Any]:
    """The fields of a stock-level-changed event worth comparing (not its changed_at)."""
    values: dict[str, Any] = {
        "sku": SKU,
        "location": HERE,
        "lot": None,
        "unit": "EA",
        "on_hand": Decimal(0),
        "reserved": Decimal(0),
        "quality_hold": Decimal(0),
        "expired": Decimal(0),
        "in_transit": Decimal(0),
        "incoming": Decimal(0),
        "available_to_promise": Decimal(0),
        "location_available_to_promise": Decimal(0),
        "expires_on": None,
        "counted_at": None,
        "received": Decimal(0),
        "shipped": Decimal(0),
        "returned": Decimal(0),
        "scrapped": Decimal(0),
        "lost_sales": Decimal(0),
        "anomalies": [],
        "kit": False,
    }
    return values | fields


def amounts(*quantities: int) -> tuple[Decimal, ...]:
    return tuple(Decimal(q) for q in quantities)


def compared(event: StockLevelChanged) -> dict[str, Any]:
    return event.model_dump(exclude={"changed_at"})


async def test_a_receipt_emits_the_whole_position_derived_from_the_movement() -> None:
    receipt = moved("receipt", "10", 1)

    outcome = await on_stock_moved(FakeStockUnitOfWork(), [receipt])

    [envelope] = outcome.emitted
    assert compared(envelope.payload) == level(
        on_hand=Decimal(10),
        available_to_promise=Decimal(10),
        location_available_to_promise=Decimal(10),
        received=Decimal(10),
        position_version=1,
        caused_by=receipt.id,
    )
    assert (envelope.source, envelope.origin_time, envelope.traceparent) == (
        SOURCE,
        ORIGIN,
        TRACEPARENT,
    )
    assert envelope.id != receipt.id
    assert (outcome.rejected, outcome.ignored) == ({}, frozenset())


async def test_a_batch_emits_one_final_state_per_position_caused_by_its_last_movement() -> None:
    batch = [moved("receipt", "10", 1), moved("reservation", "3", 2), moved("shipment", "2", 3)]

    outcome = await on_stock_moved(FakeStockUnitOfWork(), batch)

    assert [compared(e) for e in levels(outcome)] == [
        level(
            on_hand=Decimal(8),
            reserved=Decimal(3),
            available_to_promise=Decimal(5),
            location_available_to_promise=Decimal(5),
            received=Decimal(10),
            shipped=Decimal(2),
            position_version=3,
            caused_by=batch[2].id,
        )
    ]


async def test_a_transfer_out_emits_the_source_and_the_destination_in_transit() -> None:
    uow = FakeStockUnitOfWork()
    await on_stock_moved(uow, [moved("receipt", "10", 1)])
    transfer = moved("transfer_out", "4", 2, destination=THERE)

    outcome = await on_stock_moved(uow, [transfer])

    by_location = {e.location: compared(e) for e in levels(outcome)}
    assert by_location == {
        HERE: level(
            on_hand=Decimal(6),
            available_to_promise=Decimal(6),
            location_available_to_promise=Decimal(6),
            received=Decimal(10),
            position_version=2,
            caused_by=transfer.id,
        ),
        THERE: level(
            location=THERE, in_transit=Decimal(4), position_version=1, caused_by=transfer.id
        ),
    }


async def test_a_transfer_in_lands_what_was_in_transit() -> None:
    uow = FakeStockUnitOfWork()
    await on_stock_moved(uow, [moved("transfer_out", "4", 1, location=THERE, destination=HERE)])

    outcome = await on_stock_moved(uow, [moved("transfer_in", "4", 2)])

    [event] = levels(outcome)
    assert (event.on_hand, event.in_transit, event.available_to_promise) == amounts(4, 0, 4)


async def test_available_to_promise_is_never_below_zero() -> None:
    uow = FakeStockUnitOfWork()
    outcome = await on_stock_moved(uow, [moved("receipt", "2", 1), moved("reservation", "5", 2)])

    [event] = levels(outcome)
    assert (event.on_hand, event.reserved, event.available_to_promise) == amounts(2, 5, 0)


async def test_a_changed_place_is_reviewed_against_its_reorder_point_later() -> None:
    uow = FakeStockUnitOfWork()
    await on_stock_moved(uow, [moved("receipt", "2", 1), moved("reservation", "5", 2)])

    proposals, reviewed = await review_changed_places(
        uow.ledger, uow.replenishment, ORIGIN, ReplenishmentDefaults(), limit=10
    )
    # Inventory position 2 - 5 = -3, below a reorder point of 0 (no demand seen yet).
    assert reviewed == 1
    assert [(p.inventory_position, p.quantity) for p in proposals] == [amounts(-3, 3)]
    assert await review_changed_places(
        uow.ledger, uow.replenishment, ORIGIN, ReplenishmentDefaults(), limit=10
    ) == ([], 0), "a place is reviewed once per change"


async def test_a_cycle_count_sets_on_hand_and_keeps_reservations() -> None:
    uow = FakeStockUnitOfWork()
    await on_stock_moved(uow, [moved("receipt", "10", 1), moved("reservation", "2", 2)])

    outcome = await on_stock_moved(uow, [moved("cycle_count", "7", 3)])

    [event] = levels(outcome)
    assert (event.on_hand, event.reserved, event.available_to_promise) == amounts(7, 2, 5)


async def test_each_lot_is_its_own_position_with_its_expiry() -> None:
    outcome = await on_stock_moved(
        FakeStockUnitOfWork(),
        [
            moved("receipt", "5", 1, lot="L1", expires_on=date(2026, 1, 31)),
            moved("receipt", "3", 2),
        ],
    )

    assert sorted((e.lot or "", e.on_hand, e.expires_on) for e in levels(outcome)) == [
        ("", Decimal(3), None),
        ("L1", Decimal(5), date(2026, 1, 31)),
    ]


async def test_a_redelivery_under_a_new_event_id_is_ignored_and_changes_nothing() -> None:
    uow = FakeStockUnitOfWork()
    receipt = moved("receipt", "10", 1)
    await on_stock_moved(uow, [receipt])
    before = await uow.ledger.positions_of(SKU)
    again = redelivered(receipt)

    outcome = await on_stock_moved(uow, [again])

    assert outcome == Outcome(emitted=[], rejected={}, ignored=frozenset({again.id}))
    assert await uow.ledger.positions_of(SKU) == before


async def test_a_duplicate_within_one_batch_counts_once() -> None:
    receipt = moved("receipt", "10", 1)
    again = redelivered(receipt)

    outcome = await on_stock_moved(FakeStockUnitOfWork(), [receipt, again])

    [event] = levels(outcome)
    assert (event.on_hand, event.caused_by) == (Decimal(10), receipt.id)
    assert outcome.ignored == frozenset({again.id})


async def test_a_movement_in_another_unit_is_refused_and_leaves_no_trace() -> None:
    uow = FakeStockUnitOfWork()
    batch = [moved("receipt", "10", 1), moved("shipment", "1", 2, unit="KGM")]
    batch.append(moved("receipt", "1", 3))

    outcome = await on_stock_moved(uow, batch)

    refused = batch[1].id
    assert list(outcome.rejected) == [refused]
    assert outcome.rejected[refused] == (
        "MUG-1 at 4012345000009: unit KGM cannot be converted to the stock unit EA: send one of EA"
    )
    assert uow.ledger.rejections == outcome.rejected
    [event] = levels(outcome)
    assert (event.on_hand, event.position_version, event.caused_by) == (Decimal(11), 2, batch[2].id)


async def test_a_refused_movement_delivered_again_is_a_duplicate_not_a_second_refusal() -> None:
    uow = FakeStockUnitOfWork()
    await on_stock_moved(uow, [moved("receipt", "10", 1)])
    shipment = moved("shipment", "1", 2, unit="KGM")
    await on_stock_moved(uow, [shipment])
    again = redelivered(shipment)

    outcome = await on_stock_moved(uow, [again])

    assert outcome == Outcome(emitted=[], rejected={}, ignored=frozenset({again.id}))


async def test_a_refused_movement_replayed_after_the_fix_is_judged_again_and_applied() -> None:
    uow = FakeStockUnitOfWork()
    await on_stock_moved(uow, [moved("receipt", "10", 1)])
    cases = moved("receipt", "2", 2, unit="CS")
    refused = await on_stock_moved(uow, [cases])
    await uow.ledger.save_facts(SKU, SkuFacts("EA", {"CS": Decimal(12)}), 1)
    replayed = dataclasses.replace(cases, replay_of="0-1-a")  # the same event, replayed

    outcome = await on_stock_moved(uow, [replayed])

    assert list(refused.rejected) == [cases.id]
    assert (outcome.rejected, outcome.ignored) == ({}, frozenset())
    [event] = levels(outcome)
    assert (event.on_hand, event.caused_by) == (Decimal(10 + 2 * 12), cases.id)
    assert uow.ledger.rejections == {}


async def test_an_empty_batch_does_nothing() -> None:
    uow = FakeStockUnitOfWork()

    assert await on_stock_moved(uow, []) == Outcome(emitted=[], rejected={}, ignored=frozenset())
    assert await uow.ledger.positions_of(SKU) == []


async def test_a_position_changed_by_several_movements_carries_the_earliest_origin_time() -> None:
    # Latency is measured from the origin: the coalesced event stands for every movement in
    # it, so it is as old as the oldest of them (docs/decisions.md, "one stock-level-changed
    # per position per batch"). The last movement's time would hide the wait of the first.
    early, late = datetime(2025, 1, 1, 8, 0, tzinfo=UTC), datetime(2025, 1, 1, 8, 0, 5, tzinfo=UTC)
    first, second = moved("receipt", "10", 1), moved("receipt", "5", 2)
    batch = [
        Incoming(Envelope(first.payload, origin_time=late), SOURCE, traceparent=TRACEPARENT),
        Incoming(Envelope(second.payload, origin_time=early), SOURCE, traceparent=TRACEPARENT),
    ]
    outcome = await on_stock_moved(FakeStockUnitOfWork(), batch)

    (emitted,) = outcome.emitted
    assert emitted.origin_time == early
    assert compared(levels(outcome)[0]) == level(
        on_hand=Decimal(15),
        available_to_promise=Decimal(15),
        location_available_to_promise=Decimal(15),
        received=Decimal(15),
        position_version=2,
        caused_by=batch[1].id,  # the last movement applied, though it is the older
    )


async def test_a_parked_movement_refused_on_release_is_journaled_not_pinned_on_the_product() -> (
    None
):
    """A movement quarantined for an unknown SKU and refused once the product says it cannot
    be converted (cases of a SKU kept in each, without a pack size): the refusal is the
    movement's, in the journal; the product-changed that released it is not refused."""
    handlers = StockHandlers(unknown_sku=QUARANTINE)
    uow = FakeStockUnitOfWork()
    cases = moved("receipt", "2", 1, sku="COFFEE", unit="CS")
    held = await handlers.on_stock_moved(uow, [cases])
    assert held.rejected == {}
    assert levels(held) == []

    product = published_product("COFFEE", 1, {"en": "Coffee"}, ORIGIN, unit="EA")
    released = await handlers.on_product_changed(uow, [product])

    assert released.rejected == {}
    assert levels(released) == []
    [entry] = await uow.ledger.journal_of("COFFEE", after=None, limit=10)
    assert entry.reported.event_id == cases.id
    assert entry.rejected_reason is not None
    assert "CS" in entry.rejected_reason

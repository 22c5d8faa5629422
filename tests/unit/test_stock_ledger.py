"""Behaviour of the pure stock ledger (services/stock/skuhub_stock/domain/ledger.py), and the
HTTP ingest's check of movements against the stored positions (``refusals``)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from skuhub_stock.domain.ledger import Ledger
from skuhub_stock.domain.movements import Movement, MovementKind, MovementRejected
from skuhub_stock.domain.positions import Position
from skuhub_stock.service_layer.record_movements import refusals
from tests.fakes.stock import FakeLedgerRepository

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
_clock = itertools.count()
SKU = "TSHIRT-RED-M"
HERE = "4012345000009"
THERE = "0614141000036"
K = MovementKind


def mv(
    kind: MovementKind,
    quantity: int | str,
    *,
    location: str = HERE,
    destination: str | None = None,
    unit: str = "EA",
    lot: str | None = None,
    sku: str = SKU,
    expires_on: date | None = None,
    occurred_at: datetime | None = None,
    reservation_id: str | None = None,
    transfer_ref: str | None = None,
    order_ref: str | None = None,
) -> Movement:
    """A movement; each one made happens a second after the one made before, unless told."""
    return Movement(
        kind=kind,
        sku=sku,
        location=location,
        quantity=Decimal(quantity),
        unit=unit,
        occurred_at=occurred_at or NOW - timedelta(days=1) + timedelta(seconds=next(_clock)),
        lot=lot,
        destination=destination,
        expires_on=expires_on,
        reservation_id=reservation_id,
        transfer_ref=transfer_ref,
        order_ref=order_ref,
    )


def at(ledger: Ledger, location: str = HERE, lot: str = "", sku: str = SKU) -> Position:
    return ledger.positions[(sku, location, lot)]


def state(position: Position) -> tuple[Decimal, Decimal, Decimal, Decimal, int]:
    return (
        position.on_hand,
        position.reserved,
        position.in_transit,
        position.available_to_promise,
        position.version,
    )


def run(*movements: Movement, ledger: Ledger | None = None) -> Ledger:
    ledger = ledger if ledger is not None else Ledger(NOW)
    for index, movement in enumerate(movements):
        ledger.apply(movement, f"e{index}")
    return ledger


def touched(ledger: Ledger, movement: Movement) -> list[Position]:
    """Apply one movement; the positions it changed."""
    before = {k: p.version for k, p in ledger.positions.items()}
    ledger.apply(movement, "probe")
    return [p for k, p in ledger.positions.items() if before.get(k) != p.version]


def test_receipt_adds_to_on_hand() -> None:
    ledger = run(mv(K.RECEIPT, 10), mv(K.RECEIPT, "2.5"))
    position = at(ledger)
    assert position.on_hand == Decimal("12.5")
    assert position.available_to_promise == Decimal("12.5")
    assert position.unit == "EA"


def test_return_and_positive_adjustment_add_negative_adjustment_removes() -> None:
    ledger = run(mv(K.RECEIPT, 10), mv(K.RETURN, 1), mv(K.ADJUSTMENT, 2), mv(K.ADJUSTMENT, -4))
    assert at(ledger).on_hand == 9


def test_shipment_and_scrap_remove_from_on_hand() -> None:
    ledger = run(mv(K.RECEIPT, 10), mv(K.SHIPMENT, 3), mv(K.SCRAP, 1))
    assert at(ledger).on_hand == 6


def test_reservation_lowers_available_to_promise_not_on_hand() -> None:
    ledger = run(mv(K.RECEIPT, 10), mv(K.RESERVATION, 3))
    position = at(ledger)
    assert position.on_hand == 10
    assert position.reserved == 3
    assert position.available_to_promise == 7


def test_reservation_release_gives_it_back() -> None:
    ledger = run(mv(K.RECEIPT, 10), mv(K.RESERVATION, 3), mv(K.RESERVATION_RELEASE, 2))
    assert at(ledger).reserved == 1
    assert at(ledger).available_to_promise == 9


def test_available_to_promise_is_never_negative() -> None:
    over_reserved = run(mv(K.RECEIPT, 2), mv(K.RESERVATION, 5))
    assert over_reserved.positions[(SKU, HERE, "")].available_to_promise == 0
    oversold = run(mv(K.RECEIPT, 2), mv(K.SHIPMENT, 5))
    assert at(oversold).on_hand == -3, "the ledger records what it was told"
    assert at(oversold).available_to_promise == 0


def test_transfer_out_moves_stock_to_the_destinations_in_transit() -> None:
    ledger = run(mv(K.RECEIPT, 10))
    changed = touched(ledger, mv(K.TRANSFER_OUT, 4, destination=THERE))
    assert {p.location for p in changed} == {HERE, THERE}
    assert at(ledger).on_hand == 6
    assert at(ledger).in_transit == 0
    destination = at(ledger, THERE)
    assert destination.in_transit == 4
    assert destination.on_hand == 0
    assert destination.available_to_promise == 0, "stock in transit cannot be promised"


def test_transfer_in_lands_what_was_in_transit() -> None:
    ledger = run(
        mv(K.RECEIPT, 10),
        mv(K.TRANSFER_OUT, 4, destination=THERE),
        mv(K.TRANSFER_IN, 4, location=THERE),
    )
    destination = at(ledger, THERE)
    assert destination.on_hand == 4
    assert destination.in_transit == 0
    assert destination.available_to_promise == 4
    assert at(ledger).on_hand == 6


def test_partial_transfer_in_leaves_the_rest_in_transit() -> None:
    ledger = run(mv(K.TRANSFER_OUT, 5, destination=THERE), mv(K.TRANSFER_IN, 3, location=THERE))
    assert at(ledger, THERE).in_transit == 2
    assert at(ledger, THERE).on_hand == 3


def test_cycle_count_sets_on_hand_and_keeps_reservations() -> None:
    ledger = run(mv(K.RECEIPT, 10), mv(K.RESERVATION, 2), mv(K.SHIPMENT, 1), mv(K.CYCLE_COUNT, 7))
    position = at(ledger)
    assert position.on_hand == 7
    assert position.reserved == 2
    assert position.available_to_promise == 5
    assert at(run(mv(K.RECEIPT, 10), mv(K.CYCLE_COUNT, 0))).on_hand == 0


def test_unit_mismatch_is_rejected_with_a_reason_and_changes_nothing() -> None:
    ledger = run(mv(K.RECEIPT, 10))
    before = state(at(ledger))
    with pytest.raises(MovementRejected) as info:
        touched(ledger, mv(K.SHIPMENT, 1, unit="KGM"))
    assert "unit KGM cannot be converted to the stock unit EA" in info.value.reason
    assert SKU in info.value.reason
    assert HERE in info.value.reason
    assert state(at(ledger)) == before


def test_transfer_to_a_destination_kept_in_another_unit_is_rejected_before_any_change() -> None:
    ledger = run(mv(K.RECEIPT, 10), mv(K.RECEIPT, 3, location=THERE, unit="GRM"))
    source_before, destination_before = state(at(ledger)), state(at(ledger, THERE))
    with pytest.raises(MovementRejected, match=f"kept in EA at {HERE} and in GRM at {THERE}"):
        touched(ledger, mv(K.TRANSFER_OUT, 4, destination=THERE))
    assert state(at(ledger)) == source_before
    assert state(at(ledger, THERE)) == destination_before


def test_a_rejected_movement_leaves_no_phantom_position_behind() -> None:
    ledger = run(mv(K.RECEIPT, 3, location=THERE, unit="PCE"))
    with pytest.raises(MovementRejected):
        # A new source position in KGM, refused because the destination keeps PCE ...
        touched(ledger, mv(K.TRANSFER_OUT, 1, destination=THERE, unit="KGM"))
    assert (SKU, HERE, "") not in ledger.positions
    # ... so a later movement there in the real unit is accepted.
    touched(ledger, mv(K.RECEIPT, 5))
    assert state(at(ledger)) == (Decimal(5), Decimal(0), Decimal(0), Decimal(5), 1)


def test_version_bumps_once_per_change_and_changes_are_tracked() -> None:
    ledger = Ledger(NOW)
    assert touched(ledger, mv(K.RECEIPT, 10))[0].version == 1
    assert touched(ledger, mv(K.RESERVATION, 1))[0].version == 2
    touched(ledger, mv(K.TRANSFER_OUT, 2, destination=THERE))
    assert at(ledger).version == 3
    assert at(ledger, THERE).version == 1
    assert set(ledger.changed) == {(SKU, HERE, ""), (SKU, THERE, "")}


def test_unchanged_positions_loaded_from_storage_are_not_reported() -> None:
    stored = Position(sku="OTHER", location=HERE, lot="", unit="EA", on_hand=Decimal(1), version=9)
    ledger = Ledger(NOW, {stored.key: stored})
    touched(ledger, mv(K.RECEIPT, 1))
    assert stored.key not in ledger.changed
    assert stored.version == 9


def test_positions_continue_from_their_stored_version() -> None:
    stored = Position(sku=SKU, location=HERE, lot="", unit="EA", on_hand=Decimal(5), version=41)
    ledger = Ledger(NOW, {stored.key: stored})
    touched(ledger, mv(K.SHIPMENT, 2))
    assert state(at(ledger)) == (Decimal(3), Decimal(0), Decimal(0), Decimal(3), 42)


def test_lots_and_skus_are_separate_positions() -> None:
    ledger = run(
        mv(K.RECEIPT, 5, lot="A"),
        mv(K.RECEIPT, 7, lot="B"),
        mv(K.RECEIPT, 1),
        mv(K.RECEIPT, 2, sku="MUG-01"),
    )
    assert at(ledger, lot="A").on_hand == 5
    assert at(ledger, lot="B").on_hand == 7
    assert at(ledger).on_hand == 1
    assert at(ledger, sku="MUG-01").on_hand == 2


def test_expiry_is_taken_from_inbound_movements_only() -> None:
    ledger = run(mv(K.RECEIPT, 5, lot="A", expires_on=date(2026, 1, 31)))
    touched(ledger, mv(K.SHIPMENT, 1, lot="A", expires_on=date(2030, 1, 1)))
    assert at(ledger, lot="A").expires_on == date(2026, 1, 31)
    touched(ledger, mv(K.RETURN, 1, lot="A", expires_on=date(2026, 1, 31)))  # the same date
    assert at(ledger, lot="A").expires_on == date(2026, 1, 31)


def test_a_later_inbound_movement_with_another_expiry_is_refused_naming_both_dates() -> None:
    # A lot has one expiry date (issue 10): a receipt that says otherwise is bad input, and
    # must not move the date the stock already on hand will expire on.
    ledger = run(mv(K.RECEIPT, 5, lot="A", expires_on=date(2026, 1, 31)))
    with pytest.raises(MovementRejected) as refused:
        touched(ledger, mv(K.RECEIPT, 3, lot="A", expires_on=date(2026, 3, 15)))
    assert refused.value.field == "expires_on"
    assert "2026-01-31" in refused.value.reason
    assert "2026-03-15" in refused.value.reason
    position = at(ledger, lot="A")
    assert (position.on_hand, position.expires_on, position.version) == (
        Decimal(5),
        date(2026, 1, 31),
        1,
    )


def test_a_release_before_its_reservation_leaves_reserved_at_zero_never_below() -> None:
    ledger = run(mv(K.RECEIPT, 15), mv(K.RESERVATION_RELEASE, 5))
    # The documented formula: ATP = on hand - reserved, with reserved never below zero.
    assert (at(ledger).reserved, at(ledger).available_to_promise) == (Decimal(0), Decimal(15))
    touched(ledger, mv(K.RESERVATION, 5))
    assert (at(ledger).reserved, at(ledger).available_to_promise) == (Decimal(5), Decimal(10))


def test_a_release_of_more_than_is_reserved_releases_what_there_is() -> None:
    ledger = run(mv(K.RECEIPT, 10), mv(K.RESERVATION, 3), mv(K.RESERVATION_RELEASE, 5))
    assert (at(ledger).reserved, at(ledger).available_to_promise) == (Decimal(0), Decimal(10))


def test_transfer_in_before_transfer_out_converges() -> None:
    in_order = run(mv(K.TRANSFER_OUT, 3, destination=THERE), mv(K.TRANSFER_IN, 3, location=THERE))
    late = run(mv(K.TRANSFER_IN, 3, location=THERE), mv(K.TRANSFER_OUT, 3, destination=THERE))
    assert state(at(late, THERE)) == state(at(in_order, THERE))
    assert state(at(late)) == state(at(in_order))


COMMUTING = (
    mv(K.RECEIPT, 10),
    mv(K.RESERVATION, 4),
    mv(K.SCRAP, 1),
    mv(K.SHIPMENT, 2),
    mv(K.TRANSFER_OUT, 3, destination=THERE),
    mv(K.TRANSFER_IN, 3, location=THERE),
    mv(K.ADJUSTMENT, -1),
)


def final_positions(
    movements: tuple[Movement, ...],
) -> dict[tuple[str, str, str], tuple[object, ...]]:
    ledger = run(*movements)
    return {key: state(position) for key, position in ledger.positions.items()}


def test_every_order_of_the_same_movements_ends_in_the_same_positions() -> None:
    expected = final_positions(COMMUTING)
    assert expected[(SKU, HERE, "")] == (Decimal(3), Decimal(4), Decimal(0), Decimal(0), 6)
    assert expected[(SKU, THERE, "")] == (Decimal(3), Decimal(0), Decimal(0), Decimal(3), 2)
    orders = list(itertools.permutations(COMMUTING))
    assert len(orders) == 5040
    for order in orders[::7]:
        assert final_positions(order) == expected, [m.kind.value for m in order]


def test_cycle_counts_do_not_commute() -> None:
    count_last = final_positions((mv(K.RECEIPT, 10), mv(K.CYCLE_COUNT, 8)))
    count_first = final_positions((mv(K.CYCLE_COUNT, 8), mv(K.RECEIPT, 10)))
    assert count_last[(SKU, HERE, "")][0] == 8
    assert count_first[(SKU, HERE, "")][0] == 18


def test_available_to_promise_never_exceeds_on_hand() -> None:
    ledger = run(mv(K.RECEIPT, 10), mv(K.RESERVATION_RELEASE, 4))
    assert at(ledger).available_to_promise == at(ledger).on_hand


def stored(*, unit: str = "EA", on_hand: int = 10, location: str = HERE) -> Position:
    return Position(sku=SKU, location=location, lot="", unit=unit, on_hand=Decimal(on_hand))


async def test_a_check_refuses_a_unit_the_stored_position_does_not_keep() -> None:
    ledger = FakeLedgerRepository(stored(unit="EA"))

    refused = await refusals(ledger, [mv(K.RECEIPT, 1), mv(K.SHIPMENT, 1, unit="KGM")], NOW)

    assert list(refused) == [1]
    assert refused[1].field == "unit"
    assert "unit KGM cannot be converted to the stock unit EA" in refused[1].reason


async def test_a_check_refuses_an_expiry_the_stored_lot_does_not_have() -> None:
    lot_a = Position(
        sku=SKU, location=HERE, lot="A", unit="EA", on_hand=Decimal(4), expires_on=date(2027, 5, 1)
    )
    ledger = FakeLedgerRepository(lot_a)

    refused = await refusals(
        ledger,
        [
            mv(K.RECEIPT, 1, lot="A", expires_on=date(2027, 5, 1)),
            mv(K.RETURN, 1, lot="A", expires_on=date(2027, 6, 1)),
        ],
        NOW,
    )

    assert list(refused) == [1]
    assert refused[1].field == "expires_on"
    assert "expires on 2027-05-01, not 2027-06-01" in refused[1].reason


async def test_a_check_counts_earlier_movements_of_the_same_request() -> None:
    ledger = FakeLedgerRepository()

    refused = await refusals(
        ledger,
        [
            mv(K.RECEIPT, 5, unit="GRM"),
            mv(K.TRANSFER_OUT, 1, location=THERE, destination=HERE),
            mv(K.RECEIPT, 2, sku="MUG-01", unit="KGM"),
        ],
        NOW,
    )

    assert list(refused) == [1], "the destination keeps GRM from the first movement"


async def test_a_check_changes_nothing_stored() -> None:
    ledger = FakeLedgerRepository(stored(on_hand=10))

    assert await refusals(ledger, [mv(K.SHIPMENT, 4), mv(K.RECEIPT, 1, location=THERE)], NOW) == {}

    assert await ledger.positions_of(SKU) == [stored(on_hand=10)]

"""The ledger's rules of docs/stock.md that the first ledger got wrong: time, lots and expiry,
units, references and parking, buckets and counters. Expected values are worked out by hand
from the formula sheet."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from skuhub_stock.domain.accuracy import record_accuracy
from skuhub_stock.domain.ledger import Ledger, SkuFacts
from skuhub_stock.domain.movements import Movement, MovementKind, MovementRejected
from skuhub_stock.domain.positions import Anomaly, Position

K = MovementKind
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
SKU = "YOGURT-500"
HERE = "4012345000009"
THERE = "0614141000036"


def t(minutes: int) -> datetime:
    """A time ``minutes`` after 08:00 on the day of NOW."""
    return datetime(2026, 12, 2, 8, 0, tzinfo=UTC) + timedelta(minutes=minutes)


def mv(
    kind: MovementKind,
    quantity: int | str,
    when: int,
    *,
    sku: str = SKU,
    location: str = HERE,
    unit: str = "EA",
    lot: str | None = None,
    destination: str | None = None,
    expires_on: date | None = None,
    reservation_id: str | None = None,
    transfer_ref: str | None = None,
    order_ref: str | None = None,
) -> Movement:
    """A movement of ``quantity`` at ``when`` minutes after 08:00."""
    return Movement(
        kind=kind,
        sku=sku,
        location=location,
        quantity=Decimal(quantity),
        unit=unit,
        occurred_at=t(when),
        lot=lot,
        destination=destination,
        expires_on=expires_on,
        reservation_id=reservation_id,
        transfer_ref=transfer_ref,
        order_ref=order_ref,
    )


def d(*quantities: int) -> tuple[Decimal, ...]:
    return tuple(Decimal(q) for q in quantities)


def run(*movements: Movement, ledger: Ledger | None = None) -> Ledger:
    ledger = ledger if ledger is not None else Ledger(NOW)
    for index, movement in enumerate(movements):
        ledger.apply(movement, f"e{index}")
    return ledger


def at(ledger: Ledger, location: str = HERE, lot: str = "") -> Position:
    return ledger.positions[(SKU, location, lot)]


# ---- expiry -----------------------------------------------------------------------------


def test_an_expired_lot_is_not_available_but_still_on_hand() -> None:
    ledger = run(
        mv(K.RECEIPT, 5, 0, lot="OLD", expires_on=date(2026, 12, 1)),
        mv(K.RECEIPT, 3, 1, lot="NEW", expires_on=date(2027, 1, 15)),
    )
    old = at(ledger, lot="OLD")
    assert (old.on_hand, old.expired_quantity, old.available_to_promise) == d(5, 5, 0)
    assert ledger.location_available_to_promise((SKU, HERE)) == 3


def test_a_lot_expires_at_the_start_of_its_expiry_date_and_is_changed_then() -> None:
    ledger = run(mv(K.RECEIPT, 5, 0, lot="L1", expires_on=date(2026, 12, 3)))
    assert at(ledger, lot="L1").available_to_promise == 5
    version = at(ledger, lot="L1").version

    late_evening = Ledger(datetime(2026, 12, 2, 23, 59, 59, tzinfo=UTC), ledger.positions)
    late_evening.expire([(SKU, HERE, "L1")], "tick")
    assert late_evening.changed == {}

    midnight = Ledger(datetime(2026, 12, 3, 0, 0, tzinfo=UTC), ledger.positions)
    midnight.expire([(SKU, HERE, "L1")], "tick")
    position = midnight.changed[(SKU, HERE, "L1")]
    assert (position.expired_quantity, position.available_to_promise) == d(5, 0)
    assert position.version == version + 1


def test_a_lot_has_one_expiry_date_at_every_location() -> None:
    ledger = run(mv(K.RECEIPT, 5, 0, lot="L1", expires_on=date(2027, 3, 1)))
    with pytest.raises(MovementRejected) as refused:
        run(
            mv(K.RECEIPT, 2, 1, lot="L1", location=THERE, expires_on=date(2027, 4, 1)),
            ledger=ledger,
        )
    assert refused.value.field == "expires_on"
    assert "expires on 2027-03-01, not 2027-04-01" in refused.value.reason
    assert (SKU, THERE, "L1") not in ledger.positions


def test_a_lot_received_without_a_date_gets_the_shelf_life() -> None:
    ledger = Ledger(NOW, facts={SKU: SkuFacts("EA", lot_tracked=True, shelf_life_days=10)})
    run(mv(K.RECEIPT, 5, 0, lot="L1"), ledger=ledger)
    assert at(ledger, lot="L1").expires_on == date(2026, 12, 12)


def test_inbound_on_a_lot_tracked_sku_must_name_its_lot() -> None:
    ledger = Ledger(NOW, facts={SKU: SkuFacts("EA", lot_tracked=True)})
    with pytest.raises(MovementRejected) as refused:
        run(mv(K.RECEIPT, 5, 0), ledger=ledger)
    assert refused.value.field == "lot"
    assert ledger.positions == {}


# ---- FEFO ---------------------------------------------------------------------------------


def lots_here() -> Ledger:
    return run(
        mv(K.RECEIPT, 4, 0, lot="LATE", expires_on=date(2027, 2, 1)),
        mv(K.RECEIPT, 3, 1, lot="EARLY", expires_on=date(2027, 1, 1)),
        mv(K.RECEIPT, 2, 2, lot="UNDATED"),
    )


def test_a_shipment_without_a_lot_takes_the_first_expiring_lots_first() -> None:
    ledger = run(mv(K.SHIPMENT, 5, 3), ledger=lots_here())
    assert at(ledger, lot="EARLY").on_hand == 0
    assert at(ledger, lot="LATE").on_hand == 2
    assert at(ledger, lot="UNDATED").on_hand == 2
    assert (SKU, HERE, "") not in ledger.positions
    assert ledger.location_available_to_promise((SKU, HERE)) == 4


def test_what_no_lot_covers_goes_below_zero_and_counts_against_the_location() -> None:
    ledger = run(mv(K.SHIPMENT, 11, 3), ledger=lots_here())
    assert [at(ledger, lot=lot).on_hand for lot in ("EARLY", "LATE", "UNDATED", "")] == [
        0,
        0,
        0,
        -2,
    ]
    assert ledger.location_available_to_promise((SKU, HERE)) == 0
    assert Anomaly.NEGATIVE_ON_HAND in at(ledger).anomalies
    assert [(a.key, a.anomaly, a.quantity) for a in ledger.anomalies] == [
        ((SKU, HERE, ""), "negative_on_hand", Decimal(2))
    ]


def test_the_location_figure_subtracts_a_lotless_deficit_from_the_lots() -> None:
    ledger = run(
        mv(K.RECEIPT, 6, 0, lot="A"),
        mv(K.ADJUSTMENT, -2, 1),  # upstream names no lot and has no lot stock to take from
    )
    assert at(ledger, lot="A").available_to_promise == 6
    assert ledger.location_available_to_promise((SKU, HERE)) == 4


def test_a_reservation_without_a_lot_takes_free_units_first_expiring_first() -> None:
    ledger = run(
        mv(K.RESERVATION, 2, 3, lot="EARLY"),
        mv(K.RESERVATION, 3, 4),
        ledger=lots_here(),
    )
    assert at(ledger, lot="EARLY").reserved == 3
    assert at(ledger, lot="LATE").reserved == 2
    assert ledger.location_available_to_promise((SKU, HERE)) == 4


def test_expired_and_held_units_are_never_taken() -> None:
    ledger = run(
        mv(K.RECEIPT, 5, 0, lot="GONE", expires_on=date(2026, 11, 30)),
        mv(K.RECEIPT, 5, 1, lot="HELD", expires_on=date(2027, 1, 1)),
        mv(K.QUALITY_HOLD, 4, 2, lot="HELD"),
        mv(K.RECEIPT, 5, 3, lot="GOOD", expires_on=date(2027, 6, 1)),
        mv(K.SHIPMENT, 3, 4),
    )
    assert at(ledger, lot="GONE").on_hand == 5
    assert at(ledger, lot="HELD").on_hand == 4, "its one free unit goes first"
    assert at(ledger, lot="GOOD").on_hand == 3


# ---- time ---------------------------------------------------------------------------------


def test_a_late_count_keeps_what_happened_after_it() -> None:
    ledger = run(
        mv(K.RECEIPT, 10, 0),
        mv(K.SHIPMENT, 2, 30),  # after the count below
        mv(K.CYCLE_COUNT, 7, 20),  # counted 7 at 08:20, arriving last
    )
    assert at(ledger).on_hand == 5
    assert at(ledger).counted_at == t(20)
    [variance] = ledger.variances
    assert (variance.counted, variance.expected, variance.difference) == d(7, 10, -3)


def test_a_movement_from_before_a_count_arriving_after_it_is_absorbed() -> None:
    ledger = run(
        mv(K.CYCLE_COUNT, 7, 20),
        mv(K.RECEIPT, 4, 10),  # happened before the count: the count saw it
        mv(K.SHIPMENT, 1, 25),
    )
    assert at(ledger).on_hand == 6
    assert at(ledger).received == 4, "counters keep every flow"
    assert [e.absorbed for e in ledger.effects] == [True, False]


def test_a_count_older_than_the_position_s_count_is_superseded() -> None:
    ledger = run(mv(K.CYCLE_COUNT, 7, 20), mv(K.CYCLE_COUNT, 99, 10))
    assert at(ledger).on_hand == 7
    assert ledger.superseded == ["e1"]
    assert at(ledger).version == 1


def test_a_late_count_adds_stored_later_effects() -> None:
    stored = Position(SKU, HERE, "", "EA", on_hand=Decimal(12), version=3)
    ledger = Ledger(
        NOW,
        {stored.key: stored},
        counted_later={((SKU, HERE, ""), t(20)): Decimal(5)},
    )
    run(mv(K.CYCLE_COUNT, 8, 20), ledger=ledger)
    assert at(ledger).on_hand == 13
    assert ledger.variances[0].expected == 7


# ---- units --------------------------------------------------------------------------------


def test_packs_and_physical_units_are_converted_to_the_stock_unit() -> None:
    facts = {SKU: SkuFacts("EA", packs={"CS": Decimal(12)}), "FLOUR": SkuFacts("KGM")}
    ledger = Ledger(NOW, facts=facts)
    run(
        mv(K.RECEIPT, 2, 0, unit="CS"),
        mv(K.SHIPMENT, 5, 1, unit="PCE"),
        mv(K.RECEIPT, 2500, 2, unit="GRM", sku="FLOUR"),
        mv(K.SHIPMENT, 1, 3, unit="LBR", sku="FLOUR"),
        ledger=ledger,
    )
    assert at(ledger).on_hand == 19
    flour = ledger.positions[("FLOUR", HERE, "")]
    assert (flour.unit, flour.on_hand) == ("KGM", Decimal("2.046408"))


def test_a_unit_that_does_not_convert_is_refused_with_what_would() -> None:
    ledger = Ledger(NOW, facts={SKU: SkuFacts("EA", packs={"CS": Decimal(12)})})
    with pytest.raises(MovementRejected) as refused:
        run(mv(K.RECEIPT, 2, 0, unit="KGM"), ledger=ledger)
    assert refused.value.field == "unit"
    assert "send one of CS, EA" in refused.value.reason


# ---- references and parking ----------------------------------------------------------------


def test_a_release_before_its_reservation_waits_for_it() -> None:
    ledger = run(
        mv(K.RECEIPT, 10, 0),
        mv(K.RESERVATION_RELEASE, 3, 2, reservation_id="R1"),
    )
    assert at(ledger).reserved == 0
    assert [p.cause for p in ledger.newly_parked] == ["e1"]

    run(mv(K.RESERVATION, 5, 1, reservation_id="R1"), ledger=ledger)
    assert at(ledger).reserved == 2
    assert ledger.unparked == ["e1"]
    assert ledger.reservations[(SKU, "R1")].quantity == 2


def test_a_release_by_id_gives_back_the_lots_its_reservation_took() -> None:
    ledger = run(
        mv(K.RESERVATION, 5, 3, reservation_id="R1"),  # EARLY 3, LATE 2
        mv(K.RESERVATION_RELEASE, 3, 4, reservation_id="R1"),
        ledger=lots_here(),
    )
    assert at(ledger, lot="LATE").reserved == 0
    assert at(ledger, lot="EARLY").reserved == 2


def test_a_release_of_more_than_its_reservation_holds_is_an_anomaly() -> None:
    ledger = run(
        mv(K.RECEIPT, 10, 0),
        mv(K.RESERVATION, 2, 1, reservation_id="R1"),
        mv(K.RESERVATION_RELEASE, 5, 2, reservation_id="R1"),
    )
    assert at(ledger).reserved == 0
    assert [(a.anomaly, a.quantity, a.cause) for a in ledger.anomalies] == [
        ("release_exceeds_reserved", Decimal(3), "e2")
    ]


def test_a_transfer_in_before_its_transfer_out_waits_and_lands_in_the_transferred_lots() -> None:
    ledger = run(mv(K.TRANSFER_IN, 5, 40, location=THERE, transfer_ref="T1"), ledger=lots_here())
    assert (SKU, THERE, "EARLY") not in ledger.positions
    assert len(ledger.newly_parked) == 1

    run(mv(K.TRANSFER_OUT, 5, 30, destination=THERE, transfer_ref="T1"), ledger=ledger)
    early, late = at(ledger, THERE, "EARLY"), at(ledger, THERE, "LATE")
    assert (early.on_hand, early.in_transit, early.expires_on) == (
        Decimal(3),
        Decimal(0),
        date(2027, 1, 1),
    )
    assert (late.on_hand, late.in_transit) == d(2, 0)
    assert ledger.transfers[(SKU, "T1")].lots == {"EARLY": 0, "LATE": 0}


def test_a_transfer_in_without_its_transfer_out_drives_in_transit_negative_and_says_so() -> None:
    ledger = run(mv(K.TRANSFER_IN, 2, 0, location=THERE))
    assert at(ledger, THERE).in_transit == -2
    assert Anomaly.NEGATIVE_IN_TRANSIT in at(ledger, THERE).anomalies


def test_a_reservation_beyond_what_is_there_is_recorded_as_oversold() -> None:
    ledger = run(mv(K.RECEIPT, 2, 0), mv(K.RESERVATION, 3, 1))
    assert at(ledger).reserved == 3, "a fact is never refused"
    assert [(a.anomaly, a.quantity) for a in ledger.anomalies] == [("oversold", Decimal(1))]


# ---- buckets and counters -------------------------------------------------------------------


def test_buckets_and_counters_follow_the_formula_sheet() -> None:
    ledger = run(
        mv(K.EXPECTED_RECEIPT, 20, 0, order_ref="PO-1"),
        mv(K.RECEIPT, 12, 1, order_ref="PO-1"),
        mv(K.RETURN, 1, 2),
        mv(K.SHIPMENT, 4, 3),
        mv(K.SCRAP, 1, 4),
        mv(K.LOST_SALE, 6, 5),
        mv(K.QUALITY_HOLD, 2, 6),
        mv(K.RESERVATION, 3, 7),
        mv(K.TRANSFER_OUT, 1, 8, location=THERE, destination=HERE),
        mv(K.QUALITY_RELEASE, 5, 9),
        mv(K.QUALITY_HOLD, 1, 10),
    )
    here = at(ledger)
    # on hand 12 + 1 - 4 - 1 = 8; held 1; reserved 3; incoming 20 - 12 = 8; in transit 1
    assert (here.on_hand, here.quality_hold, here.reserved) == d(8, 1, 3)
    assert (here.incoming, here.in_transit) == d(8, 1)
    assert here.available_to_promise == 4
    assert here.projected == 14
    assert (here.received, here.returned, here.shipped, here.scrapped, here.lost_sales) == d(
        12, 1, 4, 1, 6
    )


def test_a_receipt_beyond_its_order_line_leaves_nothing_incoming() -> None:
    ledger = run(
        mv(K.EXPECTED_RECEIPT, 5, 0, order_ref="PO-1"),
        mv(K.RECEIPT, 8, 1, order_ref="PO-1"),
        mv(K.RECEIPT, 1, 2, order_ref="PO-2"),
    )
    assert (at(ledger).incoming, at(ledger).on_hand) == d(0, 9)


def test_record_accuracy_is_the_share_of_counts_within_tolerance() -> None:
    ledger = run(
        mv(K.RECEIPT, 100, 0),
        mv(K.CYCLE_COUNT, 100, 1),  # exact
        mv(K.CYCLE_COUNT, 98, 2),  # 2 off of 98: within 3 %, not within 2 % (1.96)
        mv(K.CYCLE_COUNT, 0, 3),  # 98 off
        mv(K.RECEIPT, 1, 4),
        mv(K.CYCLE_COUNT, 1, 5),  # exact
    )
    exact = record_accuracy(ledger.variances, Decimal(0))
    assert (exact.counts, exact.within_tolerance, exact.accuracy) == (4, 2, Decimal("0.5"))
    assert record_accuracy(ledger.variances, Decimal("0.02")).within_tolerance == 2
    assert record_accuracy(ledger.variances, Decimal("0.03")).within_tolerance == 3

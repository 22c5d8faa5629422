"""The oracle: expected positions of a stream (libs/skuhub_traffic/oracle.py).

Hand-worked examples of every rule of docs/stock.md: expected values are written from
the sheet, not computed. The cross-check against the stock service's ledger is
tests/integration/test_stock_oracle_stateful.py.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from skuhub_contracts.codec import Envelope, encode
from skuhub_contracts.events import MovementKind, StockMoved
from skuhub_traffic import Delivery, Oracle, TrafficConfig, build_catalog, generate_deliveries
from skuhub_traffic.model import StockFacts
from skuhub_traffic.movements import simulate
from skuhub_traffic.oracle import StockModel

CONFIG = TrafficConfig(seed=23, movements=4_000, duplicate_share=0.05, malformed_share=0.03)
A = "4012345000016"
B = "4012345000023"
T0 = datetime(2025, 1, 6, tzinfo=UTC)
NOW = datetime(2025, 1, 7, tzinfo=UTC)


@pytest.fixture(scope="module")
def deliveries() -> list[Delivery]:
    return generate_deliveries(CONFIG)


@pytest.fixture(scope="module")
def oracle(deliveries: list[Delivery]) -> Oracle:
    return Oracle.from_deliveries(deliveries)


def record(
    kind: MovementKind,
    quantity: str,
    sequence: int,
    *,
    location: str = A,
    destination: str | None = None,
    lot: str | None = None,
    event_id: str | None = None,
    sku: str = "SKU-1",
    minute: int | None = None,
    **more: Any,
) -> Delivery:
    """A wire record; ``occurred_at`` is 2025-01-06 00:00 UTC + ``minute`` (default: the
    sequence number) minutes."""
    at = T0 + timedelta(minutes=sequence if minute is None else minute)
    payload = StockMoved(
        sku=sku,
        kind=kind,
        location=location,
        destination=destination,
        quantity=Decimal(quantity),
        lot=lot,
        source_system="test",
        source_sequence=sequence,
        occurred_at=at,
        **more,
    )
    eid = event_id or f"00000000-0000-4000-8000-{sequence:012d}"
    out = encode(Envelope(payload=payload, id=eid, source="urn:test", time=at, origin_time=at))
    return Delivery(out.key, out.value, tuple(out.headers), "valid", eid)


def test_documented_semantics_on_a_hand_made_stream() -> None:
    k = MovementKind
    oracle = Oracle.from_deliveries(
        now=NOW,
        deliveries=[
            record(k.RECEIPT, "10", 1),
            record(k.TRANSFER_OUT, "4", 2, destination=B),
            record(k.TRANSFER_IN, "3", 3, location=B),
            record(k.RESERVATION, "2", 4),
            record(k.RESERVATION_RELEASE, "1", 5),
            record(k.SHIPMENT, "1.5", 6),
            record(k.RETURN, "1", 7),
            record(k.SCRAP, "0.5", 8),
            record(k.ADJUSTMENT, "-1", 9),
            record(k.CYCLE_COUNT, "5", 10, location=B),
            record(k.RECEIPT, "7", 11, lot="L1"),
        ],
    )
    got = {key: (p.on_hand, p.reserved, p.in_transit) for key, p in oracle.positions.items()}
    assert got == {
        ("SKU-1", A, ""): (Decimal("4"), Decimal(1), Decimal(0)),
        ("SKU-1", B, ""): (Decimal(5), Decimal(0), Decimal(1)),
        ("SKU-1", A, "L1"): (Decimal(7), Decimal(0), Decimal(0)),
    }
    assert oracle.applied == 11
    assert oracle.positions[("SKU-1", A, "")].available_to_promise == Decimal(3)


def test_duplicates_by_event_id_or_by_sequence_are_ignored() -> None:
    k = MovementKind
    first = record(k.RECEIPT, "10", 1)
    same_id = record(k.RECEIPT, "10", 2, event_id=first.event_id)
    same_sequence = record(k.RECEIPT, "10", 1, event_id="00000000-0000-4000-8000-999999999999")
    oracle = Oracle.from_deliveries(
        [first, same_id, same_sequence, record(k.RECEIPT, "1", 3)], now=NOW
    )
    assert oracle.positions[("SKU-1", A, "")].on_hand == 11
    assert oracle.applied == 2


def test_the_oracle_ignores_duplicates_and_malformed_records(
    deliveries: list[Delivery], oracle: Oracle
) -> None:
    kinds = {d.kind for d in deliveries}
    assert kinds == {"valid", "duplicate", "malformed"}
    only_valid = Oracle.from_deliveries([d for d in deliveries if d.kind == "valid"])
    assert only_valid.positions == oracle.positions
    assert oracle.applied == only_valid.applied == oracle.expected_counts["valid"]
    assert oracle.expected_counts == {
        kind: sum(1 for d in deliveries if d.kind == kind) for kind in kinds
    }
    # Feeding every duplicate again (as if re-delivered) changes nothing either.
    again = Oracle.from_deliveries(deliveries + [d for d in deliveries if d.kind != "malformed"])
    assert again.positions == oracle.positions


@pytest.mark.parametrize(
    "config",
    [CONFIG, TrafficConfig(seed=11, movements=4_000, product_models=8, kits=2, late_share=0.3)],
    ids=["default", "stress"],
)
def test_late_delivery_does_not_change_the_outcome(config: TrafficConfig) -> None:
    """The stream as delivered ends where the simulated world ended (occurred order)."""
    deliveries = generate_deliveries(config)
    oracle = Oracle.from_deliveries(deliveries)
    assert sum(d.late for d in deliveries) > 50
    moves = simulate(config, build_catalog(config))
    on_hand: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for move in moves:
        kind, sku, location, milli, lot = move[1], move[2], move[3], move[5], move[7]
        key = (sku, location, lot or "")
        q = Decimal(milli) / 1000
        if kind == "cycle_count":
            on_hand[key] = q
        elif kind in ("receipt", "return", "adjustment", "transfer_in"):
            on_hand[key] += q
        elif kind in ("shipment", "scrap", "transfer_out"):
            on_hand[key] -= q
    for key, position in oracle.positions.items():
        assert position.on_hand == on_hand[key], key


def test_final_positions_are_never_negative(oracle: Oracle) -> None:
    for position in oracle.positions.values():
        assert position.on_hand >= 0
        assert position.reserved >= 0
        assert position.in_transit >= 0


def test_compare_reports_every_kind_of_mismatch(oracle: Oracle) -> None:
    actual = {k: (p.on_hand, p.reserved, p.in_transit) for k, p in oracle.positions.items()}
    assert oracle.compare(actual) == []
    keys = list(actual)
    missing, wrong_on_hand, wrong_reserved, wrong_transit = keys[:4]
    del actual[missing]
    oh, rs, it = actual[wrong_on_hand]
    actual[wrong_on_hand] = (oh + 1, rs, it)
    oh, rs, it = actual[wrong_reserved]
    actual[wrong_reserved] = (oh, rs + 2, it)
    oh, rs, it = actual[wrong_transit]
    actual[wrong_transit] = (oh, rs, it - 3)
    actual[("GHOST-1", A, "")] = (Decimal(1), Decimal(0), Decimal(0))
    problems = oracle.compare(actual)
    assert len(problems) == 5
    text = "\n".join(problems)
    assert f"missing position {missing[0]} at {missing[1]}" in text
    assert "on_hand is" in text
    assert "reserved is" in text
    assert "in_transit is" in text
    assert "extra position GHOST-1" in text


def test_json_round_trip(oracle: Oracle, tmp_path: Path) -> None:
    assert Oracle.from_json(json.loads(json.dumps(oracle.to_json()))) == oracle
    path = tmp_path / "oracle.json"
    oracle.write(path)
    assert Oracle.read(path) == oracle


# ---------------------------------------------------------------------------------------------
# Every rule of docs/stock.md, worked by hand

K = MovementKind
KG = StockFacts("KGM")
PACKED = StockFacts("EA", {"CS": Decimal(12)})
TRACKED = StockFacts("EA", lot_tracked=True, shelf_life_days=10)


def nums(*values: object) -> tuple[object, ...]:
    """Buckets to compare with numbers written by hand (Decimal equals int)."""
    return values


def run(
    *records: Delivery, now: datetime = NOW, catalog: dict[str, StockFacts] | None = None
) -> Oracle:
    return Oracle.from_deliveries(records, catalog=catalog, now=now)


def test_buckets_and_derived_figures_of_one_position() -> None:
    oracle = run(
        record(K.RECEIPT, "10", 1),
        record(K.RESERVATION, "3", 2),
        record(K.QUALITY_HOLD, "2", 3),
        record(K.TRANSFER_OUT, "1", 4, location=B, destination=A),
        record(K.EXPECTED_RECEIPT, "6", 5, order_ref="PO-1", expected_on=date(2025, 1, 9)),
        record(K.LOST_SALE, "4", 6),
    )
    p = oracle.positions[("SKU-1", A, "")]
    # sellable = 10 - 2 - 0 = 8; ATP = 8 - 3 = 5; projected = 10 + 1 + 6 - 3 = 14
    assert nums(p.on_hand, p.reserved, p.quality_hold, p.in_transit) == (10, 3, 2, 1)
    assert nums(p.incoming, p.lost_sales, p.received) == (6, 4, 10)
    assert nums(p.sellable, p.available_to_promise, p.projected) == (8, 5, 14)
    assert p.location_available_to_promise == 5
    # B: on hand -1 after the transfer-out, so its location ATP is 0, not negative; nothing
    # is reserved there, so it is not oversold
    b = oracle.positions[("SKU-1", B, "")]
    assert nums(b.on_hand, b.location_available_to_promise, b.anomalies) == (
        -1,
        0,
        ("negative_on_hand",),
    )
    assert oracle.network_available_to_promise("SKU-1") == 5


def test_a_lot_expires_at_the_start_of_its_day_in_utc() -> None:
    stream = [record(K.RECEIPT, "5", 1, lot="L1", expires_on=date(2025, 1, 10))]
    before = run(*stream, now=datetime(2025, 1, 9, 23, 59, tzinfo=UTC))
    at = run(*stream, now=datetime(2025, 1, 10, tzinfo=UTC))
    p, q = before.positions[("SKU-1", A, "L1")], at.positions[("SKU-1", A, "L1")]
    assert nums(p.expired, p.available_to_promise, p.expires_on) == (0, 5, date(2025, 1, 10))
    assert nums(q.expired, q.available_to_promise, q.location_available_to_promise) == (5, 0, 0)


def test_fefo_splits_lotless_outbound_and_location_atp_is_a_signed_sum() -> None:
    oracle = run(
        record(K.RECEIPT, "5", 1, lot="L1", expires_on=date(2025, 3, 10)),
        record(K.RECEIPT, "4", 2, lot="L2", expires_on=date(2025, 3, 5)),
        record(K.RECEIPT, "6", 3, lot="L3"),  # no expiry: after the dated lots
        record(K.SHIPMENT, "6", 4),  # L2 4, then L1 2
        record(K.SCRAP, "10", 5),  # L1 3, L3 6, lot-less 1
    )
    at = {lot: oracle.positions[("SKU-1", A, lot)] for lot in ("L1", "L2", "L3", "")}
    assert {lot: p.on_hand for lot, p in at.items()} == {"L1": 0, "L2": 0, "L3": 0, "": -1}
    assert {lot: p.shipped for lot, p in at.items()} == {"L1": 2, "L2": 4, "L3": 0, "": 0}
    assert {lot: p.scrapped for lot, p in at.items()} == {"L1": 3, "L2": 0, "L3": 6, "": 1}
    assert at[""].location_available_to_promise == 0
    again = run(
        record(K.RECEIPT, "6", 1, lot="L3"),
        record(K.SHIPMENT, "8", 2),  # L3 6, lot-less -2
        record(K.RECEIPT, "5", 3, lot="L4"),
    )
    # location ATP = (0 - 0) + (5 - 0) + (-2 - 0) = 3, while the per-lot ATPs add up to 5
    p = again.positions[("SKU-1", A, "L4")]
    assert nums(p.location_available_to_promise, p.available_to_promise) == (3, 5)


def test_fefo_never_takes_expired_held_or_reserved_units() -> None:
    oracle = run(
        record(K.RECEIPT, "5", 1, lot="OLD", expires_on=date(2025, 1, 6)),  # expired at NOW
        record(K.RECEIPT, "5", 2, lot="HELD", expires_on=date(2025, 2, 1)),
        record(K.QUALITY_HOLD, "4", 3, lot="HELD"),
        record(K.RECEIPT, "5", 4, lot="NEXT", expires_on=date(2025, 3, 1)),
        record(K.RESERVATION, "3", 5, lot="NEXT"),
        record(K.RESERVATION, "4", 6),  # HELD free 1, NEXT free 5 - 3 = 2, lot-less 1
        record(K.SHIPMENT, "4", 7),  # HELD sellable 1, NEXT sellable 5: 1 + 3
    )
    at = {lot: oracle.positions[("SKU-1", A, lot)] for lot in ("OLD", "HELD", "NEXT", "")}
    assert {lot: p.reserved for lot, p in at.items()} == {"OLD": 0, "HELD": 1, "NEXT": 5, "": 1}
    assert {lot: p.on_hand for lot, p in at.items()} == {"OLD": 5, "HELD": 4, "NEXT": 2, "": 0}
    assert at["OLD"].expired == 5


def test_a_late_count_keeps_later_movements_and_absorbs_earlier_ones() -> None:
    oracle = run(
        record(K.RECEIPT, "10", 1, minute=10),
        record(K.SHIPMENT, "3", 2, minute=30),
        record(K.CYCLE_COUNT, "8", 3, minute=20),  # 8 as of minute 20, + (-3) after it
        record(K.RECEIPT, "4", 4, minute=15),  # before the count: absorbed, counter only
        record(K.CYCLE_COUNT, "50", 5, minute=5),  # older than the count: superseded
        record(K.RETURN, "1", 6, minute=40),
    )
    p = oracle.positions[("SKU-1", A, "")]
    assert p.on_hand == 8 - 3 + 1
    assert nums(p.received, p.shipped, p.returned) == (14, 3, 1)
    assert p.counted_at == T0 + timedelta(minutes=20)
    later = run(
        record(K.RECEIPT, "10", 1, minute=10),
        record(K.SHIPMENT, "3", 2, minute=30),
        record(K.CYCLE_COUNT, "8", 3, minute=20),
        record(K.CYCLE_COUNT, "2", 4, minute=25),  # newer: 2 + (-3)
    )
    assert later.positions[("SKU-1", A, "")].on_hand == -1


def test_an_absorbed_transfer_out_still_puts_its_quantity_in_transit() -> None:
    oracle = run(
        record(K.CYCLE_COUNT, "7", 1, minute=20),
        record(K.TRANSFER_OUT, "2", 2, minute=10, destination=B),
    )
    assert oracle.positions[("SKU-1", A, "")].on_hand == 7
    assert oracle.positions[("SKU-1", B, "")].in_transit == 2


def test_releases_by_reservation_id_wait_for_their_reservation() -> None:
    stream = [
        record(K.RECEIPT, "10", 1, lot="L1", expires_on=date(2025, 2, 1)),
        record(K.RECEIPT, "10", 2, lot="L2", expires_on=date(2025, 3, 1)),
        record(K.RESERVATION, "8", 3, lot="L1"),
        record(K.RESERVATION_RELEASE, "5", 4, reservation_id="R1"),  # parked
    ]
    parked = run(*stream)
    assert parked.parked == 1
    assert parked.positions[("SKU-1", A, "L1")].reserved == 8
    # The reservation takes L1 2 (10 - 8 free), L2 4; the parked release then gives back the
    # last lot taken first (the sheet leaves the order open): L2 4, L1 1.
    arrived = run(*stream, record(K.RESERVATION, "6", 5, reservation_id="R1"))
    l1, l2 = arrived.positions[("SKU-1", A, "L1")], arrived.positions[("SKU-1", A, "L2")]
    assert nums(l1.reserved, l2.reserved, arrived.parked) == (9, 0, 0)
    oracle = run(
        *stream,
        record(K.RESERVATION, "6", 5, reservation_id="R1"),
        record(K.RESERVATION_RELEASE, "9", 6, reservation_id="R1"),  # holds 1 more: releases 1
        record(K.RESERVATION, "3", 7, lot="L2"),
        record(K.RESERVATION_RELEASE, "20", 8, lot="L2"),  # no id: at most what is reserved
    )
    l1, l2 = oracle.positions[("SKU-1", A, "L1")], oracle.positions[("SKU-1", A, "L2")]
    assert nums(l1.reserved, l2.reserved) == (8, 0)
    assert oracle.parked == 0


def test_transfer_ins_by_reference_wait_for_their_transfer_out() -> None:
    stream = [
        record(K.RECEIPT, "3", 1, lot="L1", expires_on=date(2025, 2, 1)),
        record(K.RECEIPT, "9", 2, lot="L2", expires_on=date(2025, 3, 1)),
        record(K.TRANSFER_IN, "6", 3, location=B, transfer_ref="T1"),  # parked
    ]
    waiting = run(*stream)
    assert waiting.parked == 1
    assert ("SKU-1", B, "") not in waiting.positions
    oracle = run(
        *stream,
        record(K.TRANSFER_OUT, "5", 4, destination=B, transfer_ref="T1"),  # L1 3, L2 2
    )
    at_b = {lot: oracle.positions[("SKU-1", B, lot)] for lot in ("L1", "L2", "")}
    # the transfer-in fills L1 3 and L2 2; the sixth unit goes to its own lot, ""
    assert {lot: nums(p.on_hand, p.in_transit) for lot, p in at_b.items()} == {
        "L1": (3, 0),
        "L2": (2, 0),
        "": (1, -1),
    }
    assert at_b[""].anomalies == ("negative_in_transit",)
    assert oracle.parked == 0


def test_order_lines_make_incoming_and_receipts_fill_them() -> None:
    oracle = run(
        record(K.EXPECTED_RECEIPT, "10", 1, order_ref="PO-1", expected_on=date(2025, 1, 9)),
        record(K.EXPECTED_RECEIPT, "5", 2, order_ref="PO-2", expected_on=date(2025, 1, 9)),
        record(K.EXPECTED_RECEIPT, "2", 3, order_ref="PO-1", expected_on=date(2025, 1, 9)),
        record(K.RECEIPT, "4", 4, order_ref="PO-1", lot="L1"),
        record(K.RECEIPT, "20", 5, order_ref="PO-2"),
        record(K.RECEIPT, "1", 6, order_ref="PO-9"),  # no such line: nothing to fill
    )
    p = oracle.positions[("SKU-1", A, "")]
    assert nums(p.incoming, p.on_hand, p.received) == (12 - 4 + 0, 21, 21)
    assert oracle.positions[("SKU-1", A, "L1")].incoming == 0


def test_quality_release_stops_at_what_is_held_and_lost_sales_move_nothing_else() -> None:
    oracle = run(
        record(K.RECEIPT, "5", 1),
        record(K.QUALITY_HOLD, "2", 2),
        record(K.QUALITY_RELEASE, "5", 3),
        record(K.LOST_SALE, "3", 4),
    )
    p = oracle.positions[("SKU-1", A, "")]
    assert nums(p.on_hand, p.quality_hold, p.lost_sales, p.available_to_promise) == (5, 0, 3, 5)


def test_units_convert_to_the_stock_unit_or_are_refused() -> None:
    oracle = run(
        record(K.RECEIPT, "2", 1, unit="CS"),  # 24 EA
        record(K.SHIPMENT, "5", 2),
        record(K.RECEIPT, "250", 3, sku="SKU-KG", unit="GRM"),  # 0.25 KGM
        record(K.SHIPMENT, "0.1", 4, sku="SKU-KG", unit="KGM"),
        record(K.RECEIPT, "1", 5, sku="SKU-KG", unit="LTR"),  # refused: another dimension
        record(K.RECEIPT, "1", 6, sku="SKU-KG", unit="CS"),  # refused: no such pack
        catalog={"SKU-1": PACKED, "SKU-KG": KG},
    )
    assert oracle.positions[("SKU-1", A, "")].on_hand == 19
    kg = oracle.positions[("SKU-KG", A, "")]
    assert (kg.on_hand, kg.received, kg.unit) == (Decimal("0.15"), Decimal("0.25"), "KGM")
    assert (oracle.refused, oracle.applied) == (2, 4)


def test_an_undescribed_sku_keeps_the_unit_of_its_first_movement() -> None:
    oracle = run(
        record(K.RECEIPT, "2", 1, unit="KGM"),
        record(K.RECEIPT, "500", 2, unit="GRM"),
        record(K.RECEIPT, "1", 3, unit="EA"),  # refused
    )
    p = oracle.positions[("SKU-1", A, "")]
    assert (p.on_hand, p.unit, oracle.refused) == (Decimal("2.5"), "KGM", 1)


def test_lots_of_a_tracked_sku_one_expiry_and_refusals() -> None:
    catalog = {"SKU-1": TRACKED}
    oracle = run(
        record(K.RECEIPT, "5", 1),  # refused: a lot-tracked SKU's inbound names a lot
        record(K.RECEIPT, "5", 2, lot="L1"),  # no date: 2025-01-06 + 10 days
        record(K.RETURN, "1", 3, location=B, lot="L1", expires_on=date(2025, 1, 20)),  # refused
        record(K.RETURN, "1", 4, location=B, lot="L1", expires_on=date(2025, 1, 16)),
        record(K.SHIPMENT, "2", 5),  # outbound without a lot is fine: FEFO takes L1
        catalog=catalog,
    )
    a, b = oracle.positions[("SKU-1", A, "L1")], oracle.positions[("SKU-1", B, "L1")]
    assert (a.expires_on, b.expires_on) == (date(2025, 1, 16), date(2025, 1, 16))
    assert nums(a.on_hand, a.shipped, b.on_hand) == (3, 2, 1)
    assert (oracle.refused, oracle.applied) == (2, 3)
    tracked = Oracle.from_deliveries(
        [record(K.RECEIPT, "5", 1, lot="L1")],
        catalog=catalog,
        now=datetime(2025, 1, 16, tzinfo=UTC),
    )
    assert tracked.positions[("SKU-1", A, "L1")].expired == 5


def test_the_model_applies_each_record_at_its_own_processing_time() -> None:
    """FEFO looks at what has expired when the record is processed, not at the end."""
    model = StockModel()
    first = datetime(2025, 1, 7, tzinfo=UTC)
    model.deliver(record(K.RECEIPT, "2", 1, lot="L1", expires_on=date(2025, 1, 8)), first)
    model.deliver(record(K.RECEIPT, "2", 2, lot="L2", expires_on=date(2025, 1, 9)), first)
    model.deliver(record(K.SHIPMENT, "1", 3), first)  # L1 (not expired yet)
    second = datetime(2025, 1, 8, 12, tzinfo=UTC)
    model.deliver(record(K.SHIPMENT, "1", 4), second)  # L1 has expired: L2
    got = model.expected(second)
    assert nums(got[("SKU-1", A, "L1")].on_hand, got[("SKU-1", A, "L2")].on_hand) == (1, 1)
    assert got[("SKU-1", A, "L1")].expired == 1

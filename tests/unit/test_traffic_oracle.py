"""The oracle: expected positions of a generated stream (libs/skuhub_traffic/oracle.py).

The cross-check runs the same stream through the stock service's pure ledger.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from skuhub_contracts.codec import Envelope, decode, encode
from skuhub_contracts.events import MovementKind, StockMoved
from skuhub_stock.domain.ledger import Ledger
from skuhub_stock.domain.movements import Movement
from skuhub_stock.domain.movements import MovementKind as LedgerKind
from skuhub_traffic import Delivery, Oracle, TrafficConfig, build_catalog, generate_deliveries
from skuhub_traffic.movements import simulate

CONFIG = TrafficConfig(seed=23, movements=4_000, duplicate_share=0.05, malformed_share=0.03)
A = "4012345000016"
B = "4012345000023"


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
) -> Delivery:
    at = datetime(2025, 1, 6, tzinfo=UTC) + timedelta(minutes=sequence)
    payload = StockMoved(
        sku="SKU-1",
        kind=kind,
        location=location,
        destination=destination,
        quantity=Decimal(quantity),
        lot=lot,
        source_system="test",
        source_sequence=sequence,
        occurred_at=at,
    )
    eid = event_id or f"00000000-0000-4000-8000-{sequence:012d}"
    out = encode(Envelope(payload=payload, id=eid, source="urn:test", time=at, origin_time=at))
    return Delivery(out.key, out.value, tuple(out.headers), "valid", eid)


def test_documented_semantics_on_a_hand_made_stream() -> None:
    k = MovementKind
    oracle = Oracle.from_deliveries(
        [
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
        ]
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
    oracle = Oracle.from_deliveries([first, same_id, same_sequence, record(k.RECEIPT, "1", 3)])
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


def test_the_stock_ledger_reaches_exactly_the_oracles_positions(
    deliveries: list[Delivery], oracle: Oracle
) -> None:
    # As of the stream's start: no lot has expired yet (the oracle knows no expiry).
    ledger = Ledger(now=datetime(2025, 1, 6, tzinfo=UTC))
    seen_ids: set[str] = set()
    seen_sequences: set[tuple[str, int]] = set()
    for d in deliveries:
        if d.kind == "malformed":
            continue
        envelope = decode(d.value, d.headers, key=d.key, accept=[StockMoved])
        p = envelope.payload
        if envelope.id in seen_ids or (p.source_system, p.source_sequence) in seen_sequences:
            continue
        seen_ids.add(envelope.id)
        seen_sequences.add((p.source_system, p.source_sequence))
        ledger.apply(
            Movement(
                kind=LedgerKind(p.kind.value),
                sku=p.sku,
                location=p.location,
                quantity=p.quantity,
                unit=p.unit,
                occurred_at=p.occurred_at,
                lot=p.lot,
                destination=p.destination,
                expires_on=p.expires_on,
                reservation_id=p.reservation_id,
                transfer_ref=p.transfer_ref,
                order_ref=p.order_ref,
                expected_on=p.expected_on,
            ),
            envelope.id,
        )
    actual = {k: (p.on_hand, p.reserved, p.in_transit) for k, p in ledger.positions.items()}
    assert len(actual) > 100
    assert oracle.compare(actual) == []


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

"""The ledger's rules through Kafka on the real stack: a history with lots, FEFO, early
partners and a late count; replayed twice, it ends in the same positions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from skuhub_contracts.topics import STOCK_MOVED
from tests import api
from tests.e2e.observe import new_sku
from tests.harness import Stack, wait_until
from tests.upstream import GLN_A, GLN_B, Upstream, find_records, movement

pytestmark = pytest.mark.e2e

START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def at(minutes: int) -> datetime:
    return START + timedelta(minutes=minutes)


def history(sku: str) -> list[Any]:
    far = date.today() + timedelta(days=60)
    near = date.today() + timedelta(days=20)
    return [
        movement(sku, "receipt", "10", lot="LATE", expires_on=far, occurred_at=at(0)),
        movement(sku, "receipt", "6", lot="EARLY", expires_on=near, occurred_at=at(1)),
        # No lot: first expiring first, 6 from EARLY and 2 from LATE.
        movement(sku, "shipment", "8", occurred_at=at(2)),
        # A release before its reservation: waits for it.
        movement(sku, "reservation_release", "1", reservation_id=f"R-{sku}", occurred_at=at(4)),
        movement(sku, "reservation", "3", reservation_id=f"R-{sku}", occurred_at=at(3)),
        # A transfer-in before its transfer-out: waits, then lands in the lot that left.
        movement(
            sku, "transfer_in", "2", location=GLN_B, transfer_ref=f"T-{sku}", occurred_at=at(6)
        ),
        movement(
            sku,
            "transfer_out",
            "2",
            destination=GLN_B,
            transfer_ref=f"T-{sku}",
            occurred_at=at(5),
        ),
        # Counted 7 in LATE at minute 4.5: the transfer-out at 5 still applies on top.
        movement(sku, "cycle_count", "7", lot="LATE", occurred_at=at(4) + timedelta(seconds=30)),
    ]


def positions(stack: Stack, sku: str) -> dict[tuple[str, str | None], dict[str, Any]]:
    body = api.get(f"{stack.url('stock')}/v1/positions/{sku}").json()
    return {(p["location"], p["lot"]): p for p in body["positions"]}


def test_a_history_lands_by_the_formula_sheet_and_a_double_replay_changes_nothing(
    stack: Stack, upstream: Upstream
) -> None:
    sku = new_sku("FLOW")
    topic = stack.topic(STOCK_MOVED.name)
    for payload in history(sku):
        upstream.publish_movement(topic, payload)
    url = stack.url("stock")
    wait_until(
        lambda: (
            len(api.get(f"{url}/v1/journal/{sku}").json()["entries"]) == 8
            and not [p for p in api.get(f"{url}/v1/parked").json() if p["sku"] == sku]
        ),
        what="every movement journaled and none parked",
    )
    wait_until(lambda: (GLN_B, "LATE") in positions(stack, sku), what="the transfer to land")
    before = positions(stack, sku)

    early, late, there = before[(GLN_A, "EARLY")], before[(GLN_A, "LATE")], before[(GLN_B, "LATE")]
    assert (early["on_hand"], early["reserved"]) == ("0", "0")
    # LATE: 10 - 2 (FEFO) - 2 (transfer-out after the count) -> counted 7, then -2 = 5;
    # reserved 3 (FEFO: EARLY had nothing free), released 1.
    assert (late["on_hand"], late["reserved"], late["available_to_promise"]) == ("5", "2", "3")
    assert (late["counted_at"] is not None, late["shipped"]) == (True, "2")
    assert (there["on_hand"], there["in_transit"]) == ("2", "0")

    records = find_records(upstream.bootstrap, topic, lambda m: m.key() == sku.encode(), expect=8)
    for _ in range(2):
        for record in records:
            upstream.publish(topic, record.value(), key=record.key(), headers=record.headers())
    fence = movement(sku, "lost_sale", "1", location=GLN_B)
    upstream.publish_movement(topic, fence)
    wait_until(lambda: (GLN_B, None) in positions(stack, sku), what="the fence behind the replays")

    after = positions(stack, sku)
    del after[(GLN_B, None)]
    assert after == before

"""Commands and uploads on the real stack: reservations granted within ATP, refused with the
shortage, never beyond ATP when clients race, idempotent, released, confirmed and expired by
id; set quantity with compare-and-set; cycle counts uploaded as CSV with a report per row."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests import api
from tests.e2e.observe import new_sku
from tests.harness import Stack, wait_until
from tests.upstream import GLN_A, movement

pytestmark = pytest.mark.e2e


def stock_in(stack: Stack, sku: str, quantity: int) -> str:
    """Receive ``quantity`` of ``sku`` at GLN_A over HTTP; wait until the ledger has it."""
    url = stack.url("stock")
    body = {"movements": [movement(sku, quantity=str(quantity)).model_dump(mode="json")]}
    assert api.post(f"{url}/v1/movements", json=body).status_code == 202
    wait_until(lambda: atp(stack, sku) == quantity or None, what=f"{quantity} of {sku} on hand")
    return url


def atp(stack: Stack, sku: str) -> Decimal:
    return Decimal(
        api.get(f"{stack.url('stock')}/v1/positions/{sku}").json()["available_to_promise"]
    )


def reserve(url: str, sku: str, quantity: int = 1, **fields: Any) -> httpx.Response:
    headers = fields.pop("headers", {})
    body = {"sku": sku, "location": GLN_A, "quantity": str(quantity), **fields}
    return api.post(f"{url}/v1/reservations", json=body, headers=headers)


async def race(url: str, sku: str, clients: int) -> list[int]:
    async with api.async_client(timeout=30) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    f"{url}/v1/reservations",
                    json={"sku": sku, "location": GLN_A, "quantity": "1"},
                )
                for _ in range(clients)
            )
        )
    return sorted(a.status_code for a in answers)


def test_racing_clients_never_reserve_more_than_there_is(stack: Stack) -> None:
    sku = new_sku("RACE")
    url = stock_in(stack, sku, 5)

    statuses = asyncio.run(race(url, sku, 12))

    assert statuses == [201] * 5 + [409] * 7
    assert atp(stack, sku) == 0
    assert asyncio.run(race(url, sku, 3)) == [409] * 3


def test_exactly_one_client_wins_the_last_unit(stack: Stack) -> None:
    sku = new_sku("LAST")
    url = stock_in(stack, sku, 1)
    assert asyncio.run(race(url, sku, 10)) == [201] + [409] * 9


def test_a_reservation_beyond_atp_is_refused_with_the_shortage(stack: Stack) -> None:
    sku = new_sku("SHORT")
    url = stock_in(stack, sku, 3)
    refused = reserve(url, sku, 5)
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert (body["requested"], body["available"], body["shortage"], body["unit"]) == (
        "5",
        "3",
        "2",
        "EA",
    )
    assert atp(stack, sku) == 3, "a refused reservation holds nothing"


def test_an_idempotency_key_makes_one_reservation(stack: Stack) -> None:
    sku = new_sku("IDEM")
    url = stock_in(stack, sku, 10)
    first = reserve(url, sku, 4, headers={"Idempotency-Key": f"order-{sku}"})
    again = reserve(url, sku, 4, headers={"Idempotency-Key": f"order-{sku}"})
    assert first.status_code == again.status_code == 201, again.text
    assert again.json()["reservation_id"] == first.json()["reservation_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert atp(stack, sku) == 6


def test_release_gives_back_and_confirm_ships(stack: Stack) -> None:
    sku = new_sku("LIFE")
    url = stock_in(stack, sku, 10)
    released = reserve(url, sku, 3).json()["reservation_id"]
    confirmed = reserve(url, sku, 2).json()["reservation_id"]
    assert atp(stack, sku) == 5

    answer = api.post(f"{url}/v1/reservations/{released}/release")
    assert (answer.status_code, answer.json()["status"]) == (200, "released")
    answer = api.post(f"{url}/v1/reservations/{confirmed}/confirm")
    assert (answer.status_code, answer.json()["status"]) == (200, "confirmed")

    [position] = api.get(f"{url}/v1/positions/{sku}").json()["positions"]
    assert (position["on_hand"], position["reserved"], position["shipped"]) == ("8", "0", "2")
    again = api.post(f"{url}/v1/reservations/{confirmed}/release")
    assert again.status_code == 409
    assert "confirmed" in again.json()["detail"]
    assert api.get(f"{url}/v1/reservations/no-such-id").status_code == 404


def test_a_reservation_expires_after_its_time_to_live(stack: Stack) -> None:
    sku = new_sku("TTL")
    url = stock_in(stack, sku, 4)
    made = reserve(url, sku, 3, ttl_s=1).json()
    assert atp(stack, sku) == 1

    wait_until(
        lambda: (
            api.get(f"{url}/v1/reservations/{made['reservation_id']}").json()["status"] == "expired"
            or None
        ),
        what="the reservation to expire",
    )
    assert atp(stack, sku) == 4


def test_set_quantity_applies_only_to_the_quantity_the_caller_read(stack: Stack) -> None:
    sku = new_sku("CAS")
    url = stock_in(stack, sku, 12)
    body = {"sku": sku, "location": GLN_A, "expected_on_hand": "12", "on_hand": "10"}

    first = api.post(f"{url}/v1/on-hand", json=body)
    assert first.status_code == 200, first.text
    assert (first.json()["on_hand"], first.json()["available_to_promise"]) == ("10", "10")
    stale = api.post(f"{url}/v1/on-hand", json={**body, "on_hand": "3"})
    assert stale.status_code == 409
    assert "has 10 on hand, not the expected 12" in stale.json()["detail"]
    assert atp(stack, sku) == 10
    [variance] = api.get(f"{url}/v1/variances", params={"sku": sku}).json()
    assert (variance["counted"], variance["expected"], variance["difference"]) == ("10", "12", "-2")


def test_a_csv_of_counts_is_answered_row_by_row_and_counted_once(stack: Stack) -> None:
    sku = new_sku("CSV")
    url = stock_in(stack, sku, 20)
    early = "2020-01-01T00:00:00Z"  # before the receipt: a late count, absorbed into history
    csv_file = (
        "sku,location,quantity,counted_at,reference\n"
        f"{sku},{GLN_A},7,{early},aisle 4\n"
        f"{sku},4012345000001,1,{early},bad check digit\n"
        f"{sku},{GLN_A},-1,{early},negative\n"
    )
    headers = {"Content-Type": "text/csv"}
    answer = api.post(f"{url}/v1/cycle-counts", content=csv_file, headers=headers)
    assert answer.status_code == 202, answer.text
    report = answer.json()
    assert (report["accepted"], report["refused"]) == (1, 2)
    assert [(r["line"], r["status"]) for r in report["rows"]] == [
        (2, "accepted"),
        (3, "refused"),
        (4, "refused"),
    ]
    assert [p["column"] for p in report["rows"][1]["problems"]] == ["location"]
    assert [p["column"] for p in report["rows"][2]["problems"]] == ["quantity"]

    wait_until(
        lambda: api.get(f"{url}/v1/variances", params={"sku": sku}).json() or None,
        what="the count to apply",
    )
    # Counted 7 before the receipt of 20 happened: 7 + 20.
    assert atp(stack, sku) == 27
    again = api.post(f"{url}/v1/cycle-counts", content=csv_file, headers=headers).json()
    assert again["source_system"] == report["source_system"]
    # A receipt behind the second upload on the SKU's partition: once it has applied, so has
    # the upload before it.
    stock_in_more = {"movements": [movement(sku, quantity="1").model_dump(mode="json")]}
    assert api.post(f"{url}/v1/movements", json=stock_in_more).status_code == 202
    wait_until(lambda: atp(stack, sku) == 28 or None, what="the receipt behind the upload")
    entries = api.get(f"{url}/v1/journal/{sku}").json()["entries"]
    assert [e["kind"] for e in entries] == ["receipt", "cycle_count", "receipt"]

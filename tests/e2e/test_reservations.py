"""Reservations as commands on the real stack: granted within ATP, refused with the shortage,
never beyond ATP when clients race, idempotent, released, confirmed and expired by id."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.e2e.observe import new_sku
from tests.harness import Stack, wait_until
from tests.upstream import GLN_A, movement

pytestmark = pytest.mark.e2e


def stock_in(stack: Stack, sku: str, quantity: int) -> str:
    """Receive ``quantity`` of ``sku`` at GLN_A over HTTP; wait until the ledger has it."""
    url = stack.url("stock")
    body = {"movements": [movement(sku, quantity=str(quantity)).model_dump(mode="json")]}
    assert httpx.post(f"{url}/v1/movements", json=body).status_code == 202
    wait_until(lambda: atp(stack, sku) == quantity or None, what=f"{quantity} of {sku} on hand")
    return url


def atp(stack: Stack, sku: str) -> Decimal:
    return Decimal(
        httpx.get(f"{stack.url('stock')}/v1/positions/{sku}").json()["available_to_promise"]
    )


def reserve(url: str, sku: str, quantity: int = 1, **fields: Any) -> httpx.Response:
    headers = fields.pop("headers", {})
    body = {"sku": sku, "location": GLN_A, "quantity": str(quantity), **fields}
    return httpx.post(f"{url}/v1/reservations", json=body, headers=headers)


async def race(url: str, sku: str, clients: int) -> list[int]:
    async with httpx.AsyncClient(timeout=30) as client:
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

    answer = httpx.post(f"{url}/v1/reservations/{released}/release")
    assert (answer.status_code, answer.json()["status"]) == (200, "released")
    answer = httpx.post(f"{url}/v1/reservations/{confirmed}/confirm")
    assert (answer.status_code, answer.json()["status"]) == (200, "confirmed")

    [position] = httpx.get(f"{url}/v1/positions/{sku}").json()["positions"]
    assert (position["on_hand"], position["reserved"], position["shipped"]) == ("8", "0", "2")
    again = httpx.post(f"{url}/v1/reservations/{confirmed}/release")
    assert again.status_code == 409
    assert "confirmed" in again.json()["detail"]
    assert httpx.get(f"{url}/v1/reservations/no-such-id").status_code == 404


def test_a_reservation_expires_after_its_time_to_live(stack: Stack) -> None:
    sku = new_sku("TTL")
    url = stock_in(stack, sku, 4)
    made = reserve(url, sku, 3, ttl_s=1).json()
    assert atp(stack, sku) == 1

    wait_until(
        lambda: (
            httpx.get(f"{url}/v1/reservations/{made['reservation_id']}").json()["status"]
            == "expired"
            or None
        ),
        what="the reservation to expire",
    )
    assert atp(stack, sku) == 4

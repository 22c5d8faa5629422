"""HTTP behaviour a client relies on: preconditions, clear 4xx errors, SKUs with slashes."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from tests.e2e.observe import new_sku, offer_where
from tests.harness import Stack
from tests.upstream import movement

pytestmark = pytest.mark.e2e


@pytest.fixture
def product(stack: Stack) -> str:
    sku = new_sku("PRECOND")
    created = httpx.post(
        f"{stack.url('catalog')}/v1/products", json={"sku": sku, "title": {"en_US": "Mug"}}
    )
    assert created.status_code == 201, created.text
    assert created.headers["ETag"] == '"1"'
    return sku


def test_a_stale_if_match_is_a_failed_precondition(stack: Stack, product: str) -> None:
    url = f"{stack.url('catalog')}/v1/products/{product}"
    changed = httpx.patch(url, json={"family": "kitchen"}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'

    stale = httpx.patch(url, json={"family": "garden"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412, stale.text
    assert "version" in stale.json()["detail"]
    stale_delete = httpx.delete(url, headers={"If-Match": '"1"'})
    assert stale_delete.status_code == 412, stale_delete.text
    assert httpx.get(url).json()["family"] == "kitchen"


def test_a_weak_etag_never_matches(stack: Stack, product: str) -> None:
    url = f"{stack.url('catalog')}/v1/products/{product}"
    weak = httpx.patch(url, json={"family": "garden"}, headers={"If-Match": 'W/"1"'})
    assert weak.status_code == 412, weak.text
    assert "weak ETag" in weak.json()["detail"]


def test_a_stale_expected_version_in_the_body_is_a_conflict(stack: Stack, product: str) -> None:
    url = f"{stack.url('catalog')}/v1/products/{product}"
    assert httpx.patch(url, json={"family": "kitchen"}).status_code == 200
    stale = httpx.patch(url, json={"family": "garden", "expected_version": 1})
    assert stale.status_code == 409, stale.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": {"en_US": "Mug\u0000"}}, ["body", "title", "en_US"]),  # text column
        (  # JSONB column
            {"title": {"en_US": "Mug"}, "attributes": {"colour": "red\u0000"}},
            ["body", "attributes", "colour"],
        ),
    ],
)
def test_a_nul_character_is_a_422_that_names_the_field(
    stack: Stack, body: dict[str, object], field: list[str]
) -> None:
    response = httpx.post(f"{stack.url('catalog')}/v1/products", json={"sku": new_sku(), **body})
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [e["loc"][: len(field)] for e in errors] == [field] * len(errors)
    assert "control characters" in errors[0]["msg"]


def test_skus_with_a_slash_reach_positions_and_offers(stack: Stack) -> None:
    sku = f"{new_sku('KIT')}/RED"
    posted = httpx.post(
        f"{stack.url('stock')}/v1/movements",
        json={"movements": [movement(sku, quantity="4").model_dump(mode="json")]},
    )
    assert posted.status_code == 202, posted.text
    offer_where(stack, sku, lambda o: Decimal(o["available"]) == 4, "the offer of a SKU with /")
    positions = httpx.get(f"{stack.url('stock')}/v1/positions/{sku}").json()
    assert positions["sku"] == sku
    assert Decimal(positions["available_to_promise"]) == 4

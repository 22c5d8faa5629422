"""Replenishment over HTTP, on the in-memory repository: deciding proposals (200, 404, 409),
listing them a page at a time, and policies (default, set, 422 naming the field)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest

from skuhub_runtime.handling import Decision
from skuhub_runtime.http import create_app
from skuhub_stock.domain.replenishment import PositionFigures, Proposal
from skuhub_stock.entrypoints import replenishment_http
from skuhub_stock.service_layer.replenishment import review
from skuhub_stock.settings import StockSettings
from tests import api
from tests.fakes.replenishment import FakeReplenishmentRepository, FakeReplenishmentUnitOfWork

R = TypeVar("R")
GLN = "4012345000009"
GLN_2 = "0614141000012"
NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


class FakeRuntime:
    """What the routes use of the service runtime: settings, read and execute."""

    service = "stock"
    engine = None  # the routes never reach it; the token store is trusted away

    def __init__(self) -> None:
        self.settings = StockSettings(replenishment_lead_time_days=3)
        self.uow = FakeReplenishmentUnitOfWork()
        self.emitted: list[Any] = []

    async def read(self, query: Callable[[FakeReplenishmentUnitOfWork], Awaitable[R]]) -> R:
        return await query(self.uow)

    async def execute(
        self, decide: Callable[[FakeReplenishmentUnitOfWork], Awaitable[Decision[R]]]
    ) -> R:
        decision = await decide(self.uow)
        self.emitted += decision.emitted
        return decision.value


@pytest.fixture
def runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
async def client(runtime: FakeRuntime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        runtime,  # type: ignore[arg-type]
        title="stock",
        description="replenishment routes alone",
        routers=[replenishment_http.router],
        errors=replenishment_http.ERROR_STATUSES,
    )
    api.trust_every_caller(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://stock") as c:
        yield c


async def proposed(
    repo: FakeReplenishmentRepository, sku: str, location: str = GLN, number: int = 1
) -> Proposal:
    [proposal] = await repo.add_proposals(
        [
            Proposal(
                id=f"p-{sku}-{number}",
                sku=sku,
                location=location,
                quantity=Decimal(60),
                unit="EA",
                reorder_point=Decimal("54.87"),
                order_up_to=Decimal("54.87"),
                safety_stock=Decimal("9.87"),
                inventory_position=Decimal(-3),
                available_to_promise=Decimal(0),
                created_at=NOW,
            )
        ]
    )
    return proposal


async def test_an_open_proposal_is_accepted_with_who_and_why(
    client: httpx.AsyncClient, runtime: FakeRuntime
) -> None:
    proposal = await proposed(runtime.uow.replenishment, "MUG-1")

    response = await client.post(
        f"/v1/proposals/{proposal.id}/accept", json={"decided_by": "ana", "note": "PO 4711"}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["decided_by"], body["note"]) == ("accepted", "ana", "PO 4711")
    assert body["decided_at"] is not None
    assert runtime.emitted == [], "a decision publishes nothing (no contract for it yet)"


async def test_a_proposal_is_dismissed_without_a_body(
    client: httpx.AsyncClient, runtime: FakeRuntime
) -> None:
    proposal = await proposed(runtime.uow.replenishment, "MUG-1")

    response = await client.post(f"/v1/proposals/{proposal.id}/dismiss")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "dismissed"
    assert response.json()["note"] is None


@pytest.mark.parametrize("second", ["accept", "dismiss"])
async def test_deciding_a_decided_proposal_is_a_409(
    client: httpx.AsyncClient, runtime: FakeRuntime, second: str
) -> None:
    proposal = await proposed(runtime.uow.replenishment, "MUG-1")
    assert (await client.post(f"/v1/proposals/{proposal.id}/dismiss")).status_code == 200

    response = await client.post(f"/v1/proposals/{proposal.id}/{second}", json={})

    assert response.status_code == 409
    assert response.json() == {
        "detail": f"proposal {proposal.id} is dismissed, not open: it was decided already"
    }


async def test_an_unknown_proposal_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/proposals/nope/accept")

    assert response.status_code == 404
    assert response.json() == {"detail": "no replenishment proposal nope"}


async def test_a_decision_with_an_unknown_field_is_a_422_naming_it(
    client: httpx.AsyncClient, runtime: FakeRuntime
) -> None:
    proposal = await proposed(runtime.uow.replenishment, "MUG-1")

    response = await client.post(f"/v1/proposals/{proposal.id}/accept", json={"by": "ana"})

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "by"]]


async def test_proposals_are_listed_by_filter_a_page_at_a_time(
    client: httpx.AsyncClient, runtime: FakeRuntime
) -> None:
    repo = runtime.uow.replenishment
    first = await proposed(repo, "MUG-1")
    second = await proposed(repo, "MUG-2")
    await proposed(repo, "MUG-3", location=GLN_2)
    await repo.save_decision(first.dismiss(NOW))

    page = (await client.get("/v1/proposals", params={"status": "open", "limit": 1})).json()
    assert [p["id"] for p in page["proposals"]] == [second.id]
    rest = await client.get(
        "/v1/proposals", params={"status": "open", "limit": 1, "after": page["next_after"]}
    )
    assert [p["sku"] for p in rest.json()["proposals"]] == ["MUG-3"]
    at_gln = (await client.get("/v1/proposals", params={"location": GLN})).json()
    assert [p["sku"] for p in at_gln["proposals"]] == ["MUG-1", "MUG-2"]
    assert at_gln["next_after"] is None
    assert at_gln["proposals"][0]["quantity"] == "60"


async def test_a_position_without_a_policy_shows_the_default_from_settings(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"/v1/policies/BOX/2-PACK/{GLN}")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["sku"], body["location"], body["source"]) == ("BOX/2-PACK", GLN, "default")
    assert (body["lead_time_days"], body["review_period_days"], body["service_level"]) == (
        3,
        7,
        0.95,
    )


async def test_a_policy_set_is_read_back_and_used_by_the_next_review(
    client: httpx.AsyncClient, runtime: FakeRuntime
) -> None:
    policy = {
        "lead_time_days": 10,
        "review_period_days": 7,
        "service_level": 0.98,
        "min_quantity": "20",
        "max_quantity": "120",
        "order_multiple": "12",
    }

    put = await client.put(f"/v1/policies/MUG-1/{GLN}", json=policy)

    assert put.status_code == 200, put.text
    got = (await client.get(f"/v1/policies/MUG-1/{GLN}")).json()
    assert got["source"] == "set"
    assert (got["min_quantity"], got["max_quantity"], got["order_multiple"]) == ("20", "120", "12")
    figures = PositionFigures("MUG-1", GLN, "EA", Decimal(20), Decimal(0), Decimal(0), Decimal(0))
    [proposal] = await review(runtime.uow.replenishment, [figures], NOW)
    assert proposal.quantity == Decimal(108), "120 - 20 = 100 -> 9 packs of 12"


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"lead_time_days": -1}, ["body", "lead_time_days"]),
        ({"lead_time_days": "7"}, ["body", "lead_time_days"]),
        ({"review_period_days": 3651}, ["body", "review_period_days"]),
        ({"service_level": 0.9995}, ["body", "service_level"]),
        ({"order_multiple": "0"}, ["body", "order_multiple"]),
        ({"min_quantity": "50", "max_quantity": "40"}, ["body", "max_quantity"]),
        ({"min_quantity": "50"}, ["body", "max_quantity"]),
        ({"min_quantity": "-1", "max_quantity": "40"}, ["body", "min_quantity"]),
        ({"colour": "red"}, ["body", "colour"]),
    ],
)
async def test_a_policy_breaking_a_rule_is_a_422_naming_the_field(
    client: httpx.AsyncClient, runtime: FakeRuntime, change: dict[str, Any], loc: list[str]
) -> None:
    policy = {"lead_time_days": 5, "review_period_days": 4, "service_level": 0.95} | change

    response = await client.put(f"/v1/policies/MUG-1/{GLN}", json=policy)

    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [loc]
    assert await runtime.uow.replenishment.policies([("MUG-1", GLN)]) == {}


async def test_a_policy_for_an_invalid_gln_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/policies/MUG-1/4012345000008")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "location"]


async def test_the_openapi_document_has_examples_and_the_error_statuses(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()

    accept = document["paths"]["/v1/proposals/{proposal_id}/accept"]["post"]
    assert {"200", "404", "409", "422"} <= set(accept["responses"])
    assert accept["requestBody"]["content"]["application/json"]["examples"]
    put = document["paths"]["/v1/policies/{sku}/{location}"]["put"]
    assert set(put["requestBody"]["content"]["application/json"]["examples"]) == {
        "computed",
        "min_max",
    }
    assert document["components"]["schemas"]["ProposalView"]["examples"]

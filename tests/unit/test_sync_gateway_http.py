"""The gateway's offer over HTTP, on the in-memory projection: the view carries
``pre_order``, ``successor`` and the successor's title (docs/sync-gateway.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest

from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import (
    LifecycleStage,
    LifecycleStageChanged,
    ProductChanged,
    ProductStatus,
    PublishedContent,
    WorkflowState,
)
from skuhub_contracts.subscriptions import OfferFact
from skuhub_runtime.handling import Incoming
from skuhub_runtime.http import create_app
from skuhub_sync_gateway.domain.offers import Channel
from skuhub_sync_gateway.entrypoints.handlers import project
from skuhub_sync_gateway.entrypoints.http import build_router
from skuhub_sync_gateway.settings import SyncGatewaySettings
from tests.fakes.sync_gateway import FakeGatewayUnitOfWork

R = TypeVar("R")
ORIGIN = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)


class FakeRuntime:
    """What the routes use of the service runtime: settings and read."""

    service = "sync_gateway"

    def __init__(self) -> None:
        self.settings = SyncGatewaySettings()
        self.uow = FakeGatewayUnitOfWork()

    async def read(self, query: Callable[[FakeGatewayUnitOfWork], Awaitable[R]]) -> R:
        return await query(self.uow)


@pytest.fixture
def runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
async def client(runtime: FakeRuntime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        runtime,  # type: ignore[arg-type]
        title="sync gateway",
        description="offer routes alone",
        routers=[build_router([Channel(id="web", name="Web shop", locale="en_US")])],
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        yield c


def incoming(payload: OfferFact) -> Incoming[OfferFact]:
    return Incoming(Envelope(payload, origin_time=ORIGIN), "/skuhub/sync_gateway")


def published(sku: str, title: str) -> Incoming[OfferFact]:
    return incoming(
        ProductChanged(
            sku=sku,
            product_version=1,
            status=ProductStatus.ENABLED,
            title={"en_US": title},
            workflow=WorkflowState.PUBLISHED,
            published=PublishedContent(version=1, title={"en_US": title}),
            changed_at=ORIGIN,
        )
    )


def entered(sku: str, stage: LifecycleStage, **fields: Any) -> Incoming[OfferFact]:
    return incoming(
        LifecycleStageChanged(
            sku=sku, stage=stage, stage_version=1, reason="r", changed_at=ORIGIN, **fields
        )
    )


async def test_a_pre_order_offer_is_sellable_without_stock(
    runtime: FakeRuntime, client: httpx.AsyncClient
) -> None:
    await project(
        runtime.uow,
        [published("MUG-1", "Mug"), entered("MUG-1", LifecycleStage.PRE_LAUNCH, pre_order=True)],
    )

    body = (await client.get("/v1/channels/web/offers/MUG-1")).json()

    assert {k: body[k] for k in ("stage", "sellable", "available", "pre_order", "successor")} == {
        "stage": "pre-launch",
        "sellable": True,
        "available": "0",
        "pre_order": True,
        "successor": None,
    }
    assert body["not_sellable_because"] == []


async def test_a_discontinued_offer_names_its_successor_and_its_title(
    runtime: FakeRuntime, client: httpx.AsyncClient
) -> None:
    await project(
        runtime.uow,
        [
            published("MUG-1", "Mug"),
            entered("MUG-1", LifecycleStage.DISCONTINUED, successor="MUG-2"),
            published("MUG-2", "Mug, second edition"),
        ],
    )

    response = await client.get("/v1/channels/web/offers/MUG-1")

    assert response.status_code == 200
    body = response.json()
    assert (body["sellable"], body["pre_order"]) == (False, False)
    assert (body["successor"], body["successor_title"]) == ("MUG-2", "Mug, second edition")


async def test_a_retired_offer_names_a_successor_the_gateway_does_not_know(
    runtime: FakeRuntime, client: httpx.AsyncClient
) -> None:
    await project(
        runtime.uow,
        [published("MUG-1", "Mug"), entered("MUG-1", LifecycleStage.RETIRED, successor="MUG-9")],
    )

    body = (await client.get("/v1/channels/web/offers/MUG-1")).json()

    assert (body["stage"], body["sellable"]) == ("retired", False)
    assert (body["successor"], body["successor_title"]) == ("MUG-9", None)
    assert "lifecycle stage retired does not sell" in body["not_sellable_because"]


async def test_the_openapi_document_describes_the_new_fields(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()

    fields = document["components"]["schemas"]["OfferView"]["properties"]
    assert {"pre_order", "successor", "successor_title"} <= set(fields)
    assert "pre-order" in fields["pre_order"]["description"]
    assert "retired" in fields["stage"]["description"]

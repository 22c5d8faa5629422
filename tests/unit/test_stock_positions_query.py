"""POST /v1/positions/query: many SKUs' positions in one read, with their versions and each
location's ATP (docs/stock.md, "Positions of many SKUs"); the figures are written by hand."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import httpx
from fastapi import FastAPI

from skuhub_runtime.http import get_runtime
from skuhub_stock.domain.kits import KitPosition
from skuhub_stock.domain.positions import Position
from skuhub_stock.entrypoints.http import router
from tests import api
from tests.fakes.stock import FakeLedgerRepository, FakeStockUnitOfWork

GLN_A = "4012345000009"
GLN_B = "4012345000016"


async def query(ledger: FakeLedgerRepository, body: dict[str, Any]) -> httpx.Response:
    app = FastAPI()
    app.include_router(router)
    uow = FakeStockUnitOfWork(ledger=ledger)

    async def read(q: Callable[[FakeStockUnitOfWork], Awaitable[Any]]) -> Any:
        return await q(uow)

    app.dependency_overrides[get_runtime] = lambda: SimpleNamespace(read=read)

    api.trust_every_caller(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://stock") as client:
        return await client.post("/v1/positions/query", json=body)


async def test_many_skus_come_back_in_the_order_asked_with_versions_and_location_atp() -> None:
    ledger = FakeLedgerRepository(
        # MUG-1 at A: lot L1 has 10 on hand, 3 reserved (free 7); the lot-less position
        # owes 2 (on hand -2): the location's ATP is 7 - 2 = 5, not 7.
        Position("MUG-1", GLN_A, "L1", "EA", on_hand=Decimal(10), reserved=Decimal(3), version=4),
        Position("MUG-1", GLN_A, "", "EA", on_hand=Decimal(-2), version=2),
        Position("MUG-1", GLN_B, "", "EA", on_hand=Decimal(6), version=1),
        Position("CUP-9", GLN_B, "", "EA", on_hand=Decimal(1), version=7),
    )
    await ledger.save_kit_positions([KitPosition("SET-2", GLN_A, "EA", Decimal(3), 5)])

    response = await query(ledger, {"skus": ["MUG-1", "NONE-1", "SET-2", "MUG-1"]})

    assert response.status_code == 200, response.text
    answers = response.json()["skus"]
    assert [a["sku"] for a in answers] == ["MUG-1", "NONE-1", "SET-2"]
    mug, none, kit = answers
    assert [(p["location"], p["lot"], p["version"]) for p in mug["positions"]] == [
        (GLN_A, None, 2),
        (GLN_A, "L1", 4),
        (GLN_B, None, 1),
    ]
    assert {loc["location"]: Decimal(loc["available_to_promise"]) for loc in mug["locations"]} == {
        GLN_A: 5,
        GLN_B: 6,
    }
    assert Decimal(mug["available_to_promise"]) == 11
    assert mug["kit"] is False
    assert (none["positions"], none["locations"], none["kit"]) == ([], [], False)
    assert kit["kit"] is True
    [kit_position] = kit["positions"]
    assert (kit_position["location"], kit_position["lot"], kit_position["version"]) == (
        GLN_A,
        None,
        5,
    )
    assert Decimal(kit_position["available_to_promise"]) == 3
    assert Decimal(kit_position["on_hand"]) == 0
    assert Decimal(kit["available_to_promise"]) == 3


async def test_more_than_500_skus_or_none_is_refused_naming_the_limit() -> None:
    too_many = await query(FakeLedgerRepository(), {"skus": [f"S-{i}" for i in range(501)]})
    empty = await query(FakeLedgerRepository(), {"skus": []})
    bad = await query(FakeLedgerRepository(), {"skus": ["no spaces allowed"]})

    assert too_many.status_code == 422
    assert "500" in too_many.text
    assert empty.status_code == 422
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "skus", 0]

"""The gateway's reconciler on real PostgreSQL against the stock service's own positions
query over a real stock ledger (its router, on its own schema): verdicts, their age, the
sweep, and the latency figures of GET /v1/kpis. Expected values are written by hand from
docs/kpis.md."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from skuhub_contracts.events import (
    ProductChanged,
    StockLevelChanged,
)
from skuhub_runtime.handling import Incoming
from skuhub_runtime.http import get_runtime
from skuhub_runtime.reconcile import Tally, Verdict
from skuhub_runtime.reconcile_store import PositionCheckStore, SweepStore
from skuhub_runtime.reconciler import SWEEP, Reconciler
from skuhub_runtime.stock_positions import StockPositionsClient
from skuhub_runtime.transactions import Transactions
from skuhub_stock.adapters.ledger_repository import SqlLedgerRepository
from skuhub_stock.adapters.ledger_repository import sql_unit_of_work as stock_unit_of_work
from skuhub_stock.domain.movements import Movement, MovementKind
from skuhub_stock.entrypoints.app import MIGRATIONS as STOCK_MIGRATIONS
from skuhub_stock.entrypoints.http import router as stock_router
from skuhub_stock.service_layer.ports import ReportedMovement
from skuhub_stock.service_layer.record_movements import record_movements
from skuhub_stock.settings import StockSettings
from skuhub_sync_gateway.adapters.tables import offer_changes
from skuhub_sync_gateway.adapters.unit_of_work import SqlUnitOfWork, sql_unit_of_work
from skuhub_sync_gateway.domain.channels import Allocation, Channel
from skuhub_sync_gateway.entrypoints.app import MIGRATIONS as GATEWAY_MIGRATIONS
from skuhub_sync_gateway.entrypoints.handlers import project, rebuild
from skuhub_sync_gateway.entrypoints.reconciler import GatewayReconciliation
from skuhub_sync_gateway.service_layer.channels import delete_channel, seed_channels
from skuhub_sync_gateway.settings import SyncGatewaySettings
from tests import api
from tests.gateway_facts import published_product, stock_level
from tests.harness import Infrastructure, migrated_schema

pytestmark = pytest.mark.integration

T = TypeVar("T")
A = "4012345000009"
T0 = datetime.now(UTC).replace(microsecond=0)
GRACE = timedelta(seconds=5)
D = Decimal


@pytest.fixture
async def gateway_db(infra: Infrastructure) -> AsyncIterator[AsyncEngine]:
    async with migrated_schema(infra, SyncGatewaySettings, GATEWAY_MIGRATIONS) as engine:
        yield engine


@pytest.fixture
async def stock_db(infra: Infrastructure) -> AsyncIterator[AsyncEngine]:
    async with migrated_schema(infra, StockSettings, STOCK_MIGRATIONS) as engine:
        yield engine


async def in_tx(engine: AsyncEngine, work: Callable[[SqlUnitOfWork], Awaitable[T]]) -> T:
    async with engine.begin() as conn:
        return await work(sql_unit_of_work(conn))


async def receive(stock: AsyncEngine, sku: str, quantity: int) -> None:
    """A receipt the stock ledger applies (a new version of the SKU's position at A)."""
    movement = ReportedMovement(
        event_id=str(uuid.uuid4()),
        source_system="it",
        source_sequence=uuid.uuid4().int % 10**12,
        movement=Movement(MovementKind.RECEIPT, sku, A, D(quantity), "EA", datetime.now(UTC)),
    )
    async with stock.begin() as conn:
        await record_movements(SqlLedgerRepository(conn), [movement], datetime.now(UTC))


def product(sku: str) -> Incoming[ProductChanged]:
    return published_product(sku, 1, {"en_US": sku}, T0)


def level(sku: str, atp: int, version: int) -> Incoming[StockLevelChanged]:
    """What stock published for ``sku`` at A after receipts of ``atp`` units in all."""
    return stock_level(sku, A, atp, version, at=T0)


async def gateway_knows(gateway: AsyncEngine, *batch: Incoming[Any]) -> None:
    await in_tx(gateway, lambda uow: project(uow, list(batch)))


def stock_api(stock: AsyncEngine) -> StockPositionsClient:
    """The stock service's positions query, served by its own router over its schema."""
    app = FastAPI()
    app.include_router(stock_router)

    async def read(query: Callable[[Any], Awaitable[Any]]) -> Any:
        async with stock.connect() as conn:
            return await query(stock_unit_of_work(conn))

    app.dependency_overrides[get_runtime] = lambda: SimpleNamespace(read=read)

    api.trust_every_caller(app)
    return StockPositionsClient("http://stock", transport=httpx.ASGITransport(app=app))


def reconciler(
    gateway: AsyncEngine, stock: StockPositionsClient, batch: int
) -> Reconciler[Any, Any]:
    settings = SyncGatewaySettings(reconcile_batch=batch)
    runtime: Any = SimpleNamespace(
        service="sync_gateway",
        transactions=Transactions(
            gateway, sql_unit_of_work, settings=settings, after_commit=lambda _: None
        ),
    )
    return Reconciler(runtime, GatewayReconciliation(GRACE), stock, settings)


async def verdicts(gateway: AsyncEngine) -> dict[str, tuple[str, datetime, Any, Any]]:
    async with gateway.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT sku, verdict, since, offer_available, expected_available "
                "FROM offer_checks WHERE channel = 'web'"
            )
        )
        return {r.sku: (r.verdict, r.since, r.offer_available, r.expected_available) for r in rows}


async def test_a_pass_finds_matches_late_events_and_wrong_figures_and_ages_them(
    gateway_db: AsyncEngine, stock_db: AsyncEngine
) -> None:
    await in_tx(gateway_db, lambda uow: seed_channels(uow, [Channel("web", "Web")], T0))
    await in_tx(gateway_db, lambda uow: rebuild(uow, T0, batch=100))
    # SKU-1: both sides at version 1, 12 units. SKU-2: stock at version 2 (5 + 3), the
    # gateway only saw version 1 (5). SKU-3: the same version 1, but the gateway holds 4
    # where the ledger has 6 (a wrong figure, as a bug would leave it).
    await receive(stock_db, "SKU-1", 12)
    await receive(stock_db, "SKU-2", 5)
    await receive(stock_db, "SKU-2", 3)
    await receive(stock_db, "SKU-3", 6)
    await gateway_knows(
        gateway_db,
        *(product(s) for s in ("SKU-1", "SKU-2", "SKU-3")),
        level("SKU-1", 12, 1),
        level("SKU-2", 5, 1),
        level("SKU-3", 4, 1),
    )

    async with stock_api(stock_db) as stock:
        checker = reconciler(gateway_db, stock, batch=2)
        # Two SKUs a step: SKU-1 and SKU-2, then SKU-3, which ends the pass.
        assert await checker.step(T0) is True
        assert await checker.step(T0) is False

        found = await verdicts(gateway_db)
        assert found == {
            "SKU-1": ("match", T0, D(12), D(12)),
            "SKU-2": ("in_flight", T0, D(5), None),
            "SKU-3": ("mismatch", T0, D(4), D(6)),
        }
        async with gateway_db.connect() as conn:
            positions = await PositionCheckStore(conn).tally()
            tallies = await sql_unit_of_work(conn).accuracy.tallies()
            sweep = await SweepStore(conn).get(SWEEP)
        assert positions == Tally(matches=1, mismatches=1, in_flight=1, oldest_mismatch_since=T0)
        assert tallies == {
            "web": Tally(matches=1, mismatches=1, in_flight=1, oldest_mismatch_since=T0)
        }
        assert sweep is not None
        assert (sweep.last_skus, sweep.last_finished_at) == (3, T0)

        # Six seconds on, SKU-2's version 2 has still not arrived: past the 5 s grace it
        # is a mismatch, aged from its first sighting; SKU-3 keeps its first sighting too.
        later = T0 + timedelta(seconds=6)
        while await checker.step(later):
            pass
        found = await verdicts(gateway_db)
        assert found["SKU-2"][:2] == ("mismatch", T0)
        assert found["SKU-3"][:2] == ("mismatch", T0)
        [late] = [
            m
            for m in await in_tx(gateway_db, lambda uow: uow.accuracy.mismatches("web", 10))
            if m.sku == "SKU-2"
        ]
        assert "not applied within 5 s" in late.standing.reason

        # The event arrives: the next pass finds SKU-2 matching, from then on.
        await gateway_knows(gateway_db, level("SKU-2", 8, 2))
        again = T0 + timedelta(seconds=7)
        while await checker.step(again):
            pass
        assert (await verdicts(gateway_db))["SKU-2"] == ("match", again, D(8), D(8))


async def test_a_position_the_gateway_has_and_stock_never_had_is_a_mismatch(
    gateway_db: AsyncEngine, stock_db: AsyncEngine
) -> None:
    await in_tx(gateway_db, lambda uow: seed_channels(uow, [Channel("web", "Web")], T0))
    await in_tx(gateway_db, lambda uow: rebuild(uow, T0, batch=100))
    await gateway_knows(gateway_db, product("GHOST-1"), level("GHOST-1", 3, 1))

    async with stock_api(stock_db) as stock:
        assert await reconciler(gateway_db, stock, batch=10).step(T0) is False

    assert (await verdicts(gateway_db))["GHOST-1"][0] == "mismatch"
    async with gateway_db.connect() as conn:
        [wrong] = await PositionCheckStore(conn).mismatches(10)
    assert (wrong.sku, wrong.standing.verdict) == ("GHOST-1", Verdict.MISMATCH)
    assert wrong.standing.reason == (
        f"projection ahead of stock at {A}: version 1 here, none at stock"
    )


async def test_latency_is_summarised_per_channel_and_cause_over_the_recent_changes(
    gateway_db: AsyncEngine,
) -> None:
    now = datetime.now(UTC)
    # web/stock: 0.1, 0.2, 0.3, 0.4 and 1.0 s; web/product: 2 s; one web/stock change
    # older than the window (60 s back) does not count.
    rows = [
        ("web", "stock", 0.1, 0),
        ("web", "stock", 0.2, 0),
        ("web", "stock", 0.3, 0),
        ("web", "stock", 0.4, 0),
        ("web", "stock", 1.0, 0),
        ("web", "product", 2.0, 0),
        ("web", "stock", 50.0, 60),
    ]
    await in_tx(gateway_db, lambda uow: uow.channels.add(Channel("web", "Web"), now))
    async with gateway_db.begin() as conn:
        await conn.execute(
            sa.insert(offer_changes),
            [
                {
                    "seq": seq,
                    "channel": channel,
                    "sku": f"SKU-{seq}",
                    "offer_version": 1,
                    "offer": {},
                    "cause": cause,
                    "origin_time": now - timedelta(seconds=back + latency),
                    "changed_at": now - timedelta(seconds=back),
                }
                for seq, (channel, cause, latency, back) in enumerate(rows, start=1)
            ],
        )

    found = await in_tx(
        gateway_db, lambda uow: uow.accuracy.latency(now - timedelta(seconds=30), 100)
    )

    by_cause = {s.cause: s for s in found}
    assert set(by_cause) == {"product", "stock"}
    stock = by_cause["stock"]
    assert stock.count == 5
    # percentile_cont interpolates: p90 at rank 0.9 x 4 = 3.6, between 0.4 and 1.0.
    assert stock.p50_s == pytest.approx(0.3)
    assert stock.p90_s == pytest.approx(0.76)
    assert stock.p99_s == pytest.approx(0.976)
    assert stock.max_s == pytest.approx(1.0)
    assert by_cause["product"].count == 1
    assert by_cause["product"].p99_s == pytest.approx(2.0)
    # Only the newest 3 changes of the channel: 2.0, 50 (outside the window) and 1.0 s.
    sampled = await in_tx(
        gateway_db, lambda uow: uow.accuracy.latency(now - timedelta(seconds=30), 3)
    )
    assert {(s.cause, s.count) for s in sampled} == {("product", 1), ("stock", 1)}


async def test_verdicts_of_a_removed_channel_and_of_a_sku_that_left_are_forgotten(
    gateway_db: AsyncEngine, stock_db: AsyncEngine
) -> None:
    web = Channel("web", "Web", allocation=Allocation(share=D("0.5")))
    market = Channel("market", "Market", allocation=Allocation(share=D("0.5")))
    await in_tx(gateway_db, lambda uow: seed_channels(uow, [web, market], T0))
    await in_tx(gateway_db, lambda uow: rebuild(uow, T0, batch=100))
    for sku in ("SKU-1", "SKU-2", "SKU-3"):
        await receive(stock_db, sku, 4)
        await gateway_knows(gateway_db, product(sku), level(sku, 4, 1))

    async def checked() -> tuple[set[tuple[str, str]], set[str]]:
        async with gateway_db.connect() as conn:
            offers = await conn.execute(sa.text("SELECT channel, sku FROM offer_checks"))
            positions = await conn.execute(sa.text("SELECT sku FROM position_checks"))
            return {(r.channel, r.sku) for r in offers}, set(positions.scalars())

    async with stock_api(stock_db) as stock:
        checker = reconciler(gateway_db, stock, batch=2)
        while await checker.step(T0):
            pass
        assert await checked() == (
            {(c, s) for c in ("web", "market") for s in ("SKU-1", "SKU-2", "SKU-3")},
            {"SKU-1", "SKU-2", "SKU-3"},
        )

        # The market channel goes (with its offers), and SKU-2 leaves the gateway entirely.
        await in_tx(gateway_db, lambda uow: delete_channel(uow, "market", T0))
        await in_tx(gateway_db, lambda uow: rebuild(uow, T0, batch=100))
        async with gateway_db.begin() as conn:
            for table in ("offers", "positions", "products"):
                await conn.execute(sa.text(f"DELETE FROM {table} WHERE sku = 'SKU-2'"))
        later = T0 + timedelta(seconds=1)
        while await checker.step(later):
            pass

    assert await checked() == ({("web", "SKU-1"), ("web", "SKU-3")}, {"SKU-1", "SKU-3"})
    assert (await verdicts(gateway_db))["SKU-1"][0] == "match"

"""The lifecycle's handlers on real PostgreSQL: gates that refuse and then pass once the
catalog and stock facts arrive, products moved as a whole, metrics rebuilt by a replay.

Expected values are written by hand from docs/lifecycle.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import (
    ChannelCompleteness,
    InventoryPolicyChanged,
    LifecycleStageChanged,
    ProductChanged,
    ProductStatus,
    StockLevelChanged,
    WorkflowState,
)
from skuhub_lifecycle.adapters.unit_of_work import SqlUnitOfWork, sql_unit_of_work
from skuhub_lifecycle.domain.stages import GateNotMetError, Move, Stage
from skuhub_lifecycle.entrypoints.app import MIGRATIONS
from skuhub_lifecycle.entrypoints.handlers import (
    on_product_changed,
    on_stock_level_changed,
    run_review,
    transition,
    transition_variants,
)
from skuhub_lifecycle.service_layer.metrics import sku_metrics
from skuhub_lifecycle.service_layer.transitions import ProductGateNotMetError
from skuhub_lifecycle.settings import LifecycleSettings
from skuhub_runtime.handling import Incoming
from skuhub_runtime.origin import Origin
from tests.harness import Infrastructure, migrated_schema

pytestmark = pytest.mark.integration

T = TypeVar("T")
NOW = datetime.now(UTC).replace(microsecond=0)
GLN = "0614141000012"
ORIGIN = Origin(None, None, source="/test")


@pytest.fixture
async def engine(infra: Infrastructure) -> AsyncIterator[AsyncEngine]:
    async with migrated_schema(infra, LifecycleSettings, MIGRATIONS) as engine:
        yield engine


async def in_tx(engine: AsyncEngine, work: Callable[[SqlUnitOfWork], Awaitable[T]]) -> T:
    async with engine.begin() as conn:
        return await work(sql_unit_of_work(conn))


def incoming(payload: Any) -> Incoming[Any]:
    return Incoming(Envelope(payload, origin_time=NOW), "/test")


def product(sku: str, version: int, **fields: Any) -> Incoming[ProductChanged]:
    return incoming(
        ProductChanged(
            sku=sku,
            product_version=version,
            status=ProductStatus.ENABLED,
            title={"en_US": "Mug"},
            changed_at=NOW,
            **fields,
        )
    )


def ready(sku: str, version: int, **fields: Any) -> Incoming[ProductChanged]:
    return product(
        sku,
        version,
        workflow=WorkflowState.APPROVED,
        completeness=[
            ChannelCompleteness(channel="web", locale="en_US", ratio=Decimal(1), complete=True)
        ],
        **fields,
    )


def position(sku: str, version: int, at: datetime, **figures: int) -> Incoming[StockLevelChanged]:
    values = {
        "on_hand": 0,
        "reserved": 0,
        "quality_hold": 0,
        "expired": 0,
        "in_transit": 0,
        "incoming": 0,
        "available_to_promise": 0,
        "location_available_to_promise": 0,
        "received": 0,
        "shipped": 0,
        "returned": 0,
        "scrapped": 0,
        "lost_sales": 0,
    } | figures
    return incoming(
        StockLevelChanged(
            sku=sku,
            location=GLN,
            unit="EA",
            position_version=version,
            caused_by=f"m-{sku}-{version}",
            changed_at=at,
            **{k: Decimal(v) for k, v in values.items()},
        )
    )


async def move(engine: AsyncEngine, sku: str, target: Stage, **options: Any) -> list[Any]:
    decided = await in_tx(
        engine,
        lambda uow: transition(
            uow, sku, Move(target, "test", "maria", **options), ORIGIN, expected_version=None
        ),
    )
    return [e.payload for e in decided.emitted]


async def test_enabling_in_the_catalog_does_not_activate(engine: AsyncEngine) -> None:
    outcome = await in_tx(engine, lambda uow: on_product_changed(uow, [product("MUG-1", 1)]))

    stages = [e.payload for e in outcome.emitted if isinstance(e.payload, LifecycleStageChanged)]
    assert [(s.stage.value, s.previous_stage) for s in stages] == [("concept", None)]


async def test_a_gate_refuses_then_passes_once_catalog_and_stock_facts_arrive(
    engine: AsyncEngine,
) -> None:
    await in_tx(engine, lambda uow: on_product_changed(uow, [product("MUG-1", 1)]))
    await move(engine, "MUG-1", Stage.DEVELOPMENT)

    with pytest.raises(GateNotMetError) as refused:
        await move(engine, "MUG-1", Stage.PRE_LAUNCH)
    assert refused.value.unmet == [
        "the product is not approved in the catalog (submit and approve it)"
    ]

    await in_tx(engine, lambda uow: on_product_changed(uow, [ready("MUG-1", 2)]))
    await move(engine, "MUG-1", Stage.PRE_LAUNCH)
    with pytest.raises(GateNotMetError) as no_stock:
        await move(engine, "MUG-1", Stage.ACTIVE)
    assert no_stock.value.unmet == [
        "no stock available to promise at any location, and pre-order is not enabled"
    ]

    stocked = position(
        "MUG-1",
        1,
        NOW,
        on_hand=5,
        available_to_promise=5,
        location_available_to_promise=5,
        received=5,
    )
    await in_tx(engine, lambda uow: on_stock_level_changed(uow, [stocked]))
    emitted = await move(engine, "MUG-1", Stage.ACTIVE)

    stage = next(e for e in emitted if isinstance(e, LifecycleStageChanged))
    policy = next(e for e in emitted if isinstance(e, InventoryPolicyChanged))
    assert (stage.previous_stage, stage.stage, stage.actor) == ("pre-launch", "active", "maria")
    assert (policy.stage, policy.replenish, policy.buffer_multiplier) == ("active", True, 0.5)
    history = await in_tx(engine, lambda uow: uow.stages.history("MUG-1"))
    assert [c.stage.value for c in history] == ["concept", "development", "pre-launch", "active"]


async def test_a_product_moves_all_its_variants_or_none(engine: AsyncEngine) -> None:
    variants = [
        ready("MUG-RED", 1, product_model="MUG"),
        product("MUG-BLUE", 1, product_model="MUG"),
    ]
    await in_tx(engine, lambda uow: on_product_changed(uow, variants))
    await in_tx(
        engine,
        lambda uow: transition_variants(uow, "MUG", Move(Stage.DEVELOPMENT, "go", "maria"), ORIGIN),
    )

    with pytest.raises(ProductGateNotMetError) as refused:
        await in_tx(
            engine,
            lambda uow: transition_variants(
                uow, "MUG", Move(Stage.PRE_LAUNCH, "go", "maria"), ORIGIN
            ),
        )

    assert "MUG-BLUE: the product is not approved" in refused.value.reason
    assert "MUG-RED" not in refused.value.reason
    stages = await in_tx(engine, lambda uow: uow.stages.of_model("MUG"))
    assert [(s.sku, s.stage) for s in stages] == [
        ("MUG-BLUE", Stage.DEVELOPMENT),
        ("MUG-RED", Stage.DEVELOPMENT),
    ]


async def test_discontinuing_names_a_known_successor_without_a_cycle(engine: AsyncEngine) -> None:
    await in_tx(engine, lambda uow: on_product_changed(uow, [product("OLD", 1), product("NEW", 1)]))
    async with engine.begin() as conn:  # put OLD in phase-out and NEW discontinued -> OLD
        await conn.execute(text("UPDATE stages SET stage = 'phase-out' WHERE sku = 'OLD'"))
        await conn.execute(
            text("UPDATE stages SET stage = 'discontinued', successor = 'OLD' WHERE sku = 'NEW'")
        )

    with pytest.raises(GateNotMetError) as cycle:
        await move(engine, "OLD", Stage.DISCONTINUED, successor="NEW")
    with pytest.raises(GateNotMetError) as unknown:
        await move(engine, "OLD", Stage.DISCONTINUED, successor="GHOST")
    emitted = await move(engine, "OLD", Stage.DISCONTINUED, no_successor=True)

    assert cycle.value.unmet == ["successor NEW would form a cycle: OLD -> NEW -> OLD"]
    assert unknown.value.unmet == [
        "successor GHOST is unknown to the lifecycle (not in the catalog)"
    ]
    assert [(e.stage, e.successor) for e in emitted if isinstance(e, LifecycleStageChanged)] == [
        ("discontinued", None)
    ]


async def test_metrics_rebuild_to_the_same_values_from_a_replay(engine: AsyncEngine) -> None:
    day = timedelta(days=1)
    start = datetime.combine(NOW.date() - 6 * day, datetime.min.time(), tzinfo=UTC)
    history = [
        position("MUG-1", 1, start, on_hand=10, location_available_to_promise=10, received=10),
        position("MUG-1", 2, start + 2 * day, on_hand=0, received=10, shipped=10),
        position("MUG-1", 3, start + 3 * day, on_hand=0, received=10, shipped=10, lost_sales=2),
    ]
    await in_tx(engine, lambda uow: on_product_changed(uow, [product("MUG-1", 1)]))
    async with engine.begin() as conn:  # active since the window opened
        await conn.execute(
            text(
                "INSERT INTO stage_history VALUES ('MUG-1', 2, 'active', 'concept', 'launch', "
                "'maria', false, NULL, :at)"
            ),
            {"at": start},
        )
    await in_tx(engine, lambda uow: on_stock_level_changed(uow, history))
    replayed = await in_tx(engine, lambda uow: on_stock_level_changed(uow, history))
    now = start + 6 * day

    found = await in_tx(engine, lambda uow: sku_metrics(uow, "MUG-1", [7], now=now))

    assert len(replayed.ignored) == 3
    assert found is not None
    week = found[0][0]
    assert (week.units_sold, week.units_received, week.lost_sales) == tuple(
        map(Decimal, (10, 10, 2))
    )
    assert week.fill_rate == Decimal(10) / 12
    # closes: day 0: 10, day 1: 10 (carried), days 2-6: 0 -> 20 / 7
    assert week.average_on_hand == Decimal(20) / 7
    assert week.stockout_rate == pytest.approx(4 / 6)  # zero ATP from day 2 on, of six selling


async def test_a_review_classifies_and_publishes_the_policy(engine: AsyncEngine) -> None:
    await in_tx(
        engine, lambda uow: on_product_changed(uow, [product("FAST", 1), product("SLOW", 1)])
    )
    yesterday = NOW - timedelta(days=1)
    reports = [
        position("FAST", 1, yesterday, on_hand=5, received=100, shipped=95),
        position("SLOW", 1, yesterday, on_hand=5, received=6, shipped=1),
    ]
    await in_tx(engine, lambda uow: on_stock_level_changed(uow, reports))

    decided = await in_tx(engine, lambda uow: run_review(uow, NOW))

    classes = await in_tx(engine, lambda uow: uow.policies.classes())
    assert {sku: c.velocity.value for sku, c in classes.items()} == {"FAST": "A", "SLOW": "C"}
    policies = [e.payload for e in decided.emitted if isinstance(e.payload, InventoryPolicyChanged)]
    assert sorted((p.sku, p.velocity_class, p.replenish) for p in policies) == [
        ("FAST", "A", False),
        ("SLOW", "C", False),
    ]


async def test_a_variant_that_left_early_stays_out_of_its_products_later_moves(
    engine: AsyncEngine,
) -> None:
    variants = [ready("CUP-RED", 1, product_model="CUP"), ready("CUP-BLUE", 1, product_model="CUP")]
    await in_tx(engine, lambda uow: on_product_changed(uow, variants))
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE stages SET stage = 'active' WHERE sku = 'CUP-RED'"))
        await conn.execute(text("UPDATE stages SET stage = 'discontinued' WHERE sku = 'CUP-BLUE'"))

    mature = Move(Stage.MATURE, "steady", "maria")
    decided = await in_tx(engine, lambda uow: transition_variants(uow, "CUP", mature, ORIGIN))

    assert sorted((s.sku, s.stage) for s in decided.value) == [
        ("CUP-BLUE", Stage.DISCONTINUED),
        ("CUP-RED", Stage.MATURE),
    ]
    history = await in_tx(engine, lambda uow: uow.stages.model_history("CUP"))
    assert sorted((c.sku, c.version, c.stage.value) for c in history) == [
        ("CUP-BLUE", 1, "concept"),
        ("CUP-RED", 1, "concept"),
        ("CUP-RED", 2, "mature"),  # the UPDATEs above wrote no history
    ]

"""The replenishment repository's lifecycle policies, on the in-memory fake and PostgreSQL.

As ``test_replenishment_repository.py``: each ``repo`` is parametrized over ``["fake", "sql"]``
(the SQL adapter in one transaction on a freshly migrated stock schema), and expected values
come from the port's docstrings (``service_layer/replenishment.py``), never from either
implementation. Queuing the SKU's places for review is PostgreSQL's alone (the queue is the
ledger's; the fake only lists the SKUs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from skuhub_stock.adapters.ledger_repository import SqlLedgerRepository
from skuhub_stock.adapters.replenishment_repository import SqlReplenishmentRepository
from skuhub_stock.adapters.tables import positions
from skuhub_stock.domain.replenishment import LifecyclePolicy, PositionFigures, ReplenishmentPolicy
from skuhub_stock.entrypoints.app import MIGRATIONS
from skuhub_stock.service_layer import replenishment as use_cases
from skuhub_stock.service_layer.replenishment import ReplenishmentDefaults, ReplenishmentRepository
from skuhub_stock.settings import StockSettings
from tests.fakes.replenishment import FakeReplenishmentRepository
from tests.harness import Infrastructure, migrated_schema

pytestmark = pytest.mark.integration

GLN = "4012345000009"
GLN_2 = "0614141000012"
CEST = timezone(timedelta(hours=2))
T0 = datetime(2025, 3, 30, 3, 0, 0, 123_456, tzinfo=CEST)
"""Not UTC on purpose: times come back in UTC, as PostgreSQL returns them."""


def fresh_schema(infra: Infrastructure) -> AbstractAsyncContextManager[AsyncEngine]:
    return migrated_schema(infra, StockSettings, MIGRATIONS)


@pytest.fixture(params=["fake", "sql"])
async def repo(request: pytest.FixtureRequest) -> AsyncIterator[ReplenishmentRepository]:
    if request.param == "fake":
        yield FakeReplenishmentRepository()
        return
    infra: Infrastructure = request.getfixturevalue("infra")
    async with fresh_schema(infra) as engine, engine.connect() as conn:
        await conn.begin()
        yield SqlReplenishmentRepository(conn)


@pytest.fixture
async def conn(infra: Infrastructure) -> AsyncIterator[AsyncConnection]:
    async with fresh_schema(infra) as engine, engine.connect() as connection:
        await connection.begin()
        yield connection


def policy(version: int = 1, sku: str = "MUG-1", **fields: Any) -> LifecyclePolicy:
    """A mature SKU's policy, with ``fields`` changed."""
    mature = LifecyclePolicy(
        sku=sku,
        version=version,
        stage="mature",
        replenish=True,
        service_level=0.975,
        review_period_days=14,
        buffer_multiplier=1.25,
        changed_at=T0,
        velocity_class="B",
        variability_class="Y",
        reason="mature, class BY",
    )
    return dataclasses.replace(mature, **fields)


# ------------------------------------------------------------------------------- the contract


async def test_a_lifecycle_policy_is_absent_until_stored_and_comes_back_in_utc(
    repo: ReplenishmentRepository,
) -> None:
    assert await repo.lifecycle_policies(["MUG-1"]) == {}
    bare = policy(1, "MUG-2", replenish=False, velocity_class=None, variability_class=None)

    stored = await repo.save_lifecycle_policies([policy(1), bare])

    assert stored == {"MUG-1", "MUG-2"}
    found = await repo.lifecycle_policies(["MUG-1", "MUG-2", "MUG-3"])
    assert found == {
        "MUG-1": policy(1, changed_at=T0.astimezone(UTC)),
        "MUG-2": policy(
            1,
            "MUG-2",
            replenish=False,
            velocity_class=None,
            variability_class=None,
            changed_at=T0.astimezone(UTC),
        ),
    }
    assert found["MUG-1"].changed_at.utcoffset() == timedelta(0)
    assert await repo.lifecycle_policies([]) == {}


async def test_only_a_higher_version_replaces_the_stored_policy(
    repo: ReplenishmentRepository,
) -> None:
    await repo.save_lifecycle_policies([policy(2, stage="active")])

    equal = await repo.save_lifecycle_policies([policy(2, stage="mature")])
    older = await repo.save_lifecycle_policies([policy(1, stage="concept", replenish=False)])
    kept = (await repo.lifecycle_policies(["MUG-1"]))["MUG-1"]
    newer = await repo.save_lifecycle_policies(
        [policy(3, stage="phase-out", replenish=False), policy(1, "MUG-2")]
    )

    assert (equal, older) == (set(), set()), "a re-delivery and a late arrival change nothing"
    assert (kept.version, kept.stage) == (2, "active")
    assert newer == {"MUG-1", "MUG-2"}
    found = (await repo.lifecycle_policies(["MUG-1"]))["MUG-1"]
    assert (found.version, found.stage, found.replenish) == (3, "phase-out", False)


async def test_review_over_the_repository_holds_a_held_sku_and_applies_the_lifecycle_terms(
    repo: ReplenishmentRepository,
) -> None:
    now = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
    # Days 5 .. 1 before today: 3, 3, 5, 7, 7 -> mean 5, sigma_d 2 (see tests/unit).
    for sku in ("MUG-1", "MUG-2"):
        for back, quantity in zip(range(5, 0, -1), [3, 3, 5, 7, 7], strict=True):
            await use_cases.note_demand(
                repo, sku, GLN, now.date() - timedelta(days=back), shipped=Decimal(quantity)
            )
    await repo.save_lifecycle_policies(
        [
            policy(1, "MUG-1", replenish=False, stage="pre-launch"),
            policy(1, "MUG-2", service_level=0.95, review_period_days=4, buffer_multiplier=2.0),
        ]
    )
    defaults = ReplenishmentDefaults(
        policy=ReplenishmentPolicy(lead_time_days=5, review_period_days=10, service_level=0.8)
    )
    ip_minus_3 = (Decimal(20), Decimal(38), Decimal(5), Decimal(10))

    made = await use_cases.review(
        repo,
        [
            PositionFigures("MUG-1", GLN, "EA", *ip_minus_3),
            PositionFigures("MUG-2", GLN, "EA", *ip_minus_3),
        ],
        now,
        defaults=defaults,
    )

    # MUG-1 held. MUG-2: L = 5 (default), R = 4, z = 1.645, buffer 2:
    # SS = 2 x 1.645 x 2 x 3 = 19.74; ROP = 5 x 9 + 19.74 = 64.74; IP = -3; 67.74 -> 68
    assert [(p.sku, p.quantity) for p in made] == [("MUG-2", Decimal(68))]
    assert float(made[0].safety_stock) == pytest.approx(19.74, abs=0.01)


# ------------------------------------------------------------------ PostgreSQL: the review queue


async def test_a_stored_policy_queues_every_place_of_its_sku_for_review(
    conn: AsyncConnection,
) -> None:
    now = datetime.now(UTC)
    await conn.execute(
        sa.insert(positions),
        [
            {
                "sku": sku,
                "location": location,
                "lot": lot,
                "unit": "EA",
                "on_hand": Decimal(1),
                "reserved": Decimal(0),
                "in_transit": Decimal(0),
                "version": 1,
                "updated_at": now,
            }
            for sku, location, lot in [
                ("MUG-1", GLN, ""),
                ("MUG-1", GLN, "L1"),
                ("MUG-1", GLN_2, ""),
                ("MUG-2", GLN, ""),
            ]
        ],
    )
    repo = SqlReplenishmentRepository(conn)
    ledger = SqlLedgerRepository(conn)

    await repo.save_lifecycle_policies([policy(2), policy(1, "MUG-3")])

    assert await ledger.take_review_queue(100) == [("MUG-1", GLN_2), ("MUG-1", GLN)]
    await repo.save_lifecycle_policies([policy(2), policy(1)])
    assert await ledger.take_review_queue(100) == [], "a policy not stored queues nothing"

"""The replenishment repository's contract, run against the in-memory fake and PostgreSQL.

Each ``repo`` is parametrized over ``["fake", "sql"]``: the fake from ``tests/fakes``, or the
SQL adapter in one transaction on a freshly migrated stock schema. Expected values come from
the port's docstrings (``service_layer/replenishment.py``), never from either implementation.
The one open proposal per position across transactions is PostgreSQL's alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from skuhub_stock.adapters.replenishment_repository import SqlReplenishmentRepository
from skuhub_stock.domain.replenishment import (
    DailyDemand,
    DemandNoted,
    PositionFigures,
    Proposal,
    ProposalStatus,
    ReplenishmentPolicy,
)
from skuhub_stock.entrypoints.app import MIGRATIONS
from skuhub_stock.service_layer import replenishment as use_cases
from skuhub_stock.service_layer.replenishment import DemandHistory, ReplenishmentRepository
from skuhub_stock.settings import StockSettings
from tests.fakes.replenishment import FakeReplenishmentRepository
from tests.harness import Infrastructure, migrated_schema

pytestmark = pytest.mark.integration

GLN = "4012345000009"
GLN_2 = "0614141000012"
CEST = timezone(timedelta(hours=2))
T0 = datetime(2025, 3, 30, 3, 0, 0, 123_456, tzinfo=CEST)
"""Not UTC on purpose: times come back in UTC, as PostgreSQL returns them."""
D1 = date(2025, 3, 1)


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
async def stock_db(infra: Infrastructure) -> AsyncIterator[AsyncEngine]:
    async with fresh_schema(infra) as engine:
        yield engine


def proposal(
    number: int,
    sku: str = "MUG-1",
    location: str = GLN,
    *,
    created_at: datetime = T0,
) -> Proposal:
    return Proposal(
        id=f"p-{number}",
        sku=sku,
        location=location,
        quantity=Decimal("60"),
        unit="EA",
        reorder_point=Decimal("54.869122"),
        order_up_to=Decimal("54.869122"),
        safety_stock=Decimal("9.869122"),
        inventory_position=Decimal("-3.5"),
        available_to_promise=Decimal(0),
        created_at=created_at,
    )


# ------------------------------------------------------------------------------------- demand


async def test_demand_is_added_to_its_day(repo: ReplenishmentRepository) -> None:
    await repo.add_demand([DemandNoted("MUG-1", GLN, D1, shipped=Decimal(3))])
    await repo.add_demand(
        [
            DemandNoted("MUG-1", GLN, D1, shipped=Decimal("1.5"), lost_sales=Decimal(2)),
            DemandNoted("MUG-1", GLN, D1 + timedelta(days=2), lost_sales=Decimal(1)),
            DemandNoted("MUG-1", GLN_2, D1, shipped=Decimal(9)),
        ]
    )

    found = await repo.demand_history(
        [("MUG-1", GLN), ("MUG-1", GLN_2), ("MUG-2", GLN)], since=D1, until=D1 + timedelta(days=9)
    )

    assert found == {
        ("MUG-1", GLN): DemandHistory(
            D1,
            [
                DailyDemand(D1, Decimal("4.5"), Decimal(2)),
                DailyDemand(D1 + timedelta(days=2), Decimal(0), Decimal(1)),
            ],
        ),
        ("MUG-1", GLN_2): DemandHistory(D1, [DailyDemand(D1, Decimal(9), Decimal(0))]),
    }


async def test_history_is_the_window_and_the_first_day_ever(repo: ReplenishmentRepository) -> None:
    days = [D1 + timedelta(days=n) for n in range(5)]
    await repo.add_demand(
        [DemandNoted("MUG-1", GLN, d, shipped=Decimal(n + 1)) for n, d in enumerate(days)]
    )

    found = await repo.demand_history([("MUG-1", GLN)], since=days[1], until=days[3])

    assert found[("MUG-1", GLN)].first_day == D1
    assert [d.day for d in found[("MUG-1", GLN)].days] == days[1:4]
    assert await repo.demand_history([], since=D1, until=D1) == {}


# ------------------------------------------------------------------------------------- policies


async def test_a_policy_is_absent_until_set_and_then_replaced(
    repo: ReplenishmentRepository,
) -> None:
    assert await repo.policies([("MUG-1", GLN)]) == {}
    min_max = ReplenishmentPolicy(
        lead_time_days=10,
        review_period_days=0,
        service_level=0.975,
        min_quantity=Decimal("20.5"),
        max_quantity=Decimal(120),
        order_multiple=Decimal("0.25"),
    )

    await repo.save_policy("MUG-1", GLN, ReplenishmentPolicy())
    await repo.save_policy("MUG-1", GLN, min_max)

    assert await repo.policies([("MUG-1", GLN), ("MUG-1", GLN_2)]) == {("MUG-1", GLN): min_max}


# ------------------------------------------------------------------------------------ proposals


async def test_a_position_has_one_open_proposal_at_a_time(repo: ReplenishmentRepository) -> None:
    stored = await repo.add_proposals([proposal(1), proposal(2, location=GLN_2)])
    assert [p.id for p in stored] == ["p-1", "p-2"]

    again = await repo.add_proposals([proposal(3), proposal(1, sku="MUG-9")])

    assert again == [], "p-3: MUG-1 has p-1 open; the second: the id p-1 is taken"
    latest = await repo.latest_proposals([("MUG-1", GLN), ("MUG-1", GLN_2), ("MUG-2", GLN)])
    assert {k: p.id for k, p in latest.items()} == {("MUG-1", GLN): "p-1", ("MUG-1", GLN_2): "p-2"}


async def test_a_proposal_comes_back_as_stored_in_utc_and_with_its_decision(
    repo: ReplenishmentRepository,
) -> None:
    await repo.add_proposals([proposal(1)])
    found = await repo.proposal("p-1", lock=True)
    assert found == proposal(1, created_at=T0.astimezone(UTC))
    assert found is not None
    assert found.created_at.tzinfo is not None
    assert found.created_at.utcoffset() == timedelta(0)

    decided = found.accept(T0 + timedelta(hours=1), by="ana", note="PO 4711\nurgent")
    await repo.save_decision(decided)

    again = await repo.proposal("p-1")
    assert again is not None
    assert (again.status, again.decided_at, again.decided_by, again.note) == (
        ProposalStatus.ACCEPTED,
        T0 + timedelta(hours=1),
        "ana",
        "PO 4711\nurgent",
    )
    assert await repo.proposal("p-404") is None


async def test_after_a_decision_the_newest_proposal_is_the_latest(
    repo: ReplenishmentRepository,
) -> None:
    [first] = await repo.add_proposals([proposal(1)])
    await repo.save_decision(first.dismiss(T0))
    await repo.add_proposals([proposal(2, created_at=T0 + timedelta(days=8))])

    latest = await repo.latest_proposals([("MUG-1", GLN)])

    assert latest[("MUG-1", GLN)].id == "p-2"
    assert latest[("MUG-1", GLN)].status is ProposalStatus.OPEN


async def test_proposals_are_listed_oldest_first_by_filter_a_page_at_a_time(
    repo: ReplenishmentRepository,
) -> None:
    stored = await repo.add_proposals(
        [proposal(1), proposal(2, sku="MUG-2"), proposal(3, location=GLN_2)]
    )
    await repo.save_decision(stored[0].accept(T0))

    everything = await repo.list_proposals()
    assert [p.id for _, p in everything] == ["p-1", "p-2", "p-3"]
    seqs = [seq for seq, _ in everything]
    assert seqs == sorted(set(seqs)), "places increase"

    first_page = await repo.list_proposals(status=ProposalStatus.OPEN, limit=1)
    assert [p.id for _, p in first_page] == ["p-2"]
    second = await repo.list_proposals(status=ProposalStatus.OPEN, after=first_page[-1][0])
    assert [p.id for _, p in second] == ["p-3"]
    assert [p.id for _, p in await repo.list_proposals(sku="MUG-1")] == ["p-1", "p-3"]
    assert [p.id for _, p in await repo.list_proposals(sku="MUG-1", location=GLN_2)] == ["p-3"]
    assert [p.id for _, p in await repo.list_proposals(status=ProposalStatus.DISMISSED)] == []


# ------------------------------------------------------------------------- the use case on it


async def test_review_over_the_repository_proposes_from_recorded_demand(
    repo: ReplenishmentRepository,
) -> None:
    now = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
    # Days 5 .. 1 before today: 3, 3, 5, 7, 7 -> mean 5, sigma_d 2 (see tests/unit).
    for back, quantity in zip(range(5, 0, -1), [3, 3, 5, 7, 7], strict=True):
        await use_cases.note_demand(
            repo, "MUG-1", GLN, now.date() - timedelta(days=back), shipped=Decimal(quantity)
        )
    await repo.save_policy(
        "MUG-1", GLN, ReplenishmentPolicy(lead_time_days=5, review_period_days=4)
    )
    figures = PositionFigures("MUG-1", GLN, "EA", Decimal(20), Decimal(38), Decimal(5), Decimal(10))

    [made] = await use_cases.review(repo, [figures], now)

    # ROP = 5 x 9 + 1.645 x 2 x 3 = 54.87; IP = -3; 57.87 -> 58
    assert made.quantity == Decimal(58)
    assert await use_cases.review(repo, [figures], now) == []
    [(_, listed)] = await repo.list_proposals(status=ProposalStatus.OPEN)
    assert listed.id == made.id


# ------------------------------------------------------------------ PostgreSQL across transactions


async def test_two_transactions_cannot_both_open_a_proposal_for_a_position(
    stock_db: AsyncEngine,
) -> None:
    async with stock_db.connect() as one, stock_db.connect() as two:
        await one.begin()
        await two.begin()
        await SqlReplenishmentRepository(one).add_proposals([proposal(1)])
        await one.commit()
        stored = await SqlReplenishmentRepository(two).add_proposals([proposal(2)])
        await two.commit()

    assert stored == []

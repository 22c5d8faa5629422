"""The gateway's handler and channel use cases on real PostgreSQL: stored offers whose
version grows only when they change, allocation between channels that share locations,
kits, the locale chain, successors, and channel changes that rebuild every offer.

Expected values are written by hand from docs/sync-gateway.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from skuhub_contracts.events import (
    ChannelCompleteness,
    ChannelOfferChanged,
    KitComponent,
    LifecycleStage,
    LifecycleStageChanged,
    OfferCause,
    ProductChanged,
    PublishedContent,
    StockLevelChanged,
    WorkflowState,
)
from skuhub_runtime.handling import Incoming, Outcome
from skuhub_sync_gateway.adapters.tables import offer_changes
from skuhub_sync_gateway.adapters.unit_of_work import SqlUnitOfWork, sql_unit_of_work
from skuhub_sync_gateway.domain.channels import Allocation, AllocationRule, Channel
from skuhub_sync_gateway.entrypoints.app import MIGRATIONS
from skuhub_sync_gateway.entrypoints.handlers import project, rebuild
from skuhub_sync_gateway.service_layer.channels import (
    UnsafeChannelsError,
    create_channel,
    replace_channel,
    seed_channels,
)
from skuhub_sync_gateway.settings import SyncGatewaySettings
from tests.gateway_facts import published_product, stage_of, stock_level
from tests.harness import Infrastructure, migrated_schema

pytestmark = pytest.mark.integration

T = TypeVar("T")
NOW = datetime.now(UTC).replace(microsecond=0)
A = "4012345000009"
B = "0614141000012"
D = Decimal
WEB = Channel(code="web", name="Web", locales=("en_US",), allocation=Allocation(share=D("0.5")))
MARKET = Channel(
    code="market",
    name="Marketplace",
    locales=("fr_FR",),
    locations=frozenset({A}),
    allocation=Allocation(share=D("0.5")),
)


@pytest.fixture
async def engine(infra: Infrastructure) -> AsyncIterator[AsyncEngine]:
    async with migrated_schema(infra, SyncGatewaySettings, MIGRATIONS) as engine:
        yield engine


async def in_tx(engine: AsyncEngine, work: Callable[[SqlUnitOfWork], Awaitable[T]]) -> T:
    async with engine.begin() as conn:
        return await work(sql_unit_of_work(conn))


async def channels(engine: AsyncEngine, *wanted: Channel) -> None:
    await in_tx(engine, lambda uow: seed_channels(uow, list(wanted), NOW))
    # The seed asks for a rebuild; nothing is stored yet, so it ends at once.
    await in_tx(engine, lambda uow: rebuild(uow, NOW, batch=100))


def product(sku: str, version: int = 1, **fields: Any) -> Incoming[ProductChanged]:
    """``sku`` at ``version``, published as it is unless ``fields`` say otherwise."""
    title = fields.pop("title", {"en_US": "Mug", "fr_FR": "Tasse"})
    return published_product(sku, version, title, NOW, **fields)


def stage(
    sku: str, name: LifecycleStage = LifecycleStage.ACTIVE, version: int = 1, **fields: Any
) -> Incoming[LifecycleStageChanged]:
    return stage_of(sku, name, version, NOW, **fields)


def level(
    sku: str, location: str, atp: str, version: int, *, kit: bool = False, origin: datetime = NOW
) -> Incoming[StockLevelChanged]:
    # Each version a second later on stock's clock: the newest report of a location counts.
    at = NOW + timedelta(seconds=version)
    return stock_level(sku, location, atp, version, at=at, origin=origin, kit=kit)


async def handle(engine: AsyncEngine, *batch: Incoming[Any]) -> list[ChannelOfferChanged]:
    outcome: Outcome = await in_tx(engine, lambda uow: project(uow, list(batch)))
    return [e.payload for e in outcome.emitted]


def by_channel(events: list[ChannelOfferChanged]) -> dict[str, ChannelOfferChanged]:
    return {e.channel: e for e in events}


async def test_two_channels_sharing_a_location_together_never_promise_more_than_its_atp(
    engine: AsyncEngine,
) -> None:
    await channels(engine, WEB, MARKET)
    await handle(engine, product("MUG-1"), stage("MUG-1"))

    offers = by_channel(await handle(engine, level("MUG-1", A, "7", 1), level("MUG-1", B, "4", 1)))

    # At A (7): web floor(3.5) = 3, market 3. At B (4): only web sells there: floor(2) = 2.
    assert (offers["web"].available, offers["market"].available) == (D(5), D(3))
    assert offers["web"].available + offers["market"].available <= D(7) + D(4)
    assert (offers["market"].title, offers["web"].title) == ("Tasse", "Mug")


async def test_an_offer_version_grows_only_when_the_offer_changes(engine: AsyncEngine) -> None:
    await channels(engine, WEB)
    first = await handle(engine, product("MUG-1"), stage("MUG-1"), level("MUG-1", A, "8", 1))
    assert [(e.offer_version, e.available) for e in first] == [(1, D(4))]

    # 9 units: floor(4.5) = 4 again, so the channel sees no change and nothing is published.
    assert await handle(engine, level("MUG-1", A, "9", 2)) == []
    # A re-delivered older fact changes nothing either.
    assert await handle(engine, level("MUG-1", A, "8", 1)) == []

    [changed] = await handle(engine, level("MUG-1", A, "10", 3))
    assert (changed.offer_version, changed.available, changed.cause) == (2, D(5), OfferCause.STOCK)

    async with engine.connect() as conn:
        log = (await conn.execute(sa.select(offer_changes.c.offer_version))).scalars().all()
    assert log == [1, 2]


async def test_a_kit_offer_has_the_kits_its_components_make(engine: AsyncEngine) -> None:
    """Stock publishes a kit's availability as positions of the kit (``kit: true``)."""
    await channels(engine, Channel(code="web", name="Web"))
    kit = product("GIFT-1", kit_components=[KitComponent(sku="MUG-1", quantity=D(2))])
    await handle(engine, kit, stage("GIFT-1"))

    [offer] = await handle(engine, level("GIFT-1", A, "3", 1, kit=True))

    assert (offer.available, offer.kit, offer.sellable) == (D(3), True, True)


async def test_a_channel_whose_locales_have_no_title_shows_none_and_does_not_sell(
    engine: AsyncEngine,
) -> None:
    german = Channel(code="de", name="Shop DE", locales=("de_DE", "de_AT"))
    await channels(engine, german)

    [offer] = await handle(
        engine, product("MUG-1", title={"en_US": "Mug"}), stage("MUG-1"), level("MUG-1", A, "5", 1)
    )

    assert (offer.title, offer.content_locale, offer.sellable) == (None, None, False)
    assert offer.not_sellable_because == ["no published title in de_DE, de_AT"]


async def test_completeness_counts_as_of_the_last_published_version(engine: AsyncEngine) -> None:
    await channels(engine, Channel(code="web", name="Web"))
    gaps = [
        ChannelCompleteness(
            channel="web", locale="en_US", ratio=D("0.5"), complete=False, missing=["brand"]
        )
    ]
    await handle(engine, product("MUG-1"), stage("MUG-1"), level("MUG-1", A, "5", 1))

    # A draft with gaps (workflow in review) does not stop what is published.
    draft = product(
        "MUG-1",
        2,
        completeness=gaps,
        workflow=WorkflowState.IN_REVIEW,
        published=PublishedContent(version=1, title={"en_US": "Mug", "fr_FR": "Tasse"}),
    )
    assert await handle(engine, draft) == []
    [published] = await handle(engine, product("MUG-1", 3, completeness=gaps))

    assert published.not_sellable_because == ["incomplete for web/en_US: brand missing"]


async def test_a_successor_s_title_change_reaches_the_offers_of_what_it_replaces(
    engine: AsyncEngine,
) -> None:
    await channels(engine, Channel(code="web", name="Web"))
    await handle(
        engine,
        product("MUG-1"),
        product("MUG-2", title={"en_US": "Mug 2"}),
        stage("MUG-1", LifecycleStage.DISCONTINUED, successor="MUG-2"),
    )

    events = await handle(engine, product("MUG-2", 2, title={"en_US": "Mug Two"}))

    old = {e.sku: e for e in events}["MUG-1"]
    assert (old.successor, old.successor_title, old.cause) == (
        "MUG-2",
        "Mug Two",
        OfferCause.PRODUCT,
    )


async def test_a_channel_change_rebuilds_every_offer_and_publishes_the_changed_ones(
    engine: AsyncEngine,
) -> None:
    await channels(engine, WEB)
    await handle(engine, product("MUG-1"), stage("MUG-1"), level("MUG-1", A, "10", 1))

    wider = Channel(code="web", name="Web", allocation=Allocation(share=D(1)))
    await in_tx(engine, lambda uow: replace_channel(uow, wider, 1, NOW))
    decision = await in_tx(engine, lambda uow: rebuild(uow, NOW, batch=100))
    [event] = [e.payload for e in decision.emitted]

    assert (event.available, event.offer_version, event.cause) == (D(10), 2, OfferCause.CHANNEL)
    finished = await in_tx(engine, lambda uow: rebuild(uow, NOW, batch=100))
    assert (finished.value, list(finished.emitted)) == (False, [])


async def test_a_channel_that_would_promise_a_unit_twice_is_refused(engine: AsyncEngine) -> None:
    await channels(engine, WEB, MARKET)
    greedy = Channel(
        code="outlet",
        name="Outlet",
        locations=frozenset({A}),
        allocation=Allocation(rule=AllocationRule.SHARE, share=D("0.1")),
    )

    with pytest.raises(UnsafeChannelsError) as refused:
        await in_tx(engine, lambda uow: create_channel(uow, greedy, NOW))

    assert refused.value.problems == [
        f"at {A} the shares of market, web, outlet add up to 1.1, more than all of the stock; "
        "lower them or make a channel shared-pool"
    ]


async def test_a_rebuild_walks_every_sku_known_by_any_fact_once_in_order(
    engine: AsyncEngine,
) -> None:
    await channels(engine, Channel(code="web", name="Web"))
    await handle(
        engine,
        product("A-1"),
        level("B-2", A, "1", 1),
        level("B-2", B, "1", 1),
        stage("C-3"),
    )

    async def known(after: str, limit: int) -> list[str]:
        return await in_tx(engine, lambda uow: uow.projection.known_skus(after, limit))

    assert await known("", 2) == ["A-1", "B-2"]
    assert await known("B-2", 10) == ["C-3"]
    assert await known("C-3", 10) == []

"""Webhook fan-out, claims and records on real PostgreSQL (adapters/webhook_repository.py
with the use cases of service_layer/webhooks.py), the offer change log written directly.

Expected values are written by hand from docs/webhooks.md: exactly one delivery per
subscription and offer version, whoever fans out and however often; a SKU's versions are
claimed one at a time, oldest first; a lease keeps a delivery from being claimed twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from skuhub_sync_gateway.adapters.tables import offer_changes, webhook_deliveries
from skuhub_sync_gateway.adapters.unit_of_work import SqlUnitOfWork, sql_unit_of_work
from skuhub_sync_gateway.domain.channels import Allocation, Channel
from skuhub_sync_gateway.domain.webhooks import DeliveryStatus, RetryPolicy, SubscriptionStatus
from skuhub_sync_gateway.entrypoints.app import MIGRATIONS
from skuhub_sync_gateway.service_layer.channels import delete_channel, seed_channels
from skuhub_sync_gateway.service_layer.webhooks import (
    NewSubscription,
    SendResult,
    claim_deliveries,
    create_subscription,
    fan_out,
    record_attempts,
)
from skuhub_sync_gateway.settings import SyncGatewaySettings
from tests.harness import Infrastructure, migrated_schema

pytestmark = pytest.mark.integration

T = TypeVar("T")
NOW = datetime.now(UTC).replace(microsecond=0)
HALF = Allocation(share=Decimal("0.5"))
POLICY = RetryPolicy(
    base_s=10.0, max_delay_s=60.0, max_attempts=3, pause_after_failures=2, probe_interval_s=30.0
)


@pytest.fixture
async def engine(infra: Infrastructure) -> AsyncIterator[AsyncEngine]:
    async with migrated_schema(infra, SyncGatewaySettings, MIGRATIONS) as engine:
        await in_tx(
            engine,
            lambda uow: seed_channels(
                uow,
                [
                    Channel(code="web", name="Web", allocation=HALF),
                    Channel(code="pos", name="POS", allocation=HALF),
                ],
                NOW,
            ),
        )
        yield engine


async def in_tx(engine: AsyncEngine, work: Callable[[SqlUnitOfWork], Awaitable[T]]) -> T:
    async with engine.begin() as conn:
        return await work(sql_unit_of_work(conn))


async def log(engine: AsyncEngine, channel: str, *changes: tuple[str, int, bool]) -> None:
    """Append (sku, offer_version, sellable) changes to the channel's offer change log."""
    async with engine.begin() as conn:
        for sku, version, sellable in changes:
            seq = (await conn.execute(sa.select(sa.func.nextval("offer_change_seq")))).scalar()
            await conn.execute(
                sa.insert(offer_changes).values(
                    seq=seq,
                    channel=channel,
                    sku=sku,
                    offer_version=version,
                    offer={"sku": sku, "offer_version": version, "sellable": sellable},
                    cause="stock",
                    origin_time=NOW,
                    changed_at=NOW,
                )
            )


async def subscribe(engine: AsyncEngine, channel: str = "web", **fields: Any) -> str:
    subscription_id = str(uuid.uuid4())
    new = NewSubscription(url="https://example.com/hooks", channel=channel, **fields)
    await in_tx(engine, lambda uow: create_subscription(uow, new, subscription_id, NOW))
    return subscription_id


async def deliveries(engine: AsyncEngine, subscription_id: str) -> list[tuple[str, int, str]]:
    d = webhook_deliveries
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(d.c.sku, d.c.offer_version, d.c.status)
            .where(d.c.subscription_id == uuid.UUID(subscription_id))
            .order_by(d.c.seq)
        )
        return [(r.sku, r.offer_version, r.status) for r in rows]


async def test_every_offer_version_logged_after_subscribing_becomes_one_delivery(
    engine: AsyncEngine,
) -> None:
    await log(engine, "web", ("MUG-1", 1, True))  # before the subscription: not delivered
    web = await subscribe(engine)
    pos = await subscribe(engine, "pos")
    await log(engine, "web", ("MUG-1", 2, True), ("MUG-2", 1, False))
    await log(engine, "pos", ("MUG-1", 1, True))

    moved = await in_tx(engine, lambda uow: fan_out(uow, NOW, 100))
    again = await in_tx(engine, lambda uow: fan_out(uow, NOW, 100))

    assert moved == {web: 2, pos: 1}
    assert again == {}
    assert await deliveries(engine, web) == [("MUG-1", 2, "pending"), ("MUG-2", 1, "pending")]
    assert await deliveries(engine, pos) == [("MUG-1", 1, "pending")]


async def test_behind_while_a_subscription_has_changes_of_its_channel_to_fan_out(
    engine: AsyncEngine,
) -> None:
    async def behind() -> bool:
        return await in_tx(engine, lambda uow: uow.webhooks.behind())

    assert not await behind()  # no subscription
    await log(engine, "web", ("MUG-1", 1, True))
    await subscribe(engine)
    assert not await behind()  # the change came before the subscription
    await log(engine, "pos", ("MUG-1", 1, True))
    assert not await behind()  # a change of a channel nobody subscribed to
    await log(engine, "web", ("MUG-1", 2, True))
    assert await behind()
    await in_tx(engine, lambda uow: fan_out(uow, NOW, 100))
    assert not await behind()
    await subscribe(engine, "pos")
    assert not await behind()
    await log(engine, "pos", ("MUG-2", 1, True))
    assert await behind()


async def test_a_fan_out_in_small_batches_gives_the_same_deliveries(engine: AsyncEngine) -> None:
    web = await subscribe(engine)
    await log(engine, "web", *[(f"MUG-{i}", 1, True) for i in range(5)])

    rounds = [await in_tx(engine, lambda uow: fan_out(uow, NOW, 2)) for _ in range(4)]

    assert rounds == [{web: 2}, {web: 2}, {web: 1}, {}]
    assert [sku for sku, _, _ in await deliveries(engine, web)] == [f"MUG-{i}" for i in range(5)]


async def test_concurrent_fan_outs_and_a_rewound_cursor_never_deliver_a_version_twice(
    engine: AsyncEngine,
) -> None:
    web = await subscribe(engine)
    await log(engine, "web", *[(f"MUG-{i}", v, True) for i in range(20) for v in (1, 2)])

    # Two instances at once: the subscription is locked by one, skipped by the other.
    await asyncio.gather(*[in_tx(engine, lambda uow: fan_out(uow, NOW, 1000)) for _ in range(4)])
    async with engine.begin() as conn:
        await conn.execute(sa.text("UPDATE webhook_subscriptions SET cursor = 0"))
    again = await in_tx(engine, lambda uow: fan_out(uow, NOW, 1000))

    assert again == {web: 0}  # the cursor moved; the unique constraint added nothing
    found = await deliveries(engine, web)
    assert len(found) == 40
    assert len({(sku, v) for sku, v, _ in found}) == 40


async def test_only_sellable_changes_compares_with_the_last_version_delivered_across_rounds(
    engine: AsyncEngine,
) -> None:
    flips = await subscribe(engine, only_sellable_changes=True)
    await log(engine, "web", ("MUG-1", 1, True), ("MUG-1", 2, True))
    await in_tx(engine, lambda uow: fan_out(uow, NOW, 100))
    await log(engine, "web", ("MUG-1", 3, True), ("MUG-1", 4, False), ("MUG-2", 1, False))
    await in_tx(engine, lambda uow: fan_out(uow, NOW, 100))

    assert [(sku, v) for sku, v, _ in await deliveries(engine, flips)] == [
        ("MUG-1", 1),
        ("MUG-1", 4),
        ("MUG-2", 1),
    ]


async def claim(engine: AsyncEngine, subscription_id: str, at: datetime, limit: int = 10) -> Any:
    return await in_tx(
        engine,
        lambda uow: claim_deliveries(
            uow, subscription_id, at, policy=POLICY, limit=limit, lease_s=60
        ),
    )


def result(delivery_id: str, ok: bool, at: datetime) -> SendResult:
    return SendResult(delivery_id, ok, 200 if ok else 500, None if ok else "HTTP 500", at)


async def test_a_skus_versions_are_claimed_one_at_a_time_oldest_first(engine: AsyncEngine) -> None:
    web = await subscribe(engine)
    await log(engine, "web", ("MUG-1", 1, True), ("MUG-1", 2, True), ("MUG-2", 1, True))
    await in_tx(engine, lambda uow: fan_out(uow, NOW, 100))
    at = NOW + timedelta(seconds=1)

    first = await claim(engine, web, at)
    leased = await claim(engine, web, at)
    await in_tx(
        engine,
        lambda uow: record_attempts(
            uow, web, first.deliveries, [result(d.id, True, at) for d in first.deliveries],
            at, policy=POLICY, random=lambda: 0.5,
        ),
    )  # fmt: skip
    second = await claim(engine, web, at)

    assert [(d.sku, d.offer_version) for d in first.deliveries] == [("MUG-1", 1), ("MUG-2", 1)]
    assert leased.deliveries == []  # leased: neither sent twice nor overtaken by MUG-1 v2
    assert [(d.sku, d.offer_version) for d in second.deliveries] == [("MUG-1", 2)]
    assert await deliveries(engine, web) == [
        ("MUG-1", 1, "delivered"),
        ("MUG-1", 2, "pending"),
        ("MUG-2", 1, "delivered"),
    ]


async def test_concurrent_claims_share_the_due_deliveries_without_overlap(
    engine: AsyncEngine,
) -> None:
    web = await subscribe(engine)
    await log(engine, "web", *[(f"MUG-{i:02d}", 1, True) for i in range(30)])
    await in_tx(engine, lambda uow: fan_out(uow, NOW, 100))
    at = NOW + timedelta(seconds=1)

    claims = await asyncio.gather(*[claim(engine, web, at, limit=8) for _ in range(5)])

    claimed = [d.id for c in claims for d in c.deliveries]
    assert len(claimed) == len(set(claimed)) == 30


async def test_a_failed_attempt_waits_for_its_backoff_and_holds_back_the_skus_next_version(
    engine: AsyncEngine,
) -> None:
    web = await subscribe(engine)
    await log(engine, "web", ("MUG-1", 1, True), ("MUG-1", 2, True))
    await in_tx(engine, lambda uow: fan_out(uow, NOW, 100))
    at = NOW + timedelta(seconds=1)
    [delivery] = (await claim(engine, web, at)).deliveries

    await in_tx(
        engine,
        lambda uow: record_attempts(
            uow, web, [delivery], [result(delivery.id, False, at)], at,
            policy=POLICY, random=lambda: 0.5,
        ),
    )  # fmt: skip
    # Backoff after the first failure: up to base 10 s, here half of it.
    early = await claim(engine, web, at + timedelta(seconds=4))
    due = await claim(engine, web, at + timedelta(seconds=5))

    assert early.deliveries == []
    assert early.wake_at == at + timedelta(seconds=5)
    assert [(d.id, d.offer_version, d.attempts) for d in due.deliveries] == [(delivery.id, 1, 1)]


async def test_failures_in_a_row_pause_the_subscription_and_a_probe_is_one_delivery(
    engine: AsyncEngine,
) -> None:
    web = await subscribe(engine)
    await log(engine, "web", ("MUG-1", 1, True), ("MUG-2", 1, True), ("MUG-3", 1, True))
    await in_tx(engine, lambda uow: fan_out(uow, NOW, 100))
    at = NOW + timedelta(seconds=1)
    batch = (await claim(engine, web, at, limit=2)).deliveries

    health = await in_tx(
        engine,
        lambda uow: record_attempts(
            uow, web, batch, [result(d.id, False, at) for d in batch], at,
            policy=POLICY, random=lambda: 0.0,
        ),
    )  # fmt: skip
    waiting = await claim(engine, web, at + timedelta(seconds=29))
    probe = await claim(engine, web, at + timedelta(seconds=30))
    probe_again = await claim(engine, web, at + timedelta(seconds=31))

    assert health is not None
    assert (health.status, health.next_probe_at) == (
        SubscriptionStatus.PAUSED,
        at + timedelta(seconds=30),
    )
    assert (waiting.deliveries, waiting.wake_at) == ([], at + timedelta(seconds=30))
    assert (len(probe.deliveries), probe.probe) == (1, True)
    assert probe_again.deliveries == []


async def test_removing_a_channel_removes_its_subscriptions_and_their_deliveries(
    engine: AsyncEngine,
) -> None:
    pos = await subscribe(engine, "pos")
    await log(engine, "pos", ("MUG-1", 1, True))
    await in_tx(engine, lambda uow: fan_out(uow, NOW, 100))

    await in_tx(engine, lambda uow: delete_channel(uow, "pos", NOW))

    assert await in_tx(engine, lambda uow: uow.webhooks.get(pos)) is None
    assert await deliveries(engine, pos) == []


async def test_the_delivery_log_filters_by_sku_and_status_newest_first(
    engine: AsyncEngine,
) -> None:
    web = await subscribe(engine)
    await log(engine, "web", ("MUG-1", 1, True), ("MUG-2", 1, True), ("MUG-1", 2, True))
    await in_tx(engine, lambda uow: fan_out(uow, NOW, 100))

    mug_1 = await in_tx(engine, lambda uow: uow.webhooks.deliveries(web, sku="MUG-1"))
    page = await in_tx(engine, lambda uow: uow.webhooks.deliveries(web, limit=2))
    rest = await in_tx(engine, lambda uow: uow.webhooks.deliveries(web, before=page[-1].position))
    dead = await in_tx(engine, lambda uow: uow.webhooks.deliveries(web, status=DeliveryStatus.DEAD))

    assert [(d.sku, d.offer_version) for d in mug_1] == [("MUG-1", 2), ("MUG-1", 1)]
    assert [(d.sku, d.offer_version) for d in page + rest] == [
        ("MUG-1", 2),
        ("MUG-2", 1),
        ("MUG-1", 1),
    ]
    assert dead == []
    assert all(d.id.startswith("msg_") and d.attempts == 0 for d in mug_1)

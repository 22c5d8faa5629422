"""Webhooks end to end in one process: the gateway's app (HTTP on uvicorn) on real
PostgreSQL, offers made by the gateway's own handler, the fan-out and dispatch workers
running, and real HTTP receivers on local ports that verify every signature with the
Standard Webhooks library.

Expected values are written by hand from docs/webhooks.md: one delivery per offer
version, in order per SKU within a subscription; retries until delivered; a failing
endpoint never delays another subscription; N failures in a row pause a subscription,
which then gets one probe per probe interval; dead letters replay the newest version of
a SKU unless a newer one was delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from skuhub_cli.ports import free_port
from skuhub_contracts.events import (
    LifecycleStage,
    StockLevelChanged,
)
from skuhub_runtime import migrations
from skuhub_runtime.db import create_engine
from skuhub_runtime.handling import Incoming
from skuhub_runtime.service import ServiceRuntime
from skuhub_sync_gateway.adapters.unit_of_work import sql_unit_of_work
from skuhub_sync_gateway.domain.channels import Channel
from skuhub_sync_gateway.entrypoints.app import MIGRATIONS, create_app
from skuhub_sync_gateway.entrypoints.handlers import project, rebuild
from skuhub_sync_gateway.entrypoints.webhook_workers import WebhookWorkers
from skuhub_sync_gateway.service_layer.channels import seed_channels
from skuhub_sync_gateway.service_layer.projection import GatewayUnitOfWork
from skuhub_sync_gateway.settings import SyncGatewaySettings
from tests import api
from tests.gateway_facts import published_product, stage_of, stock_level
from tests.harness import Infrastructure, wait_until_async
from tests.webhook_receiver import Answer, Receiver, Request

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
GLN = "4012345000009"
WEB = Channel(code="web", name="Web", locales=("en_US",))
FAST_RETRIES: dict[str, Any] = {
    "webhook_retry_base_s": 0.05,
    "webhook_retry_max_delay_s": 0.2,
    "webhook_max_attempts": 100,
    "webhook_pause_after_failures": 100_000,
    # Wide enough that a 2xx reaches the gateway in time on a loaded CI machine: one that
    # does not is sent again (docs/webhooks.md, "Duplicates"), which these tests rule out.
    "webhook_timeout_s": 2.0,
    "webhook_poll_interval_s": 0.2,
    "webhook_concurrency": 4,
    "webhook_batch": 20,
}


@dataclass
class Gateway:
    runtime: ServiceRuntime[GatewayUnitOfWork]
    client: httpx.AsyncClient

    async def commit(self, *batch: Incoming[Any]) -> None:
        """Apply events as the consumer does, in a transaction of this gateway process."""
        async with self.runtime.transactions.begin() as (_, uow):
            await project(uow, list(batch))

    async def subscribe(self, receiver: Receiver, **fields: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/v1/subscriptions", json={"url": receiver.url, "channel": "web", **fields}
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        receiver.secret = created["secret"]
        return created

    async def subscription(self, subscription_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/v1/subscriptions/{subscription_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def deliveries(self, subscription_id: str, **params: Any) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"/v1/subscriptions/{subscription_id}/deliveries", params=params
        )
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found


@contextlib.asynccontextmanager
async def running_gateway(infra: Infrastructure, **overrides: Any) -> AsyncIterator[Gateway]:
    """The gateway's app on a fresh schema with channel web, served on a free port, and its
    webhook workers running with ``overrides`` of the settings."""
    settings = SyncGatewaySettings(
        database_url=infra.database_url,
        kafka_bootstrap=infra.kafka_bootstrap,
        schema_prefix=f"t{uuid.uuid4().hex[:8]}_",
        channels=[],
        **overrides,
    )
    migrating = create_engine(settings)
    await migrations.upgrade(migrating, MIGRATIONS, settings.db_schema)
    await api.admit_session_token(migrating, settings.schema_prefix)
    # The service's own app, not started: Kafka stays out; the workers run below.
    app = create_app(settings)
    runtime: ServiceRuntime[GatewayUnitOfWork] = app.state.runtime
    async with runtime.transactions.begin() as (_, uow):
        await seed_channels(uow, [WEB], NOW)
    async with runtime.transactions.begin() as (_, uow):
        await rebuild(uow, NOW, batch=100)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False
        )
    )
    serving = asyncio.create_task(server.serve())
    workers = WebhookWorkers(settings, sql_unit_of_work)
    tasks = [
        asyncio.create_task(workers.fan_out(runtime.engine, runtime.commits)),
        asyncio.create_task(workers.dispatch(runtime.engine)),
    ]

    async def started() -> bool:
        return server.started

    try:
        await wait_until_async(started, within_s=10, what="uvicorn serving the gateway")
        async with api.async_client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield Gateway(runtime, client)
    finally:
        # A worker that died would show as a timeout above: say why instead.
        died = [t.exception() for t in tasks if t.done() and not t.cancelled()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        server.should_exit = True
        await serving
        await runtime.engine.dispose()
        async with migrating.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{settings.db_schema}" CASCADE'))
            await conn.execute(text(f'DROP SCHEMA "{settings.schema_prefix}access" CASCADE'))
        await migrating.dispose()
    for error in died:
        raise AssertionError("a webhook worker died") from error


@contextlib.contextmanager
def receivers(*decisions: Any, hang_s: float = 2.0) -> Iterator[list[Receiver]]:
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(Receiver(decide=decide, hang_s=hang_s).serve())
            if decide
            else stack.enter_context(Receiver(hang_s=hang_s).serve())
            for decide in decisions
        ]


def launched(sku: str) -> list[Incoming[Any]]:
    """A published, active product without stock: offer version 1 (nothing available)."""
    return [
        published_product(sku, 1, {"en_US": f"Mug {sku}"}, NOW),
        stage_of(sku, LifecycleStage.ACTIVE, 1, NOW),
    ]


def level(sku: str, atp: int, version: int) -> Incoming[StockLevelChanged]:
    """The only location's ATP: with channel web taking all of it, ``available`` = ``atp``."""
    return stock_level(sku, GLN, atp, version, at=NOW)


async def five_versions_each(gateway: Gateway, skus: list[str]) -> None:
    """Offer versions 1 to 5 of each SKU: launched (v1), then ATP 1, 2, 3, 4 (v2..v5), one
    commit each, so the fan-out meets them spread over several transactions."""
    await gateway.commit(*[i for sku in skus for i in launched(sku)])
    for atp in range(1, 5):
        await gateway.commit(*[level(sku, atp, atp) for sku in skus])


def settled(gateway: Gateway, subscription_id: str) -> Any:
    """Nothing waits: every delivery's last attempt is recorded (a receiver answers before
    the dispatcher records what it answered)."""

    async def probe() -> bool:
        state = await gateway.subscription(subscription_id)
        return bool(state["backlog"]["waiting"] == 0)

    return probe


def has_all(receiver: Receiver, expected: dict[str, list[int]]) -> Any:
    async def probe() -> bool:
        return receiver.versions() == expected

    return probe


async def test_a_receiver_that_fails_then_recovers_gets_every_version_once_in_order_per_sku(
    infra: Infrastructure,
) -> None:
    """500, then no answer in time, then garbage, over and over; a healthy subscription
    of the same channel meanwhile receives everything."""
    failing = True
    modes: list[Answer] = ["fail", "hang", "garbage"]
    tried = 0

    def flaky(_: Request) -> Answer:
        nonlocal tried
        tried += 1
        return modes[tried % 3] if failing else "ok"

    skus = ["MUG-A", "MUG-B", "MUG-C", "MUG-D"]
    expected = {sku: [1, 2, 3, 4, 5] for sku in skus}
    with receivers(flaky, None, hang_s=FAST_RETRIES["webhook_timeout_s"] + 1) as (
        flaky_receiver,
        healthy_receiver,
    ):
        async with running_gateway(infra, **FAST_RETRIES) as gateway:
            first = await gateway.subscribe(flaky_receiver, description="flaky")
            second = await gateway.subscribe(healthy_receiver)
            await five_versions_each(gateway, skus)

            await wait_until_async(
                has_all(healthy_receiver, expected),
                within_s=30,
                what="the healthy subscription receiving every version",
                seen=healthy_receiver.versions,
            )
            # Meanwhile the flaky endpoint got every kind of failure and accepted nothing.
            assert flaky_receiver.accepted == []
            for answer in modes:
                assert flaky_receiver.answered(answer), f"no {answer} answer yet"

            failing = False
            await wait_until_async(
                has_all(flaky_receiver, expected),
                within_s=30,
                what="the recovered receiver getting every version",
                seen=flaky_receiver.versions,
            )
            await wait_until_async(
                settled(gateway, first["id"]), within_s=10, what="every attempt recorded"
            )
            log = await gateway.deliveries(first["id"], sku="MUG-A")
            state = await gateway.subscription(first["id"])
            healthy_state = await gateway.subscription(second["id"])

    for receiver in (flaky_receiver, healthy_receiver):
        assert receiver.unverified == []
        ids = [r.id for r in receiver.accepted]
        assert len(ids) == len(set(ids)) == 20, "a message accepted twice"
        assert receiver.versions() == expected  # each SKU's versions in order, none twice
    # A message keeps its webhook-id on every attempt.
    failed_ids = {r.id for r in flaky_receiver.requests if r.answer != "ok"}
    assert failed_ids <= {r.id for r in flaky_receiver.accepted}
    assert {(b["type"], b["data"]["channel"]) for b in flaky_receiver.bodies.values()} == {
        ("offer.changed", "web")
    }

    assert [(d["offer_version"], d["status"]) for d in log] == [
        (5, "delivered"),
        (4, "delivered"),
        (3, "delivered"),
        (2, "delivered"),
        (1, "delivered"),
    ]
    assert all(d["last_status_code"] == 200 and d["delivered_at"] for d in log)
    assert max(d["attempts"] for d in log) > 1
    assert state["status"] == "active"
    assert state["consecutive_failures"] == 0
    assert state["last_error"] is not None
    assert state["backlog"] == {"waiting": 0, "dead": 0}
    assert healthy_state["last_error"] is None


async def test_a_failing_endpoint_is_paused_probed_once_per_interval_and_active_again_on_success(
    infra: Infrastructure,
) -> None:
    failing = True

    def down(_: Request) -> Answer:
        return "fail" if failing else "ok"

    settings = FAST_RETRIES | {
        "webhook_pause_after_failures": 3,
        "webhook_probe_interval_s": 0.5,
    }
    with receivers(down) as (receiver,):
        async with running_gateway(infra, **settings) as gateway:
            created = await gateway.subscribe(receiver)
            await gateway.commit(*launched("MUG-1"), *launched("MUG-2"), *launched("MUG-3"))

            async def paused() -> dict[str, Any] | None:
                state = await gateway.subscription(created["id"])
                return state if state["status"] == "paused" else None

            state = await wait_until_async(paused, within_s=20, what="the subscription paused")
            pause_count = len(receiver.requests)

            async def probed_three_times() -> bool:
                return len(receiver.requests) >= pause_count + 3

            await wait_until_async(probed_three_times, within_s=20, what="three probes")
            probes = receiver.requests[pause_count - 1 :]
            failing = False
            await wait_until_async(
                has_all(receiver, {"MUG-1": [1], "MUG-2": [1], "MUG-3": [1]}),
                within_s=20,
                what="everything delivered after a probe succeeded",
            )
            recovered = await gateway.subscription(created["id"])

    assert state["consecutive_failures"] >= 3
    assert state["paused_reason"].startswith("3 attempts in a row failed")
    assert state["paused_since"] is not None
    assert state["next_probe_at"] is not None
    assert state["last_error"] == "HTTP 500: receiver failed"
    # While paused, one request per probe interval (0.5 s; allowing for clock granularity).
    gaps = [b.at - a.at for a, b in itertools.pairwise(probes)]
    assert gaps, probes
    assert min(gaps) >= 0.45, gaps
    assert recovered["status"] == "active"
    assert recovered["paused_reason"] is None
    assert recovered["consecutive_failures"] == 0
    assert recovered["last_error"] == "HTTP 500: receiver failed"


async def test_resume_sends_a_paused_subscriptions_backlog_at_once(infra: Infrastructure) -> None:
    failing = True

    def down(_: Request) -> Answer:
        return "fail" if failing else "ok"

    settings = FAST_RETRIES | {
        "webhook_pause_after_failures": 2,
        "webhook_probe_interval_s": 300.0,  # no probe within the test: only resume helps
    }
    with receivers(down) as (receiver,):
        async with running_gateway(infra, **settings) as gateway:
            created = await gateway.subscribe(receiver)
            await gateway.commit(*launched("MUG-1"), *launched("MUG-2"))

            async def paused() -> bool:
                return bool((await gateway.subscription(created["id"]))["status"] == "paused")

            await wait_until_async(paused, within_s=20, what="the subscription paused")
            failing = False
            resumed = await gateway.client.post(f"/v1/subscriptions/{created['id']}/resume")
            await wait_until_async(
                has_all(receiver, {"MUG-1": [1], "MUG-2": [1]}),
                within_s=10,
                what="the backlog delivered after resume",
            )
            unknown = await gateway.client.post(f"/v1/subscriptions/{uuid.uuid4()}/resume")

    assert resumed.status_code == 200, resumed.text
    assert (resumed.json()["status"], resumed.json()["consecutive_failures"]) == ("active", 0)
    assert unknown.status_code == 404
    assert "GET /v1/subscriptions" in unknown.json()["detail"]


async def test_dead_letters_replay_the_newest_version_of_a_sku_and_supersede_the_rest(
    infra: Infrastructure,
) -> None:
    """X v1 dies and then X v2 is delivered: X v1 is superseded. Z v1 and v2 both die:
    only Z v2 is sent again."""
    refused = {("MUG-X", 1), ("MUG-Z", 1), ("MUG-Z", 2)}
    healed = False

    def picky(request: Request) -> Answer:
        return "fail" if not healed and (request.sku, request.offer_version) in refused else "ok"

    settings = FAST_RETRIES | {"webhook_max_attempts": 2}
    with receivers(picky) as (receiver,):
        async with running_gateway(infra, **settings) as gateway:
            created = await gateway.subscribe(receiver)
            sid = created["id"]
            await gateway.commit(*launched("MUG-X"), *launched("MUG-Y"), *launched("MUG-Z"))
            await gateway.commit(level("MUG-X", 5, 1), level("MUG-Z", 5, 1))

            async def three_dead() -> list[dict[str, Any]] | None:
                response = await gateway.client.get(f"/v1/subscriptions/{sid}/dead-letters")
                dead: list[dict[str, Any]] = response.json()
                return dead if len(dead) == 3 else None

            dead = await wait_until_async(three_dead, within_s=20, what="three dead letters")
            await wait_until_async(
                has_all(receiver, {"MUG-X": [2], "MUG-Y": [1]}),
                within_s=10,
                what="X v2 and Y v1 delivered",
            )
            healed = True
            replay = await gateway.client.post(f"/v1/subscriptions/{sid}/dead-letters/replay")
            await wait_until_async(
                has_all(receiver, {"MUG-X": [2], "MUG-Y": [1], "MUG-Z": [2]}),
                within_s=10,
                what="Z v2 delivered after the replay",
            )
            after = await gateway.client.get(f"/v1/subscriptions/{sid}/dead-letters")
            superseded = await gateway.deliveries(sid, status="superseded")
            z_log = await gateway.deliveries(sid, sku="MUG-Z")

    assert sorted((d["sku"], d["offer_version"], d["attempts"]) for d in dead) == [
        ("MUG-X", 1, 2),
        ("MUG-Z", 1, 2),
        ("MUG-Z", 2, 2),
    ]
    assert all(d["status"] == "dead" and d["last_status_code"] == 500 for d in dead)
    assert replay.status_code == 200, replay.text
    assert replay.json() == {"replayed": 1, "superseded": 2}
    assert after.json() == []
    assert sorted((d["sku"], d["offer_version"]) for d in superseded) == [
        ("MUG-X", 1),
        ("MUG-Z", 1),
    ]
    assert [(d["offer_version"], d["status"], d["attempts"]) for d in z_log] == [
        (2, "delivered", 1),  # attempts start over on replay
        (1, "superseded", 2),
    ]
    assert receiver.unverified == []


async def test_only_sellable_changes_receives_the_first_version_and_each_flip(
    infra: Infrastructure,
) -> None:
    with receivers(None) as (receiver,):
        async with running_gateway(infra, **FAST_RETRIES) as gateway:
            await gateway.subscribe(receiver, only_sellable_changes=True)
            # v1 not sellable (no stock), v2 sellable (3), v3 sellable (5), v4 not (0), v5 (2).
            await gateway.commit(*launched("MUG-1"))
            for version, atp in enumerate([3, 5, 0, 2], start=1):
                await gateway.commit(level("MUG-1", atp, version))
            await wait_until_async(
                has_all(receiver, {"MUG-1": [1, 2, 4, 5]}),
                within_s=20,
                what="versions 1, 2, 4 and 5",
            )

    sellable = [receiver.bodies[r.id]["data"]["sellable"] for r in receiver.accepted]
    assert sellable == [False, True, False, True]


async def test_bad_subscriptions_are_refused_with_the_reason(infra: Infrastructure) -> None:
    async with running_gateway(infra, **FAST_RETRIES) as gateway:
        post = gateway.client.post
        unknown_channel = await post(
            "/v1/subscriptions", json={"url": "https://example.com/h", "channel": "nowhere"}
        )
        ftp = await post("/v1/subscriptions", json={"url": "ftp://example.com/h", "channel": "web"})
        credentials = await post(
            "/v1/subscriptions", json={"url": "https://u:p@example.com/h", "channel": "web"}
        )
        secret = await post(
            "/v1/subscriptions",
            json={"url": "https://example.com/h", "channel": "web", "secret": "hunter2"},
        )
        event = await post(
            "/v1/subscriptions",
            json={"url": "https://example.com/h", "channel": "web", "events": ["offer.gone"]},
        )
        given = await post(
            "/v1/subscriptions",
            json={
                "url": "https://example.com/h",
                "channel": "web",
                "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            },
        )
        listed = await gateway.client.get("/v1/subscriptions")
        one = await gateway.client.get(f"/v1/subscriptions/{given.json()['id']}")
        deleted = await gateway.client.delete(f"/v1/subscriptions/{given.json()['id']}")
        gone = await gateway.client.get(f"/v1/subscriptions/{given.json()['id']}")
        not_an_id = await gateway.client.get("/v1/subscriptions/nope")

    def refusal(response: httpx.Response) -> tuple[int, list[str], str]:
        [problem] = response.json()["detail"]
        return response.status_code, problem["loc"], problem["msg"]

    assert refusal(unknown_channel) == (
        422,
        ["body", "channel"],
        "unknown channel 'nowhere'; GET /v1/channels lists them",
    )
    status, loc, msg = refusal(ftp)
    assert (status, loc) == (422, ["body", "url"])
    assert "https:// or http://" in msg
    assert "credentials" in refusal(credentials)[2]
    assert refusal(secret)[:2] == (422, ["body", "secret"])
    assert "whsec_" in refusal(secret)[2]
    assert refusal(event)[:2] == (422, ["body", "events", 0])
    assert given.status_code == 201, given.text
    assert given.json()["secret"] == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert given.headers["location"] == f"/v1/subscriptions/{given.json()['id']}"
    assert [s["id"] for s in listed.json()] == [given.json()["id"]]
    assert "secret" not in listed.json()[0]
    assert "secret" not in one.json()
    assert (one.json()["status"], one.json()["events"]) == ("active", ["offer.changed"])
    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert not_an_id.status_code == 422

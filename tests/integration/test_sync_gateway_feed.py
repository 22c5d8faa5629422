"""The change feed, its long poll and stream, the snapshot export, the Google Merchant
Center feed and the reference adapter, over HTTP against the gateway app on real
PostgreSQL (served by uvicorn in this process; offers made by the gateway's own handler).

Expected values are written by hand from docs/change-feed.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from skuhub_cli.ports import free_port
from skuhub_contracts.events import (
    LifecycleStage,
    LifecycleStageChanged,
    ProductChanged,
    PublishedContent,
    StockLevelChanged,
    WorkflowState,
)
from skuhub_runtime import migrations
from skuhub_runtime.commits import CommitSignal
from skuhub_runtime.db import create_engine
from skuhub_runtime.handling import Incoming
from skuhub_runtime.service import ServiceRuntime
from skuhub_sync_gateway.adapters.unit_of_work import sql_unit_of_work
from skuhub_sync_gateway.domain.channels import Allocation, Channel, MerchantFeed
from skuhub_sync_gateway.domain.feed import decode_cursor, encode_cursor
from skuhub_sync_gateway.entrypoints.app import MIGRATIONS, create_app
from skuhub_sync_gateway.entrypoints.feed_retention import retention_job
from skuhub_sync_gateway.entrypoints.handlers import project, rebuild
from skuhub_sync_gateway.service_layer.channels import seed_channels
from skuhub_sync_gateway.service_layer.feed import snapshot
from skuhub_sync_gateway.service_layer.projection import GatewayUnitOfWork
from skuhub_sync_gateway.settings import SyncGatewaySettings
from tests import api
from tests.gateway_facts import published_product, stage_of, stock_level
from tests.harness import Infrastructure, wait_until_async

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
GLN = "4012345000009"
WEB = Channel(
    code="web",
    name="Web",
    locales=("en_US",),
    allocation=Allocation(share=Decimal("0.5")),
    merchant_feed=MerchantFeed(
        link_template="https://shop.example.com/p/{sku}",
        price_attribute="price",
        brand_attribute="brand",
    ),
)
MARKET = Channel(
    code="market", name="Market", locales=("en_US",), allocation=Allocation(share=Decimal("0.5"))
)
SKUHUB = Path(sys.executable).with_name("skuhub")


class WatchedCommits(CommitSignal):
    """The runtime's commit signal, telling whether a long poll waits on it."""

    waiting = 0

    async def wait(self, timeout_s: float) -> bool:
        self.waiting += 1
        try:
            return await super().wait(timeout_s)
        finally:
            self.waiting -= 1


@dataclass
class Gateway:
    url: str
    runtime: ServiceRuntime[GatewayUnitOfWork]
    settings: SyncGatewaySettings
    client: httpx.AsyncClient

    async def commit(self, *batch: Incoming[Any]) -> None:
        """Apply events as the consumer does, in a transaction of this gateway process."""
        async with self.runtime.transactions.begin() as (_, uow):
            await project(uow, list(batch))

    async def commit_elsewhere(self, *batch: Incoming[Any]) -> None:
        """The same from another gateway instance: nothing in this process is woken."""
        engine = create_engine(self.settings)
        try:
            async with engine.begin() as conn:
                await project(sql_unit_of_work(conn), list(batch))
        finally:
            await engine.dispose()

    async def sql(self, statement: str) -> None:
        async with self.runtime.engine.begin() as conn:
            await conn.execute(text(statement))

    async def feed(self, channel: str = "web", **params: Any) -> httpx.Response:
        return await self.client.get(f"/v1/channels/{channel}/feed", params=params)


@pytest.fixture
async def gateway(infra: Infrastructure) -> AsyncIterator[Gateway]:
    settings = SyncGatewaySettings(
        database_url=infra.database_url,
        kafka_bootstrap=infra.kafka_bootstrap,
        schema_prefix=f"t{uuid.uuid4().hex[:8]}_",
        channels=[],
    )
    migrating = create_engine(settings)
    await migrations.upgrade(migrating, MIGRATIONS, settings.db_schema)
    await api.admit_session_token(migrating, settings.schema_prefix)
    # The service's own app, not started: the HTTP routes read PostgreSQL; Kafka stays out.
    app = create_app(settings)
    runtime: ServiceRuntime[GatewayUnitOfWork] = app.state.runtime
    async with runtime.transactions.begin() as (_, uow):
        await seed_channels(uow, [WEB, MARKET], NOW)
    async with runtime.transactions.begin() as (_, uow):
        await rebuild(uow, NOW, batch=100)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    )
    serving = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    try:
        await wait_until_async(started, within_s=10, what="uvicorn serving the gateway")
        async with api.async_client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            yield Gateway(f"http://127.0.0.1:{port}", runtime, settings, client)
    finally:
        server.should_exit = True
        await serving
        await runtime.engine.dispose()
        async with migrating.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{settings.db_schema}" CASCADE'))
            await conn.execute(text(f'DROP SCHEMA "{settings.schema_prefix}access" CASCADE'))
        await migrating.dispose()


def product(
    sku: str, version: int = 1, *, title: str = "Mug", published: bool = True, **content: Any
) -> Incoming[ProductChanged]:
    """``sku`` at ``version``, with its content published unless ``published`` is False."""
    titles = {"en_US": f"{title} v{version}"}
    if not published:
        return published_product(
            sku, version, titles, NOW, workflow=WorkflowState.DRAFT, published=None
        )
    shown = PublishedContent(version=version, title=titles, **content)
    return published_product(sku, version, titles, NOW, published=shown)


def stage(sku: str, name: LifecycleStage, **fields: Any) -> Incoming[LifecycleStageChanged]:
    return stage_of(sku, name, 1, NOW, **fields)


def level(sku: str, atp: int) -> Incoming[StockLevelChanged]:
    return stock_level(sku, GLN, atp, 1, at=NOW)


def versions(changes: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(c["sku"], c["offer_version"]) for c in changes]


async def read_all(
    gw: Gateway, cursor: str | None, limit: int, channel: str = "web"
) -> tuple[list[Any], str, int]:
    """Every change after ``cursor``, page by page: the changes, the last cursor, pages."""
    changes: list[Any] = []
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        response = await gw.feed(channel, **params)
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        changes += page["changes"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            assert cursor is not None
            return changes, cursor, pages


async def test_paging_through_more_than_a_thousand_changes_gives_each_once_in_order(
    gateway: Gateway,
) -> None:
    await gateway.commit(*[product(f"MUG-{i:04d}") for i in range(1, 1251)])
    await gateway.commit(product("MUG-0007", 2))
    # Each product has an offer on web and on market, so web's changes are every other one
    # of the log: positions in it are no offsets.
    expected = [(f"MUG-{i:04d}", 1) for i in range(1, 1251)] + [("MUG-0007", 2)]

    first = (await gateway.feed(limit=1000)).json()
    assert len(first["changes"]) == 1000
    assert first["has_more"] is True
    second = (await gateway.feed(limit=1000, cursor=first["next_cursor"])).json()
    assert len(second["changes"]) == 251
    assert second["has_more"] is False
    assert versions(first["changes"] + second["changes"]) == expected
    assert all(c["channel"] == "web" for c in first["changes"] + second["changes"])
    assert second["changes"][-1]["title"] == "Mug v2"

    caught_up = (await gateway.feed(limit=1000, cursor=second["next_cursor"])).json()
    assert caught_up == {"changes": [], "next_cursor": second["next_cursor"], "has_more": False}

    small, last, pages = await read_all(gateway, None, 7)
    assert versions(small) == expected
    assert pages == 179  # 1,251 changes, 7 a page
    assert decode_cursor(last, "web") == decode_cursor(second["next_cursor"], "web")

    market, _, _ = await read_all(gateway, None, 1000, "market")
    assert versions(market) == expected


async def test_a_long_poll_answers_when_a_change_commits_in_this_process(
    gateway: Gateway,
) -> None:
    commits = WatchedCommits()
    gateway.runtime.commits = commits
    # Re-reads far apart: only the commit signal can answer within a second or two.
    gateway.runtime.settings = gateway.settings.model_copy(update={"feed_recheck_s": 5.0})
    now = (await gateway.feed(cursor="now")).json()
    assert now["changes"] == []
    assert now["has_more"] is False

    poll = asyncio.create_task(gateway.feed(cursor=now["next_cursor"], wait=20))

    async def waiting() -> bool:
        return commits.waiting > 0

    await wait_until_async(waiting, within_s=10, what="the long poll waiting for a commit")
    started = time.monotonic()
    await gateway.commit(product("LATE-1"))
    response = await asyncio.wait_for(poll, 15)

    assert response.status_code == 200, response.text
    assert versions(response.json()["changes"]) == [("LATE-1", 1)]
    assert time.monotonic() - started < 2.5, "woken by the commit, not by a re-read"


async def test_a_long_poll_finds_another_instances_commit_by_reading_again(
    gateway: Gateway,
) -> None:
    now = (await gateway.feed(cursor="now")).json()
    poll = asyncio.create_task(gateway.feed(cursor=now["next_cursor"], wait=20))
    started = time.monotonic()
    await gateway.commit_elsewhere(product("ELSEWHERE-1"))
    response = await asyncio.wait_for(poll, 15)

    assert versions(response.json()["changes"]) == [("ELSEWHERE-1", 1)]
    assert time.monotonic() - started < 5, "found within a few re-reads (every 0.5 s)"


async def test_a_long_poll_with_nothing_new_ends_after_its_wait_with_the_same_cursor(
    gateway: Gateway,
) -> None:
    await gateway.commit(product("MUG-1"))
    page = (await gateway.feed()).json()
    started = time.monotonic()
    again = (await gateway.feed(cursor=page["next_cursor"], wait=1)).json()
    waited = time.monotonic() - started

    assert again == {"changes": [], "next_cursor": page["next_cursor"], "has_more": False}
    assert 1 <= waited < 5


async def test_bad_requests_are_refused_with_what_to_fix(gateway: Gateway) -> None:
    await gateway.commit(product("MUG-1"))
    market_cursor = (await gateway.feed("market")).json()["next_cursor"]
    web_cursor = (await gateway.feed()).json()["next_cursor"]
    altered = web_cursor[:-2] + ("AA" if not web_cursor.endswith("AA") else "BB")

    malformed = await gateway.feed(cursor="not-a-cursor")
    assert malformed.status_code == 400
    assert "malformed or was altered" in malformed.json()["detail"]
    assert (await gateway.feed(cursor=altered)).status_code == 400
    foreign = await gateway.feed(cursor=market_cursor)
    assert foreign.status_code == 400
    assert "belongs to channel market's feed, not web's" in foreign.json()["detail"]
    for path in ("feed", "feed/stream", "offers", "exports/google-merchant.tsv"):
        unknown = await gateway.client.get(f"/v1/channels/pos/{path}")
        assert unknown.status_code == 404, (path, unknown.text)
        assert unknown.json() == {"detail": "unknown channel 'pos'; GET /v1/channels lists them"}
    assert (await gateway.feed(limit=0)).status_code == 422
    assert (await gateway.feed(limit=1001)).status_code == 422
    assert (await gateway.feed(wait=31)).status_code == 422
    stream = await gateway.client.get(
        "/v1/channels/web/feed/stream", headers={"Last-Event-ID": market_cursor}
    )
    assert stream.status_code == 400
    no_feed = await gateway.client.get("/v1/channels/market/exports/google-merchant.tsv")
    assert no_feed.status_code == 409
    assert no_feed.json()["detail"].startswith("channel market has no merchant_feed")


async def age(gw: Gateway, *skus: str) -> None:
    """Make the first versions of ``skus`` eight days old (retention keeps seven)."""
    listed = ", ".join(f"'{sku}'" for sku in skus)
    await gw.sql(
        "UPDATE offer_changes SET changed_at = now() - interval '8 days' "
        f"WHERE offer_version = 1 AND sku IN ({listed})"
    )


async def prune(gw: Gateway) -> None:
    await gw.runtime.periodic.run_once(retention_job(gw.settings))


async def test_a_cursor_that_retention_left_behind_is_gone_and_the_snapshot_resyncs(
    gateway: Gateway,
) -> None:
    await gateway.commit(product("A"), product("B"))
    after_a = (await gateway.feed(limit=1)).json()["next_cursor"]
    await gateway.commit(product("A", 2))
    await age(gateway, "A", "B")
    await prune(gateway)

    # B's only version was deleted before the cursor's holder read it.
    gone = await gateway.feed(cursor=after_a)
    assert gone.status_code == 410
    assert "GET /v1/channels/web/offers (the snapshot export)" in gone.json()["detail"]
    # Without a cursor the feed starts at the oldest change it keeps: B is not in it.
    assert versions((await gateway.feed()).json()["changes"]) == [("A", 2)]

    exported = await gateway.client.get("/v1/channels/web/offers")
    offers = [json.loads(line) for line in exported.text.splitlines()]
    assert versions(offers) == [("A", 2), ("B", 1)]
    after_export = await gateway.feed(cursor=exported.headers["Feed-Cursor"])
    assert after_export.status_code == 200
    assert after_export.json()["changes"] == []


async def test_a_deleted_change_that_a_newer_one_replaced_is_no_loss(gateway: Gateway) -> None:
    await gateway.commit(product("A"), product("B"))
    after_a = (await gateway.feed(limit=1)).json()["next_cursor"]
    await gateway.commit(product("A", 2), product("B", 2))
    await age(gateway, "A", "B")
    await prune(gateway)

    page = await gateway.feed(cursor=after_a)
    assert page.status_code == 200, page.text
    assert versions(page.json()["changes"]) == [("A", 2), ("B", 2)]


async def test_retention_deletes_only_changes_older_than_it_keeps(gateway: Gateway) -> None:
    await gateway.commit(product("A"), product("B"))
    await gateway.commit(product("A", 2))
    await age(gateway, "A")  # A v1 is old, B v1 is not: the log is cut at B
    await prune(gateway)

    page = (await gateway.feed()).json()
    assert versions(page["changes"]) == [("B", 1), ("A", 2)]


async def test_a_snapshot_continued_by_the_feed_misses_nothing_made_meanwhile(
    gateway: Gateway,
) -> None:
    await gateway.commit(*[product(f"S-{i:02d}") for i in range(1, 31)])
    taken = await snapshot(gateway.runtime.read, "web", page=10)
    lines = [line async for line in _first(taken.lines, 10)]
    # Changes while the export is under way: one offer it read, one it will read, a new one.
    await gateway.commit(product("S-05", 2), product("S-25", 2), product("S-31"))
    lines += [line async for line in taken.lines]
    changes, _, _ = await read_all(gateway, encode_cursor(taken.cursor), 1000)

    newest: dict[str, int] = {}
    for offer in [json.loads(line) for line in lines] + changes:
        newest[offer["sku"]] = max(newest.get(offer["sku"], 0), offer["offer_version"])
    expected = {f"S-{i:02d}": 1 for i in range(1, 32)} | {"S-05": 2, "S-25": 2}
    assert newest == expected
    assert versions(changes) == [("S-05", 2), ("S-25", 2), ("S-31", 1)]


async def _first(lines: AsyncIterator[str], count: int) -> AsyncIterator[str]:
    for _ in range(count):
        yield await anext(lines)


async def test_the_snapshot_export_streams_every_offer_as_ndjson_with_the_cursor(
    gateway: Gateway,
) -> None:
    await gateway.commit(product("B-2"), product("A-1"), product("C-3", published=False))
    response = await gateway.client.get("/v1/channels/web/offers")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    offers = [json.loads(line) for line in response.text.splitlines()]
    assert [(o["sku"], o["title"]) for o in offers] == [
        ("A-1", "Mug v1"),
        ("B-2", "Mug v1"),
        ("C-3", None),
    ]
    cursor = response.headers["Feed-Cursor"]
    assert (await gateway.feed(cursor=cursor)).json()["changes"] == []


async def test_the_merchant_feed_lists_published_offers_as_google_reads_them(
    gateway: Gateway,
) -> None:
    await gateway.commit(
        product(
            "MUG-1", gtin="4006381333931", attributes={"price": {"EUR": "9.5"}, "brand": "Acme"}
        ),
        stage("MUG-1", LifecycleStage.ACTIVE),
        level("MUG-1", 10),
        product("MUG-2", attributes={"price": {"USD": "5"}}),
        product("PRE-3", attributes={"availability_date": "2026-05-01"}),
        stage("PRE-3", LifecycleStage.PRE_LAUNCH, pre_order=True),
        product("DRAFT-4", published=False),
    )
    response = await gateway.client.get("/v1/channels/web/exports/google-merchant.tsv")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/tab-separated-values; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.text), delimiter="\t", quoting=csv.QUOTE_NONE))
    common = {"description": "", "condition": "new"}
    assert rows == [
        common
        | {
            "id": "MUG-1",
            "title": "Mug v1",
            "link": "https://shop.example.com/p/MUG-1",
            "availability": "in_stock",
            "availability_date": "",
            "price": "9.50 EUR",
            "gtin": "4006381333931",
            "brand": "Acme",
        },
        common
        | {
            "id": "MUG-2",
            "title": "Mug v1",
            "link": "https://shop.example.com/p/MUG-2",
            "availability": "out_of_stock",
            "availability_date": "",
            "price": "",
            "gtin": "",
            "brand": "",
        },
        common
        | {
            "id": "PRE-3",
            "title": "Mug v1",
            "link": "https://shop.example.com/p/PRE-3",
            "availability": "preorder",
            "availability_date": "2026-05-01T00:00Z",
            "price": "",
            "gtin": "",
            "brand": "",
        },
    ]


@dataclass(frozen=True)
class Event:
    event: str
    id: str
    data: str


async def events(response: httpx.Response) -> AsyncGenerator[Event]:
    """Server-sent events as they arrive; comments (heartbeats) skipped."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in fields:
                yield Event(fields.get("event", "message"), fields.get("id", ""), fields["data"])
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


async def test_the_stream_sends_each_change_as_an_event_and_resumes_from_its_id(
    gateway: Gateway,
) -> None:
    await gateway.commit(product("E-1"), product("E-2"))
    async with (
        asyncio.timeout(30),
        gateway.client.stream("GET", "/v1/channels/web/feed/stream") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        received = events(response)
        first, second = await anext(received), await anext(received)
        await gateway.commit(product("E-3"))
        live = await anext(received)
        await received.aclose()

    assert [(e.event, json.loads(e.data)["sku"]) for e in (first, second, live)] == [
        ("offer", "E-1"),
        ("offer", "E-2"),
        ("offer", "E-3"),
    ]
    page = (await gateway.feed(limit=1)).json()
    assert first.id == page["next_cursor"], "an event's id is the cursor after it"

    async with (
        asyncio.timeout(30),
        gateway.client.stream(
            "GET", "/v1/channels/web/feed/stream", headers={"Last-Event-ID": first.id}
        ) as resumed,
    ):
        again = events(resumed)
        assert [json.loads((await anext(again)).data)["sku"] for _ in range(2)] == ["E-2", "E-3"]
        await again.aclose()
    async with (
        asyncio.timeout(30),
        gateway.client.stream(
            "GET", "/v1/channels/web/feed/stream", params={"cursor": second.id}
        ) as from_cursor,
    ):
        after = events(from_cursor)
        assert json.loads((await anext(after)).data)["sku"] == "E-3"
        await after.aclose()


async def run_adapter(gw: Gateway, out: Path, *options: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(SKUHUB),
        "adapter",
        "feed",
        "--gateway",
        gw.url,
        "--channel",
        "web",
        "--out",
        str(out),
        *options,
        env=os.environ | {"SKUHUB_TOKEN": api.SESSION_TOKEN.value},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def kept(out: Path) -> dict[str, int]:
    if not out.exists():
        return {}
    offers = [json.loads(line) for line in out.read_text().splitlines()]
    return {o["sku"]: o["offer_version"] for o in offers}


async def test_the_reference_adapter_keeps_the_newest_offer_per_sku_and_resumes(
    gateway: Gateway, tmp_path: Path
) -> None:
    out = tmp_path / "offers.jsonl"
    await gateway.commit(product("AD-1"), product("AD-2"), product("AD-3"))
    await gateway.commit(product("AD-2", 2))

    first = await run_adapter(gateway, out, "--no-follow")
    _, stderr = await asyncio.wait_for(first.communicate(), 60)
    assert first.returncode == 0, stderr.decode()
    assert "web: snapshot of 3 offers" in stderr.decode()
    assert kept(out) == {"AD-1": 1, "AD-2": 2, "AD-3": 1}
    assert (tmp_path / "offers.jsonl.cursor").exists()

    await gateway.commit(product("AD-1", 2), product("AD-4"))
    second = await run_adapter(gateway, out, "--no-follow")
    _, stderr = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == 0, stderr.decode()
    assert "snapshot" not in stderr.decode(), "resumed from the cursor file"
    assert "web: 4 offers in" in stderr.decode()
    assert "2 changes read" in stderr.decode()
    assert kept(out) == {"AD-1": 2, "AD-2": 2, "AD-3": 1, "AD-4": 1}

    following = await run_adapter(gateway, out)
    try:
        await gateway.commit(product("AD-5"), product("AD-3", 2))

        async def caught_up() -> bool:
            return kept(out) == {"AD-1": 2, "AD-2": 2, "AD-3": 2, "AD-4": 1, "AD-5": 1}

        await wait_until_async(caught_up, within_s=30, what="the following adapter's file")
    finally:
        with contextlib.suppress(ProcessLookupError):
            following.terminate()
        await asyncio.wait_for(following.wait(), 30)


async def test_the_reference_adapter_takes_the_snapshot_again_after_410(
    gateway: Gateway, tmp_path: Path
) -> None:
    out = tmp_path / "offers.jsonl"
    await gateway.commit(product("A"), product("B"))
    (tmp_path / "offers.jsonl.cursor").write_text(
        (await gateway.feed(limit=1)).json()["next_cursor"]
    )
    await gateway.commit(product("A", 2))
    await age(gateway, "A", "B")
    await prune(gateway)

    adapter = await run_adapter(gateway, out, "--no-follow")
    _, stderr = await asyncio.wait_for(adapter.communicate(), 60)

    assert adapter.returncode == 0, stderr.decode()
    assert "taking the snapshot again" in stderr.decode()
    assert kept(out) == {"A": 2, "B": 1}

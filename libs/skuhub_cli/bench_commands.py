"""The stock service's reads and commands on a ledger of realistic size.

The stock service alone runs on a schema holding ``positions`` stored positions (written
straight into its table before it starts: this case measures reads and commands on a
ledger of that size, not how the ledger got there). Then:

- **position reads**: ``GET /v1/positions/{sku}`` of random stored SKUs, 8 in flight;
  latency per request as the client sees it;
- **reservations**: racing clients (64 in flight) reserve one unit at a time of a few
  hot SKUs with little stock each, until every SKU is sold out several times over;
  the rate of answered requests, and a check that no SKU granted more than it had and
  that every grant is in the ledger (zero oversell).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from skuhub_cli.bench_http import Answer, LeanConnection
from skuhub_cli.bench_probes import BenchError, LatencySummary
from skuhub_cli.bench_report import Row
from skuhub_cli.bench_session import BenchSession, Update

LOCATIONS = 20
HOT_SKUS = 50
HOT_ON_HAND = 40
READS = 2_000
READERS = 8
"""Reads in flight for the throughput figure; latency is measured one read at a time."""
RESERVERS = 64
OVERSUBSCRIBED = 3
"""Each hot SKU is asked for this many times its stock."""
GLN_BASE = 400000000000
"""Locations are 13-digit GLNs; the check digit is worked out per location."""


def gln(index: int) -> str:
    body = str(GLN_BASE + index).rjust(12, "0")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


async def commands_case(session: BenchSession, positions: int) -> None:
    """Seed ``positions`` stored positions, then measure reads and racing reservations."""
    group = await session.new_group()
    schema = f"{group.wiring.schema_prefix}stock"
    with session.step("Starting stock (migrating its schema)"):
        await session.start(group, "stock")
    try:
        with session.step(f"Storing {positions:,} positions"):
            seeded_s = await _seed(session.infra.database_url, schema, positions)
        session.done(f"{positions:,} positions stored in {seeded_s:.1f}s")
        url = group.url("stock")
        skus = max(1, positions // LOCATIONS)
        with session.step(f"Reading {READS:,} positions", total=READS) as update:
            reads, _ = await _read_positions(url, skus, update, in_flight=1)
        with session.step(
            f"Reading {READS:,} positions, {READERS} at a time", total=READS
        ) as update:
            _, read_rate = await _read_positions(url, skus, update, in_flight=READERS)
        session.report.add(
            Row("stock reads", "position read p50", round(reads.p50_ms, 2), "ms"),
            Row(
                "stock reads",
                "position read p99",
                round(reads.p99_ms, 2),
                "ms",
                note=f"one at a time, {positions:,} positions stored; target < 5 ms",
            ),
            Row("stock reads", "reads", round(read_rate, 1), "req/s", note=f"{READERS} in flight"),
        )
        requests = HOT_SKUS * HOT_ON_HAND * OVERSUBSCRIBED
        with session.step(f"Racing {requests:,} reservations", total=requests) as update:
            rate, granted, retries = await _race_reservations(url, requests, update)
        reserved = await _reserved(session.infra.database_url, schema)
        oversold = {s: n for s, n in granted.items() if n > HOT_ON_HAND or reserved.get(s) != n}
        session.report.add(
            Row(
                "stock reservations",
                "answered",
                round(rate, 1),
                "req/s",
                note=f"{RESERVERS} racing clients, {retries} sent again after a dropped "
                "connection (same Idempotency-Key); target >= 1000/s",
            ),
            Row(
                "stock reservations",
                "oversold SKUs",
                len(oversold),
                "",
                note=f"{sum(granted.values()):,} granted of {HOT_SKUS * HOT_ON_HAND:,} units",
            ),
        )
        session.report.details["commands"] = {
            "positions": positions,
            "reads": dataclasses.asdict(reads),
            "reservations_per_s": round(rate, 1),
            "granted": sum(granted.values()),
            "retries": retries,
            "oversold": oversold,
        }
        if oversold:
            raise BenchError(f"reservations oversold: {oversold}")
        session.done(f"reads p99 {reads.p99_ms:.1f} ms; {rate:,.0f} reservations/s, none oversold")
    finally:
        await session.stop(group)


async def _seed(database_url: str, schema: str, positions: int) -> float:
    """``positions`` positions (SKU x location, no lot); the first HOT_SKUS SKUs at the
    first location have HOT_ON_HAND each, the rest 0 to 99."""
    started = time.monotonic()
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    f'INSERT INTO "{schema}".positions (sku, location, lot, unit, on_hand, '
                    "reserved, in_transit, version, updated_at) "
                    "SELECT 'BENCH-' || lpad((n / :locations)::text, 7, '0'), "
                    "(CAST(:glns AS text[]))[n % :locations + 1], '', 'EA', "
                    "CASE WHEN n / :locations < :hot AND n % :locations = 0 THEN :hot_on_hand "
                    "ELSE n % 100 END, 0, 0, 1, now() "
                    "FROM generate_series(0, :last) AS n"
                ),
                {
                    "locations": LOCATIONS,
                    "glns": [gln(i) for i in range(LOCATIONS)],
                    "hot": HOT_SKUS,
                    "hot_on_hand": HOT_ON_HAND,
                    "last": positions - 1,
                },
            )
        async with engine.begin() as conn:
            await conn.execute(text(f'ANALYZE "{schema}".positions'))
    finally:
        await engine.dispose()
    return time.monotonic() - started


def _sku(index: int) -> str:
    return f"BENCH-{index:07d}"


async def _read_positions(
    url: str, skus: int, update: Update, *, in_flight: int
) -> tuple[LatencySummary, float]:
    """Read random stored SKUs' positions, ``in_flight`` at a time: latency and rate."""
    rng = random.Random(7)
    wanted = [_sku(rng.randrange(skus)) for _ in range(READS)]
    seconds: list[float] = []
    queue: asyncio.Queue[str] = asyncio.Queue()
    for sku in wanted:
        queue.put_nowait(sku)
    async with _clients(url, in_flight) as clients:

        async def reader(client: LeanConnection) -> None:
            while not queue.empty():
                sku = queue.get_nowait()
                started = time.perf_counter()
                answer = await client.request("GET", f"/v1/positions/{sku}")
                seconds.append(time.perf_counter() - started)
                if answer.status != 200:
                    raise BenchError(f"GET /v1/positions/{sku}: {answer.status}")
                update(len(seconds))

        started = time.perf_counter()
        await asyncio.gather(*(reader(client) for client in clients))
        elapsed = time.perf_counter() - started
    return LatencySummary.of(seconds), len(seconds) / elapsed


async def _race_reservations(
    url: str, requests: int, update: Update
) -> tuple[float, Counter[str], int]:
    """Racing reservations of one unit of the hot SKUs: the rate answered, the units granted
    per SKU, and how many requests were sent again after a dropped connection."""
    rng = random.Random(11)
    queue: asyncio.Queue[str] = asyncio.Queue()
    for _ in range(requests):
        queue.put_nowait(_sku(rng.randrange(HOT_SKUS)))
    granted: Counter[str] = Counter()
    retried: Counter[str] = Counter()
    answered = 0
    location = gln(0)
    async with _clients(url, RESERVERS) as clients:

        async def reserver(client: LeanConnection) -> None:
            nonlocal answered
            while not queue.empty():
                sku = queue.get_nowait()
                answer = await _reserve(client, sku, location, retried)
                if answer.status == 201:
                    granted[sku] += 1
                elif answer.status != 409:
                    raise BenchError(f"POST /v1/reservations: {answer.status} {answer.body!r}")
                answered += 1
                update(answered)

        started = time.perf_counter()
        await asyncio.gather(*(reserver(client) for client in clients))
        elapsed = time.perf_counter() - started
    return answered / elapsed, granted, retried["requests"]


@contextlib.asynccontextmanager
async def _clients(url: str, count: int) -> AsyncIterator[list[LeanConnection]]:
    """``count`` callers of one connection each, as independent clients are (bench_http
    says why not httpx)."""
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(LeanConnection(url)) for _ in range(count)]


async def _reserve(
    client: LeanConnection, sku: str, location: str, retried: Counter[str]
) -> Answer:
    """One reservation, sent again with the same Idempotency-Key if the connection drops
    (the key makes the retry safe: the reservation is made once)."""
    key = uuid.uuid4().hex
    body = {"sku": sku, "location": location, "quantity": "1"}
    for attempt in range(3):
        try:
            return await client.request(
                "POST", "/v1/reservations", json_body=body, headers={"Idempotency-Key": key}
            )
        except ConnectionError:
            if attempt == 2:
                raise
            retried["requests"] += 1
    raise AssertionError("unreachable")


async def _reserved(database_url: str, schema: str) -> dict[str, int]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    f'SELECT sku, sum(reserved) AS reserved FROM "{schema}".positions '
                    "WHERE sku < :last GROUP BY sku"
                ),
                {"last": _sku(HOT_SKUS)},
            )
            return {r.sku: int(Decimal(r.reserved)) for r in rows if r.reserved}
    finally:
        await engine.dispose()

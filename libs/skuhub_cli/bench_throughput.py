"""The throughput cases of ``skuhub bench``: a pass-through baseline, then each consuming
service on a pre-loaded backlog, and the catalog's product creation over HTTP."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

import httpx

from skuhub_cli import endpoints
from skuhub_cli.bench_accuracy import gateway_accuracy, stock_accuracy
from skuhub_cli.bench_probes import (
    GroupProgress,
    GroupWatcher,
    create_plain_topics,
    pass_through,
    process_cpu_seconds,
    produce_flat_out,
)
from skuhub_cli.bench_report import Row
from skuhub_cli.bench_session import BenchSession, Update
from skuhub_cli.launcher import ServiceGroup
from skuhub_cli.service_process import ServiceProcess
from skuhub_contracts.subscriptions import (
    LIFECYCLE_PRODUCTS,
    OFFER_PROJECTION,
    STOCK_MOVEMENTS,
    Subscription,
)
from skuhub_contracts.topics import STOCK_MOVED
from skuhub_traffic.catalog import build_catalog
from skuhub_traffic.model import Catalog, Delivery
from skuhub_traffic.movements import generate_deliveries

HTTP_CONCURRENCY = 8
SHOWN_PROBLEMS = 5


async def throughput_cases(session: BenchSession) -> None:
    """Baseline, stock, sync_gateway, catalog and lifecycle, in that order, on one prefix."""
    options = session.options
    with session.step(f"Generating {options.movements:,} movements"):
        config = options.traffic(options.movements)
        catalog = build_catalog(config)
        deliveries = generate_deliveries(config, catalog)
    valid = [d for d in deliveries if d.kind == "valid"]
    session.report.details["throughput_traffic"] = {
        "deliveries": len(deliveries),
        "by_kind": _count_kinds(deliveries),
        "products": len(catalog.products),
    }
    group = await session.new_group()
    settings = group.wiring.settings()
    bench_in, bench_out = settings.topic("bench.in"), settings.topic("bench.out")
    with session.step(f"Pre-loading {len(deliveries):,} deliveries and {len(valid):,} records"):
        await create_plain_topics(session.bootstrap, [bench_in, bench_out], options.partitions)
        await produce_flat_out(session.bootstrap, settings.topic(STOCK_MOVED.name), deliveries)
        await produce_flat_out(session.bootstrap, bench_in, valid)

    group_name = f"{settings.topic_prefix}bench-pass-through"
    baseline = await baseline_case(session, bench_in, bench_out, group_name, len(valid))
    await consumer_case(session, group, STOCK_MOVEMENTS, baseline, outbox=True)
    await stock_accuracy(session, "throughput", group.wiring, deliveries)
    await consumer_case(session, group, OFFER_PROJECTION, baseline, outbox=False)
    await gateway_accuracy(session, "throughput", group.wiring)

    ready_s = await session.start(group, "catalog")
    try:
        created = await create_products(session, group.services["catalog"], catalog)
        _catalog_row(session, created)
        with session.step("Waiting for the catalog outbox to drain"):
            await session.db.wait_outbox_empty(f"{settings.schema_prefix}catalog", within_s=60)
    finally:
        await session.stop(group, ["catalog"])
    session.report.details["catalog"] = {"ready_s": round(ready_s, 2), **created}
    await consumer_case(session, group, LIFECYCLE_PRODUCTS, baseline, outbox=True)


async def baseline_case(
    session: BenchSession,
    source: str,
    sink: str,
    group: str,
    expected: int,
    *,
    case: str = "baseline",
) -> float:
    """Consume ``source`` and produce to ``sink`` with no processing: the physical limit."""
    with session.step("Pass-through baseline (consume → produce)", total=expected) as update:
        result = await pass_through(
            session.bootstrap,
            source=source,
            sink=sink,
            group=group,
            expected=expected,
            within_s=max(60.0, expected / 100),
            on_progress=update,
        )
    session.report.add(
        Row(
            case,
            "pass-through",
            result.rate,
            "rec/s",
            note=f"{result.records:,} records in {result.seconds:.2f}s, no processing",
        )
    )
    session.report.details[case] = asdict(result)
    session.done(f"pass-through baseline: {result.rate:,.0f} records/s")
    return result.rate


async def consumer_case(
    session: BenchSession,
    group: ServiceGroup,
    subscription: Subscription[Any],
    baseline: float,
    *,
    outbox: bool,
    case: str | None = None,
    within_s: float = 180.0,
    env: Mapping[str, str] | None = None,
) -> float:
    """Start the subscription's service on a pre-loaded backlog; time it until its
    consumer group has no lag (at most ``within_s``). ``case`` names the report's rows
    (the service's name by default). Returns the monotonic time its work was done (its
    backlog drained and, with ``outbox``, its outbox empty).

    Two figures: from ready (what the brief of the benchmark asks: the
    consumer-group join and the first fetch count) and sustained (from the
    first offset commit seen after ready, i.e. the steady state). ``outbox``:
    the service publishes, so the case ends when its outbox is empty too.
    """
    name = subscription.service
    case = case or name
    settings = group.wiring.settings()
    consumer_group = settings.consumer_group(subscription)
    topics = [settings.topic(t.name) for t in subscription.topics]
    ready_s = await session.start(group, name, env=env)
    service = group.services[name]
    cpu_at_ready = process_cpu_seconds(service.pid)
    try:
        ready_at = time.monotonic()
        with session.step(f"{name}: draining its backlog") as update:
            curve, drained_at = await _drain(
                session, consumer_group, topics, update, service, within_s
            )
        if outbox:
            with session.step(f"{name}: waiting for its outbox to drain"):
                await session.db.wait_outbox_empty(f"{settings.schema_prefix}{name}", within_s=120)
        done_at = time.monotonic()
        outbox_s = done_at - drained_at
        cpu_s = process_cpu_seconds(service.pid) - cpu_at_ready
    finally:
        await session.stop(group, [name])
    before, after = curve[0][1], curve[-1][1]
    records = after.committed - before.committed
    seconds = drained_at - ready_at
    rate = records / seconds if seconds > 0 and records > 0 else math.nan
    steady_rate, steady_records, steady_s = _steady(curve, drained_at)
    before_note = f"; {before.committed:,} done before ready" if before.committed else ""
    session.report.add(
        Row(
            case,
            "throughput, ready → no lag",
            rate,
            "rec/s",
            _share(rate, baseline),
            f"{records:,} rec in {seconds:.2f}s (start-up {ready_s:.1f}s){before_note}",
        ),
        Row(
            case,
            "sustained (1st commit → no lag)",
            steady_rate,
            "rec/s",
            _share(steady_rate, baseline),
            f"{steady_records:,} rec in {steady_s:.2f}s"
            if steady_records
            else "backlog done in one commit",
        ),
    )
    session.report.details[f"throughput_{case}"] = {
        "group": consumer_group,
        "topics": topics,
        "records_total": after.end,
        "records_timed": records,
        "done_before_ready": before.committed,
        "seconds": round(seconds, 3),
        "rate": rate,
        "sustained_records": steady_records,
        "sustained_seconds": round(steady_s, 3),
        "sustained_rate": steady_rate,
        "ready_s": round(ready_s, 2),
        "outbox_drained_after_s": round(outbox_s, 3),
        "cpu_seconds": round(cpu_s, 3),
        "curve": [(round(t - ready_at, 3), p.committed) for t, p in _thin(curve, 200)],
    }
    session.done(
        f"{case}: {rate:,.0f} records/s from ready, {steady_rate:,.0f} sustained "
        f"({_ratio(steady_rate, baseline)} of the baseline)"
    )
    return done_at


async def _drain(
    session: BenchSession,
    group: str,
    topics: list[str],
    update: Update,
    service: ServiceProcess,
    within_s: float,
) -> tuple[list[tuple[float, GroupProgress]], float]:
    """Poll the group until it has no lag; the (time, progress) curve and the end time."""
    curve: list[tuple[float, GroupProgress]] = []

    def seen(progress: GroupProgress) -> None:
        curve.append((time.monotonic(), progress))
        update(progress.committed, progress.end)

    async with GroupWatcher(session.bootstrap, group, topics) as watcher:
        _, drained_at = await watcher.wait_drained(
            within_s=within_s, on_progress=seen, alive=lambda: service.running, static=True
        )
    return curve, drained_at


async def create_products(
    session: BenchSession, catalog_service: ServiceProcess, catalog: Catalog
) -> dict[str, Any]:
    """Post the generated catalog to the catalog service: the product models first, then
    the products (variants and kits); how many products were created, in how long, and the
    first refusals."""
    products = list(catalog.products)
    waves: list[tuple[str, list[Any]]] = [
        ("/v1/product-models", list(catalog.product_models)),
        ("/v1/products", products),
    ]
    with session.step(
        f"Creating {len(catalog.product_models)} product models and {len(products)} products "
        "over HTTP",
        total=len(catalog.product_models) + len(products),
    ) as update:
        return await _post_products(catalog_service.url, waves, update)


def _catalog_row(session: BenchSession, created: dict[str, Any]) -> None:
    rate = created["created"] / created["seconds"] if created["seconds"] > 0 else math.nan
    note = (
        f"{created['created']} products in {created['seconds']:.2f}s, "
        f"{HTTP_CONCURRENCY} requests in flight"
        + (f"; {len(created['problems'])} refused" if created["problems"] else "")
    )
    session.report.add(Row("catalog", "products created (HTTP)", rate, "prod/s", None, note))
    session.done(f"catalog: {rate:,.0f} products/s over HTTP")


async def _post_products(
    base: str, waves: list[tuple[str, list[Any]]], update: Callable[[float], None]
) -> dict[str, Any]:
    """POST each wave's items (``to_http()``) to its path, a wave after the one before;
    ``created`` counts the products."""
    limit = asyncio.Semaphore(HTTP_CONCURRENCY)
    created = 0
    problems: list[str] = []
    done = 0
    async with httpx.AsyncClient(
        base_url=base, timeout=30.0, headers=endpoints.auth_headers()
    ) as client:

        async def post(path: str, item: Any) -> None:
            nonlocal created, done
            body = item.to_http()
            async with limit:
                response = await client.post(path, json=body)
            if response.status_code in (200, 201):
                created += path == "/v1/products"
            elif len(problems) < SHOWN_PROBLEMS:
                name = body.get("sku") or body.get("code")
                problems.append(f"{name}: HTTP {response.status_code} {response.text[:200]}")
            done += 1
            update(done)

        started = time.monotonic()
        for path, items in waves:
            await asyncio.gather(*(post(path, item) for item in items))
        seconds = time.monotonic() - started
    return {"created": created, "seconds": round(seconds, 3), "problems": problems}


def _steady(
    curve: list[tuple[float, GroupProgress]], drained_at: float
) -> tuple[float, int, float]:
    """Rate after the first commit seen after ready: (rate, records, seconds)."""
    before = curve[0][1].committed
    for moment, progress in curve:
        if progress.committed > before:
            records = curve[-1][1].committed - progress.committed
            seconds = drained_at - moment
            if records > 0 and seconds > 0:
                return records / seconds, records, seconds
            break
    return math.nan, 0, 0.0


def _thin(points: list[Any], most: int) -> list[Any]:
    """At most ``most`` points, evenly spaced, the last one kept."""
    if len(points) <= most:
        return points
    step = len(points) / most
    return [points[int(i * step)] for i in range(most - 1)] + [points[-1]]


def _share(rate: float, baseline: float) -> float | None:
    return rate / baseline if baseline and not math.isnan(rate) else None


def _ratio(rate: float, baseline: float) -> str:
    share = _share(rate, baseline)
    return f"{share:.1%}" if share is not None else "n/a"


def _count_kinds(deliveries: Sequence[Delivery]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for delivery in deliveries:
        kinds[delivery.kind] = kinds.get(delivery.kind, 0) + 1
    return kinds

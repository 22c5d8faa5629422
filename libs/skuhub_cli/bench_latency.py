"""The latency cases of ``skuhub bench``: deliveries published at fixed rates.

- All four services running: per event, how long until stock derived it and a channel
  could see it, and from product created to lifecycle stage.
- Stock alone: how long until stock derived it, with no other service competing for
  the machine's cores (the stock issue's target; on two cores the whole stack at 1,000
  movements/s fills both, docs/benchmarks.md).

Each case first publishes :data:`WARM_UP_S` of traffic at the first rate and waits for
it to be applied; the rates' windows come after, and the warm-up's own latency is
reported as *first second after start*."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from skuhub_cli.bench_accuracy import gateway_accuracy, stock_accuracy
from skuhub_cli.bench_gateway import (
    accuracy_after,
    feed_pages,
    subscribe_while_down,
    webhook_drain,
)
from skuhub_cli.bench_probes import GroupWatcher, LatencySummary, read_event_times
from skuhub_cli.bench_report import BenchReport, Row
from skuhub_cli.bench_session import BenchSession, blocking
from skuhub_cli.bench_throughput import HTTP_CONCURRENCY, create_products
from skuhub_cli.launcher import ServiceGroup
from skuhub_contracts.subscriptions import (
    LIFECYCLE_PRODUCTS,
    OFFER_PROJECTION,
    STOCK_MOVEMENTS,
    Subscription,
)
from skuhub_contracts.topics import (
    LIFECYCLE_STAGE_CHANGED,
    SERVICES,
    STOCK_LEVEL_CHANGED,
    STOCK_MOVED,
)
from skuhub_traffic.catalog import build_catalog
from skuhub_traffic.model import Catalog, Delivery
from skuhub_traffic.movements import generate_deliveries
from skuhub_traffic.publish import publish

Window = tuple[int, datetime, datetime]
"""A rate and when its deliveries were sent (first to last)."""

WARM_UP_S = 1.0
"""Seconds of traffic at the first rate, published and applied before the measured
windows: a freshly started service's first batches also pay for its statements' first
parse and asyncpg's type introspection on each connection (docs/profiling.md, "Commits that
wait for a WAL segment"), a start-up cost and not the rate's. Their latency is reported
apart, as *first second after start*."""


async def latency_case(session: BenchSession) -> None:
    """Publish at each rate, measure every event of its window, check accuracy at the end."""
    catalog, deliveries = _traffic(session, "the latency runs")
    group = await session.new_group()
    settings = group.wiring.settings()
    with session.step("Starting the four services"):
        ready_s = await session.start(group, *SERVICES)
    session.done(f"four services ready in {ready_s:.1f}s")
    try:
        products = await create_products(session, group.services["catalog"], catalog)
        await _wait_caught_up(session, group, [LIFECYCLE_PRODUCTS, OFFER_PROJECTION])
        subscription, receiver = await subscribe_while_down(group)
        first_second, warm_up = await _warm_up(
            session, group, deliveries, [STOCK_MOVEMENTS, OFFER_PROJECTION], "latency_warm_up"
        )
        published: list[Delivery] = list(warm_up)
        windows: list[Window] = []
        for rate, chunk in _by_rate(session, deliveries):
            start, end = await _publish_at(
                session, group, rate, chunk, [STOCK_MOVEMENTS, OFFER_PROJECTION]
            )
            published.extend(chunk)
            windows.append((rate, start, end))
            await _offer_latency(session, group, rate, start)
        await accuracy_after(session, group, windows[-1][2])
        await feed_pages(session, group)
        await webhook_drain(session, group, subscription, receiver)
        await _stock_latency(
            session, settings.topic(STOCK_LEVEL_CHANGED.name), windows, first_second=first_second
        )
        await _lifecycle_latency(session, settings.topic(LIFECYCLE_STAGE_CHANGED.name))
        session.report.details["latency_products"] = products
        await stock_accuracy(session, "latency", group.wiring, published)
        await gateway_accuracy(session, "latency", group.wiring)
    finally:
        await session.stop(group)
    _group_latency_rows(session.report)


async def stock_alone_latency_case(session: BenchSession) -> None:
    """Stock the only service running: deliveries published at each rate, origin →
    stock-level-changed derived for every record of the rate's window."""
    _, deliveries = _traffic(session, "stock alone")
    group = await session.new_group()
    with session.step("Starting stock alone"):
        ready_s = await session.start(group, "stock")
    session.done(f"stock ready in {ready_s:.1f}s")
    try:
        first_second, _ = await _warm_up(
            session, group, deliveries, [STOCK_MOVEMENTS], "latency_warm_up_stock_alone"
        )
        windows: list[Window] = []
        for rate, chunk in _by_rate(session, deliveries):
            start, end = await _publish_at(
                session, group, rate, chunk, [STOCK_MOVEMENTS], "latency_publish_stock_alone"
            )
            windows.append((rate, start, end))
        topic = group.wiring.settings().topic(STOCK_LEVEL_CHANGED.name)
        await _stock_latency(
            session, topic, windows, target="stock alone", first_second=first_second
        )
    finally:
        await session.stop(group)


def _warm_up_count(session: BenchSession) -> int:
    """How many deliveries the warm-up publishes: :data:`WARM_UP_S` at the first rate."""
    return max(1, round(session.options.rates[0] * WARM_UP_S))


def _per_rate(session: BenchSession) -> list[int]:
    """How many deliveries each rate publishes."""
    options = session.options
    return [max(1, round(rate * options.seconds_per_rate)) for rate in options.rates]


async def _warm_up(
    session: BenchSession,
    group: ServiceGroup,
    deliveries: list[Delivery],
    subscriptions: Sequence[Subscription[Any]],
    details: str,
) -> tuple[Window, list[Delivery]]:
    """Publish the first :data:`WARM_UP_S` of ``deliveries`` at the first rate and wait
    until they are applied; their window, and the deliveries published."""
    rate = session.options.rates[0]
    warm_up = deliveries[: _warm_up_count(session)]
    start, end = await _publish_at(session, group, rate, warm_up, subscriptions, details)
    return (rate, start, end), warm_up


def _traffic(session: BenchSession, what: str) -> tuple[Catalog, list[Delivery]]:
    """The generated catalog and the deliveries of a latency case: the warm-up's, then
    those every rate publishes."""
    total = _warm_up_count(session) + sum(_per_rate(session))
    with session.step(f"Generating {total:,} deliveries for {what}"):
        # A few more movements than needed: duplicates and malformed records are extra.
        config = session.options.traffic(total)
        catalog = build_catalog(config)
        return catalog, generate_deliveries(config, catalog)


def _by_rate(
    session: BenchSession, deliveries: list[Delivery]
) -> Iterator[tuple[int, list[Delivery]]]:
    """Each rate with its share of ``deliveries``, in order, after the warm-up's."""
    offset = _warm_up_count(session)
    for rate, count in zip(session.options.rates, _per_rate(session), strict=True):
        yield rate, deliveries[offset : offset + count]
        offset += count


async def _publish_at(
    session: BenchSession,
    group: ServiceGroup,
    rate: int,
    chunk: list[Delivery],
    subscriptions: Sequence[Subscription[Any]],
    details: str = "latency_publish",
) -> tuple[datetime, datetime]:
    """Publish a chunk at ``rate`` and wait until the listed consumers have caught up; the
    window. What was sent goes to the report's ``details`` under its rate."""
    topic = group.wiring.settings().topic(STOCK_MOVED.name)
    with session.step(
        f"Publishing {len(chunk):,} deliveries at {rate}/s", total=len(chunk)
    ) as update:
        start = datetime.now(UTC)
        stats = await blocking(
            publish, chunk, bootstrap=session.bootstrap, topic=topic, rate=rate, on_progress=update
        )
        end = datetime.now(UTC)
    drained = time.monotonic()
    await _wait_caught_up(session, group, subscriptions)
    drain_s = time.monotonic() - drained
    session.report.details.setdefault(details, {})[str(rate)] = {
        "records": stats.records,
        "seconds": round(stats.seconds, 3),
        "achieved_rate": round(stats.rate, 1),
        "by_kind": stats.by_kind,
        "drain_after_publish_s": round(drain_s, 3),
    }
    session.done(
        f"published {stats.records:,} at {stats.rate:,.0f}/s (asked {rate}/s); "
        f"caught up {drain_s:.2f}s after the last send"
    )
    return start, end


async def _wait_caught_up(
    session: BenchSession, group: ServiceGroup, subscriptions: Sequence[Subscription[Any]]
) -> None:
    """Wait until every listed consumer has caught up with all its topics."""
    settings = group.wiring.settings()

    def alive() -> bool:
        return all(s.running for s in group.services.values())

    with session.step("Waiting for every consumer to catch up"):
        for subscription in subscriptions:
            async with GroupWatcher(
                session.bootstrap,
                settings.consumer_group(subscription),
                [settings.topic(t.name) for t in subscription.topics],
            ) as watcher:
                await watcher.wait_drained(within_s=180, alive=alive)
            if subscription.service == "stock":
                # The gateway can only catch up with what the relay has published.
                await session.db.wait_outbox_empty(f"{settings.schema_prefix}stock", within_s=120)


async def _offer_latency(
    session: BenchSession, group: ServiceGroup, rate: int, start: datetime
) -> None:
    """Origin → new offer version stored (feed, webhooks and Kafka have it from its commit
    on), one sample per offer version of a channel: every version counts, not only the
    last of a SKU."""
    changes = await session.db.offer_changes(f"{group.wiring.schema_prefix}sync_gateway", start)
    summary = LatencySummary.of(
        (r["changed_at"] - r["origin_time"]).total_seconds() for r in changes
    )
    session.report.details.setdefault("latency_sync_gateway", {})[str(rate)] = asdict(summary)
    _latency_row(session.report, "sync_gateway (offer)", rate, summary)


async def _stock_latency(
    session: BenchSession,
    topic: str,
    windows: list[Window],
    *,
    first_second: Window,
    target: str = "stock",
) -> None:
    """Origin → stock-level-changed derived, for every record of each rate's window, and
    of the warm-up (the first second after start)."""
    times = await read_event_times(session.bootstrap, topic, within_s=60)
    key = f"latency_{target.replace(' ', '_')}"
    measured = [(str(window[0]), window, "") for window in windows]
    measured.append(("first_second", first_second, "first second after start, "))
    for name, (rate, start, end), when in measured:
        summary = LatencySummary.of(t.latency_s for t in times if start <= t.origin_time <= end)
        session.report.details.setdefault(key, {})[name] = asdict(summary)
        _latency_row(session.report, target, rate, summary, when)


async def _lifecycle_latency(session: BenchSession, topic: str) -> None:
    """Product created over HTTP → lifecycle-stage-changed derived."""
    stages = await read_event_times(session.bootstrap, topic, within_s=60)
    summary = LatencySummary.of(t.latency_s for t in stages)
    session.report.details["latency_lifecycle"] = asdict(summary)
    session.report.add(
        Row(
            "latency lifecycle",
            "created → stage p50/p95/p99",
            _triple(summary),
            note=f"{summary.samples} products created over HTTP "
            f"({HTTP_CONCURRENCY} in flight); max {summary.max_ms:.0f} ms",
        )
    )


def _latency_row(
    report: BenchReport, target: str, rate: int, summary: LatencySummary, when: str = ""
) -> None:
    report.add(
        Row(
            f"latency {target}",
            f"{when}@{rate}/s p50/p95/p99",
            _triple(summary),
            note=f"{summary.samples:,} events; max {summary.max_ms:.0f} ms",
        )
    )


def _group_latency_rows(report: BenchReport) -> None:
    """Group latency rows by target (they are measured rate by rate)."""
    latency = [r for r in report.rows if r.case.startswith("latency ")]
    others = [r for r in report.rows if not r.case.startswith("latency ")]
    order = {
        "latency stock": 0,
        "latency stock alone": 1,
        "latency sync_gateway (offer)": 2,
        "latency lifecycle": 3,
    }
    latency.sort(key=lambda r: order.get(r.case, 9))
    report.rows = others + latency


def _triple(summary: LatencySummary) -> str:
    if not summary.samples:
        return "no samples"
    return f"{summary.p50_ms:.0f} / {summary.p95_ms:.0f} / {summary.p99_ms:.0f} ms"

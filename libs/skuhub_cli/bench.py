"""``skuhub bench``: throughput, latency, accuracy and memory on the embedded stack.

One embedded Kafka broker (Tansu) and one embedded PostgreSQL serve the whole
run; every case gets a fresh topic prefix and schema prefix, so no case sees
another's records or rows. The cases, in order:

1. **pass-through baseline** — consume and produce the generator's valid
   records on the same broker with no processing: the physical limit here.
2. **stock** — N pre-loaded deliveries (valid, duplicate, malformed), the
   service started afterwards; timed from ready until its consumer group has
   committed every partition's end offset.
3. **sync_gateway** — the stock-level-changed events stock derived in (2),
   consumed the same way.
4. **catalog** — the generated products created over HTTP (8 in flight);
   **lifecycle** — the resulting product-changed events, consumed the same way.
5. **latency** — all four services running; deliveries published at fixed
   rates; per event: origin → stock-level-changed derived (stock), origin →
   applied in the offer projection (sync_gateway, i.e. visible to a channel),
   product created → stage derived (lifecycle).
6. **accuracy** after each run: the stock ledger against the generator's
   oracle; the gateway's projection against the stock ledger.

Peak RSS of every process tree is sampled throughout. The result is printed as
a table and written as JSON under ``bench-results/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import shlex
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from skuhub_cli.bench_probes import (
    BenchError,
    Database,
    GroupProgress,
    GroupWatcher,
    LatencySummary,
    RssSampler,
    atp,
    create_plain_topics,
    machine,
    pass_through,
    produce_flat_out,
    read_event_times,
)
from skuhub_cli.stack import (
    EmbeddedKafka,
    EmbeddedPostgres,
    ServiceProcess,
    create_topics,
    free_port,
)
from skuhub_contracts.subscriptions import (
    LIFECYCLE_PRODUCTS,
    OFFER_PROJECTION,
    STOCK_MOVEMENTS,
    Subscription,
)
from skuhub_contracts.topics import (
    LIFECYCLE_STAGE_CHANGED,
    PRODUCT_CHANGED,
    STOCK_LEVEL_CHANGED,
    STOCK_MOVED,
    dead_letter,
)
from skuhub_runtime.settings import ServiceSettings
from skuhub_traffic.catalog import build_catalog
from skuhub_traffic.model import Catalog, Delivery, TrafficConfig
from skuhub_traffic.movements import generate_deliveries
from skuhub_traffic.oracle import Oracle
from skuhub_traffic.publish import publish

QUICK_MOVEMENTS = 3_000
FULL_MOVEMENTS = 20_000
QUICK_RATES = (200,)
FULL_RATES = (100, 250, 500, 1000)
QUICK_SECONDS_PER_RATE = 15.0
FULL_SECONDS_PER_RATE = 20.0
QUICK_PRODUCT_MODELS = 500
FULL_PRODUCT_MODELS = 1_500
HTTP_CONCURRENCY = 8
READY_TIMEOUT_S = 90.0
SHOWN_MISMATCHES = 5

PositionKey = tuple[str, str, str]


class Update(Protocol):
    """Sets how much of a step is done (and, optionally, of how much)."""

    def __call__(self, done: float, total: float | None = None) -> None: ...


# --------------------------------------------------------------------------- options and results


@dataclass(frozen=True, slots=True)
class BenchOptions:
    """What ``skuhub bench`` runs; :meth:`build` fills in the quick/full defaults."""

    quick: bool
    movements: int
    rates: tuple[int, ...]
    seconds_per_rate: float
    out: Path
    product_models: int = QUICK_PRODUCT_MODELS
    partitions: int = 3
    seed: int = 42

    @classmethod
    def build(
        cls,
        *,
        quick: bool,
        movements: int | None,
        rates: Sequence[int] | None,
        seconds_per_rate: float | None,
        out: Path,
        product_models: int | None = None,
        partitions: int = 3,
        seed: int = 42,
    ) -> BenchOptions:
        return cls(
            quick=quick,
            movements=movements or (QUICK_MOVEMENTS if quick else FULL_MOVEMENTS),
            rates=tuple(rates) if rates else (QUICK_RATES if quick else FULL_RATES),
            seconds_per_rate=seconds_per_rate
            or (QUICK_SECONDS_PER_RATE if quick else FULL_SECONDS_PER_RATE),
            out=out,
            product_models=product_models
            or (QUICK_PRODUCT_MODELS if quick else FULL_PRODUCT_MODELS),
            partitions=partitions,
            seed=seed,
        )

    def command(self) -> str:
        """The command line that reproduces this run."""
        parts = ["skuhub", "bench"]
        if self.quick:
            parts.append("--quick")
        parts += ["--movements", str(self.movements)]
        parts += ["--rates", ",".join(str(r) for r in self.rates)]
        parts += ["--seconds-per-rate", f"{self.seconds_per_rate:g}"]
        parts += ["--product-models", str(self.product_models)]
        if self.partitions != 3:
            parts += ["--partitions", str(self.partitions)]
        if self.seed != 42:
            parts += ["--seed", str(self.seed)]
        return shlex.join(parts)

    def traffic(self, movements: int) -> TrafficConfig:
        return TrafficConfig(
            seed=self.seed, movements=movements, product_models=self.product_models
        )


@dataclass(slots=True)
class Row:
    """One line of the result table."""

    case: str
    metric: str
    value: float | str
    unit: str = ""
    ratio: float | None = None
    note: str = ""


@dataclass(slots=True)
class BenchReport:
    command: str
    started_at: str
    options: dict[str, Any]
    machine: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    wall_seconds: float = 0.0
    complete: bool = False

    def add(self, *rows: Row) -> None:
        self.rows.extend(rows)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=_json_default) + "\n"

    def markdown(self) -> str:
        """The table as GitHub markdown, with the machine and the command (for docs)."""
        lines = [
            "| case | metric | value | vs. baseline | note |",
            "|---|---|--:|--:|---|",
        ]
        last_case = None
        for row in self.rows:
            case = row.case if row.case != last_case else ""
            last_case = row.case
            ratio = f"{row.ratio:.1%}" if row.ratio is not None else ""
            value = _format_value(row.value, row.unit)
            lines.append(f"| {case} | {row.metric} | {value} | {ratio} | {row.note} |")
        m = self.machine
        versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())
        lines += [
            "",
            f"Machine: {m.get('cpu_count')} cores ({m.get('cpu_model')}), "
            f"{m.get('memory_total_bytes', 0) / 2**30:.1f} GiB, {m.get('platform')}, "
            f"load average at start {m.get('load_average_at_start')}; "
            f"Python {m.get('python')}; Tansu {m.get('tansu')}; "
            f"{str(m.get('postgresql', '')).split(' on ')[0]}; {versions}.",
            "",
            f"Run {self.started_at}, wall time {self.wall_seconds:.0f} s: `{self.command}`",
        ]
        return "\n".join(lines) + "\n"

    def table(self) -> Table:
        table = Table(title=f"skuhub bench ({'quick' if self.options.get('quick') else 'full'})")
        table.add_column("case")
        table.add_column("metric")
        table.add_column("value", justify="right")
        table.add_column("ratio", justify="right")
        table.add_column("note", overflow="fold")
        last_case = None
        for row in self.rows:
            case = row.case if row.case != last_case else ""
            last_case = row.case
            table.add_row(
                case,
                row.metric,
                _format_value(row.value, row.unit),
                f"{row.ratio:.1%}" if row.ratio is not None else "",
                row.note,
            )
        return table


def _format_value(value: float | str, unit: str) -> str:
    if isinstance(value, str):
        return value
    if math.isnan(value):
        return "n/a"
    if unit == "%":
        return f"{value:.2f} %"
    if unit == "MiB":
        return f"{value:.0f} MiB"
    if unit == "ms":
        return f"{value:.1f} ms"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}".strip()
    return f"{value:.2f} {unit}".strip()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, Path)):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# --------------------------------------------------------------------------- the run


class Bench:
    """Owns every process it starts and stops them all, whatever happens."""

    def __init__(self, options: BenchOptions, console: Console) -> None:
        self.options = options
        self.console = console
        self.workdir = Path(tempfile.mkdtemp(prefix="skuhub-bench-"))
        self.kafka: EmbeddedKafka | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.services: list[ServiceProcess] = []
        self.rss = RssSampler()
        self.report = BenchReport(
            command=options.command(),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            options={
                "quick": options.quick,
                "movements": options.movements,
                "rates": list(options.rates),
                "seconds_per_rate": options.seconds_per_rate,
                "product_models": options.product_models,
                "partitions": options.partitions,
                "seed": options.seed,
            },
        )
        self._progress: Progress | None = None

    # ---- infrastructure

    @property
    def bootstrap(self) -> str:
        if self.kafka is None:
            raise BenchError("the broker is not started")
        return self.kafka.bootstrap

    @property
    def database_url(self) -> str:
        if self.postgres is None:
            raise BenchError("PostgreSQL is not started")
        return self.postgres.url

    @property
    def db(self) -> Database:
        return Database(self.database_url)

    def _start_infrastructure(self) -> None:
        self.kafka = EmbeddedKafka(free_port(), log_path=self.workdir / "tansu.log")
        self.postgres = EmbeddedPostgres(self.workdir / "pgdata")
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(self.kafka.start), pool.submit(self.postgres.start)]
            for future in futures:
                future.result()
        self.rss.watch("kafka (tansu)", self.kafka.pid)
        self.rss.watch("postgresql", self.postgres.pid)

    def _settings(self, prefix: str) -> ServiceSettings:
        return ServiceSettings(
            kafka_bootstrap=self.bootstrap,
            database_url=self.database_url,
            topic_prefix=f"{prefix}.",
            schema_prefix=f"{prefix}_",
            topic_partitions=self.options.partitions,
        )

    def _new_prefix(self) -> str:
        prefix = f"b{uuid.uuid4().hex[:8]}"
        create_topics(self._settings(prefix), partitions=self.options.partitions)
        return prefix

    def _service(self, name: str, prefix: str) -> ServiceProcess:
        service = ServiceProcess(
            name,
            env={
                "SKUHUB_KAFKA_BOOTSTRAP": self.bootstrap,
                "SKUHUB_DATABASE_URL": self.database_url,
                "SKUHUB_TOPIC_PREFIX": f"{prefix}.",
                "SKUHUB_SCHEMA_PREFIX": f"{prefix}_",
                "SKUHUB_TOPIC_PARTITIONS": str(self.options.partitions),
                "SKUHUB_LOG_FORMAT": "json",
            },
            port=free_port(),
            log_path=self.workdir / f"{prefix}-{name}.log",
        )
        self.services.append(service)
        return service

    def _start(self, *services: ServiceProcess) -> float:
        """Start services, wait until all are ready; the seconds that took."""
        started = time.monotonic()
        for service in services:
            service.start()
            self.rss.watch(service.name, service.pid)
        with ThreadPoolExecutor(max_workers=len(services)) as pool:
            for future in [pool.submit(s.wait_ready, READY_TIMEOUT_S) for s in services]:
                future.result()
        return time.monotonic() - started

    def _stop(self, *services: ServiceProcess) -> None:
        for service in services:
            self.rss.unwatch(service.name)
            service.terminate()
        for service in services:
            if service.pid is not None:
                service.stop()

    def _stop_all(self) -> None:
        running = [s for s in self.services if s.running]
        with contextlib.suppress(Exception):
            self._stop(*running)
        self.rss.stop()
        if self.kafka is not None:
            with contextlib.suppress(Exception):
                self.kafka.stop()
        if self.postgres is not None:
            with contextlib.suppress(Exception):
                self.postgres.stop()

    # ---- progress

    @contextlib.contextmanager
    def _step(self, description: str, total: float | None = None) -> Iterator[Update]:
        """A progress line while a step runs; yields a setter of how much is done."""
        progress = self._progress
        if progress is None:
            yield _no_update
            return
        task = progress.add_task(description, total=total)

        def update(done: float, total: float | None = None) -> None:
            if total is not None:
                progress.update(task, completed=done, total=total)
            else:
                progress.update(task, completed=done)

        try:
            yield update
        finally:
            progress.remove_task(task)

    def _done(self, message: str) -> None:
        self.console.print(f"[green]✓[/] {message}")

    # ---- entry

    def run(self) -> BenchReport:
        wall = time.monotonic()
        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.rss.start()
        try:
            with progress:
                self._progress = progress
                with self._step("Starting Kafka (Tansu) and PostgreSQL"):
                    self._start_infrastructure()
                self._done(f"Kafka on {self.bootstrap}, PostgreSQL in {self.workdir / 'pgdata'}")
                self.report.machine = machine()
                self.report.machine["postgresql"] = asyncio.run(self.db.version())
                self._throughput_cases()
                self._latency_case()
            self.report.complete = True
        except BaseException:
            self.console.print(f"[yellow]logs kept in {self.workdir}[/]")
            raise
        finally:
            self._progress = None
            self._stop_all()
            self.report.add(*self._memory_rows())
            self.report.wall_seconds = round(time.monotonic() - wall, 1)
        shutil.rmtree(self.workdir, ignore_errors=True)
        return self.report

    # ---- throughput

    def _throughput_cases(self) -> None:
        options = self.options
        with self._step(f"Generating {options.movements:,} movements"):
            config = options.traffic(options.movements)
            catalog = build_catalog(config)
            deliveries = generate_deliveries(config, catalog)
        valid = [d for d in deliveries if d.kind == "valid"]
        kinds = _count_kinds(deliveries)
        self.report.details["throughput_traffic"] = {
            "deliveries": len(deliveries),
            "by_kind": kinds,
            "products": len(catalog.products),
        }
        prefix = self._new_prefix()
        settings = self._settings(prefix)
        moved_topic = settings.topic(STOCK_MOVED.name)
        bench_in, bench_out = settings.topic("bench.in"), settings.topic("bench.out")
        with self._step(f"Pre-loading {len(deliveries):,} deliveries and {len(valid):,} records"):
            asyncio.run(
                create_plain_topics(self.bootstrap, [bench_in, bench_out], options.partitions)
            )
            asyncio.run(produce_flat_out(self.bootstrap, moved_topic, deliveries))
            asyncio.run(produce_flat_out(self.bootstrap, bench_in, valid))

        baseline = self._baseline(bench_in, bench_out, f"{prefix}.bench-pass-through", len(valid))
        self._consumer_case(
            "stock",
            prefix,
            group=settings.consumer_group(STOCK_MOVEMENTS),
            topics=[moved_topic],
            baseline=baseline,
            outbox_schema=f"{prefix}_stock",
        )
        self._stock_accuracy("throughput", prefix, deliveries)
        self._consumer_case(
            "sync_gateway",
            prefix,
            group=settings.consumer_group(OFFER_PROJECTION),
            topics=[
                settings.topic(STOCK_LEVEL_CHANGED.name),
                settings.topic(PRODUCT_CHANGED.name),
                settings.topic(LIFECYCLE_STAGE_CHANGED.name),
            ],
            baseline=baseline,
            outbox_schema=None,
        )
        self._gateway_accuracy("throughput", prefix)

        catalog_service = self._service("catalog", prefix)
        ready_s = self._start(catalog_service)
        try:
            created = self._create_products(catalog_service, catalog, "catalog")
            with self._step("Waiting for the catalog outbox to drain"):
                asyncio.run(self.db.wait_outbox_empty(f"{prefix}_catalog", within_s=60))
        finally:
            self._stop(catalog_service)
        self.report.details["catalog"] = {"ready_s": round(ready_s, 2), **created}
        self._consumer_case(
            "lifecycle",
            prefix,
            group=settings.consumer_group(LIFECYCLE_PRODUCTS),
            topics=[settings.topic(PRODUCT_CHANGED.name)],
            baseline=baseline,
            outbox_schema=f"{prefix}_lifecycle",
        )

    def _baseline(self, source: str, sink: str, group: str, expected: int) -> float:
        with self._step("Pass-through baseline (consume → produce)", total=expected) as update:
            result = asyncio.run(
                pass_through(
                    self.bootstrap,
                    source=source,
                    sink=sink,
                    group=group,
                    expected=expected,
                    within_s=max(60.0, expected / 100),
                    on_progress=update,
                )
            )
        self.report.add(
            Row(
                "baseline",
                "pass-through",
                result.rate,
                "rec/s",
                note=f"{result.records:,} records in {result.seconds:.2f}s, no processing",
            )
        )
        self.report.details["baseline"] = asdict(result)
        self._done(f"pass-through baseline: {result.rate:,.0f} records/s")
        return result.rate

    def _consumer_case(
        self,
        name: str,
        prefix: str,
        *,
        group: str,
        topics: list[str],
        baseline: float,
        outbox_schema: str | None,
    ) -> None:
        """Start one service on a pre-loaded backlog; time it until its group has no lag.

        Two figures: from ready (what the brief of the benchmark asks: the
        consumer-group join and the first fetch count) and sustained (from the
        first offset commit seen after ready, i.e. the steady state).
        """
        service = self._service(name, prefix)
        try:
            ready_s = self._start(service)
            ready_at = time.monotonic()
            with self._step(f"{name}: draining its backlog") as update:
                curve, drained_at = asyncio.run(self._drain(group, topics, update, service))
            if outbox_schema is not None:
                with self._step(f"{name}: waiting for its outbox to drain"):
                    asyncio.run(self.db.wait_outbox_empty(outbox_schema, within_s=120))
            outbox_s = time.monotonic() - drained_at
        finally:
            self._stop(service)
        before, after = curve[0][1], curve[-1][1]
        records = after.committed - before.committed
        seconds = drained_at - ready_at
        rate = records / seconds if seconds > 0 and records > 0 else math.nan
        steady_rate, steady_records, steady_s = _steady(curve, drained_at)
        before_note = f"; {before.committed:,} done before ready" if before.committed else ""
        self.report.add(
            Row(
                name,
                "throughput, ready → no lag",
                rate,
                "rec/s",
                _share(rate, baseline),
                f"{records:,} rec in {seconds:.2f}s (start-up {ready_s:.1f}s){before_note}",
            ),
            Row(
                name,
                "sustained (1st commit → no lag)",
                steady_rate,
                "rec/s",
                _share(steady_rate, baseline),
                f"{steady_records:,} rec in {steady_s:.2f}s"
                if steady_records
                else "backlog done in one commit",
            ),
        )
        self.report.details[f"throughput_{name}"] = {
            "group": group,
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
            "curve": [(round(t - ready_at, 3), p.committed) for t, p in _thin(curve, 200)],
        }
        self._done(
            f"{name}: {rate:,.0f} records/s from ready, {steady_rate:,.0f} sustained "
            f"({_ratio(steady_rate, baseline)} of the baseline)"
        )

    async def _drain(
        self,
        group: str,
        topics: list[str],
        update: Update,
        service: ServiceProcess,
    ) -> tuple[list[tuple[float, GroupProgress]], float]:
        """Poll the group until it has no lag; the (time, progress) curve and the end time."""
        curve: list[tuple[float, GroupProgress]] = []

        def seen(progress: GroupProgress) -> None:
            curve.append((time.monotonic(), progress))
            update(progress.committed, progress.end)

        async with GroupWatcher(self.bootstrap, group, topics) as watcher:
            _, drained_at = await watcher.wait_drained(
                within_s=180.0, on_progress=seen, alive=lambda: service.running, static=True
            )
        return curve, drained_at

    # ---- catalog over HTTP

    def _create_products(
        self, catalog_service: ServiceProcess, catalog: Catalog, case: str
    ) -> dict[str, Any]:
        products = list(catalog.products)
        # Product models first, then their variants and kits.
        waves = [
            [p for p in products if p.parent_sku is None],
            [p for p in products if p.parent_sku is not None],
        ]
        with self._step(
            f"Creating {len(products)} products over HTTP", total=len(products)
        ) as update:
            result = asyncio.run(_post_products(catalog_service.url, waves, update))
        rate = result["created"] / result["seconds"] if result["seconds"] > 0 else math.nan
        if case == "catalog":
            note = (
                f"{result['created']} products in {result['seconds']:.2f}s, "
                f"{HTTP_CONCURRENCY} requests in flight"
                + (f"; {len(result['problems'])} refused" if result["problems"] else "")
            )
            self.report.add(Row("catalog", "products created (HTTP)", rate, "prod/s", None, note))
            self._done(f"catalog: {rate:,.0f} products/s over HTTP")
        return result

    # ---- latency

    def _latency_case(self) -> None:
        options = self.options
        per_rate = [max(1, round(rate * options.seconds_per_rate)) for rate in options.rates]
        with self._step(f"Generating {sum(per_rate):,} deliveries for the latency runs"):
            # A few more movements than needed: duplicates and malformed records are extra.
            config = options.traffic(sum(per_rate))
            catalog = build_catalog(config)
            deliveries = generate_deliveries(config, catalog)
        prefix = self._new_prefix()
        settings = self._settings(prefix)
        services = {
            name: self._service(name, prefix)
            for name in ("catalog", "stock", "lifecycle", "sync_gateway")
        }
        with self._step("Starting the four services"):
            ready_s = self._start(*services.values())
        self._done(f"four services ready in {ready_s:.1f}s")
        try:
            products = self._create_products(services["catalog"], catalog, "latency")
            self._wait_groups(
                settings,
                [LIFECYCLE_PRODUCTS, OFFER_PROJECTION],
                services.values(),
            )
            published: list[Delivery] = []
            windows: list[tuple[int, datetime, datetime]] = []
            offset = 0
            for rate, count in zip(options.rates, per_rate, strict=True):
                chunk = deliveries[offset : offset + count]
                offset += count
                start, end = self._publish_at(rate, chunk, settings, services.values())
                published.extend(chunk)
                windows.append((rate, start, end))
                gateway = asyncio.run(self.db.gateway_positions(f"{prefix}_sync_gateway"))
                samples = [
                    (r["applied_at"] - r["origin_time"]).total_seconds()
                    for r in gateway
                    if r["origin_time"] >= start
                ]
                summary = LatencySummary.of(samples)
                self.report.details.setdefault("latency_sync_gateway", {})[str(rate)] = asdict(
                    summary
                )
                self._latency_row("sync_gateway (offer)", rate, summary)
            times = asyncio.run(
                read_event_times(
                    self.bootstrap, settings.topic(STOCK_LEVEL_CHANGED.name), within_s=60
                )
            )
            for rate, start, end in windows:
                summary = LatencySummary.of(
                    t.latency_s for t in times if start <= t.origin_time <= end
                )
                self.report.details.setdefault("latency_stock", {})[str(rate)] = asdict(summary)
                self._latency_row("stock", rate, summary)
            stages = asyncio.run(
                read_event_times(
                    self.bootstrap, settings.topic(LIFECYCLE_STAGE_CHANGED.name), within_s=60
                )
            )
            summary = LatencySummary.of(t.latency_s for t in stages)
            self.report.details["latency_lifecycle"] = asdict(summary)
            self.report.add(
                Row(
                    "latency lifecycle",
                    "created → stage p50/p95/p99",
                    _triple(summary),
                    note=f"{summary.samples} products created over HTTP "
                    f"({HTTP_CONCURRENCY} in flight); max {summary.max_ms:.0f} ms",
                )
            )
            self.report.details["latency_products"] = products
            self._stock_accuracy("latency", prefix, published)
            self._gateway_accuracy("latency", prefix)
        finally:
            self._stop(*services.values())
        self._reorder_latency_rows()

    def _publish_at(
        self,
        rate: int,
        chunk: list[Delivery],
        settings: ServiceSettings,
        services: Any,
    ) -> tuple[datetime, datetime]:
        topic = settings.topic(STOCK_MOVED.name)
        with self._step(
            f"Publishing {len(chunk):,} deliveries at {rate}/s", total=len(chunk)
        ) as update:
            start = datetime.now(UTC)
            stats = publish(
                chunk,
                bootstrap=self.bootstrap,
                topic=topic,
                rate=rate,
                on_progress=update,
            )
            end = datetime.now(UTC)
        drained = time.monotonic()
        self._wait_groups(
            settings,
            [STOCK_MOVEMENTS, OFFER_PROJECTION],
            services,
            outbox=f"{settings.schema_prefix}stock",
        )
        drain_s = time.monotonic() - drained
        self.report.details.setdefault("latency_publish", {})[str(rate)] = {
            "records": stats.records,
            "seconds": round(stats.seconds, 3),
            "achieved_rate": round(stats.rate, 1),
            "by_kind": stats.by_kind,
            "drain_after_publish_s": round(drain_s, 3),
        }
        self._done(
            f"published {stats.records:,} at {stats.rate:,.0f}/s (asked {rate}/s); "
            f"caught up {drain_s:.2f}s after the last send"
        )
        return start, end

    def _wait_groups(
        self,
        settings: ServiceSettings,
        subscriptions: list[Subscription[Any]],
        services: Any,
        outbox: str | None = None,
    ) -> None:
        """Wait until every listed consumer has caught up with all its topics."""
        alive: Callable[[], bool] = lambda: all(s.running for s in services)  # noqa: E731

        async def wait() -> None:
            for subscription in subscriptions:
                async with GroupWatcher(
                    self.bootstrap,
                    settings.consumer_group(subscription),
                    [settings.topic(t.name) for t in subscription.topics],
                ) as watcher:
                    await watcher.wait_drained(within_s=180, alive=alive)
                if outbox is not None and subscription.service == "stock":
                    # The gateway can only catch up with what the relay has published.
                    await self.db.wait_outbox_empty(outbox, within_s=120)

        with self._step("Waiting for every consumer to catch up"):
            asyncio.run(wait())

    def _latency_row(self, target: str, rate: int, summary: LatencySummary) -> None:
        self.report.add(
            Row(
                f"latency {target}",
                f"@{rate}/s p50/p95/p99",
                _triple(summary),
                note=f"{summary.samples:,} events; max {summary.max_ms:.0f} ms",
            )
        )

    def _reorder_latency_rows(self) -> None:
        """Group latency rows by target (they are measured rate by rate)."""
        rows = self.report.rows
        latency = [r for r in rows if r.case.startswith("latency ")]
        others = [r for r in rows if not r.case.startswith("latency ")]
        order = {"latency stock": 0, "latency sync_gateway (offer)": 1, "latency lifecycle": 2}
        latency.sort(key=lambda r: order.get(r.case, 9))
        self.report.rows = others + latency

    # ---- accuracy

    def _stock_accuracy(self, run: str, prefix: str, deliveries: list[Delivery]) -> None:
        """The stock ledger against the generator's oracle, and the record counts."""
        oracle = Oracle.from_deliveries(deliveries)
        rows = asyncio.run(self.db.stock_positions(f"{prefix}_stock"))
        actual: dict[PositionKey, tuple[Decimal, Decimal, Decimal]] = {
            (r["sku"], r["location"], r["lot"] or ""): (
                Decimal(r["on_hand"]),
                Decimal(r["reserved"]),
                Decimal(r["in_transit"]),
            )
            for r in rows
        }
        problems = oracle.compare(actual)
        matching = sum(
            1
            for key, want in oracle.positions.items()
            if actual.get(key) == (want.on_hand, want.reserved, want.in_transit)
        )
        extra = len(set(actual) - set(oracle.positions))
        expected = len(oracle.positions)
        share = 100.0 * matching / expected if expected else math.nan
        journal = asyncio.run(self.db.stock_journal(f"{prefix}_stock"))
        dead_letters = asyncio.run(
            self._record_count(self._settings(prefix).topic(dead_letter("stock").name))
        )
        malformed = oracle.expected_counts.get("malformed", 0)
        self.report.add(
            Row(
                f"accuracy ({run})",
                "stock ledger = oracle",
                share,
                "%",
                note=f"{matching:,}/{expected:,} positions"
                + (f"; {extra} unexpected" if extra else "")
                + (f"; first: {problems[0]}" if problems else ""),
            ),
            Row(
                f"accuracy ({run})",
                "movements journaled = oracle",
                "yes" if journal["applied"] == oracle.applied else "NO",
                note=f"{journal['applied']:,} journaled, oracle {oracle.applied:,}; "
                f"dead letters {dead_letters} for {malformed} malformed",
            ),
        )
        self.report.details[f"accuracy_stock_{run}"] = {
            "expected_positions": expected,
            "matching": matching,
            "unexpected": extra,
            "share_percent": share,
            "problems": len(problems),
            "first_problems": problems[:SHOWN_MISMATCHES],
            "journaled": journal,
            "oracle_applied": oracle.applied,
            "delivered_by_kind": oracle.expected_counts,
            "dead_letters": dead_letters,
        }

    async def _record_count(self, topic: str) -> int:
        async with GroupWatcher(self.bootstrap, "(count)", [topic]) as watcher:
            return sum((await watcher.end_offsets()).values())

    def _gateway_accuracy(self, run: str, prefix: str) -> None:
        ledger = asyncio.run(self.db.stock_positions(f"{prefix}_stock"))
        projection = {
            (r["sku"], r["location"], r["lot"] or ""): r
            for r in asyncio.run(self.db.gateway_positions(f"{prefix}_sync_gateway"))
        }
        matching = 0
        mismatches: list[str] = []
        for row in ledger:
            key = (row["sku"], row["location"], row["lot"] or "")
            seen = projection.get(key)
            want_atp = atp(Decimal(row["on_hand"]), Decimal(row["reserved"]))
            if (
                seen is not None
                and int(seen["version"]) == int(row["version"])
                and Decimal(seen["available_to_promise"]) == want_atp
            ):
                matching += 1
            elif len(mismatches) < SHOWN_MISMATCHES:
                got = (
                    f"v{seen['version']} atp {seen['available_to_promise']}" if seen else "missing"
                )
                mismatches.append(
                    f"{'/'.join(key)}: ledger v{row['version']} atp {want_atp}, projection {got}"
                )
        share = 100.0 * matching / len(ledger) if ledger else math.nan
        self.report.add(
            Row(
                f"accuracy ({run})",
                "gateway projection = stock ledger",
                share,
                "%",
                note=f"{matching:,}/{len(ledger):,} positions at the same version and ATP"
                + (f"; first: {mismatches[0]}" if mismatches else ""),
            )
        )
        self.report.details[f"accuracy_gateway_{run}"] = {
            "positions": len(ledger),
            "matching": matching,
            "share_percent": share,
            "first_mismatches": mismatches,
        }

    # ---- memory

    def _memory_rows(self) -> list[Row]:
        rows = []
        for index, (name, peak) in enumerate(sorted(self.rss.peaks.items())):
            note = "process and children, sampled every 0.2 s" if index == 0 else ""
            rows.append(Row("peak RSS", name, peak / 2**20, "MiB", note=note))
        self.report.details["peak_rss_bytes"] = dict(self.rss.peaks)
        return rows


# --------------------------------------------------------------------------- helpers


async def _post_products(
    base: str, waves: list[list[Any]], update: Callable[[float], None]
) -> dict[str, Any]:
    limit = asyncio.Semaphore(HTTP_CONCURRENCY)
    created = 0
    problems: list[str] = []
    done = 0
    async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:

        async def post(product: Any) -> None:
            nonlocal created, done
            async with limit:
                response = await client.post("/v1/products", json=product.to_http())
            if response.status_code in (200, 201):
                created += 1
            elif len(problems) < SHOWN_MISMATCHES:
                problems.append(f"{product.sku}: HTTP {response.status_code} {response.text[:200]}")
            done += 1
            update(done)

        started = time.monotonic()
        for wave in waves:
            await asyncio.gather(*(post(p) for p in wave))
        seconds = time.monotonic() - started
    return {"created": created, "seconds": round(seconds, 3), "problems": problems}


def _no_update(done: float, total: float | None = None) -> None:
    """Progress is not shown."""


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


def _count_kinds(deliveries: Sequence[Delivery]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for delivery in deliveries:
        kinds[delivery.kind] = kinds.get(delivery.kind, 0) + 1
    return kinds


def _ratio(rate: float, baseline: float) -> str:
    return f"{rate / baseline:.1%}" if baseline and not math.isnan(rate) else "n/a"


def _triple(summary: LatencySummary) -> str:
    if not summary.samples:
        return "no samples"
    return f"{summary.p50_ms:.0f} / {summary.p95_ms:.0f} / {summary.p99_ms:.0f} ms"


def write_report(report: BenchReport, out: Path) -> Path:
    """Write ``out/bench-<UTC timestamp>.json`` (and the same table as ``.md``); the JSON path."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"bench-{stamp}.json"
    path.write_text(report.to_json(), encoding="utf-8")
    path.with_suffix(".md").write_text(report.markdown(), encoding="utf-8")
    return path


def run_bench(options: BenchOptions, console: Console) -> tuple[BenchReport, Path]:
    """Run every case, print the table, write the JSON; stops everything it started."""
    bench = Bench(options, console)
    try:
        report = bench.run()
    except BaseException:
        if bench.report.rows:
            partial = write_report(bench.report, options.out)
            console.print(f"[yellow]partial results (complete: false) in {partial}[/]")
        raise
    path = write_report(report, options.out)
    # A terminal gets its own width; piped into a file, keep each row on one line.
    out = console if console.is_terminal else Console(file=console.file, width=160)
    out.print(report.table())
    console.print(
        f"machine: {report.machine.get('cpu_count')} cores ({report.machine.get('cpu_model')}), "
        f"{report.machine.get('memory_total_bytes', 0) / 2**30:.1f} GiB; "
        f"python {report.machine.get('python')}, tansu {report.machine.get('tansu')}, "
        f"{str(report.machine.get('postgresql', '')).split(' on ')[0]}"
    )
    console.print(f"wall time {report.wall_seconds:.0f}s; JSON: {path}")
    console.print(f"reproduce: {report.command}")
    return report, path


__all__ = ["BenchOptions", "BenchReport", "Row", "run_bench", "write_report"]

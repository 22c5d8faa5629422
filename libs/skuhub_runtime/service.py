"""The runtime every service is composed on: database, broker, relay, consumers, HTTP.

A service's composition root builds one :class:`ServiceRuntime` with its
settings, its unit of work (repositories bound to a connection) and its
consumer specs, adds its HTTP routers, and calls :func:`run_service`.
Handlers never see the engine: Kafka batches and HTTP commands both run
through :attr:`ServiceRuntime.transactions`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_runtime import access_store, metrics, migrations, telemetry
from skuhub_runtime.commits import CommitSignal
from skuhub_runtime.consumer import BatchConsumer
from skuhub_runtime.db import (
    create_engine,
    create_probe_engine,
    database_address,
    wait_for_database,
)
from skuhub_runtime.dependencies import Dependency, DependencyWatch, Unreachable
from skuhub_runtime.handling import ConsumerSpec, Decision
from skuhub_runtime.kafka import create_broker
from skuhub_runtime.lag_monitor import watch_lag
from skuhub_runtime.outbox import Enqueued, OutboxRelay
from skuhub_runtime.periodic import PeriodicJob, PeriodicRunner
from skuhub_runtime.producer import KafkaPublisher
from skuhub_runtime.settings import ServiceSettings
from skuhub_runtime.transactions import Transactions

log = logging.getLogger(__name__)

U = TypeVar("U")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Worker(Generic[U]):
    """A long-running task of a service (webhook dispatch): ``run(runtime)`` loops until
    cancelled; it is started again a second after it fails. Unlike a periodic job it
    opens its own transactions, so it can do I/O between them."""

    name: str
    run: Callable[[ServiceRuntime[U]], Awaitable[None]]
    once: bool = False
    """Done when ``run`` returns (a start-up task); only a failure starts it again."""


class ServiceRuntime(Generic[U]):
    """Owns a service's engine, broker, outbox relay and consumers, and their lifecycle."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        unit_of_work: Callable[[AsyncConnection], U],
        migrations_dir: Path,
        consumers: Sequence[ConsumerSpec[Any, U]] = (),
        periodic: Sequence[PeriodicJob[U]] = (),
        workers: Sequence[Worker[U]] = (),
    ) -> None:
        self.settings = settings
        self.service = settings.service_name
        self.engine = create_engine(settings)
        self.broker = create_broker(settings)
        self.publisher = KafkaPublisher(settings)
        self.relay = OutboxRelay(
            self.engine,
            self.publisher,
            service=self.service,
            batch_size=settings.outbox_batch_size,
            poll_interval_s=settings.outbox_poll_interval_s,
            stale_after_s=settings.outbox_stale_after_s,
        )
        self.commits = CommitSignal()
        self.transactions = Transactions(
            self.engine, unit_of_work, settings=settings, after_commit=self._after_commit
        )
        self._migrations_dir = migrations_dir
        self.consumers = [
            BatchConsumer(spec, settings=settings, transactions=self.transactions)
            for spec in consumers
        ]
        for consumer in self.consumers:
            consumer.register(self.broker)
        self.periodic = PeriodicRunner(list(periodic), self.transactions)
        self._workers = [*workers, *self._observers()]
        self._worker_tasks: list[asyncio.Task[None]] = []
        self.ready = False
        # At 0 from the start: dashboards, alerts and the metric-name check see it before
        # the first replay.
        metrics.DEAD_LETTER_REPLAYS.labels(self.service)
        self._probe_engine = create_probe_engine(settings)
        self.dependencies = DependencyWatch(
            self.service,
            [
                Dependency(
                    "kafka", "Kafka", f"bootstrap {settings.kafka_bootstrap}", self.publisher.check
                ),
                Dependency(
                    "postgresql",
                    "PostgreSQL",
                    database_address(settings.database_url),
                    self._select_one,
                ),
            ],
            interval_s=settings.dependency_probe_interval_s,
            timeout_s=settings.dependency_probe_timeout_s,
            warning_interval_s=settings.dependency_warning_interval_s,
        )

    def _observers(self) -> list[Worker[U]]:
        """The workers every service runs: its consumer lag and its outbox backlog."""
        settings = self.settings
        groups = {
            settings.consumer_group(c.spec.subscription): [
                settings.topic(t.name) for t in c.spec.subscription.topics
            ]
            for c in self.consumers
        }

        async def lag(_: ServiceRuntime[U]) -> None:
            await watch_lag(settings, groups, settings.lag_refresh_interval_s)

        async def backlog(_: ServiceRuntime[U]) -> None:
            await self.relay.watch_backlog(settings.outbox_backlog_interval_s)

        observers = [Worker("outbox-backlog", backlog)]
        return [Worker("consumer-lag", lag), *observers] if groups else observers

    def _after_commit(self, enqueued: Enqueued) -> None:
        self.relay.committed(enqueued)
        self.commits.fire()

    async def _select_one(self) -> None:
        async with self._probe_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def execute(self, decide: Callable[[U], Awaitable[Decision[R]]]) -> R:
        """Run an HTTP command handler in one transaction (see :class:`Transactions`)."""
        return await self.transactions.execute(decide)

    async def read(self, query: Callable[[U], Awaitable[R]]) -> R:
        """Run a query against the unit of work."""
        return await self.transactions.read(query)

    async def start(self) -> None:
        """Wait for PostgreSQL, migrate, connect to Kafka, start consuming and relaying."""
        await wait_for_database(self.engine)
        # Unbounded statements for migrations only (see create_engine).
        migrating = create_engine(self.settings, bounded=False, pool_size=1)
        try:
            await migrations.upgrade(migrating, self._migrations_dir, self.settings.db_schema)
            await access_store.migrate(migrating, self.settings.schema_prefix)
        finally:
            await migrating.dispose()
        await self.publisher.start()
        self.relay.start()
        await self.broker.start()
        self.periodic.start()
        self._worker_tasks = [
            asyncio.create_task(self._run_worker(worker), name=worker.name)
            for worker in self._workers
        ]
        self.ready = self.dependencies.started = True
        await self.dependencies.probe()  # readiness answers from this round on
        self.dependencies.start()
        log.info("%s ready", self.service)

    async def stop(self, step_timeout_s: float = 10.0) -> None:
        """Stop consuming, publish what is committed, close connections.

        The order matters: consumers stop first (no new outbox rows), the relay
        then drains the outbox through a still-open producer, and only then do
        the producer and the pool close. Each step is bounded: with Kafka or
        PostgreSQL gone, shutdown still ends. Nothing committed is lost by a
        cut-short step: unpublished outbox rows and uncommitted offsets are
        taken up again at the next start.
        """
        self.ready = self.dependencies.started = False
        metrics.READY.labels(self.service).set(0)
        await self.dependencies.stop()
        for name, step in (
            ("workers", self._stop_workers),
            ("periodic jobs", self.periodic.stop),
            ("consumers", self.broker.stop),
            ("outbox relay", self.relay.stop),
            ("producer", self.publisher.stop),
            ("database pool", self.engine.dispose),
            ("probe connection", self._probe_engine.dispose),
        ):
            try:
                await asyncio.wait_for(step(), step_timeout_s)
            except TimeoutError:
                log.warning("stopping the %s took over %.0fs; left behind", name, step_timeout_s)
            except Exception:
                log.exception("stopping the %s failed", name)
        log.info("%s stopped", self.service)

    async def _run_worker(self, worker: Worker[U]) -> None:
        while True:
            try:
                await worker.run(self)
                if worker.once:
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker %s failed; starting it again in %.0fs", worker.name, 1.0)
            # The worker's restart back-off, not a synchronisation.
            await asyncio.sleep(1.0)

    async def _stop_workers(self) -> None:
        for task in self._worker_tasks:
            task.cancel()
        await asyncio.gather(*self._worker_tasks, return_exceptions=True)
        self._worker_tasks = []

    def check_ready(self) -> tuple[dict[str, bool], list[Unreachable]]:
        """Readiness of each part (started, kafka, postgresql) as the last probe round saw
        it, and what is unreachable; answers at once, whatever the dependencies do."""
        checks = {"started": self.ready, **self.dependencies.status()}
        return checks, self.dependencies.unreachable() if self.ready else []


def run_service(app: object, settings: ServiceSettings) -> None:
    """Serve a service's ASGI app until SIGINT/SIGTERM; uvicorn shuts it down gracefully."""
    telemetry.configure_logging(settings.service_name, settings.log_level, settings.log_format)
    telemetry.configure_tracing(settings.service_name, instance=settings.instance_id)
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        lifespan="on",
        access_log=False,
    )
    try:
        uvicorn.Server(config).run()
    finally:
        telemetry.shutdown_tracing()

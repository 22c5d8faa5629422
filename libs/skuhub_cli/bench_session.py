"""What the cases of one ``skuhub bench`` run share, and the one place that starts and stops.

One embedded broker and one embedded PostgreSQL serve the whole run, read
through one database engine; each case gets service groups under a fresh
prefix. Everything runs on one event loop: blocking work (processes, the
librdkafka publisher) goes to a thread through :func:`blocking`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import ParamSpec, Protocol, Self, TypeVar

from rich.console import Console
from rich.progress import Progress

from skuhub_cli.bench_options import BenchOptions
from skuhub_cli.bench_probes import BenchError, Database, RssSampler
from skuhub_cli.bench_report import BenchReport, Row
from skuhub_cli.embedded_kafka import EmbeddedKafka
from skuhub_cli.infrastructure import EmbeddedInfrastructure, embedded_infrastructure
from skuhub_cli.launcher import ServiceGroup, Wiring
from skuhub_cli.topics import ensure_topics_within
from skuhub_runtime.access_tokens import Scope

P = ParamSpec("P")
T = TypeVar("T")


async def blocking(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking work in a thread while the event loop goes on.

    When the run is cancelled meanwhile, the work is let finish before the
    cancellation goes on, so that whatever it started is known to the cleanup.
    """
    work = asyncio.ensure_future(asyncio.to_thread(function, *args, **kwargs))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await work
        raise


class Update(Protocol):
    """Sets how much of a step is done (and, optionally, of how much)."""

    def __call__(self, done: float, total: float | None = None) -> None: ...


def _no_update(done: float, total: float | None = None) -> None:
    """Progress is not shown."""


class BenchSession:
    """The infrastructure, the database, the report, memory sampling and progress of a run.

    Use as ``async with``: entering starts the broker and PostgreSQL; leaving
    stops every service started through it, then the infrastructure.
    """

    def __init__(
        self,
        options: BenchOptions,
        *,
        console: Console,
        report: BenchReport,
        rss: RssSampler,
        workdir: Path,
        progress: Progress | None = None,
    ) -> None:
        self.options = options
        self.console = console
        self.report = report
        self.rss = rss
        self.workdir = workdir
        self._progress = progress
        self._groups: list[ServiceGroup] = []
        self._infra_exit = contextlib.ExitStack()
        self._infra: EmbeddedInfrastructure | None = None
        self._db: Database | None = None

    @property
    def infra(self) -> EmbeddedInfrastructure:
        if self._infra is None:
            raise BenchError("the broker and PostgreSQL are not started")
        return self._infra

    @property
    def bootstrap(self) -> str:
        return self.infra.kafka_bootstrap

    @property
    def db(self) -> Database:
        if self._db is None:
            raise BenchError("PostgreSQL is not started")
        return self._db

    # ---- start and stop

    async def __aenter__(self) -> Self:
        with self.step(f"Starting Kafka ({EmbeddedKafka.DESCRIPTION}) and PostgreSQL"):
            infra = await blocking(
                self._infra_exit.enter_context,
                embedded_infrastructure(
                    log_dir=self.workdir,
                    postgres_dir=self.workdir / "pgdata",
                    kafka_dir=self.workdir / "kafka",
                ),
            )
        self._infra = infra
        if infra.kafka is not None:
            self.rss.watch("kafka", infra.kafka.pid)
        if infra.postgres is not None:
            self.rss.watch("postgresql", infra.postgres.pid)
        self._db = Database(infra.database_url)
        if infra.kafka is not None and infra.kafka.ready_after_s is not None:
            self.report.add(
                Row(
                    "kafka",
                    "start-up → first record acked",
                    infra.kafka.ready_after_s,
                    "s",
                    note=EmbeddedKafka.DESCRIPTION,
                )
            )
        self.done(f"Kafka on {infra.kafka_bootstrap}, PostgreSQL in {self.workdir / 'pgdata'}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            # A second Ctrl-C must not cut the cleanup short (it is bounded by timeouts).
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for group in self._groups:
            with contextlib.suppress(Exception):
                await self.stop(group)
        if self._db is not None:
            with contextlib.suppress(Exception):
                await self._db.close()
        with contextlib.suppress(Exception):
            await blocking(self._infra_exit.close)

    async def new_group(self) -> ServiceGroup:
        """A service group under a fresh prefix, its topics created."""
        prefix = f"b{uuid.uuid4().hex[:8]}"
        wiring = Wiring.isolated(
            self.infra.kafka_bootstrap,
            self.infra.database_url,
            prefix,
            partitions=self.options.partitions,
            extra_env={"SKUHUB_LOG_FORMAT": "json"},
        )
        await ensure_topics_within(wiring.settings(), partitions=self.options.partitions)
        token = await blocking(wiring.issue_token, "bench", tuple(Scope), note="skuhub bench")
        # The bench's HTTP clients send it (endpoints.auth_headers reads SKUHUB_TOKEN).
        os.environ["SKUHUB_TOKEN"] = token.value
        group = ServiceGroup(wiring, log_dir=self.workdir, log_prefix=f"{prefix}-")
        self._groups.append(group)
        return group

    async def start(
        self,
        group: ServiceGroup,
        *names: str,
        replicas: Mapping[str, int] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> float:
        """Start services (``replicas[name]`` instances each) and watch their memory; the
        seconds until all were ready."""
        started = time.monotonic()
        services = await blocking(group.spawn, names, replicas=replicas, env=env)
        for service in services:
            self.rss.watch(service.name, service.pid)
        await blocking(group.wait_ready, services)
        return time.monotonic() - started

    async def stop(self, group: ServiceGroup, names: Sequence[str] | None = None) -> None:
        """Stop services of a group (all of them by default)."""
        for name in names if names is not None else group.services:
            self.rss.unwatch(name)
        await blocking(group.stop, names)

    # ---- progress

    @contextlib.contextmanager
    def step(self, description: str, total: float | None = None) -> Iterator[Update]:
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

    def done(self, message: str) -> None:
        self.console.print(f"[green]✓[/] {message}")

"""The one test harness: infrastructure (embedded, external or containers) and the services.

Infrastructure is chosen once per session:

- ``SKUHUB_KAFKA_BOOTSTRAP`` / ``SKUHUB_DATABASE_URL`` set: use those (external mode);
- otherwise, when a Docker engine answers and testcontainers is installed: Apache Kafka
  and PostgreSQL containers;
- otherwise: the embedded broker and PostgreSQL, started as ``skuhub dev`` starts them
  (``skuhub_cli.infrastructure``).

Services are started by the launcher ``skuhub dev`` and ``skuhub bench`` use
(``skuhub_cli.launcher``). Isolation: every stack started here gets a fresh topic
prefix and schema prefix, so tests and runs never see each other's records or rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from skuhub_cli.bench_probes import GroupProgress, GroupWatcher
from skuhub_cli.infrastructure import embedded_infrastructure
from skuhub_cli.launcher import ServiceGroup, Wiring
from skuhub_cli.processes import log_tail
from skuhub_cli.service_process import ServiceProcess
from skuhub_cli.topics import create_topics
from skuhub_contracts.topics import SERVICES
from skuhub_runtime import migrations
from skuhub_runtime.db import create_engine
from skuhub_runtime.settings import ServiceSettings
from tests import api

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T | None], *, timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> T:
    """Call ``probe`` until it returns something truthy; fail after ``timeout`` seconds.

    Errors from the probe count as "not yet" (a service may not answer for a while),
    except an ``AssertionError``: a probe raises one to say waiting is pointless.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = probe()
            if result:
                return result
        except AssertionError:
            raise
        except Exception as exc:  # the condition may be unreachable for a while
            last_error = exc
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what or probe}{detail}"
            )
        # Not synchronisation: a polling interval between checks of a condition with a deadline.
        time.sleep(interval)


async def wait_until_async(
    probe: Callable[[], Awaitable[T | None]],
    *,
    within_s: float = 30.0,
    what: str = "",
    seen: Callable[[], object] | None = None,
) -> T:
    """:func:`wait_until` for a coroutine probe, without blocking the event loop; on timeout
    the message shows ``seen()``, what the test saw instead."""
    deadline = time.monotonic() + within_s
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            detail = f"; seen instead: {seen()!r}" if seen else ""
            raise AssertionError(
                f"timed out after {within_s:.0f}s waiting for {what or probe}{detail}"
            )
        await asyncio.sleep(0.05)  # a polling interval, not synchronisation


@dataclass(frozen=True)
class Infrastructure:
    kafka_bootstrap: str
    database_url: str
    mode: str


@contextlib.asynccontextmanager
async def migrated_schema(
    infra: Infrastructure, settings_type: type[ServiceSettings], revisions: Path
) -> AsyncIterator[AsyncEngine]:
    """An engine on a newly migrated schema of one service (a fresh prefix), dropped after."""
    settings = settings_type(
        database_url=infra.database_url, schema_prefix=f"t{uuid.uuid4().hex[:8]}_"
    )
    engine = create_engine(settings)
    try:
        await migrations.upgrade(engine, revisions, settings.db_schema)
        yield engine
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{settings.db_schema}" CASCADE'))
    finally:
        await engine.dispose()


@contextlib.contextmanager
def infrastructure(workdir: Path) -> Iterator[Infrastructure]:
    """Start (or find) Kafka and PostgreSQL for a test session."""
    kafka = os.environ.get("SKUHUB_KAFKA_BOOTSTRAP", "")
    database = os.environ.get("SKUHUB_DATABASE_URL", "")
    if database:  # postgresql://… means asyncpg here too, as in the services
        database = ServiceSettings(database_url=database).database_url
    if kafka and database:
        yield Infrastructure(kafka, database, "external")
        return
    if not kafka and not database and _docker_answers():
        with _containers() as infra:
            yield infra
            return
    with embedded_infrastructure(
        log_dir=workdir,
        postgres_dir=workdir / "pgdata",
        kafka_dir=workdir / "kafka",
        kafka_bootstrap=kafka,
        database_url=database,
    ) as embedded:
        yield Infrastructure(embedded.kafka_bootstrap, embedded.database_url, "embedded")


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        import testcontainers  # noqa: F401
    except ImportError:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)
    return probe.returncode == 0


@contextlib.contextmanager
def _containers() -> Iterator[Infrastructure]:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer

    with (
        KafkaContainer("apache/kafka:4.4.0").with_kraft() as kafka,
        PostgresContainer("postgres:15", driver=None) as postgres,
    ):
        yield Infrastructure(
            kafka.get_bootstrap_server(), postgres.get_connection_url(), "containers"
        )


@dataclass
class Stack:
    """The four services running as processes against one infrastructure, isolated by prefix."""

    infra: Infrastructure
    workdir: Path
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:8]}")

    @functools.cached_property
    def wiring(self) -> Wiring:
        return Wiring.isolated(
            self.infra.kafka_bootstrap,
            self.infra.database_url,
            self.prefix,
            # Reconciler passes back to back: the tests wait for them (the default waits 30 s).
            extra_env={"SKUHUB_LOG_FORMAT": "json", "SKUHUB_RECONCILE_INTERVAL_S": "1"},
        )

    @functools.cached_property
    def group(self) -> ServiceGroup:
        return ServiceGroup(self.wiring, log_dir=self.workdir, log_prefix=f"{self.prefix}-")

    @property
    def services(self) -> dict[str, ServiceProcess]:
        return self.group.services

    @functools.cached_property
    def settings(self) -> ServiceSettings:
        """Topic names and consumer groups of this stack (``settings.consumer_group(...)``)."""
        return self.wiring.settings()

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    def url(self, service: str) -> str:
        """The URL of the service (its first instance, when it runs more than once)."""
        return self.group.url(service)

    def start(
        self,
        names: tuple[str, ...] = SERVICES,
        env: dict[str, str] | None = None,
        replicas: dict[str, int] | None = None,
    ) -> None:
        """Create the topics, start the services (``replicas[name]`` instances of each, 1 by
        default; ``env`` on top of the wiring's), wait until all are ready."""
        create_topics(self.settings)
        api.register_session_token(self.wiring)
        self.group.start(names, env=env, replicas=replicas)

    def add_instance(self, service: str, env: dict[str, str] | None = None) -> ServiceProcess:
        """Start one more instance of a running service (it joins the same consumer groups)
        and wait until it is ready."""
        process = self.group.add_instance(service, env=env)
        self.group.wait_ready([process])
        return process

    def stop(self) -> dict[str, int]:
        """Stop every service started here; their exit codes (see ``CLEAN_EXIT_CODES``).

        A service that already exited reports how it ended, and its log is closed too.
        """
        return self.group.stop()

    def logs(self) -> str:
        return "\n".join(
            f"--- {name} ---\n{log_tail(p.log_path)}" for name, p in self.services.items()
        )


def run_async(coro: Any) -> Any:
    """Run a coroutine from a synchronous test (each call gets its own event loop)."""
    return asyncio.run(coro)


@dataclass(frozen=True)
class StockLedger:
    """What the stock service's tables hold for some SKUs, read straight from PostgreSQL."""

    on_hand: dict[tuple[str, str], Decimal]
    """Per (SKU, location), summed over lots."""
    journaled: int
    """Movements recorded, applied or refused."""
    refused: int


def stock_ledger(database_url: str, schema: str, skus: Sequence[str]) -> StockLedger:
    """Read the stock ledger of ``skus`` from ``schema`` (the test's own engine, no service)."""

    async def read() -> StockLedger:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as conn:
                positions = await conn.execute(
                    text(
                        f'SELECT sku, location, sum(on_hand) FROM "{schema}".positions '
                        "WHERE sku = ANY(:skus) GROUP BY sku, location"
                    ),
                    {"skus": list(skus)},
                )
                on_hand = {(sku, location): Decimal(total) for sku, location, total in positions}
                journaled, refused = (
                    await conn.execute(
                        text(
                            "SELECT count(*), count(rejected_reason) "
                            f'FROM "{schema}".movements WHERE sku = ANY(:skus)'
                        ),
                        {"skus": list(skus)},
                    )
                ).one()
            return StockLedger(on_hand, int(journaled), int(refused))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def group_progress(bootstrap: str, group: str, topics: Sequence[str]) -> GroupProgress:
    """How far a consumer group is through its topics (committed vs. end offsets)."""

    async def read() -> GroupProgress:
        async with GroupWatcher(bootstrap, group, topics) as watcher:
            return await watcher.progress()

    return asyncio.run(read())

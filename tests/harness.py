"""The one test harness: infrastructure (embedded, external or containers) and the services.

Infrastructure is chosen once per session:

- ``SKUHUB_KAFKA_BOOTSTRAP`` / ``SKUHUB_DATABASE_URL`` set: use those (external mode);
- otherwise, when a Docker engine answers and testcontainers is installed: Apache Kafka
  and PostgreSQL containers;
- otherwise: the embedded Tansu broker and the wheel-shipped PostgreSQL.

Isolation: every stack started here gets a fresh topic prefix and schema prefix, so
tests and runs never see each other's records or rows.
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
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from skuhub_cli.stack import EmbeddedKafka, EmbeddedPostgres, ServiceProcess, free_port, log_tail
from skuhub_contracts.topics import SERVICES
from skuhub_runtime.kafka import ensure_topics
from skuhub_runtime.settings import ServiceSettings

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
    probe: Callable[[], Awaitable[T | None]], *, within_s: float = 30.0, what: str = ""
) -> T:
    """:func:`wait_until` for a coroutine probe, without blocking the event loop."""
    deadline = time.monotonic() + within_s
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within_s:.0f}s waiting for {what or probe}")
        await asyncio.sleep(0.05)  # a polling interval, not synchronisation


@dataclass(frozen=True)
class Infrastructure:
    kafka_bootstrap: str
    database_url: str
    mode: str


@contextlib.contextmanager
def infrastructure(workdir: Path) -> Iterator[Infrastructure]:
    """Start (or find) Kafka and PostgreSQL for a test session."""
    kafka = os.environ.get("SKUHUB_KAFKA_BOOTSTRAP")
    database = os.environ.get("SKUHUB_DATABASE_URL")
    if database:  # postgresql://… means asyncpg here too, as in the services
        database = ServiceSettings(database_url=database).database_url
    if kafka and database:
        yield Infrastructure(kafka, database, "external")
        return
    if not kafka and not database and _docker_answers():
        with _containers() as infra:
            yield infra
            return
    with contextlib.ExitStack() as stack:
        if not kafka:
            broker = EmbeddedKafka(log_path=workdir / "tansu.log")
            broker.start()
            stack.callback(broker.stop)
            kafka = broker.bootstrap
        if not database:
            postgres = EmbeddedPostgres(workdir / "pgdata")
            postgres.start()
            stack.callback(postgres.stop)
            database = postgres.url
        yield Infrastructure(kafka, database, "embedded")


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
        KafkaContainer("apache/kafka:3.9.1").with_kraft() as kafka,
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
    extra_env: dict[str, str] = field(default_factory=dict)
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {
            "SKUHUB_KAFKA_BOOTSTRAP": self.infra.kafka_bootstrap,
            "SKUHUB_DATABASE_URL": self.infra.database_url,
            "SKUHUB_TOPIC_PREFIX": f"{self.prefix}.",
            "SKUHUB_SCHEMA_PREFIX": f"{self.prefix}_",
            "SKUHUB_LOG_FORMAT": "json",
            **self.extra_env,
        }

    @functools.cached_property
    def settings(self) -> ServiceSettings:
        return ServiceSettings(
            kafka_bootstrap=self.infra.kafka_bootstrap,
            database_url=self.infra.database_url,
            topic_prefix=f"{self.prefix}.",
            schema_prefix=f"{self.prefix}_",
        )

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    def url(self, service: str) -> str:
        return self.services[service].url

    def create_topics(self) -> None:
        asyncio.run(ensure_topics(self.settings, partitions=3))

    def start(self, names: tuple[str, ...] = SERVICES, env: dict[str, str] | None = None) -> None:
        self.create_topics()
        for name in names:
            self.services[name] = ServiceProcess(
                name,
                env={**self.env, **(env or {})},
                port=free_port(),
                log_path=self.workdir / f"{self.prefix}-{name}.log",
            )
            self.services[name].start()
        with ThreadPoolExecutor(len(names)) as pool:
            list(pool.map(lambda n: self.services[n].wait_ready(90), names))

    def stop(self) -> dict[str, int]:
        """Stop every service started here; their exit codes (0 is a clean shutdown).

        A service that already exited reports how it ended, and its log is closed too.
        """
        return {name: process.stop() for name, process in self.services.items() if process.pid}

    def logs(self) -> str:
        return "\n".join(
            f"--- {name} ---\n{log_tail(p.log_path)}" for name, p in self.services.items()
        )


def run_async(coro: Any) -> Any:
    """Run a coroutine from a synchronous test (each call gets its own event loop)."""
    return asyncio.run(coro)

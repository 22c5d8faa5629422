"""The dev stack behind ``skuhub dev``: broker, database and the four services as one.

Everything here is synchronous and waits for conditions (a TCP connect, an
HTTP 200, a process exit) with deadlines; nothing sleeps for a fixed time
hoping something is ready.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table

from skuhub_cli.infrastructure import EmbeddedInfrastructure, embedded_infrastructure
from skuhub_cli.launcher import CLEAN_EXIT_CODES, READY_TIMEOUT_S, ServiceGroup, Wiring
from skuhub_cli.processes import StackError
from skuhub_cli.supervision import Backoff, Supervisor
from skuhub_cli.topics import create_topics
from skuhub_contracts.topics import SERVICES
from skuhub_runtime.access_tokens import Scope

DEFAULT_HTTP_PORT_BASE = 8101
"""catalog 8101, stock 8102, lifecycle 8103, sync_gateway 8104."""
DEFAULT_KAFKA_PORT = 9092


class DevStack:
    """Broker, database and services for local development, started and stopped as one.

    External mode: when ``SKUHUB_KAFKA_BOOTSTRAP`` and/or ``SKUHUB_DATABASE_URL``
    are set (in ``environ``), that part is used as is and not started here.
    """

    def __init__(
        self,
        *,
        data_dir: Path = Path(".skuhub/pgdata"),
        kafka_dir: Path = Path(".skuhub/kafka"),
        kafka_port: int = DEFAULT_KAFKA_PORT,
        http_port_base: int = DEFAULT_HTTP_PORT_BASE,
        partitions: int = 3,
        services: Sequence[str] = SERVICES,
        replicas: Mapping[str, int] | None = None,
        state_dir: Path = Path(".skuhub"),
        environ: Mapping[str, str] | None = None,
        console: Console | None = None,
        ready_timeout: float = READY_TIMEOUT_S,
    ) -> None:
        unknown = [s for s in services if s not in SERVICES]
        if unknown:
            raise ValueError(
                f"unknown service(s) {unknown}; expected some of {', '.join(SERVICES)}"
            )
        self.replicas = dict(replicas or {})
        check_replicas(self.replicas, services=services, partitions=partitions)
        self.environ = dict(os.environ if environ is None else environ)
        self.data_dir = data_dir
        self.kafka_dir = kafka_dir
        self.kafka_port = kafka_port
        self.http_port_base = http_port_base
        self.partitions = partitions
        self.service_names = tuple(services)
        self.state_dir = state_dir
        self.log_dir = state_dir / "logs"
        self.console = console or Console(stderr=True)
        self.ready_timeout = ready_timeout
        self.infra: EmbeddedInfrastructure | None = None
        self.group: ServiceGroup | None = None
        self.ready_after_s: float | None = None
        self.token: str | None = None
        """The dev token (every scope), created at each start."""
        self._infra_exit = contextlib.ExitStack()

    @property
    def topic_prefix(self) -> str:
        return self.environ.get("SKUHUB_TOPIC_PREFIX", "")

    @property
    def kafka_bootstrap(self) -> str:
        return self._infra().kafka_bootstrap

    @property
    def endpoints_path(self) -> Path:
        """Written once every service is ready, removed when the stack stops."""
        return self.state_dir / "endpoints.json"

    def urls(self) -> dict[str, str]:
        """Each service's URL (its first instance's)."""
        return self.group.urls() if self.group else {}

    def instance_urls(self) -> dict[str, str]:
        """Every instance's URL, by instance name (``stock-1``, ``stock-2``, …)."""
        return self.group.instance_urls() if self.group else {}

    # ---- start

    def start(self) -> None:
        """Start everything and wait until every service is ready; on failure stop it all."""
        started_at = time.monotonic()
        try:
            self.infra = self._infra_exit.enter_context(
                embedded_infrastructure(
                    log_dir=self.log_dir,
                    postgres_dir=self.data_dir,
                    kafka_dir=self.kafka_dir,
                    kafka_port=self.kafka_port,
                    kafka_bootstrap=self.environ.get("SKUHUB_KAFKA_BOOTSTRAP", ""),
                    database_url=self.environ.get("SKUHUB_DATABASE_URL", ""),
                    on_ready=lambda part: self.console.print(f"[green]✓[/] {part}"),
                    on_progress=lambda step: self.console.print(f"[dim]…[/] {step}"),
                )
            )
            wiring = Wiring(
                self.infra.kafka_bootstrap,
                self.infra.database_url,
                topic_prefix=self.topic_prefix,
                schema_prefix=self.environ.get("SKUHUB_SCHEMA_PREFIX", ""),
                partitions=self.partitions,
            )
            self._create_topics(wiring)
            self._start_services(wiring)
            self.token = wiring.issue_token("dev", tuple(Scope), note="skuhub dev").value
        except BaseException:
            self.stop()
            raise
        self.ready_after_s = time.monotonic() - started_at
        self._write_endpoints()

    def _create_topics(self, wiring: Wiring) -> None:
        mode = "external" if self._infra().kafka is None else "embedded"
        with self.console.status(f"Creating topics on {wiring.kafka_bootstrap} ({mode})"):
            created = create_topics(wiring.settings())
        self.console.print(
            f"[green]✓[/] topics: {len(created)} created"
            + (f" ({self.partitions} partitions each)" if created else ", all existed")
        )

    def _start_services(self, wiring: Wiring) -> None:
        self.group = ServiceGroup(
            wiring,
            log_dir=self.log_dir,
            http_port_base=self.http_port_base,
            ready_timeout=self.ready_timeout,
        )
        with self.console.status(f"Waiting for {', '.join(self.service_names)} to be ready"):
            self.group.start(self.service_names, replicas=self.replicas)
        for name, url in self.group.instance_urls().items():
            self.console.print(f"[green]✓[/] {name} ready at {url}")

    # ---- run

    def supervise(self, backoff: Backoff = Backoff()) -> NoReturn:
        """Restart crashed services until Ctrl-C / SIGTERM (KeyboardInterrupt).

        Raises:
            InfrastructureDied: the embedded broker or database exited.
        """
        if self.group is None:
            raise StackError("the dev stack is not started")
        supervisor = Supervisor(
            list(self.group.services.values()),
            infrastructure_failure=self._infra().failure,
            report=lambda line: self.console.print(line, style="bold yellow", markup=False),
            backoff=backoff,
        )
        supervisor.run()

    # ---- report

    def table(self) -> Table:
        infra = self._infra()
        table = Table(title="skuhub dev stack", show_lines=False)
        table.add_column("part")
        table.add_column("address")
        table.add_column("log / data")
        kafka_log = str(infra.kafka.log_path) if infra.kafka else "(external)"
        table.add_row("kafka", infra.kafka_bootstrap, kafka_log)
        db_note = str(infra.postgres.data_dir) if infra.postgres else "(external)"
        table.add_row("postgresql", _redact(infra.database_url), db_note)
        if self.group is not None:
            for name, service in self.group.services.items():
                table.add_row(name, service.url, str(service.log_path))
        return table

    def _write_endpoints(self) -> None:
        infra = self._infra()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        payload = {
            "kafka_bootstrap": infra.kafka_bootstrap,
            "database_url": infra.database_url,
            "services": self.urls(),
            "instances": self.instance_urls(),
            "token": self.token,
        }
        # It holds the dev token: readable by its owner only, from its first byte on; and it
        # appears whole (a rename), since its existence says the stack is ready.
        writing = self.endpoints_path.with_suffix(".json.tmp")
        writing.unlink(missing_ok=True)
        fd = os.open(writing, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(payload, indent=2) + "\n")
        os.replace(writing, self.endpoints_path)

    def _infra(self) -> EmbeddedInfrastructure:
        if self.infra is None:
            raise StackError("the dev stack is not started")
        return self.infra

    # ---- stop

    def stop(self) -> None:
        """Stop the services (SIGTERM to all first), then the broker, then PostgreSQL.

        Every step runs even when an earlier one fails, so nothing is left running.
        """
        with contextlib.suppress(FileNotFoundError):
            self.endpoints_path.unlink()
        errors: list[BaseException] = []
        group, self.group = self.group, None
        if group is not None:
            try:
                codes = group.stop()
            except StackError as exc:
                errors.append(exc)
            else:
                for name, code in codes.items():
                    if code not in CLEAN_EXIT_CODES:
                        self.console.print(f"[yellow]![/] {name} exited with code {code}")
        self.infra = None
        try:
            self._infra_exit.close()
        except StackError as exc:
            errors.append(exc)
        if errors:
            raise StackError(f"stopping the stack: {'; '.join(map(str, errors))}") from errors[0]


def check_replicas(
    replicas: Mapping[str, int], *, services: Sequence[str], partitions: int
) -> None:
    """Refuse replica counts that cannot work or would idle.

    More instances than partitions is refused rather than warned about: a consumer
    group gives each partition to one member, so the extra instances would hold no
    partition and only add rebalances.

    Raises:
        ValueError: an unknown or not started service, a count below 1, or above
            ``partitions`` (the message says to raise --partitions).
    """
    for service, count in replicas.items():
        if service not in SERVICES:
            raise ValueError(
                f"unknown service {service!r} in --replicas; expected one of {', '.join(SERVICES)}"
            )
        if service not in services:
            raise ValueError(f"--replicas names {service}, which is not started")
        if count < 1:
            raise ValueError(f"--replicas {service}={count}: a service runs at least once")
        if count > partitions:
            raise ValueError(
                f"--replicas {service}={count} is more than the {partitions} partitions per "
                f"topic: {count - partitions} instance(s) would hold no partition and idle; "
                f"raise --partitions to {count} or more (for new topics; existing ones keep "
                "theirs)"
            )


def _redact(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url

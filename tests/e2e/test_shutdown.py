"""Shutdown is bounded even when the broker and the database have gone away."""

from __future__ import annotations

from pathlib import Path

import pytest

from skuhub_cli.infrastructure import embedded_infrastructure
from skuhub_cli.launcher import CLEAN_EXIT_CODES
from tests.harness import Infrastructure, Stack

pytestmark = pytest.mark.e2e


def test_a_service_stops_on_sigterm_after_its_broker_and_database_died(
    workdir: Path, tmp_path: Path
) -> None:
    with embedded_infrastructure(
        log_dir=tmp_path, postgres_dir=tmp_path / "pgdata", kafka_dir=tmp_path / "kafka"
    ) as private:
        assert private.kafka is not None
        assert private.postgres is not None
        infra = Infrastructure(private.kafka_bootstrap, private.database_url, "private")
        stack = Stack(infra, workdir)
        try:
            stack.start(("stock",))
            stock = stack.services["stock"]
            private.kafka.stop()
            private.postgres.stop()

            stock.terminate()
            code = stock.wait_exit(timeout=60)  # None: still running after the deadline
        finally:
            stack.stop()
    assert code in CLEAN_EXIT_CODES, f"exit code {code} (None: shutdown hung)"

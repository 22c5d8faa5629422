"""A 30 s outage of the broker or of PostgreSQL under steady load: seen while it lasts,
recovered from by itself, nothing lost or applied twice.

Each test runs its own broker and database (the session's stack is not disturbed),
pauses one of them with SIGSTOP for 30 s while an upstream keeps publishing, and
checks what an operator sees during the outage (readiness, the metric, the warning
line) and the ledger afterwards against what the upstream had acknowledged.
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from skuhub_cli.infrastructure import EmbeddedInfrastructure, embedded_infrastructure
from skuhub_contracts.topics import STOCK_MOVED
from tests import api
from tests.e2e.observe import metric
from tests.harness import Infrastructure, Stack, stock_ledger, wait_until
from tests.upstream import SteadyPublisher

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PAUSE_S = 30.0
WARNING_INTERVAL_S = 10  # low, so that a 30 s outage shows the warning repeated


def _broker(private: EmbeddedInfrastructure) -> Iterator[psutil.Process]:
    assert private.kafka is not None
    assert private.kafka.pid is not None
    yield psutil.Process(private.kafka.pid)


def _database(private: EmbeddedInfrastructure) -> Iterator[psutil.Process]:
    assert private.postgres is not None
    assert private.postgres.pid is not None
    postmaster = psutil.Process(private.postgres.pid)
    yield postmaster  # first: a stopped postmaster starts no new backends
    yield from postmaster.children(recursive=True)


@dataclass
class Seen:
    """What an operator could see of the outage while it lasted."""

    readiness: str = ""
    metric_down: bool = False
    warnings: int = 0


@pytest.mark.parametrize(
    ("dependency", "title", "processes"),
    [("kafka", "Kafka", _broker), ("postgresql", "PostgreSQL", _database)],
    ids=["broker", "database"],
)
def test_a_paused_dependency_is_reported_and_recovered_from_losing_and_doubling_nothing(
    workdir: Path,
    tmp_path: Path,
    dependency: str,
    title: str,
    processes: Callable[[EmbeddedInfrastructure], Iterator[psutil.Process]],
) -> None:
    with embedded_infrastructure(
        log_dir=tmp_path, postgres_dir=tmp_path / "pgdata", kafka_dir=tmp_path / "kafka"
    ) as private:
        infra = Infrastructure(private.kafka_bootstrap, private.database_url, "private")
        stack = Stack(infra, workdir)
        try:
            stack.start(
                ("stock",), env={"SKUHUB_DEPENDENCY_WARNING_INTERVAL_S": str(WARNING_INTERVAL_S)}
            )
            stock = stack.services["stock"]
            skus = [f"OUT-{uuid.uuid4().hex[:8].upper()}" for _ in range(8)]
            upstream = SteadyPublisher(infra.kafka_bootstrap, stack.topic(STOCK_MOVED.name), skus)
            upstream.start()
            try:
                wait_until(
                    lambda: metric(stack, "stock", "skuhub_events_applied_total") >= 40,
                    timeout=60,
                    what="the stock service to apply the steady load",
                )
                with _paused(processes(private)):
                    seen = _watch_outage(stack, stock.log_path, dependency, title)
                resumed = time.monotonic()
                wait_until(
                    lambda: api.get(f"{stack.url('stock')}/health/ready").status_code == 200,
                    timeout=120,
                    interval=0.2,
                    what="the stock service to be ready again",
                )
                ready_after_s = time.monotonic() - resumed
            finally:
                upstream.stop()
            published = len(upstream.acknowledged)
            schema = f"{stack.prefix}_stock"
            wait_until(
                lambda: stock_ledger(infra.database_url, schema, skus).journaled >= published,
                timeout=120,
                interval=0.5,
                what=f"all {published} acknowledged movements to be journaled",
            )
            caught_up_s = time.monotonic() - resumed
            ledger = stock_ledger(infra.database_url, schema, skus)
            dead_lettered = metric(stack, "stock", "skuhub_dead_lettered_total")
            down = metric(stack, "stock", "skuhub_dependency_outages_total", dependency=dependency)
        finally:
            stack.stop()

    print(
        f"\n{dependency} paused {PAUSE_S:.0f}s under {upstream.produced} published movements: "
        f"ready again {ready_after_s:.1f}s and caught up {caught_up_s:.1f}s after SIGCONT; "
        f"seen: {seen}"
    )
    assert upstream.failed == [], "the upstream lost records to the outage itself"
    assert seen.readiness, f"readiness stayed 200 or did not name {dependency}"
    assert seen.metric_down, f"skuhub_dependency_up{{dependency={dependency}}} never read 0"
    assert seen.warnings >= 2, f"{seen.warnings} warnings naming {title}: not one per interval"
    assert down >= 1
    assert ledger.journaled == published, f"{ledger.journaled} journaled, {published} published"
    assert ledger.refused == 0
    assert dead_lettered == 0
    assert ledger.on_hand == upstream.expected_on_hand()


@contextlib.contextmanager
def _paused(processes: Iterator[psutil.Process]) -> Iterator[None]:
    """SIGSTOP each process (as they come), SIGCONT every one of them afterwards."""
    stopped: list[psutil.Process] = []
    try:
        for process in processes:
            process.send_signal(signal.SIGSTOP)
            stopped.append(process)
        yield
    finally:
        for process in stopped:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGCONT)


def _watch_outage(stack: Stack, log_path: Path, dependency: str, title: str) -> Seen:
    """Observe readiness, the metric and the log until the pause has lasted ``PAUSE_S``.

    Waiting out the pause is the fault itself; the loop checks the observable states
    meanwhile, each check bounded (the service answers from memory; a hang would fail).
    """
    seen = Seen()
    deadline = time.monotonic() + PAUSE_S
    with api.client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            response = client.get(f"{stack.url('stock')}/health/ready")
            body = response.json()
            named = [u for u in body["unreachable"] if u["dependency"] == dependency]
            if response.status_code == 503 and not body["checks"][dependency] and named:
                seen.readiness = seen.readiness or json.dumps(named[0])
            if metric(stack, "stock", "skuhub_dependency_up", dependency=dependency) == 0:
                seen.metric_down = True
            seen.warnings = _warnings(log_path, f"{title} unreachable")
            # A polling interval between checks, not synchronisation.
            time.sleep(0.5)
    return seen


def _warnings(log_path: Path, starting: str) -> int:
    lines = (json.loads(line) for line in log_path.read_text().splitlines() if line[:1] == "{")
    return sum(1 for e in lines if e["level"] == "warning" and e["msg"].startswith(starting))

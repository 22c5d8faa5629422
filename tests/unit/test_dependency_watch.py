"""The dependency watch: state, one warning per interval, recovery line, metrics."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from prometheus_client import REGISTRY

from skuhub_runtime.dependencies import Dependency, DependencyWatch


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Broker:
    """A dependency whose answer the test decides: up, refusing, or silent (never answers)."""

    def __init__(self) -> None:
        self.mode = "up"

    async def check(self) -> None:
        if self.mode == "refusing":
            raise ConnectionRefusedError("connection refused")
        if self.mode == "silent":
            await asyncio.Event().wait()


def _sample(name: str, service: str, dependency: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"service": service, "dependency": dependency})


def _watch(service: str, broker: _Broker, clock: _Clock) -> DependencyWatch:
    return DependencyWatch(
        service,
        [Dependency("kafka", "Kafka", "bootstrap 10.0.0.1:9092", broker.check)],
        interval_s=1.0,
        timeout_s=0.05,
        warning_interval_s=60.0,
        clock=clock,
    )


async def test_an_outage_warns_once_then_once_per_interval_and_reports_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = f"svc-{uuid.uuid4().hex[:6]}"
    broker, clock = _Broker(), _Clock()
    watch = _watch(service, broker, clock)
    watch.started = True
    caplog.set_level(logging.INFO, logger="skuhub_runtime.dependencies")

    await watch.probe()
    assert watch.status() == {"kafka": True}
    assert _sample("skuhub_dependency_up", service, "kafka") == 1

    broker.mode = "silent"
    for _ in range(7):  # 0 s, 10 s, ..., 60 s into the outage
        await watch.probe()
        clock.now += 10
    assert watch.status() == {"kafka": False}
    [gone] = watch.unreachable()
    assert (gone.dependency, gone.address, gone.seconds) == ("kafka", "bootstrap 10.0.0.1:9092", 70)
    assert gone.reason == "no answer within 0.05s"
    assert _sample("skuhub_dependency_up", service, "kafka") == 0
    assert REGISTRY.get_sample_value("skuhub_ready", {"service": service}) == 0

    broker.mode = "up"
    await watch.probe()

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "Kafka unreachable (bootstrap 10.0.0.1:9092) for 0s: no answer within 0.05s; "
        "retrying, warning again every 60s",
        "Kafka unreachable (bootstrap 10.0.0.1:9092) for 60s: no answer within 0.05s; "
        "retrying, warning again every 60s",
    ]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert infos == ["Kafka is reachable again (bootstrap 10.0.0.1:9092) after an outage of 70.0s"]
    assert watch.status() == {"kafka": True}
    assert watch.unreachable() == []
    assert _sample("skuhub_dependency_outages_total", service, "kafka") == 1
    assert _sample("skuhub_dependency_unreachable_seconds_total", service, "kafka") == 70
    assert REGISTRY.get_sample_value("skuhub_ready", {"service": service}) == 1


async def test_a_refusal_names_the_error_and_a_new_outage_counts_again() -> None:
    service = f"svc-{uuid.uuid4().hex[:6]}"
    broker, clock = _Broker(), _Clock()
    watch = _watch(service, broker, clock)
    for mode in ("refusing", "up", "refusing"):
        broker.mode = mode
        await watch.probe()
        clock.now += 1
    [gone] = watch.unreachable()
    assert gone.reason == "ConnectionRefusedError: connection refused"
    assert _sample("skuhub_dependency_outages_total", service, "kafka") == 2


async def test_a_probe_that_never_answers_is_not_started_again_while_it_cleans_up() -> None:
    started = 0
    release = asyncio.Event()

    async def slow_to_give_up() -> None:
        nonlocal started
        started += 1
        try:
            await asyncio.Event().wait()
        finally:
            await release.wait()  # a connection closing slowly after the cancel

    watch = DependencyWatch(
        f"svc-{uuid.uuid4().hex[:6]}",
        [Dependency("postgresql", "PostgreSQL", "socket /tmp/x/postgres", slow_to_give_up)],
        interval_s=1.0,
        timeout_s=0.02,
        warning_interval_s=60.0,
    )
    await watch.probe()
    await watch.probe()
    assert started == 1
    assert watch.status() == {"postgresql": False}
    release.set()
    await watch.stop()

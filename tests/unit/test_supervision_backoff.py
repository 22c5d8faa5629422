"""`skuhub dev` supervision: restart back-off and decisions, on an injected clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from skuhub_cli.supervision import Backoff, InfrastructureDied, RestartPolicy, Supervisor


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Service:
    """A service process as the supervisor sees it: it runs, or it exited with a code."""

    name: str
    log_path: Path = Path("logs/stock.log")
    returncode: int | None = None
    starts: list[float] = field(default_factory=list)
    clock: Clock = field(default_factory=Clock)

    @property
    def running(self) -> bool:
        return self.returncode is None

    def start(self) -> None:
        self.returncode = None
        self.starts.append(self.clock())


def test_pauses_double_from_one_second_up_to_thirty() -> None:
    clock = Clock()
    policy = RestartPolicy(Backoff(first_s=1, longest_s=30, healthy_after_s=60), clock=clock)
    pauses = []
    for _ in range(7):
        clock.advance(5)  # runs for a few seconds, then crashes again
        pauses.append(policy.crashed())
        clock.advance(pauses[-1])
        policy.started()
    assert pauses == [1, 2, 4, 8, 16, 30, 30]
    assert policy.attempt == 7


def test_a_run_of_sixty_seconds_starts_the_count_again() -> None:
    clock = Clock()
    policy = RestartPolicy(Backoff(first_s=1, longest_s=30, healthy_after_s=60), clock=clock)
    for _ in range(3):
        policy.crashed()
        policy.started()
    clock.advance(59.9)
    assert policy.crashed() == 8, "59.9 s is not a healthy run yet"
    policy.started()
    clock.advance(60)
    assert policy.crashed() == 1
    assert policy.attempt == 1


def test_a_crashed_service_is_restarted_once_its_pause_is_over() -> None:
    clock = Clock()
    stock = Service("stock", clock=clock)
    lines: list[str] = []
    supervisor = Supervisor(
        [stock], infrastructure_failure=lambda: None, report=lines.append, clock=clock
    )
    supervisor.check()
    assert (stock.starts, lines) == ([], []), "a running service is left alone"

    stock.returncode = -9
    supervisor.check()
    assert lines == ["✗ stock exited with code -9; restart attempt 1 in 1s; log: logs/stock.log"]
    clock.advance(0.9)
    supervisor.check()
    assert stock.starts == []
    clock.advance(0.1)
    supervisor.check()
    assert stock.starts == [clock.now]
    assert lines[-1] == "↻ stock restarted (attempt 1)"

    stock.returncode = 1  # crashes again at once: a longer pause
    supervisor.check()
    assert lines[-1] == "✗ stock exited with code 1; restart attempt 2 in 2s; log: logs/stock.log"


def test_a_dead_broker_ends_supervision_and_nothing_restarts() -> None:
    clock = Clock()
    stock = Service("stock", returncode=-9, clock=clock)
    lines: list[str] = []
    supervisor = Supervisor(
        [stock],
        infrastructure_failure=lambda: (
            "the embedded Kafka broker (Apache Kafka) exited with code -9"
        ),
        report=lines.append,
        clock=clock,
    )
    with pytest.raises(InfrastructureDied, match=r"Kafka broker .* exited with code -9"):
        supervisor.check()
    assert (stock.starts, lines) == ([], [])


def test_each_instance_of_a_service_is_restarted_on_its_own() -> None:
    clock = Clock()
    first, second = Service("stock-1", clock=clock), Service("stock-2", clock=clock)
    lines: list[str] = []
    supervisor = Supervisor(
        [first, second], infrastructure_failure=lambda: None, report=lines.append, clock=clock
    )
    second.returncode = -9
    supervisor.check()
    clock.advance(1)
    supervisor.check()
    assert (first.starts, second.starts) == ([], [clock.now])
    assert lines[0].startswith("✗ stock-2 exited with code -9; restart attempt 1 in 1s")
    assert lines[1] == "↻ stock-2 restarted (attempt 1)"

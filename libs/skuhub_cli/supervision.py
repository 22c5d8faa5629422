"""Supervision for ``skuhub dev``: a crashed service is restarted after a growing pause;
only the death of the broker or the database ends the stack.

The policy is plain code over an injected clock, so it is tested without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, Protocol

from skuhub_cli.processes import StackError

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Pauses before restarts: ``first_s``, doubling up to ``longest_s``; a run of
    ``healthy_after_s`` or longer starts the count again."""

    first_s: float = 1.0
    longest_s: float = 30.0
    healthy_after_s: float = 60.0


class RestartPolicy:
    """When one service may start again after a crash."""

    def __init__(self, backoff: Backoff = Backoff(), *, clock: Clock = time.monotonic) -> None:
        self.backoff = backoff
        self.attempt = 0
        """Restarts in a row without a healthy run between them (the one ahead included)."""
        self._clock = clock
        self._started_at = clock()

    def started(self) -> None:
        """The service was (re)started now."""
        self._started_at = self._clock()

    def crashed(self) -> float:
        """Count a crash seen now; the seconds to wait before the next start."""
        if self._clock() - self._started_at >= self.backoff.healthy_after_s:
            self.attempt = 0
        self.attempt += 1
        pause = self.backoff.first_s * 2 ** (self.attempt - 1)
        return float(min(pause, self.backoff.longest_s))


class Supervised(Protocol):
    """What the supervisor needs of a service process."""

    @property
    def name(self) -> str: ...

    @property
    def log_path(self) -> Path: ...

    @property
    def running(self) -> bool: ...

    @property
    def returncode(self) -> int | None: ...

    def start(self) -> None: ...


class InfrastructureDied(StackError):
    """The broker or the database the stack started has exited; the message says which."""


class Supervisor:
    """Watches the services and the infrastructure of a running stack."""

    def __init__(
        self,
        services: Sequence[Supervised],
        *,
        infrastructure_failure: Callable[[], str | None],
        report: Callable[[str], None],
        backoff: Backoff = Backoff(),
        clock: Clock = time.monotonic,
    ) -> None:
        self._services = tuple(services)
        self._infrastructure_failure = infrastructure_failure
        self._report = report
        self._clock = clock
        self._policies = {s.name: RestartPolicy(backoff, clock=clock) for s in services}
        self._restart_at: dict[str, float] = {}

    def check(self) -> None:
        """Look once: note new crashes, restart services whose pause is over.

        Raises:
            InfrastructureDied: the embedded broker or database is gone (nothing restarts then).
        """
        failure = self._infrastructure_failure()
        if failure is not None:
            raise InfrastructureDied(failure)
        now = self._clock()
        for service in self._services:
            if service.running:
                continue
            restart_at = self._restart_at.get(service.name)
            policy = self._policies[service.name]
            if restart_at is None:
                pause = policy.crashed()
                self._restart_at[service.name] = now + pause
                self._report(
                    f"✗ {service.name} exited with code {service.returncode}; restart "
                    f"attempt {policy.attempt} in {pause:g}s; log: {service.log_path}"
                )
            elif now >= restart_at:
                del self._restart_at[service.name]
                service.start()
                policy.started()
                self._report(f"↻ {service.name} restarted (attempt {policy.attempt})")

    def run(
        self,
        *,
        interval_s: float = 0.25,
        pause: Callable[[float], object] = threading.Event().wait,
    ) -> NoReturn:
        """Check until something raises: :class:`InfrastructureDied`, or KeyboardInterrupt
        from Ctrl-C / SIGTERM (``pause`` is interrupted by signals)."""
        while True:
            self.check()
            pause(interval_s)  # the interval between two looks, not a wait for a condition

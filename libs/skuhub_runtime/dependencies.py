"""Watching Kafka and PostgreSQL while a service runs, so an outage is seen, not silent.

A :class:`DependencyWatch` probes each dependency every ``dependency_probe_interval_s``
(Kafka: a metadata request through the service's producer; PostgreSQL: ``SELECT 1`` on
a connection of the probe's own), each probe bounded by ``dependency_probe_timeout_s``.
From what the probes see it keeps each dependency's state, which readiness answers
from, and says so:

- a warning when a dependency becomes unreachable, then one every
  ``dependency_warning_interval_s`` while it stays so, naming it, its address and for
  how long; an info line with the outage's length when it answers again;
- ``skuhub_dependency_up``, ``skuhub_dependency_outages_total`` and
  ``skuhub_dependency_unreachable_seconds_total``, and ``skuhub_ready``.

Probes run in their own task, on their own connections: the consumers, the relay and
HTTP requests never wait for a probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from skuhub_runtime import metrics

log = logging.getLogger(__name__)


@dataclass
class Dependency:
    """Something a service cannot work without, and how to ask whether it answers.

    ``name`` labels it in readiness and metrics (``kafka``), ``title`` in log lines
    (``Kafka``); ``address`` says where it is, without credentials. ``check`` returns when
    the dependency answers and raises when it does not.
    """

    name: str
    title: str
    address: str
    check: Callable[[], Coroutine[Any, Any, None]]
    up: bool = False
    reason: str = "not probed yet"
    down_since: float | None = None
    observed_at: float = 0.0
    next_warning: float = 0.0
    pending: asyncio.Task[None] | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Unreachable:
    """A dependency that does not answer: where it is, since when, and the last reason."""

    dependency: str
    address: str
    seconds: float
    reason: str


class DependencyWatch:
    """Probes dependencies periodically; readiness, outage warnings and metrics read it."""

    def __init__(
        self,
        service: str,
        dependencies: Sequence[Dependency],
        *,
        interval_s: float,
        timeout_s: float,
        warning_interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._service = service
        self._dependencies = list(dependencies)
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._warning_interval_s = warning_interval_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self.started = False

    def status(self) -> dict[str, bool]:
        """Each dependency by name: True while it answered the last probe."""
        return {dependency.name: dependency.up for dependency in self._dependencies}

    def unreachable(self) -> list[Unreachable]:
        """The dependencies that did not answer the last probe."""
        now = self._clock()
        return [
            Unreachable(
                d.name,
                d.address,
                round(now - d.down_since, 1) if d.down_since is not None else 0.0,
                d.reason,
            )
            for d in self._dependencies
            if not d.up
        ]

    @property
    def all_up(self) -> bool:
        return all(d.up for d in self._dependencies)

    def start(self) -> None:
        """Probe every interval in the background until :meth:`stop`."""
        self._task = asyncio.create_task(self._run(), name=f"dependency-watch-{self._service}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for dependency in self._dependencies:
            if dependency.pending is not None:
                dependency.pending.cancel()

    async def probe(self) -> None:
        """One round: probe every dependency at once and take in the answers."""
        sent = self._clock()
        reasons = await asyncio.gather(*(self._probe(d) for d in self._dependencies))
        now = self._clock()
        for dependency, reason in zip(self._dependencies, reasons, strict=True):
            self._observe(dependency, reason, sent, now)
        metrics.READY.labels(self._service).set(1 if self.started and self.all_up else 0)

    async def _run(self) -> None:
        next_round = self._clock()
        while True:
            # Rounds keep their cadence while probes time out.
            next_round = max(next_round + self._interval_s, self._clock())
            await asyncio.sleep(next_round - self._clock())
            try:
                await self.probe()
            except Exception:  # a bug here must not end the watch silently
                log.exception("probing dependencies failed")

    async def _probe(self, dependency: Dependency) -> str | None:
        """None when the dependency answered within the timeout; otherwise why not.

        The probe runs as a task of its own: when it does not answer in time, it is
        cancelled and left to clean up (close its connection) in the background, and the
        next round waits for that rather than piling up another probe behind it.
        """
        task = dependency.pending
        fresh = task is None or task.done()
        if task is None or task.done():
            task = asyncio.create_task(dependency.check(), name=f"probe-{dependency.name}")
            dependency.pending = task
        done, _ = await asyncio.wait({task}, timeout=self._timeout_s)
        if not done or not fresh or task.cancelled():
            task.cancel()
            return f"no answer within {self._timeout_s:g}s"
        error = task.exception()
        return None if error is None else describe(error)[:300]

    def _observe(self, dependency: Dependency, reason: str | None, sent: float, now: float) -> None:
        labels = (self._service, dependency.name)
        metrics.DEPENDENCY_UP.labels(*labels).set(0 if reason else 1)
        unreachable_s = metrics.DEPENDENCY_UNREACHABLE_SECONDS.labels(*labels)
        if reason is None:
            if dependency.down_since is not None:
                unreachable_s.inc(max(sent - dependency.observed_at, 0.0))
                log.info(
                    "%s is reachable again (%s) after an outage of %.1fs",
                    dependency.title,
                    dependency.address,
                    now - dependency.down_since,
                )
            dependency.up, dependency.reason, dependency.down_since = True, "", None
            dependency.observed_at = now
            return
        dependency.up, dependency.reason = False, reason
        if dependency.down_since is None:
            dependency.down_since = sent  # the outage began at the latest with this probe
            dependency.next_warning = now
            metrics.DEPENDENCY_OUTAGES.labels(*labels).inc()
            unreachable_s.inc(now - sent)
        else:
            unreachable_s.inc(now - dependency.observed_at)
        dependency.observed_at = now
        if now >= dependency.next_warning:
            log.warning(
                "%s unreachable (%s) for %.0fs: %s; retrying, warning again every %.0fs",
                dependency.title,
                dependency.address,
                now - dependency.down_since,
                reason,
                self._warning_interval_s,
            )
            dependency.next_warning = now + self._warning_interval_s


def describe(error: BaseException) -> str:
    """An error's type and message (``TimeoutError`` alone when it has none)."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__

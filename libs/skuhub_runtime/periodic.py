"""Work a service does on a clock rather than on a message: expiring lots, reservations.

Each job runs in its own transaction through :class:`Transactions` (so what it emits goes
through the outbox like a handler's events), one job at a time per service instance. A
job that did a full batch runs again at once; otherwise it waits its interval. State lives
in the database, so a restart loses nothing: the next run finds what is due.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from skuhub_runtime.handling import Decision
from skuhub_runtime.transactions import Transactions

U = TypeVar("U")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PeriodicJob(Generic[U]):
    """A job: ``run(unit_of_work, now)`` handles what is due and says whether more is."""

    name: str
    run: Callable[[U, datetime], Awaitable[Decision[bool]]]
    interval_s: float
    catch_up_pause_s: float = 0.0
    """The pause between runs while more is due: background work that must not take the
    event loop from the consumers (0: at once)."""


class PeriodicRunner(Generic[U]):
    """Runs a service's periodic jobs until stopped."""

    def __init__(self, jobs: list[PeriodicJob[U]], transactions: Transactions[U]) -> None:
        self._jobs = jobs
        self._transactions = transactions
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(job), name=job.name) for job in self._jobs]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def run_once(self, job: PeriodicJob[U]) -> bool:
        """One run of ``job`` now; True when it left more due."""
        now = datetime.now(UTC)
        return await self._transactions.execute(lambda uow: job.run(uow, now))

    async def _loop(self, job: PeriodicJob[U]) -> None:
        while True:
            try:
                more = await self.run_once(job)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "periodic job %s failed; trying again in %.0fs", job.name, job.interval_s
                )
                more = False
            # The job's clock, not a synchronisation: what is due is in the database.
            await asyncio.sleep(job.catch_up_pause_s if more else job.interval_s)

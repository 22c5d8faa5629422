"""Periodic jobs: a run that left more due runs again after the job's catch-up pause (at
once by default), one that left nothing waits its interval; a failed run waits too."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from skuhub_runtime.handling import Decision
from skuhub_runtime.periodic import PeriodicJob, PeriodicRunner


class _Transactions:
    async def execute(self, decide: Any) -> Any:
        return (await decide(object())).value


def _job(results: list[bool | Exception], **pauses: Any) -> PeriodicJob[object]:
    async def run(_: object, now: datetime) -> Decision[bool]:
        result = results.pop(0)
        if isinstance(result, Exception):
            raise result
        return Decision(value=result)

    return PeriodicJob("job", run, interval_s=2.0, **pauses)


async def _pauses(
    job: PeriodicJob[object], runs: int, monkeypatch: pytest.MonkeyPatch
) -> list[float]:
    """The pauses the runner takes after each of ``runs`` runs."""
    taken: list[float] = []

    async def sleep(seconds: float) -> None:
        taken.append(seconds)
        if len(taken) == runs:
            raise asyncio.CancelledError

    monkeypatch.setattr(asyncio, "sleep", sleep)  # the runner's clock; restored after the test
    runner: PeriodicRunner[object] = PeriodicRunner([job], _Transactions())  # type: ignore[arg-type]
    with pytest.raises(asyncio.CancelledError):
        await runner._loop(job)
    return taken


async def test_a_job_with_more_due_runs_again_after_its_catch_up_pause(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = _job([True, True, False], catch_up_pause_s=0.25)
    assert await _pauses(job, 3, monkeypatch) == [0.25, 0.25, 2.0]


async def test_by_default_more_due_runs_again_at_once_and_a_failure_waits_the_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = _job([True, RuntimeError("database gone"), False])
    assert await _pauses(job, 3, monkeypatch) == [0.0, 2.0, 2.0]

"""A signal that fires after every commit of a service instance, for in-process waiters.

Long polls and background workers (webhook dispatch, change feeds) wait on it instead of
polling the database in a tight loop. It only speeds up what a periodic re-check would
find anyway: another instance's commits do not fire it, so waiters always bound their wait.
"""

from __future__ import annotations

import asyncio


class CommitSignal:
    """Wakes every waiter once per commit (or per burst of commits)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        """Wake the current waiters; later waiters wait for the next commit."""
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, timeout_s: float) -> bool:
        """Wait for the next commit, at most ``timeout_s``; True when one came."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

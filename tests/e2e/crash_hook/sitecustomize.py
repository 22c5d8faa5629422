"""Test-only fault: a service exits right after a consumer's database commit, before its offset
commit, as a kill -9 at the worst moment would leave it.

Python imports ``sitecustomize`` at start-up from the path; the crash test puts this folder
on ``PYTHONPATH`` and sets ``SKUHUB_TEST_CRASH_AFTER_DB_COMMIT``. Production code knows
nothing of it and pays nothing for it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

CRASHED_AFTER_DB_COMMIT = 70

if os.environ.get("SKUHUB_TEST_CRASH_AFTER_DB_COMMIT"):
    from skuhub_runtime.consumer import BatchConsumer, BatchResult

    _process = BatchConsumer.process

    async def _process_then_crash(self: Any, records: Sequence[Any]) -> BatchResult:
        result = await _process(self, records)
        if result.applied:
            os._exit(CRASHED_AFTER_DB_COMMIT)
        return result

    BatchConsumer.process = _process_then_crash  # type: ignore[method-assign]

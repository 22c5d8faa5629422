"""Creating skuhub's topics on a broker that may still be starting."""

from __future__ import annotations

import asyncio
import time

from skuhub_cli.processes import StackError
from skuhub_runtime.settings import ServiceSettings


async def ensure_topics_within(
    settings: ServiceSettings, *, partitions: int | None = None, within_s: float = 30.0
) -> list[str]:
    """Create every registered topic that is missing; retry until the broker answers.

    Retrying covers a broker that accepts connections before it serves metadata,
    and (``skuhub topics`` in docker-compose) one that is still starting.
    Returns the topics created.
    """
    from skuhub_runtime.kafka import ensure_topics

    deadline = time.monotonic() + within_s
    delay = 0.1
    while True:
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.1)):
                return await ensure_topics(settings, partitions=partitions)
        except Exception as exc:
            if time.monotonic() + delay > deadline:
                raise StackError(
                    f"could not create topics on {settings.kafka_bootstrap} within "
                    f"{within_s:.0f}s: {exc!r}"
                ) from exc
            # Back off before the next attempt (retry with a deadline, not a readiness guess).
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


def create_topics(
    settings: ServiceSettings, *, partitions: int | None = None, timeout: float = 30.0
) -> list[str]:
    """:func:`ensure_topics_within` for callers without an event loop."""
    return asyncio.run(ensure_topics_within(settings, partitions=partitions, within_s=timeout))

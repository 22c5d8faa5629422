"""Inbox: remember which events a consumer has applied, in the same transaction as the effect."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# One statement for the whole batch, its SQL fixed: the ids travel as one array parameter,
# so nothing is compiled per batch (a multi-row VALUES would be, and costs more than the query).
_CLAIM = text(
    "INSERT INTO inbox (consumer, event_id) "
    "SELECT :consumer, unnest(CAST(:event_ids AS text[])) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)


async def claim(conn: AsyncConnection, consumer: str, event_ids: Sequence[str]) -> set[str]:
    """Record ``event_ids`` for ``consumer``; return those not seen before.

    One round trip for the whole batch. Rows written here commit or roll back
    with the caller's transaction, so an event counts as applied exactly when
    its effect does.
    """
    if not event_ids:
        return set()
    result = await conn.execute(_CLAIM, {"consumer": consumer, "event_ids": list(event_ids)})
    return set(result.scalars())


# Only ids marked refused are released: an event the consumer applied stays claimed, so a
# replay of a dead letter whose event came through since is still a duplicate.
_RELEASE_REFUSED = text(
    "WITH released AS ("
    " DELETE FROM inbox WHERE consumer = :refused AND event_id = ANY(CAST(:event_ids AS text[]))"
    " RETURNING event_id) "
    "DELETE FROM inbox WHERE consumer = :consumer"
    " AND event_id IN (SELECT event_id FROM released) RETURNING event_id"
)


def refused_inbox(consumer: str) -> str:
    """The inbox of the event ids ``consumer``'s handler refused (dead-lettered)."""
    return f"{consumer}#refused"


async def release_refused(
    conn: AsyncConnection, consumer: str, event_ids: Sequence[str]
) -> set[str]:
    """Forget that ``consumer`` saw those of ``event_ids`` its handler refused, so that they
    are claimed (and judged) again; return them. In the caller's transaction."""
    if not event_ids:
        return set()
    result = await conn.execute(
        _RELEASE_REFUSED,
        {"consumer": consumer, "refused": refused_inbox(consumer), "event_ids": list(event_ids)},
    )
    return set(result.scalars())

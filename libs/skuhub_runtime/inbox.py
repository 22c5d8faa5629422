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

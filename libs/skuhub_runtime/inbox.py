"""Inbox: remember which events a consumer has applied, in the same transaction as the effect."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_runtime.messaging_tables import inbox


async def claim(conn: AsyncConnection, consumer: str, event_ids: Sequence[str]) -> set[str]:
    """Record ``event_ids`` for ``consumer``; return those not seen before.

    One round trip for the whole batch. Rows written here commit or roll back
    with the caller's transaction, so an event counts as applied exactly when
    its effect does.
    """
    unique = list(dict.fromkeys(event_ids))
    if not unique:
        return set()
    statement = (
        insert(inbox)
        .values([{"consumer": consumer, "event_id": event_id} for event_id in unique])
        .on_conflict_do_nothing()
        .returning(inbox.c.event_id)
    )
    return set((await conn.execute(statement)).scalars())

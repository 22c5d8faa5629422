"""Which dead letters were replayed, when and by whom (``dead_letter_replays``, PostgreSQL).

A replay is its row and the outbox row that re-publishes the record, written in one
transaction: the row's primary key refuses a second replay of the same dead letter, a
racing one included (the second insert waits for the first transaction, then conflicts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_runtime import outbox
from skuhub_runtime.dead_letter_records import DeadLetter
from skuhub_runtime.messaging_tables import dead_letter_replays


@dataclass(frozen=True, slots=True)
class Replay:
    """A dead letter re-published to ``topic`` at ``at`` by ``actor``."""

    dead_letter_id: str
    topic: str
    at: datetime
    actor: str


async def replay(
    conn: AsyncConnection, letter: DeadLetter, *, actor: str, at: datetime
) -> Replay | None:
    """Re-publish ``letter`` through the outbox in the caller's transaction; the replay, or
    None when it was replayed before (then nothing is written)."""
    topic, record = letter.replay()
    recorded = await conn.execute(
        insert(dead_letter_replays)
        .values(dead_letter_id=letter.id, topic=topic, replayed_at=at, actor=actor)
        .on_conflict_do_nothing()
        .returning(dead_letter_replays.c.dead_letter_id)
    )
    if recorded.scalar_one_or_none() is None:
        return None
    await outbox.enqueue(conn, [(topic, record)])
    return Replay(letter.id, topic, at, actor)


async def replays_of(
    conn: AsyncConnection, dead_letter_ids: Sequence[str] | None = None
) -> dict[str, Replay]:
    """The replays of those of ``dead_letter_ids`` that were replayed (of all: None)."""
    query = sa.select(dead_letter_replays)
    if dead_letter_ids is not None:
        if not dead_letter_ids:
            return {}
        # One array parameter: the statement is the same for a page of 10 or of 1000.
        ids = sa.bindparam("ids", sorted(set(dead_letter_ids)), type_=ARRAY(sa.Text))
        query = query.where(dead_letter_replays.c.dead_letter_id == sa.any_(ids))
    rows = await conn.execute(query)
    return {
        row.dead_letter_id: Replay(row.dead_letter_id, row.topic, row.replayed_at, row.actor)
        for row in rows
    }

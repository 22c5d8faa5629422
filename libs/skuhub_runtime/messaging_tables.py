"""SQLAlchemy Core tables of the outbox, the inbox and the dead-letter replays: the same tables
in every service's schema.

Each service's ``adapters/tables.py`` adds them to its metadata with
:func:`add_to`, so its metadata is the whole current shape of its schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("key", sa.LargeBinary, nullable=False),
    sa.Column("value", sa.LargeBinary, nullable=False),
    sa.Column("headers", JSONB, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

inbox = sa.Table(
    "inbox",
    metadata,
    sa.Column("consumer", sa.Text, primary_key=True),
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

dead_letter_replays = sa.Table(
    "dead_letter_replays",
    metadata,
    # One row per dead letter ever replayed: its primary key is what makes a second replay,
    # even a racing one, a conflict (written with the outbox row that re-publishes it).
    sa.Column("dead_letter_id", sa.Text, primary_key=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
)


def add_to(service_metadata: sa.MetaData) -> None:
    """Add the outbox, the inbox and the dead-letter replays to a service's metadata."""
    for table in (outbox, inbox, dead_letter_replays):
        table.to_metadata(service_metadata)

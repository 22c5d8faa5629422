"""SQLAlchemy Core tables of the outbox and inbox: the same two tables in every service's schema.

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


def add_to(service_metadata: sa.MetaData) -> None:
    """Add the outbox and inbox to a service's metadata."""
    for table in (outbox, inbox):
        table.to_metadata(service_metadata)

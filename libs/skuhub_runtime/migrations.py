"""Alembic migrations, run at start-up, each service in its own schema.

Every service keeps an alembic ``migrations/`` folder whose ``env.py`` calls
:func:`run_env`. :func:`upgrade` takes a PostgreSQL advisory lock so that
replicas starting together migrate once.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine


async def upgrade(engine: AsyncEngine, migrations_dir: Path, schema: str) -> None:
    """Create the schema if needed and upgrade it to the newest revision."""
    lock_id = zlib.crc32(schema.encode())
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
        await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
        await conn.run_sync(_upgrade_sync, migrations_dir, schema)


def _upgrade_sync(conn: Connection, migrations_dir: Path, schema: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["connection"] = conn
    config.attributes["schema"] = schema
    command.upgrade(config, "head")


def run_env() -> None:
    """Body of every service's alembic ``env.py`` (online mode only)."""
    conn = context.config.attributes["connection"]
    schema = context.config.attributes["schema"]
    context.configure(
        connection=conn,
        version_table_schema=schema,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


def create_messaging_tables(op: Any) -> None:
    """Outbox and inbox tables; every service's first migration calls this with ``alembic.op``.

    ``alembic.op`` is a module-level proxy of :class:`~alembic.operations.Operations`,
    hence ``Any``.
    """
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("key", sa.LargeBinary, nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("headers", sa.dialects.postgresql.JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )

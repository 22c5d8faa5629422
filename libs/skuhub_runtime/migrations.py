"""Alembic migrations, run at start-up, each service in its own schema.

One alembic environment serves every service (``migration_env/``: ``env.py``
and the revision template); each service keeps only its revisions, in its
``migrations/`` folder. :func:`upgrade` takes a PostgreSQL advisory lock so
that replicas starting together migrate once.

Revisions are history; a service's ``adapters/tables.py`` is the current shape
its code uses, and ``tests/integration/test_migrations.py`` checks with
alembic's ``compare_metadata`` that the revisions produce exactly that shape.
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

ENVIRONMENT = Path(__file__).resolve().parent / "migration_env"


async def upgrade(engine: AsyncEngine, revisions: Path, schema: str) -> None:
    """Create ``schema`` if needed and upgrade it to the newest revision in ``revisions``."""
    lock_id = zlib.crc32(schema.encode())
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
        await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
        await conn.run_sync(_upgrade_sync, revisions, schema)


def _upgrade_sync(conn: Connection, revisions: Path, schema: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(ENVIRONMENT))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(revisions))
    config.attributes["connection"] = conn
    config.attributes["schema"] = schema
    command.upgrade(config, "head")


def run_env() -> None:
    """Body of the shared alembic ``env.py`` (online mode only)."""
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
    """Outbox and inbox tables as of every service's first revision (which calls this with
    ``alembic.op``); ``messaging_tables`` holds their current shape.

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


def create_dead_letter_replays(op: Any) -> None:
    """The ``dead_letter_replays`` table as of the revision that added it to every service
    (catalog 0016, lifecycle 0006, stock 0007, sync gateway 0007); ``messaging_tables``
    holds its current shape (docs/operations.md, Dead letters)."""
    op.create_table(
        "dead_letter_replays",
        sa.Column("dead_letter_id", sa.Text, primary_key=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
    )


def drop_dead_letter_replays(op: Any) -> None:
    op.drop_table("dead_letter_replays")


def create_reconciliation_tables(op: Any) -> None:
    """The reconciler's ``position_checks`` and ``reconciler_sweeps`` as of the revision that
    first added them to a service (catalog 0015, lifecycle 0005, sync gateway 0006);
    ``reconcile_store`` holds their current shape (docs/kpis.md)."""
    at = sa.DateTime(timezone=True)
    json = sa.dialects.postgresql.JSONB
    op.create_table(
        "position_checks",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("location", sa.Text, primary_key=True),
        sa.Column("lot", sa.Text, primary_key=True),
        sa.Column("verdict", sa.Text, nullable=False),
        sa.Column("local_version", sa.BigInteger),
        sa.Column("stock_version", sa.BigInteger),
        sa.Column("local", json),
        sa.Column("stock", json),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("awaited", json, nullable=False),
        sa.Column("since", at, nullable=False),
        sa.Column("checked_at", at, nullable=False),
    )
    op.create_index("position_checks_by_verdict", "position_checks", ["verdict", "since"])
    op.create_table(
        "reconciler_sweeps",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("after_sku", sa.Text, nullable=False),
        sa.Column("started_at", at, nullable=False),
        sa.Column("checked_skus", sa.BigInteger, nullable=False),
        sa.Column("last_started_at", at),
        sa.Column("last_finished_at", at),
        sa.Column("last_skus", sa.BigInteger),
    )


def drop_reconciliation_tables(op: Any) -> None:
    op.drop_table("reconciler_sweeps")
    op.drop_table("position_checks")

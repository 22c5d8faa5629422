"""API tokens and the write audit in PostgreSQL: the ``access`` schema every service shares.

Tokens are one set for the deployment (a token created once works on every service), so
they live in their own schema (``<SKUHUB_SCHEMA_PREFIX>access``), migrated by whichever
service or CLI command comes first, under the migration lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from skuhub_runtime import migrations
from skuhub_runtime.access_tokens import Principal, scopes_from

MIGRATIONS = Path(__file__).resolve().parent / "access_migrations"

metadata = sa.MetaData()
"""The current shape of the access schema (tests compare the migrations with it)."""

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_id", sa.Text, primary_key=True),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("scopes", ARRAY(sa.Text), nullable=False),
    sa.Column("channels", ARRAY(sa.Text)),
    sa.Column("secret_hash", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("service", sa.Text, nullable=False),
    sa.Column("token_id", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("method", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("trace_id", sa.Text),
)
sa.Index("audit_log_by_token", audit_log.c.token_id, audit_log.c.at)


def access_schema(schema_prefix: str) -> str:
    """The schema of tokens and audit in a deployment with ``schema_prefix``."""
    return f"{schema_prefix}access"


async def migrate(engine: AsyncEngine, schema_prefix: str) -> None:
    """Create or upgrade the access schema (safe to call from every service at once)."""
    await migrations.upgrade(engine, MIGRATIONS, access_schema(schema_prefix))


async def _execute(
    conn: AsyncConnection, schema_prefix: str, statement: sa.Executable, rows: Any = None
) -> sa.CursorResult[Any]:
    # The tables are declared without a schema; each deployment names its own. Per
    # statement: a pooled connection of a service must keep translating nothing.
    return await conn.execute(
        statement,
        rows,
        execution_options={"schema_translate_map": {None: access_schema(schema_prefix)}},
    )


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A token's row: who it is for, what it may do, its secret's hash, and its state."""

    principal: Principal
    secret_hash: str
    note: str
    created_at: datetime
    revoked_at: datetime | None


def _stored(row: sa.Row[tuple[object, ...]]) -> StoredToken:
    m = row._mapping
    return StoredToken(
        principal=Principal(
            token_id=m["token_id"],
            actor=m["actor"],
            scopes=scopes_from(m["scopes"]),
            channels=frozenset(m["channels"]) if m["channels"] is not None else None,
        ),
        secret_hash=m["secret_hash"],
        note=m["note"],
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
    )


async def insert_token(
    conn: AsyncConnection,
    schema_prefix: str,
    principal: Principal,
    secret_hash: str,
    *,
    note: str,
    at: datetime,
) -> None:
    await _execute(
        conn,
        schema_prefix,
        api_tokens.insert().values(
            token_id=principal.token_id,
            actor=principal.actor,
            scopes=sorted(principal.scopes),
            channels=sorted(principal.channels) if principal.channels is not None else None,
            secret_hash=secret_hash,
            note=note,
            created_at=at,
        ),
    )


async def find_token(
    conn: AsyncConnection, schema_prefix: str, token_id: str
) -> StoredToken | None:
    result = await _execute(
        conn, schema_prefix, sa.select(api_tokens).where(api_tokens.c.token_id == token_id)
    )
    row = result.first()
    return _stored(row) if row is not None else None


async def list_tokens(conn: AsyncConnection, schema_prefix: str) -> list[StoredToken]:
    rows = await _execute(
        conn,
        schema_prefix,
        sa.select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.token_id),
    )
    return [_stored(row) for row in rows]


async def revoke_token(
    conn: AsyncConnection, schema_prefix: str, token_id: str, *, at: datetime
) -> bool:
    """Revoke a token; False when there is no such token. Revoking twice keeps the first time."""
    result = await _execute(
        conn,
        schema_prefix,
        api_tokens.update()
        .where(api_tokens.c.token_id == token_id)
        .values(revoked_at=sa.func.coalesce(api_tokens.c.revoked_at, at)),
    )
    return bool(result.rowcount)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One write request: who (token, actor), what (method, path), how it ended (status)."""

    at: datetime
    service: str
    token_id: str
    actor: str
    method: str
    path: str
    status: int
    trace_id: str | None


async def insert_audit(
    conn: AsyncConnection, schema_prefix: str, entries: Sequence[AuditEntry]
) -> None:
    if entries:
        await _execute(
            conn,
            schema_prefix,
            audit_log.insert(),
            [
                {
                    "at": e.at,
                    "service": e.service,
                    "token_id": e.token_id,
                    "actor": e.actor,
                    "method": e.method,
                    "path": e.path,
                    "status": e.status,
                    "trace_id": e.trace_id,
                }
                for e in entries
            ],
        )


async def read_audit(
    conn: AsyncConnection, schema_prefix: str, *, token_id: str | None = None, limit: int = 100
) -> list[AuditEntry]:
    """The newest audit entries first, of one token or all."""
    query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if token_id is not None:
        query = query.where(audit_log.c.token_id == token_id)
    rows = await _execute(conn, schema_prefix, query)
    return [AuditEntry(**{k: v for k, v in row._mapping.items() if k != "id"}) for row in rows]

"""Create, list and revoke API tokens, and read the audit: the ``skuhub token`` commands.

Tokens live in the deployment's PostgreSQL (the ``access`` schema, docs/access.md), so the
commands need ``SKUHUB_DATABASE_URL`` (and ``SKUHUB_SCHEMA_PREFIX`` if the deployment uses
one); against ``skuhub dev`` they find both in ``.skuhub/endpoints.json``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from skuhub_runtime import access_store
from skuhub_runtime.access_tokens import (
    IssuedToken,
    Principal,
    Scope,
    checked_actor,
    hash_secret,
    issue,
)

T = TypeVar("T")


async def _in_database(
    database_url: str, schema_prefix: str, work: Callable[[AsyncConnection], Awaitable[T]]
) -> T:
    engine = create_async_engine(database_url, pool_size=1)
    try:
        await access_store.migrate(engine, schema_prefix)
        async with engine.begin() as conn:
            return await work(conn)
    finally:
        await engine.dispose()


def create_token(
    database_url: str,
    schema_prefix: str,
    *,
    actor: str,
    scopes: Iterable[Scope],
    channels: Iterable[str] | None = None,
    note: str = "",
    token: IssuedToken | None = None,
) -> IssuedToken:
    """Store a new token (or ``token``, for a test session's) and return it; its value is
    not kept anywhere. A ValueError names a bad actor."""
    issued = token or issue()
    principal = Principal(
        issued.token_id,
        checked_actor(actor),
        frozenset(scopes),
        frozenset(channels) if channels is not None else None,
    )

    async def insert(conn: AsyncConnection) -> IssuedToken:
        if await access_store.find_token(conn, schema_prefix, issued.token_id) is None:
            await access_store.insert_token(
                conn,
                schema_prefix,
                principal,
                hash_secret(issued.secret),
                note=note,
                at=datetime.now(UTC),
            )
        return issued

    return asyncio.run(_in_database(database_url, schema_prefix, insert))


def revoke_token(database_url: str, schema_prefix: str, token_id: str) -> bool:
    """Revoke a token; False when there is none with that id."""
    return asyncio.run(
        _in_database(
            database_url,
            schema_prefix,
            lambda conn: access_store.revoke_token(
                conn, schema_prefix, token_id, at=datetime.now(UTC)
            ),
        )
    )


def list_tokens(database_url: str, schema_prefix: str) -> list[access_store.StoredToken]:
    """Every token, oldest first (revoked ones too)."""
    return asyncio.run(
        _in_database(
            database_url, schema_prefix, lambda conn: access_store.list_tokens(conn, schema_prefix)
        )
    )


def read_audit(
    database_url: str, schema_prefix: str, *, token_id: str | None, limit: int
) -> list[access_store.AuditEntry]:
    """The newest audited writes first."""
    return asyncio.run(
        _in_database(
            database_url,
            schema_prefix,
            lambda conn: access_store.read_audit(
                conn, schema_prefix, token_id=token_id, limit=limit
            ),
        )
    )

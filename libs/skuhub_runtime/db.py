"""PostgreSQL access: one async engine per service, bound to the service's own schema."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import orjson
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from skuhub_runtime.settings import ServiceSettings


def create_engine(
    settings: ServiceSettings, *, bounded: bool = True, pool_size: int | None = None
) -> AsyncEngine:
    """An asyncpg engine whose connections see only the service's schema (search_path).

    ``bounded`` engines give up on a statement after ``database_command_timeout_s``: asyncpg
    then cancels it (the cancel request is bounded by the same timeout) and closes the
    connection if that fails, so a paused or cut-off server fails a transaction, which the
    caller retries, instead of holding it until the server comes back. Migrations use an
    unbounded engine: a long index build or a wait for another replica's migration lock is
    legitimate there.
    """
    connect_args: dict[str, Any] = {
        "timeout": settings.database_connect_timeout_s,
        "server_settings": {
            "search_path": settings.db_schema,
            "application_name": f"skuhub-{settings.service_name}",
        },
    }
    if bounded:
        connect_args["command_timeout"] = settings.database_command_timeout_s
    return create_async_engine(
        settings.database_url,
        pool_size=pool_size or settings.database_pool_size,
        # No pre-ping: it costs a round trip per checkout (a fifth of a position read). A
        # connection that died since its last use fails one statement instead; sqlalchemy
        # then invalidates the pool, consumers retry and HTTP answers 503 with Retry-After.
        pool_pre_ping=False,
        # The connection returned last is handed out first: its prepared statements (asyncpg
        # keeps them per connection) and its backend's caches are warm, where the default
        # order would go round every pooled connection, each preparing every statement anew.
        pool_use_lifo=True,
        # Waiting for a free connection is bounded too; the wait ends in sqlalchemy's
        # TimeoutError, which the consumer and the relay retry like any outage.
        pool_timeout=settings.database_connect_timeout_s + settings.database_command_timeout_s,
        connect_args=connect_args,
        json_serializer=json_text,
    )


def json_text(value: Any) -> str:
    """A JSON or JSONB column's value as JSON text.

    orjson writes it in a tenth of the time :func:`json.dumps` takes; an import spent more
    CPU encoding its products' and history's JSONB than on any other one thing
    (docs/profiling.md). What orjson refuses (a key that is not text, an integer beyond 64
    bits) goes to :func:`json.dumps`, which writes or refuses it as before.
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def create_probe_engine(settings: ServiceSettings) -> AsyncEngine:
    """One connection of its own for the dependency probe, so a probe never waits for (or
    holds) a connection the consumers, the relay or HTTP requests need."""
    timeout = settings.dependency_probe_timeout_s
    return create_async_engine(
        settings.database_url,
        pool_size=1,
        max_overflow=0,
        pool_timeout=timeout,
        connect_args={
            "timeout": timeout,
            "command_timeout": timeout,
            "server_settings": {"application_name": f"skuhub-{settings.service_name}-probe"},
        },
    )


def database_address(database_url: str) -> str:
    """Where PostgreSQL is, for messages: host (or socket directory), port and database; never
    the user or password."""
    url = make_url(database_url)
    host = url.host or url.query.get("host") or "localhost"
    if isinstance(host, tuple):  # ?host=a&host=b: several hosts
        host = ",".join(host)
    where = f"socket {host}" if host.startswith("/") else f"{host}:{url.port or 5432}"
    return f"{where}, database {url.database or url.username or ''}"


async def wait_for_database(engine: AsyncEngine, *, timeout_s: float = 60.0) -> None:
    """Retry until PostgreSQL answers, or raise after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    delay = 0.1
    while True:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return
        except (OSError, Exception) as exc:  # asyncpg raises many types while starting up
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"PostgreSQL did not answer within {timeout_s:.0f}s: {exc}"
                ) from exc
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


def sqlstate(exc: BaseException) -> str | None:
    """PostgreSQL's SQLSTATE of a database error (e.g. ``22021``), or None."""
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return state if isinstance(state, str) else None

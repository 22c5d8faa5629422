"""PostgreSQL access: one async engine per service, bound to the service's own schema."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from skuhub_runtime.settings import ServiceSettings


def create_engine(settings: ServiceSettings) -> AsyncEngine:
    """An asyncpg engine whose connections see only the service's schema (search_path)."""
    return create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pool_pre_ping=True,
        connect_args={
            "server_settings": {
                "search_path": settings.db_schema,
                "application_name": f"skuhub-{settings.service_name}",
            }
        },
    )


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

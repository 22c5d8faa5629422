"""HTTP calls to a test stack's services, sent with the test session's API token.

Every stack a test starts stores the one session token (every scope, actor ``tests``);
:func:`headers_for` makes further tokens (another actor, fewer scopes, one channel).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from skuhub_cli.launcher import Wiring
from skuhub_runtime import access_store
from skuhub_runtime.access_http import authenticated
from skuhub_runtime.access_tokens import (
    IssuedToken,
    Principal,
    Scope,
    bearer,
    hash_secret,
    issue,
)

SESSION_TOKEN: IssuedToken = issue()
SESSION_ACTOR = "tests"
AUTH: dict[str, str] = bearer(SESSION_TOKEN.value)


def register_session_token(wiring: Wiring) -> None:
    """Store the session token in the stack's database (again is a no-op)."""
    wiring.issue_token(SESSION_ACTOR, tuple(Scope), note="test session", token=SESSION_TOKEN)


async def admit_session_token(engine: AsyncEngine, schema_prefix: str) -> None:
    """Store the session token in a deployment a test builds in-process (no launcher)."""
    await access_store.migrate(engine, schema_prefix)
    async with engine.begin() as conn:
        if await access_store.find_token(conn, schema_prefix, SESSION_TOKEN.token_id) is None:
            await access_store.insert_token(
                conn,
                schema_prefix,
                Principal(SESSION_TOKEN.token_id, SESSION_ACTOR, frozenset(Scope)),
                hash_secret(SESSION_TOKEN.secret),
                note="test session",
                at=datetime.now(UTC),
            )


_ISSUED: dict[tuple[str, str, frozenset[Scope]], IssuedToken] = {}


def headers_for(
    wiring: Wiring, actor: str, scopes: Iterable[Scope] = tuple(Scope)
) -> dict[str, str]:
    """``Authorization`` with a token of ``actor`` holding ``scopes`` (one per stack)."""
    key = (wiring.schema_prefix, actor, frozenset(scopes))
    if key not in _ISSUED:
        _ISSUED[key] = wiring.issue_token(actor, key[2], note="test")
    return bearer(_ISSUED[key].value)


def trust_every_caller(app: FastAPI) -> None:
    """For a unit test of routes in a bare app (no token store): every caller is the
    session's principal, with every scope."""
    app.dependency_overrides[authenticated] = lambda: Principal(
        SESSION_TOKEN.token_id, SESSION_ACTOR, frozenset(Scope)
    )


def _authorized(headers: Any) -> dict[str, str]:
    return {**AUTH, **dict(headers or {})}


def get(url: str, *, headers: Any = None, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, headers=_authorized(headers), **kwargs)


def post(url: str, *, headers: Any = None, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, headers=_authorized(headers), **kwargs)


def put(url: str, *, headers: Any = None, **kwargs: Any) -> httpx.Response:
    return httpx.put(url, headers=_authorized(headers), **kwargs)


def patch(url: str, *, headers: Any = None, **kwargs: Any) -> httpx.Response:
    return httpx.patch(url, headers=_authorized(headers), **kwargs)


def delete(url: str, *, headers: Any = None, **kwargs: Any) -> httpx.Response:
    return httpx.delete(url, headers=_authorized(headers), **kwargs)


def request(method: str, url: str, *, headers: Any = None, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, url, headers=_authorized(headers), **kwargs)


def client(*, headers: Any = None, **kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` that sends the session token."""
    return httpx.Client(headers=_authorized(headers), **kwargs)


def async_client(*, headers: Any = None, **kwargs: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` that sends the session token."""
    return httpx.AsyncClient(headers=_authorized(headers), **kwargs)

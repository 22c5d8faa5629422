"""API tokens at the HTTP edge: who calls (401), whether they may (403), and the audit.

Every route but health and metrics needs a token (``Authorization: Bearer skh_…``); a
route that writes also needs its scope (:func:`requires`), which its OpenAPI operation
states as ``security: [{"apiToken": ["<scope>"]}]``. Every request to a scoped route is
audited with the token's actor before its answer leaves (docs/access.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncEngine

from skuhub_runtime import access_store, telemetry
from skuhub_runtime.access_tokens import MalformedToken, Principal, Scope, parse, secret_matches

log = logging.getLogger(__name__)

AUTH_REFUSALS = Counter(
    "skuhub_http_auth_refusals_total",
    "Requests refused for their token: 401 (missing, malformed, unknown, revoked) or 403 "
    "(scope or channel missing).",
    ["service", "status"],
)

SECURITY_SCHEME = "apiToken"
_BEARER = HTTPBearer(
    scheme_name=SECURITY_SCHEME,
    auto_error=False,
    description="An API token (`skh_…`) from `skuhub token create`; `skuhub dev` prints one "
    "with every scope. Writes need the scope their operation's `security` names.",
)


class Refused(HTTPException):
    """A 401 or 403 whose ``detail`` says what is wrong with the token."""

    def __init__(self, status: int, reason: str) -> None:
        headers = {"WWW-Authenticate": 'Bearer realm="skuhub"'} if status == 401 else None
        super().__init__(status_code=status, detail=reason, headers=headers)


@dataclass(slots=True)
class _Checked:
    principal: Principal
    secret_digest: bytes
    secret_hash: str
    checked_at: float


class Authenticator:
    """Finds the principal of a presented token.

    argon2 is slow on purpose (tens of milliseconds), so a token's secret is verified once
    per process; later requests compare a SHA-256 digest of the secret in constant time.
    The row is read again every ``recheck_s``, so a revoked token stops working within
    that time on every instance.
    """

    def __init__(self, engine: AsyncEngine, schema_prefix: str, *, recheck_s: float) -> None:
        self._engine = engine
        self._schema_prefix = schema_prefix
        self._recheck_s = recheck_s
        self._checked: dict[str, _Checked] = {}
        self._lock = asyncio.Lock()

    async def principal(self, presented: str) -> Principal:
        """The token's principal, or :class:`Refused` (401) saying why not."""
        try:
            token_id, secret = parse(presented)
        except MalformedToken as exc:
            raise Refused(401, str(exc)) from None
        digest = hashlib.sha256(secret.encode()).digest()
        known = self._known(token_id, digest)
        if known is not None:
            return known
        async with self._lock:  # one check at a time: concurrent first uses share it
            return self._known(token_id, digest) or await self._check(token_id, secret, digest)

    def _known(self, token_id: str, digest: bytes) -> Principal | None:
        checked = self._checked.get(token_id)
        if (
            checked is not None
            and time.monotonic() - checked.checked_at < self._recheck_s
            and hmac.compare_digest(checked.secret_digest, digest)
        ):
            return checked.principal
        return None

    async def _check(self, token_id: str, secret: str, digest: bytes) -> Principal:
        async with self._engine.connect() as conn:
            stored = await access_store.find_token(conn, self._schema_prefix, token_id)
        if stored is None:
            self._checked.pop(token_id, None)
            raise Refused(
                401, f"token {token_id} does not exist; create one with `skuhub token create`"
            )
        if stored.revoked_at is not None:
            self._checked.pop(token_id, None)
            raise Refused(401, f"token {token_id} was revoked at {stored.revoked_at.isoformat()}")
        known = self._checked.get(token_id)
        verified_before = (
            known is not None
            and known.secret_hash == stored.secret_hash
            and hmac.compare_digest(known.secret_digest, digest)
        )
        if not verified_before and not await asyncio.to_thread(
            secret_matches, stored.secret_hash, secret
        ):
            raise Refused(401, f"the secret of token {token_id} is wrong")
        self._checked[token_id] = _Checked(
            stored.principal, digest, stored.secret_hash, time.monotonic()
        )
        return stored.principal


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> Principal:
    """The caller's principal; 401 without a valid token."""
    state = request.scope.setdefault("state", {})
    known: Principal | None = state.get("principal")
    if known is not None:
        return known
    runtime = request.app.state.runtime
    if credentials is None:
        AUTH_REFUSALS.labels(runtime.service, "401").inc()
        raise Refused(
            401,
            "this route needs an API token: send `Authorization: Bearer skh_…` (create one "
            "with `skuhub token create`; `skuhub dev` prints one)",
        )
    authenticator: Authenticator = request.app.state.authenticator
    try:
        principal = await authenticator.principal(credentials.credentials)
    except Refused:
        AUTH_REFUSALS.labels(runtime.service, "401").inc()
        raise
    state["principal"] = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticated)]
"""The authenticated caller of a route."""


def requires(scope: Scope) -> Any:
    """A route dependency: the caller's token must hold ``scope`` (403 otherwise); the
    request is audited. The operation's OpenAPI ``security`` names the scope."""

    async def check(request: Request, principal: PrincipalDep) -> Principal:
        reason = principal.lacks(scope)
        request.scope.setdefault("state", {})["audited"] = principal
        if reason is not None:
            AUTH_REFUSALS.labels(request.app.state.runtime.service, "403").inc()
            raise Refused(403, reason)
        return principal

    return Security(check, scopes=[scope.value])


def check_channel(request: Request, principal: Principal, channel: str) -> None:
    """403 unless ``principal`` may see or change ``channel``."""
    reason = principal.refuses_channel(channel)
    if reason is not None:
        AUTH_REFUSALS.labels(request.app.state.runtime.service, "403").inc()
        raise Refused(403, reason)


async def channel_allowed(request: Request, principal: PrincipalDep) -> None:
    """A router dependency: a route with a ``{channel}`` in its path answers only tokens
    that serve that channel (403 otherwise)."""
    channel = request.path_params.get("channel")
    if channel is not None:
        check_channel(request, principal, channel)


def document_scopes(document: dict[str, Any]) -> None:
    """Each authenticated operation says 401, and 403 where a scope or a channel can refuse
    (the scope itself is in its ``security``: OpenAPI 3.1 allows role names there)."""
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            security = operation.get("security")
            if not security:
                continue
            responses = operation["responses"]
            responses.setdefault("401", _response(_DESCRIPTION_401))
            if any(security[0].values()) or "{channel}" in path or "{subscription_id}" in path:
                responses.setdefault("403", _response(_DESCRIPTION_403))


_DESCRIPTION_401 = (
    "No token, or one that is malformed, unknown, revoked or has a wrong secret; `detail` says "
    "which."
)
_DESCRIPTION_403 = (
    "The token lacks the scope (or the channel) this operation needs; `detail` says which."
)


def _response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorMessage"}}},
    }


class AuditWriter:
    """Writes audit entries in batches: each waits for the commit of the batch it joined
    (a group commit), so no answer to a write leaves before its audit entry is stored, and
    concurrent writes share one INSERT."""

    def __init__(self, engine: AsyncEngine, schema_prefix: str) -> None:
        self._engine = engine
        self._schema_prefix = schema_prefix
        self._pending: list[tuple[access_store.AuditEntry, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for _, waiter in self._pending:
            waiter.cancel()
        self._task = None

    async def record(self, entry: access_store.AuditEntry) -> None:
        """Store ``entry``; returns once it is committed (raises if that failed)."""
        if self._task is None:  # an app served without its lifespan (tests) still audits
            self.start()
        waiter = asyncio.get_running_loop().create_future()
        self._pending.append((entry, waiter))
        self._wake.set()
        await waiter

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            try:
                async with self._engine.begin() as conn:
                    await access_store.insert_audit(
                        conn, self._schema_prefix, [entry for entry, _ in batch]
                    )
            except Exception as exc:
                for _, waiter in batch:
                    if not waiter.done():
                        waiter.set_exception(exc)
                continue
            for _, waiter in batch:
                if not waiter.done():
                    waiter.set_result(None)


Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class AuditTrail:
    """ASGI middleware: a request that reached a scoped route is audited (token, actor,
    method, path, status) before the answer's first byte is sent."""

    def __init__(self, app: Any, *, service: str, writer: Callable[[], AuditWriter]) -> None:
        self._app = app
        self._service = service
        self._writer = writer

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def audited_send(message: MutableMapping[str, Any]) -> None:
            audited = (scope.get("state") or {}).get("audited")
            if message["type"] == "http.response.start" and audited is not None:
                await self._audit(scope, audited, message["status"])
            await send(message)

        await self._app(scope, receive, audited_send)

    async def _audit(
        self, scope: MutableMapping[str, Any], principal: Principal, status: int
    ) -> None:
        headers = dict(scope.get("headers") or ())
        traceparent = headers.get(b"traceparent")
        entry = access_store.AuditEntry(
            at=datetime.now(UTC),
            service=self._service,
            token_id=principal.token_id,
            actor=principal.actor,
            method=scope["method"],
            path=scope["path"],
            status=status,
            trace_id=telemetry.trace_id_of(traceparent.decode("latin-1")) if traceparent else None,
        )
        try:
            await self._writer().record(entry)
        except Exception:
            # The write itself is committed: answering 5xx would make the caller repeat it.
            log.exception("audit entry of %s %s not stored", entry.method, entry.path)

"""The HTTP face every service shares: lifespan, health, metrics, errors, dependencies.

Errors have two shapes, both in every OpenAPI document: ``422`` is FastAPI's
validation error list (each entry names the field in ``loc``, the rule in
``msg``), whether FastAPI or a domain rule refused the request; every other
error is ``{"detail": "<what to do>"}`` (:class:`ErrorMessage`). A service
maps its domain errors to statuses once (``errors=`` of :func:`create_app`);
routes only raise.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from pydantic import BaseModel, Field, WithJsonSchema
from sqlalchemy import exc as sa_exc

from skuhub_contracts.json_schema import exact_maps
from skuhub_contracts.values import Version
from skuhub_runtime import telemetry
from skuhub_runtime.access_http import (
    AuditTrail,
    AuditWriter,
    Authenticator,
    PrincipalDep,
    authenticated,
    channel_allowed,
    document_scopes,
)
from skuhub_runtime.db import sqlstate
from skuhub_runtime.dependencies import describe
from skuhub_runtime.origin import Origin
from skuhub_runtime.service import ServiceRuntime

log = logging.getLogger(__name__)


class ErrorMessage(BaseModel):
    """Every error but 422: what went wrong and what to do about it."""

    detail: str = Field(description="What went wrong and what to do about it.")


def error_responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error statuses, each with the :class:`ErrorMessage` body.

    ``descriptions`` are keyed ``e404=...``; statuses without one get a generic text. A 503
    comes with ``Retry-After``.
    """
    return {
        status: {
            "model": ErrorMessage,
            "description": descriptions.get(f"e{status}", _GENERIC.get(status, "Error.")),
        }
        | ({"headers": _RETRY_AFTER} if status == 503 else {})
        for status in statuses
    }


_GENERIC = {
    400: "The request is malformed; `detail` says how.",
    404: "Not found.",
    409: "Conflicts with the current state; `detail` says which.",
    412: "A precondition (If-Match) does not hold.",
    503: "A dependency is unavailable; retry after Retry-After seconds.",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the same request again.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}


JSON_EXACT_INTEGER_MAX = 2**53 - 1
"""Largest integer every JSON reader holds exactly (RFC 8259, section 6)."""

ExpectedVersion = Annotated[
    Version,
    Field(le=JSON_EXACT_INTEGER_MAX),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": JSON_EXACT_INTEGER_MAX}),
]
"""The version a client expects, in a JSON body. At most 2^53 - 1, so that every reader of the
schema compares with the bound exactly: one that holds JSON numbers as doubles reads 2^63 - 1 and
2^63 + 192 alike, and would take a version beyond a 2^63 - 1 bound for one within it."""


class DomainError(Exception):
    """A refusal for the caller: ``reason`` says what to fix; ``field`` names the input, if one."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def validation_error(field_path: Sequence[str | int], message: str) -> JSONResponse:
    """A 422 in FastAPI's validation error shape, for a rule FastAPI could not check."""
    return validation_errors([(field_path, message)])


def validation_errors(problems: Sequence[tuple[Sequence[str | int], str]]) -> JSONResponse:
    """A 422 listing several refused fields (path, rule) in FastAPI's validation error shape."""
    return JSONResponse(
        {
            "detail": [
                {"loc": list(path), "msg": message, "type": "value_error"}
                for path, message in problems
            ]
        },
        status_code=422,
    )


def _status_handler(statuses: Mapping[type[Exception], int]) -> Any:
    async def handle(_: Request, exc: Exception) -> JSONResponse:
        status = next(statuses[cls] for cls in type(exc).__mro__ if cls in statuses)
        reason = getattr(exc, "reason", None) or str(exc)
        if status == 422:
            field = getattr(exc, "field", None)
            return validation_error(["body", field] if field else ["body"], reason)
        return JSONResponse(ErrorMessage(detail=reason).model_dump(), status_code=status)

    return handle


UNAVAILABLE_RETRY_AFTER_S = 5
"""What a 503 for an unreachable dependency asks clients to wait: about two probe rounds."""


_UNAVAILABLE = ("08", "53", "57")
_UNAVAILABLE_DETAIL = (
    "a dependency of the service (PostgreSQL or Kafka) did not answer in time; GET "
    "/health/ready names it. Send the same request again after Retry-After seconds"
)


def _unavailable(exc: BaseException) -> bool:
    """True for errors of a dependency that does not answer (in time), not of the request."""
    if isinstance(exc, sa_exc.DBAPIError):
        state = sqlstate(exc)
        # Connection (08), resources (53), operator intervention (57: shutdown, cancel).
        return exc.connection_invalidated or (state is not None and state[:2] in _UNAVAILABLE)
    return isinstance(exc, (TimeoutError, OSError, sa_exc.TimeoutError))


async def _dependency_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """A 503 with Retry-After, instead of a 500, while PostgreSQL (or Kafka) is out."""
    if not _unavailable(exc):
        raise exc
    log.warning("%s %s: 503, %s", request.method, request.url.path, describe(exc))
    return JSONResponse(
        ErrorMessage(detail=_UNAVAILABLE_DETAIL).model_dump(),
        status_code=503,
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)},
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A value PostgreSQL refuses (SQLSTATE class 22) slipped past validation: a 422 with a
    reference, the library's text only in the log. PostgreSQL unreachable: a 503."""
    if _unavailable(exc):
        return await _dependency_unavailable(request, exc)
    state = sqlstate(exc)
    if state is None or not state.startswith("22"):
        raise exc
    reference = uuid.uuid4().hex[:12]
    log.error("request refused by PostgreSQL, reference %s", reference, exc_info=exc)
    return validation_error(
        ["body"],
        f"a value in the request cannot be stored (reference {reference}); check text for "
        "control characters and numbers for their range",
    )


async def _request_validation_error(_: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if hasattr(exc, "errors") else []
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


async def _method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    """A 405 whose ``Allow`` lists every documented method of the resource.

    FastAPI has one route per method, and Starlette names only the methods of the first
    route that matched the path (``Allow: POST`` for a resource that takes GET too).
    """
    path = getattr(request.scope.get("route"), "path_format", None)
    documented = request.app.openapi()["paths"].get(path, {})
    allowed = ", ".join(sorted(method.upper() for method in documented))
    if not allowed:  # a route outside the document (/docs): Starlette's list is the whole truth
        allowed = (getattr(exc, "headers", None) or {}).get("Allow", "")
    return JSONResponse(
        ErrorMessage(detail=f"{request.method} is not allowed here; use {allowed}").model_dump(),
        status_code=405,
        headers={"Allow": allowed},
    )


class UnreachableDependency(BaseModel):
    """A dependency the service's probe cannot reach."""

    dependency: str = Field(description="kafka or postgresql.")
    address: str = Field(description="Where the service looks for it (no credentials).")
    seconds: float = Field(description="For how long it has been unreachable.")
    reason: str = Field(description="Why the last probe failed.")


class Readiness(BaseModel):
    status: str = Field(description="ready or not-ready.")
    service: str
    checks: dict[str, bool] = Field(
        description="Each part: started (migrated, consuming), kafka, postgresql; as the "
        "last probe saw them (every SKUHUB_DEPENDENCY_PROBE_INTERVAL_S)."
    )
    unreachable: list[UnreachableDependency] = Field(
        default_factory=list, description="The dependencies that do not answer, if any."
    )


async def get_runtime(request: Request) -> ServiceRuntime[Any]:
    # async: FastAPI runs a plain def dependency in a thread pool, a hand-off per request.
    runtime: ServiceRuntime[Any] = request.app.state.runtime
    return runtime


async def request_origin(
    runtime: Annotated[ServiceRuntime[Any], Depends(get_runtime)],
    traceparent: Annotated[
        str | None,
        Header(
            description="W3C Trace Context: the change joins the caller's trace (an invalid "
            "value starts a new one)."
        ),
    ] = None,
    tracestate: Annotated[str | None, Header(description="W3C Trace Context.")] = None,
) -> Origin:
    """The request as the origin of the events it causes: its trace context and arrival time."""
    # A plain coroutine, not a generator: FastAPI's exit stack per generator dependency was
    # a tenth of a reservation's cost (docs/profiling.md).
    return Origin(
        *telemetry.request_context(traceparent, tracestate), source=f"/skuhub/{runtime.service}"
    )


async def request_actor(principal: PrincipalDep) -> str:
    """Who makes the change: the actor of the caller's API token."""
    return principal.actor


ActorDep = Annotated[str, Depends(request_actor)]
"""The actor of a change (its token's), recorded in the history and the audit."""

OriginDep = Annotated[Origin, Depends(request_origin)]
"""The origin (trace context, arrival time) of events a request causes."""


_UNREADABLE_BODY: Mapping[str, Any] = {
    "description": "The body is not UTF-8 text.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorMessage"}}},
}


_DEPENDENCY_UNAVAILABLE: Mapping[str, Any] = {
    "description": "A dependency (PostgreSQL or Kafka) did not answer in time; retry after "
    "Retry-After seconds. `GET /health/ready` names it.",
    "headers": _RETRY_AFTER,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorMessage"}}},
}


def _with_runtime_errors(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the answers the runtime gives before or around any route's own:

    - 400 to a body that is not UTF-8 (FastAPI, before any validation), on every operation
      that takes a body (a route's own 400 says so itself);
    - 503 while a dependency does not answer, on every operation but the operational ones
      (health, metrics), which never wait for one.
    """
    for path in document.get("paths", {}).values():
        for operation in path.values():
            if "requestBody" in operation:
                operation["responses"].setdefault("400", _UNREADABLE_BODY)
            if "operations" not in operation.get("tags", ()):
                operation["responses"].setdefault("503", _DEPENDENCY_UNAVAILABLE)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorMessage", ErrorMessage.model_json_schema())
    return document


def create_app(
    runtime: ServiceRuntime[Any],
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    errors: Mapping[type[Exception], int] | None = None,
) -> FastAPI:
    """A FastAPI app whose lifespan starts and stops the service runtime.

    ``errors`` maps domain exceptions (and their subclasses) to HTTP statuses.
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        app.state.audit_writer.start()
        # What start-up built lives as long as the process: out of the collector's sight, a
        # full collection in a service took 18 ms instead of 125 (docs/profiling.md). Its
        # garbage (migrations, imports) is collected first, or freezing would keep it.
        gc.collect()
        gc.freeze()
        # A young collection every 10,000 allocations, not 700: a batch (a chunk of an
        # import, a consumer's records) keeps thousands of objects alive until it is done, and
        # each collection walked them again and promoted them; a 30,000-SKU import then ran
        # 51 full collections. Now 2, and half the collector's time (docs/profiling.md).
        gc.set_threshold(10_000, 10, 10)
        try:
            yield
        finally:
            await app.state.audit_writer.stop()
            await runtime.stop()

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        # FastAPI's own span per request only where spans are exported: building one costs
        # a tenth of a position read; without it, request_origin still carries the caller's
        # trace to the events a command causes. Its metrics and logs are off: the services
        # export Prometheus metrics, and checking for OTel providers on every request cost
        # 2 % of a reservation.
        telemetry={
            "tracing": telemetry.TracingSettings().exports,
            "metrics": False,
            "logs": False,
        },
    )
    app.state.runtime = runtime
    settings = runtime.settings
    app.state.authenticator = Authenticator(
        runtime.engine, settings.schema_prefix, recheck_s=settings.token_recheck_s
    )
    app.state.audit_writer = AuditWriter(runtime.engine, settings.schema_prefix)
    app.add_middleware(AuditTrail, service=runtime.service, writer=lambda: app.state.audit_writer)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(405, _method_not_allowed)
    app.add_exception_handler(sa_exc.DBAPIError, _database_error)
    for unavailable in (TimeoutError, OSError, sa_exc.TimeoutError):
        app.add_exception_handler(unavailable, _dependency_unavailable)
    statuses: dict[type[Exception], int] = {DomainError: 422, **(errors or {})}
    handler = _status_handler(statuses)
    for error in statuses:
        app.add_exception_handler(error, handler)

    @app.get("/health/live", tags=["operations"], summary="The process is alive.")
    async def live() -> dict[str, str]:
        return {"status": "alive", "service": runtime.service}

    @app.get(
        "/health/ready",
        tags=["operations"],
        summary="Ready: migrated, connected to PostgreSQL and Kafka, consuming.",
        response_model=Readiness,
        responses={
            503: {
                "model": Readiness,
                "description": "Not ready; `checks` says which part, `unreachable` which "
                "dependency does not answer, where and for how long.",
            }
        },
    )
    async def ready() -> JSONResponse:
        checks, unreachable = runtime.check_ready()
        ok = all(checks.values())
        body = Readiness(
            status="ready" if ok else "not-ready",
            service=runtime.service,
            checks=checks,
            unreachable=[UnreachableDependency(**dataclasses.asdict(u)) for u in unreachable],
        )
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics (text exposition format).",
        response_class=Response,
        responses={
            200: {
                "description": "Every metric of this process.",
                "content": {CONTENT_TYPE_PLAIN_0_0_4: {"schema": {"type": "string"}}},
            }
        },
    )
    async def metrics_endpoint() -> Response:
        # What prometheus_client serves generate_latest() as by default; its CONTENT_TYPE_LATEST
        # names text format 1.0.0, which it only serves to a scraper that asks for it.
        return Response(generate_latest(), media_type=CONTENT_TYPE_PLAIN_0_0_4)

    for router in routers:
        # Every route a service adds needs a token, and a route of one channel a token that
        # serves it; health and metrics above stay open.
        app.include_router(router, dependencies=[Depends(authenticated), Depends(channel_allowed)])

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            document_scopes(document)
            app.openapi_schema = exact_maps(_with_runtime_errors(document))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app

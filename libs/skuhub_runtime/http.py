"""The HTTP face every service shares: lifespan, health, readiness, metrics, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import exc as sa_exc

from skuhub_runtime.db import sqlstate
from skuhub_runtime.service import ServiceRuntime

_PREFIXES = ("body", "query", "path", "header")


def describe_request_errors(errors: Sequence[Any]) -> str:
    """``field.path: message`` per problem, without FastAPI's ``body``/``query`` prefix."""
    parts = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        if loc and loc[0] in _PREFIXES:
            loc = loc[1:]
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{'.'.join(loc)}: {message}" if loc else message)
    return "; ".join(parts)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": describe_request_errors(errors) or str(exc)}, status_code=422)


async def _database_error(_: Request, exc: Exception) -> JSONResponse:
    """A value PostgreSQL refuses (SQLSTATE class 22, e.g. a NUL character) is the client's 422."""
    state = sqlstate(exc)
    if state is None or not state.startswith("22"):
        raise exc
    cause = str(getattr(exc, "orig", exc)).splitlines()[0]
    hint = " (text may not contain NUL characters)" if state in ("22021", "22P05") else ""
    return JSONResponse(
        {"detail": f"a value in the request cannot be stored: {cause}{hint}"}, status_code=422
    )


def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


def create_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """A FastAPI app whose lifespan starts and stops the service runtime."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.runtime = runtime
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(sa_exc.DBAPIError, _database_error)

    @app.get("/health/live", tags=["operations"], summary="The process is alive.")
    async def live() -> dict[str, str]:
        return {"status": "alive", "service": runtime.service}

    @app.get(
        "/health/ready",
        tags=["operations"],
        summary="Ready: migrated, connected to PostgreSQL and Kafka, consuming.",
        responses={503: {"description": "Not ready yet; the body says which part."}},
    )
    async def ready() -> JSONResponse:
        checks = await runtime.check_ready()
        ok = all(checks.values())
        return JSONResponse(
            {
                "status": "ready" if ok else "not-ready",
                "service": runtime.service,
                "checks": checks,
            },
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics.")
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)
    return app

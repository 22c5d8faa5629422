"""A request that meets an unreachable PostgreSQL answers 503 with Retry-After, as documented."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import exc as sa_exc

from skuhub_runtime.http import create_app
from skuhub_runtime.service import ServiceRuntime
from skuhub_runtime.settings import ServiceSettings
from tests import api


class _ConnectionLost(Exception):
    sqlstate = "08006"


ERRORS: dict[str, Exception] = {
    "statement-timeout": TimeoutError(),
    "pool-timeout": sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    "refused": ConnectionRefusedError(111, "Connection refused"),
    "connection-lost": sa_exc.OperationalError("SELECT 1", {}, _ConnectionLost()),
}

router = APIRouter()


@router.get("/v1/fails/{name}")
async def fails(name: str) -> dict[str, str]:
    raise ERRORS[name]


def _app() -> Any:
    runtime = cast(
        ServiceRuntime[Any],
        SimpleNamespace(service="test", settings=ServiceSettings(), engine=None),
    )
    app = create_app(runtime, title="test", description="test", routers=[router])
    api.trust_every_caller(app)
    return app


@pytest.mark.parametrize("name", sorted(ERRORS))
async def test_an_unreachable_dependency_is_a_503_that_says_retry(name: str) -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(f"/v1/fails/{name}")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "/health/ready" in response.json()["detail"]


def test_every_operation_but_health_and_metrics_documents_the_503() -> None:
    paths = _app().openapi()["paths"]
    assert "Retry-After" in paths["/v1/fails/{name}"]["get"]["responses"]["503"]["headers"]
    assert "503" not in paths["/health/live"]["get"]["responses"]
    assert "503" not in paths["/metrics"]["get"]["responses"]
    ready = paths["/health/ready"]["get"]["responses"]["503"]
    assert ready["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Readiness"
    }

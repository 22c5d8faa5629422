"""The stock HTTP ingest alone: what a client sees when Kafka does not take the movements."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
from aiokafka.errors import KafkaConnectionError
from fastapi import FastAPI

from skuhub_contracts.codec import KafkaRecord
from skuhub_runtime.http import get_runtime
from skuhub_runtime.settings import ServiceSettings
from skuhub_stock.entrypoints.http import router
from tests.upstream import movement


class BrokerGone:
    async def send_batch(self, records: list[tuple[str, KafkaRecord]]) -> None:
        raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]")


async def test_movements_kafka_does_not_take_are_a_503_that_says_retry() -> None:
    app = FastAPI()
    app.include_router(router)

    async def nothing_refused(query: Any) -> dict[int, Any]:
        return {}

    runtime = SimpleNamespace(
        service="stock", settings=ServiceSettings(), publisher=BrokerGone(), read=nothing_refused
    )
    app.dependency_overrides[get_runtime] = lambda: runtime
    body = {"movements": [movement("MUG-1").model_dump(mode="json")]}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://stock") as client:
        response = await client.post("/v1/movements", json=body)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "send the same request again" in response.json()["detail"]

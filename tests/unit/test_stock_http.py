"""The stock HTTP ingest alone: the same checks as the consumer, and what a client sees when
Kafka does not take the movements."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError
from fastapi import FastAPI

from skuhub_contracts.codec import DecodeError, Envelope, KafkaRecord, decode, encode
from skuhub_contracts.events import StockMoved
from skuhub_runtime.http import get_runtime
from skuhub_runtime.settings import ServiceSettings
from skuhub_stock.entrypoints.http import router
from tests import api
from tests.upstream import movement


class BrokerGone:
    async def send_batch(self, records: list[tuple[str, KafkaRecord]]) -> None:
        raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]")


class Broker:
    def __init__(self) -> None:
        self.sent: list[tuple[str, KafkaRecord]] = []

    async def send_batch(self, records: list[tuple[str, KafkaRecord]]) -> None:
        self.sent += records


async def post_movements(publisher: Any, movements: list[dict[str, Any]]) -> httpx.Response:
    """POST /v1/movements to the stock router alone; the ledger refuses nothing."""
    app = FastAPI()
    app.include_router(router)

    async def nothing_refused(query: Any) -> dict[int, Any]:
        return {}

    runtime = SimpleNamespace(
        service="stock", settings=ServiceSettings(), publisher=publisher, read=nothing_refused
    )
    app.dependency_overrides[get_runtime] = lambda: runtime
    api.trust_every_caller(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://stock") as client:
        return await client.post("/v1/movements", json={"movements": movements})


def valid() -> dict[str, Any]:
    return movement("MUG-1").model_dump(mode="json")


BAD_MOVEMENTS = [
    {**valid(), "source_sequence": 2**63},
    {**valid(), "lot": "L\u0000"},
    {**valid(), "source_system": "wms\n"},
    {**valid(), "occurred_at": "0001-01-01T00:00:00+01:00"},
    {**valid(), "destination": "0614141000036"},
    {**valid(), "kind": "shipment", "quantity": "-2", "location": "4012345000008"},
    {**valid(), "quantity": True},
    {k: v for k, v in valid().items() if k != "occurred_at"},
]


@pytest.mark.parametrize("bad", BAD_MOVEMENTS)
async def test_http_ingest_refuses_exactly_what_the_consumer_refuses_in_the_same_words(
    bad: dict[str, Any],
) -> None:
    broker = Broker()
    response = await post_movements(broker, [valid(), bad])

    assert response.status_code == 422, response.text
    assert broker.sent == [], "nothing is taken when one movement is refused"
    errors = response.json()["detail"]
    assert all(e["loc"][:3] == ["body", "movements", 1] for e in errors), errors
    over_http = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'][3:])}: "
        + ("is required" if e["type"] == "missing" else e["msg"])
        for e in errors
    )
    record = encode(Envelope(StockMoved.model_validate(valid())))
    with pytest.raises(DecodeError) as consumer:
        decode(json.dumps(bad).encode(), record.headers)
    assert consumer.value.reason == f"invalid skuhub.stock-moved.v1 payload: {over_http}"


async def test_a_leap_second_and_the_largest_sequence_are_taken_over_http() -> None:
    broker = Broker()
    edge = {**valid(), "occurred_at": "2016-12-31T23:59:60Z", "source_sequence": 2**63 - 1}

    response = await post_movements(broker, [edge])

    assert response.status_code == 202, response.text
    [(_, sent)] = broker.sent
    decoded = decode(sent.value, sent.headers)
    assert decoded.payload.source_sequence == 2**63 - 1
    assert decoded.payload.occurred_at.second == 59


async def test_movements_kafka_does_not_take_are_a_503_that_says_retry() -> None:
    response = await post_movements(BrokerGone(), [valid()])

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "send the same request again" in response.json()["detail"]

"""What an outside producer sends is taken or refused as the published contract says, over
Kafka (librdkafka) and HTTP alike; a refused record never holds up the records after it."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest

from skuhub_contracts.codec import Envelope, encode
from skuhub_contracts.topics import STOCK_MOVED, dead_letter
from tests import api
from tests.e2e.observe import new_sku, offer_where
from tests.harness import Stack, wait_until
from tests.upstream import (
    Upstream,
    body_of,
    find_records,
    headers_of,
    movement,
    records_until,
)

pytestmark = pytest.mark.e2e


def dead_letter_reasons(stack: Stack, sku: str, expect: int) -> list[str]:
    found = find_records(
        stack.infra.kafka_bootstrap,
        stack.topic(dead_letter("stock").name),
        lambda m: m.key() == sku.encode(),
        expect=expect,
    )
    return sorted(headers_of(m)["skuhub_dlq_reason"] for m in found)


def test_records_the_schema_allows_are_applied_or_refused_for_a_field_and_nothing_is_held_up(
    stack: Stack, upstream: Upstream
) -> None:
    sku = new_sku("EDGE")
    topic = stack.topic(STOCK_MOVED.name)
    no_id = encode(Envelope(movement(sku, quantity="100")))
    upstream.publish(
        topic,
        no_id.value,
        key=no_id.key,
        headers=[(n, v) for n, v in no_id.headers if n != "ce_id"],
    )
    edges: dict[str, dict[str, object]] = {
        "largest sequence": {"source_sequence": 2**63 - 1, "quantity": "1"},
        "leap second": {"occurred_at": "2016-12-31T23:59:60Z", "quantity": "2"},
    }
    refused: dict[str, dict[str, object]] = {
        "sequence past bigint": {"source_sequence": 2**63},
        "NUL in source_system": {"source_system": "wms\u0000a"},
        "NUL in lot": {"lot": "L\u0000"},
        "year 1 with an offset": {"occurred_at": "0001-01-01T00:00:00+01:00"},
    }
    template = movement(sku).model_dump(mode="json")
    for fields in [*edges.values(), *refused.values()]:
        raw = {**template, "source_sequence": uuid.uuid4().int % 2**62, **fields}
        record = encode(Envelope(movement(sku)))
        upstream.publish(topic, json.dumps(raw).encode(), key=record.key, headers=record.headers)
    upstream.publish_movement(topic, movement(sku, quantity="4"))  # after them all

    offer_where(stack, sku, lambda o: Decimal(o["available"]) == 7, "1 + 2 + 4 available")
    reasons = dead_letter_reasons(stack, sku, expect=1 + len(refused))
    assert reasons == sorted(
        [
            "not a CloudEvent: ce_id: is required",
            "invalid skuhub.stock-moved.v1 payload: source_sequence: Input should be less than "
            f"or equal to {2**63 - 1}",
            "invalid skuhub.stock-moved.v1 payload: source_system: must not contain control "
            "characters (U+0000 to U+001F, U+007F)",
            "invalid skuhub.stock-moved.v1 payload: lot: must not contain control characters "
            "(U+0000 to U+001F, U+007F)",
            "invalid skuhub.stock-moved.v1 payload: occurred_at: must lie in the years 1900 to "
            "2999",
        ]
    )


def test_http_ingest_refuses_what_the_ledger_would_refuse_and_publishes_nothing(
    stack: Stack, upstream: Upstream
) -> None:
    sku = new_sku("UNIT")
    url = f"{stack.url('stock')}/v1/movements"
    first = api.post(url, json={"movements": [movement(sku).model_dump(mode="json")]})
    assert first.status_code == 202, first.text
    wait_until(
        lambda: api.get(f"{stack.url('stock')}/v1/positions/{sku}").json()["positions"],
        what="the first receipt in the ledger",
    )
    kept = movement(sku, quantity="3").model_dump(mode="json")
    other_unit = movement(sku, unit="KGM").model_dump(mode="json")

    response = api.post(url, json={"movements": [kept, other_unit]})

    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "movements", 1, "unit"]
    assert "unit KGM cannot be converted to the stock unit EA" in error["msg"]
    fence = upstream.publish_movement(stack.topic(STOCK_MOVED.name), movement(sku, quantity="1"))
    published = records_until(
        stack.infra.kafka_bootstrap,
        stack.topic(STOCK_MOVED.name),
        lambda m: m.key() == sku.encode(),
        lambda m: headers_of(m).get("ce_id") == fence.id,
    )
    quantities = [body_of(m)["quantity"] for m in published]
    assert quantities == ["10", "1"], "neither movement of the refused request was published"

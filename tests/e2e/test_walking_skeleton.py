"""The walking skeleton: one event really travels through all four services."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest

from skuhub_contracts.topics import STOCK_LEVEL_CHANGED, STOCK_MOVED, dead_letter
from tests import api
from tests.e2e.observe import launch, metric, new_sku, offer_where, publish_product
from tests.harness import Stack
from tests.upstream import (
    GLN_A,
    GLN_B,
    Upstream,
    body_of,
    find_records,
    headers_of,
    movement,
    new_trace,
)

pytestmark = pytest.mark.e2e


def test_upstream_receipt_reaches_the_channel_offer_in_one_trace(
    stack: Stack, upstream: Upstream
) -> None:
    sku = new_sku()
    traceparent, trace_id = new_trace()

    upstream.publish_movement(
        stack.topic(STOCK_MOVED.name), movement(sku, quantity="12"), traceparent=traceparent
    )

    found = offer_where(
        stack, sku, lambda o: Decimal(o["available"]) == 12, "12 available in the offer"
    )
    [position] = found["sources"]["positions"]
    assert position["trace_id"] == trace_id, "the gateway applied the event under another trace"
    [derived] = find_records(
        stack.infra.kafka_bootstrap,
        stack.topic(STOCK_LEVEL_CHANGED.name),
        lambda m: body_of(m)["sku"] == sku,
    )
    assert headers_of(derived)["traceparent"].split("-")[1] == trace_id
    positions = api.get(f"{stack.url('stock')}/v1/positions/{sku}").json()
    assert Decimal(positions["available_to_promise"]) == 12
    metrics = api.get(f"{stack.url('stock')}/metrics").text
    topic_label = f'topic="{stack.topic(STOCK_MOVED.name)}"'
    lag_lines = [line for line in metrics.splitlines() if line.startswith("skuhub_consumer_lag")]
    assert any(topic_label in line for line in lag_lines), lag_lines
    assert 'skuhub_data_latency_seconds_count{event_type="skuhub.stock-moved.v1"' in metrics


def test_product_created_in_catalog_shows_in_the_offer_with_its_lifecycle_stage(
    stack: Stack, upstream: Upstream
) -> None:
    sku = new_sku("TSHIRT")
    created = api.post(
        f"{stack.url('catalog')}/v1/products",
        json={
            "sku": sku,
            "gtin": "4006381333931",
            "status": "enabled",
            "title": {"en_US": "Red T-shirt", "de_DE": "Rotes T-Shirt"},
            "unit": "EA",
            "family": "apparel",
        },
    )
    assert created.status_code == 201, created.text
    publish_product(stack, sku)
    launch(stack, sku)

    found = offer_where(
        stack,
        sku,
        lambda o: o["title"] == "Red T-shirt" and o["stage"] == "active",
        "title and stage",
    )
    assert found["sellable"] is False
    assert "no stock available to promise" in found["not_sellable_because"]

    upstream.publish_movement(stack.topic(STOCK_MOVED.name), movement(sku, quantity="3"))
    found = offer_where(stack, sku, lambda o: o["sellable"], "sellable once stocked")
    assert Decimal(found["available"]) == 3
    assert found["low_stock"] is True
    stage = api.get(f"{stack.url('lifecycle')}/v1/stages/{sku}").json()
    assert stage["stage"] == "active"


def test_movements_posted_over_http_take_the_same_topic_and_sum_per_sku(stack: Stack) -> None:
    sku = new_sku()
    batch = [
        movement(sku, "receipt", "20", location=GLN_A),
        movement(sku, "receipt", "5", location=GLN_B),
        movement(sku, "reservation", "4", location=GLN_A),
        movement(sku, "shipment", "1", location=GLN_B),
    ]
    response = api.post(
        f"{stack.url('stock')}/v1/movements",
        json={"movements": [m.model_dump(mode="json") for m in batch]},
    )
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 4

    found = offer_where(stack, sku, lambda o: Decimal(o["available"]) == 20, "16 + 4 available")
    assert len(found["sources"]["positions"]) == 2
    positions = api.get(f"{stack.url('stock')}/v1/positions/{sku}").json()["positions"]
    by_location = {p["location"]: p for p in positions}
    assert Decimal(by_location[GLN_A]["on_hand"]) == 20
    assert Decimal(by_location[GLN_A]["reserved"]) == 4
    assert Decimal(by_location[GLN_B]["on_hand"]) == 4


def test_bad_movement_over_http_is_a_422_that_names_the_field(stack: Stack) -> None:
    body = movement(new_sku()).model_dump(mode="json")
    body["location"] = "4012345000008"  # wrong check digit
    response = api.post(f"{stack.url('stock')}/v1/movements", json={"movements": [body]})
    assert response.status_code == 422
    assert "check digit" in response.text
    assert "location" in response.text


def test_malformed_event_goes_to_the_dead_letter_topic_and_the_partition_keeps_flowing(
    stack: Stack, upstream: Upstream
) -> None:
    sku = new_sku()
    topic = stack.topic(STOCK_MOVED.name)
    hostile = b"\x00\xff\xfe"  # not UTF-8 and a NUL, which PostgreSQL's JSONB refuses
    upstream.publish(
        topic,
        b"{not json",
        key=sku.encode(),
        headers=[("ce_specversion", b"1.0"), ("x-hostile", hostile), ("x-null", None)],
    )
    bad = movement(sku).model_dump(mode="json")
    bad["quantity"] = "-5"
    upstream.publish(
        topic,
        json.dumps(
            {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "source": "urn:test",
                "type": "skuhub.stock-moved.v1",
                "data": bad,
            }
        ).encode(),
        key=sku.encode(),
        headers=[("content-type", b"application/cloudevents+json")],
    )
    upstream.publish_movement(topic, movement(sku, quantity="7"))  # same key, same partition, after

    offer_where(
        stack, sku, lambda o: Decimal(o["available"]) == 7, "the good event after the bad ones"
    )
    ours = find_records(
        stack.infra.kafka_bootstrap,
        stack.topic(dead_letter("stock").name),
        lambda m: m.key() == sku.encode(),
        expect=2,
    )
    assert len(ours) == 2
    reasons = sorted(headers_of(m)["skuhub_dlq_reason"] for m in ours)
    assert any("quantity: must be positive for receipt" in r for r in reasons), reasons
    assert any("not a CloudEvent" in r or "JSON" in r for r in reasons), reasons
    assert all(headers_of(m)["skuhub_dlq_topic"] == topic for m in ours)
    assert {m.value() for m in ours} >= {b"{not json"}, "the dead letter keeps the original bytes"
    [not_json] = [m for m in ours if m.value() == b"{not json"]
    assert ("x-hostile", hostile) in not_json.headers(), "and the original headers, byte for byte"


def test_a_redelivered_event_is_applied_once(stack: Stack, upstream: Upstream) -> None:
    sku = new_sku()
    topic = stack.topic(STOCK_MOVED.name)
    payload = movement(sku, quantity="9")
    event_id = str(uuid.uuid4())

    def counts() -> tuple[float, float]:
        applied = metric(
            stack, "stock", "skuhub_events_applied_total", event_type="skuhub.stock-moved.v1"
        )
        return applied, metric(stack, "stock", "skuhub_events_duplicate_total")

    applied_before, duplicates_before = counts()
    upstream.publish_movement(topic, payload, event_id=event_id)
    upstream.publish_movement(topic, payload, event_id=event_id)  # same event id again
    upstream.publish_movement(topic, payload)  # new id, same source sequence: a duplicate too
    upstream.publish_movement(topic, movement(sku, quantity="1"))  # a marker after them

    offer_where(stack, sku, lambda o: Decimal(o["available"]) == 10, "9 once plus the marker")
    positions = api.get(f"{stack.url('stock')}/v1/positions/{sku}").json()["positions"]
    assert [Decimal(p["on_hand"]) for p in positions] == [10]
    assert positions[0]["version"] == 2
    applied, duplicates = counts()
    assert (applied - applied_before, duplicates - duplicates_before) == (2, 2)


def test_gateway_lists_the_default_channel_fed_by_every_location(stack: Stack) -> None:
    channels = api.get(f"{stack.url('sync_gateway')}/v1/channels").json()
    assert [c["code"] for c in channels] == ["web"]
    assert channels[0]["locations"] == []


@pytest.mark.parametrize("service", ["catalog", "stock", "lifecycle", "sync_gateway"])
def test_every_service_publishes_openapi_health_and_metrics(stack: Stack, service: str) -> None:
    base = stack.url(service)
    spec = api.get(f"{base}/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert any(path.startswith("/v1/") for path in spec["paths"])
    assert api.get(f"{base}/health/ready").json()["status"] == "ready"
    assert "skuhub_ready" in api.get(f"{base}/metrics").text

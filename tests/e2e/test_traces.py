"""Traces on the running stack: one upstream movement is one trace through stock, the
gateway and the webhook delivery, exported over OTLP to a receiver in this process
(docs/operations.md, "Tracing"); and a collector that is down stops nothing."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from skuhub_cli.launcher import CLEAN_EXIT_CODES
from skuhub_cli.otlp_sink import OtlpSink, ReceivedSpan
from skuhub_cli.ports import free_port
from skuhub_contracts.events import StockMoved
from skuhub_contracts.subscriptions import OFFER_PROJECTION, STOCK_MOVEMENTS
from skuhub_contracts.topics import CHANNEL_OFFER_CHANGED, STOCK_LEVEL_CHANGED, STOCK_MOVED
from skuhub_runtime.access_tokens import Scope, bearer
from tests import api
from tests.e2e.observe import metric, new_sku, offer_where
from tests.harness import Infrastructure, Stack, wait_until
from tests.upstream import Upstream, movement, new_trace
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e

SERVICES = ("stock", "sync_gateway")
MOVED = StockMoved.event_type


def _exporting_to(endpoint: str) -> dict[str, str]:
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }


@pytest.fixture
def traced(infra: Infrastructure, tmp_path: Path) -> Iterator[tuple[Stack, OtlpSink]]:
    """Stock and the gateway exporting every span to a receiver in this process."""
    with OtlpSink().serve() as sink:
        stack = Stack(infra, tmp_path)
        try:
            stack.start(SERVICES, env=_exporting_to(sink.endpoint))
            yield stack, sink
        finally:
            stack.stop()


def _one(spans: list[ReceivedSpan], what: str, **match: object) -> ReceivedSpan:
    found = [s for s in spans if all(_field(s, k) == v for k, v in match.items())]
    assert len(found) == 1, f"{what}: {len(found)} spans match {match}: {found}"
    return found[0]


def _field(span: ReceivedSpan, name: str) -> object:
    return span.attributes.get(name.replace("__", ".")) if "__" in name else getattr(span, name)


def _ancestors(span: ReceivedSpan, spans: list[ReceivedSpan]) -> list[str]:
    by_id = {s.span_id: s for s in spans}
    found, parent = [], span.parent_span_id
    while parent:
        found.append(parent)
        parent = by_id[parent].parent_span_id if parent in by_id else ""
    return found


def _between(
    span: ReceivedSpan, ancestor: ReceivedSpan, spans: list[ReceivedSpan]
) -> list[ReceivedSpan]:
    by_id = {s.span_id: s for s in spans}
    chain = _ancestors(span, spans)
    return [by_id[i] for i in chain[: chain.index(ancestor.span_id)]]


def test_one_movement_is_one_trace_from_stock_to_the_webhook_delivery(
    traced: tuple[Stack, OtlpSink],
) -> None:
    stack, sink = traced
    gateway = stack.url("sync_gateway")
    with Receiver().serve() as receiver:
        created = api.post(
            f"{gateway}/v1/subscriptions", json={"url": receiver.url, "channel": "web"}
        )
        assert created.status_code == 201, created.text
        receiver.secret = created.json()["secret"]
        sku = new_sku("TRACE")
        traceparent, trace_id = new_trace()
        upstream_span = traceparent.split("-")[2]
        Upstream(stack.infra.kafka_bootstrap).publish_movement(
            stack.topic(STOCK_MOVED.name), movement(sku, quantity="4"), traceparent=traceparent
        )
        offer_where(stack, sku, lambda o: Decimal(o["available"]) == 4, "4 available")
        wait_until(lambda: receiver.versions().get(sku) == [1], timeout=30, what="delivered")

        def hops() -> list[ReceivedSpan] | None:
            mine = [s for s in sink.snapshot() if s.trace_id == trace_id]
            names = {(s.service, s.kind) for s in mine}
            wanted = {
                ("skuhub-stock", "consumer"),
                ("skuhub-stock", "producer"),
                ("skuhub-sync_gateway", "consumer"),
                ("skuhub-sync_gateway", "producer"),
                ("skuhub-sync_gateway", "client"),
            }
            return mine if wanted <= names else None

        spans = wait_until(hops, timeout=30, what=f"every hop of trace {trace_id} exported")

    moved = stack.topic(STOCK_MOVED.name)
    levels = stack.topic(STOCK_LEVEL_CHANGED.name)
    offers = stack.topic(CHANNEL_OFFER_CHANGED.name)
    stock_apply = _one(spans, "stock process", name=f"process {moved}")
    level_send = _one(spans, "stock-level-changed send", name=f"send {levels}")
    gateway_apply = _one(spans, "gateway process", name=f"process {levels}")
    offer_send = _one(spans, "channel-offer-changed send", name=f"send {offers}")
    delivery = _one(spans, "webhook delivery", kind="client", service="skuhub-sync_gateway")

    # Parent and child, hop by hop, in the order they happened. An event's context is the
    # span it was created in (the process span of its cause): its send span and its
    # consumer's process span are both children of that.
    assert stock_apply.parent_span_id == upstream_span
    assert level_send.parent_span_id == stock_apply.span_id
    assert gateway_apply.parent_span_id == stock_apply.span_id
    assert offer_send.parent_span_id == gateway_apply.span_id
    assert delivery.parent_span_id == gateway_apply.span_id
    order = [stock_apply, level_send, gateway_apply, offer_send]
    assert [s.start_ns for s in order] == sorted(s.start_ns for s in order)
    assert delivery.start_ns >= gateway_apply.start_ns
    assert delivery.attributes["http.response.status_code"] == 200
    assert not any(s.error for s in [*order, delivery])

    # Messaging attributes per the semantic conventions.
    for span, topic, operation in (
        (stock_apply, moved, "process"),
        (level_send, levels, "send"),
        (gateway_apply, levels, "process"),
        (offer_send, offers, "send"),
    ):
        # (A send span of one record: a batch's has the count instead of the record's.)
        attributes = span.attributes
        assert attributes["messaging.system"] == "kafka"
        assert attributes["messaging.operation.type"] == operation
        assert attributes["messaging.destination.name"] == topic
        assert attributes["messaging.kafka.message.key"] == sku
        assert attributes["messaging.destination.partition.id"].isdigit()
        assert isinstance(attributes["messaging.kafka.offset"], int)
    assert stock_apply.kind == gateway_apply.kind == "consumer"
    assert level_send.kind == offer_send.kind == "producer"
    assert stock_apply.attributes["messaging.consumer.group.name"] == (
        stack.settings.consumer_group(STOCK_MOVEMENTS)
    )
    assert gateway_apply.attributes["messaging.consumer.group.name"] == (
        stack.settings.consumer_group(OFFER_PROJECTION)
    )
    # The gateway's own record of the change, as `skuhub trace` reads it: all tokens see
    # it but one bound to another channel.
    url = f"{gateway}/v1/offer-changes"

    def recorded() -> list[dict[str, object]] | None:
        found: list[dict[str, object]] = api.get(url, params={"sku": sku}).json()
        return found if found and found[0]["deliveries"] else None

    [change] = wait_until(recorded, timeout=30, what="the change and its delivery recorded")
    assert (change["channel"], change["offer_version"], change["trace_id"]) == ("web", 1, trace_id)
    elsewhere = stack.wiring.issue_token("market-adapter", [Scope.CHANNEL], channels=["market"])
    hidden = httpx.get(url, params={"sku": sku}, headers=bearer(elsewhere.value))
    assert (hidden.status_code, hidden.json()) == (200, [])
    # Each batch's receive span links to the record it took in (another trace's root).
    everything = sink.snapshot()
    receives = [s for s in everything if s.attributes.get("messaging.operation.type") == "receive"]
    assert any((trace_id, upstream_span) in s.links for s in receives)
    assert any((trace_id, stock_apply.span_id) in s.links for s in receives)


def test_a_collector_that_is_down_neither_stops_nor_holds_a_service(
    infra: Infrastructure, tmp_path: Path
) -> None:
    stack = Stack(infra, tmp_path)
    upstream = Upstream(infra.kafka_bootstrap)
    closed = free_port()  # nothing listens there
    env = {**_exporting_to(f"http://127.0.0.1:{closed}"), "OTEL_BSP_MAX_QUEUE_SIZE": "64"}
    try:
        stack.start(("stock",), env=env)
        skus = [new_sku("NOCOL") for _ in range(20)]
        topic = stack.topic(STOCK_MOVED.name)
        for _ in range(10):
            for sku in skus:
                upstream.publish_movement(
                    topic, movement(sku, quantity="1"), traceparent=new_trace()[0]
                )
        # 200 movements, each with a sampled trace: far more spans than the queue holds.
        wait_until(
            lambda: metric(stack, "stock", "skuhub_events_applied_total", event_type=MOVED) >= 200,
            timeout=60,
            what="every movement applied while the collector is down",
        )
        ready = httpx.get(f"{stack.url('stock')}/health/ready")
    finally:
        codes = stack.stop()
    assert ready.status_code == 200, ready.text
    # It stops cleanly too: the spans it could not export are dropped, not waited for.
    assert codes["stock"] in CLEAN_EXIT_CODES, codes


def test_a_movement_reported_over_http_continues_the_callers_trace(
    traced: tuple[Stack, OtlpSink],
) -> None:
    stack, sink = traced
    sku = new_sku("TRACEHTTP")
    traceparent, trace_id = new_trace()
    caller_span = traceparent.split("-")[2]
    response = api.post(
        f"{stack.url('stock')}/v1/movements",
        json={"movements": [movement(sku, quantity="2").model_dump(mode="json")]},
        headers={"traceparent": traceparent},
    )
    assert response.status_code == 202, response.text
    moved = stack.topic(STOCK_MOVED.name)

    def hops() -> list[ReceivedSpan] | None:
        mine = [s for s in sink.snapshot() if s.trace_id == trace_id]
        kinds = {s.kind for s in mine if s.service == "skuhub-stock"}
        return mine if {"server", "producer", "consumer"} <= kinds else None

    spans = wait_until(hops, timeout=30, what=f"the request's hops in trace {trace_id}")
    request = _one(spans, "the request's server span", kind="server")
    send = _one(spans, "stock-moved send", name=f"send {moved}")
    apply = _one(spans, "stock-moved process", name=f"process {moved}")
    assert request.parent_span_id == caller_span
    # FastAPI's own internal spans (dependencies, endpoint) may stand between them.
    assert request.span_id in _ancestors(send, spans)
    assert all(s.kind == "internal" for s in _between(send, request, spans))
    assert apply.parent_span_id == send.parent_span_id
    assert send.attributes["messaging.kafka.message.key"] == sku

"""Kafka spans per the messaging semantic conventions (no I/O: an in-memory exporter)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from skuhub_contracts.codec import KafkaRecord
from skuhub_runtime import messaging_spans, telemetry
from tests.upstream import new_trace


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Spans as a process that exports them builds them, kept in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "_EXPORTING", True)
    monkeypatch.setattr(telemetry, "tracer", lambda: provider.get_tracer("test"))
    yield exporter
    provider.shutdown()


def test_an_event_standing_for_several_records_links_every_trace(
    exported: InMemorySpanExporter,
) -> None:
    (first, first_trace), (second, second_trace), (third, third_trace) = (
        new_trace(),
        new_trace(),
        new_trace(),
    )

    traceparent, _ = messaging_spans.joined(
        "skuhub.stock-level-changed.v1", first, None, [(second, None), (third, None)]
    )

    [span] = exported.get_finished_spans()
    assert span.name == "create skuhub.stock-level-changed.v1"
    assert span.kind is SpanKind.PRODUCER
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == first.split("-")[2]
    assert format(span.context.trace_id, "032x") == first_trace
    linked = {format(link.context.trace_id, "032x") for link in span.links}
    assert linked == {second_trace, third_trace}
    # The event carries the create span's context: its consumer continues this span.
    assert traceparent is not None
    assert traceparent.split("-")[2] == format(span.context.span_id, "016x")


def test_a_sent_record_carries_its_send_span_as_parent_of_the_next_hop(
    exported: InMemorySpanExporter,
) -> None:
    traceparent, trace_id = new_trace()
    record = KafkaRecord(
        b"SKU-1", b"{}", [("ce_id", b"event-1"), ("traceparent", traceparent.encode())]
    )

    [span] = messaging_spans.send_spans([("stock.stock-level-changed.v1", record)])
    headers = dict(messaging_spans.continued(record.headers, span))
    messaging_spans.sent(span, partition=2, offset=41)

    [done] = exported.get_finished_spans()
    assert done.name == "send stock.stock-level-changed.v1"
    assert done.parent is not None
    assert format(done.parent.span_id, "016x") == traceparent.split("-")[2]
    assert done.attributes is not None
    assert done.attributes["messaging.system"] == "kafka"
    assert done.attributes["messaging.operation.type"] == "send"
    assert done.attributes["messaging.kafka.message.key"] == "SKU-1"
    assert done.attributes["messaging.message.id"] == "event-1"
    assert done.attributes["messaging.destination.partition.id"] == "2"
    assert done.attributes["messaging.kafka.offset"] == 41
    sent_parent = headers["traceparent"].decode().split("-")
    assert sent_parent[1] == trace_id
    assert sent_parent[2] == format(done.context.span_id, "016x")


def test_nothing_is_built_while_not_exporting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telemetry, "_EXPORTING", False)
    first, _ = new_trace()
    second, _ = new_trace()

    assert messaging_spans.joined("x", first, "a=1", [(second, None)]) == (first, "a=1")
    assert not messaging_spans.receive_span([], [], "group", 0).is_recording()

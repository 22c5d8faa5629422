"""Kafka spans per the messaging semantic conventions (no I/O: an in-memory exporter)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from skuhub_contracts.codec import KafkaRecord
from skuhub_runtime import messaging_spans, telemetry
from tests.exported_spans import export_in_memory
from tests.upstream import new_trace


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Spans as a process that exports them builds them, kept in memory."""
    exporter = InMemorySpanExporter()
    provider = export_in_memory(monkeypatch, exporter)
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


def test_a_batch_is_sent_under_one_span_per_topic_linked_to_every_records_trace(
    exported: InMemorySpanExporter,
) -> None:
    (first, first_trace), (second, second_trace) = new_trace(), new_trace()
    levels, dead = "stock.stock-level-changed.v1", "stock.dead-letters.v1"
    batch = [
        (levels, KafkaRecord(b"SKU-1", b"{}", [("traceparent", first.encode())])),
        (dead, KafkaRecord(b"SKU-9", b"{}", [])),
        (levels, KafkaRecord(b"SKU-2", b"{}", [("traceparent", second.encode())])),
    ]

    spans = messaging_spans.send_spans(batch)
    placed = [SimpleNamespace(partition=i, offset=40 + i) for i in range(3)]
    for span in spans:
        messaging_spans.sent(span, placed)

    by_name = {s.name: s for s in exported.get_finished_spans()}
    assert set(by_name) == {f"send {levels}", f"send {dead}"}
    both = by_name[f"send {levels}"]
    assert both.parent is not None
    assert format(both.parent.span_id, "016x") == first.split("-")[2]
    assert format(both.context.trace_id, "032x") == first_trace
    assert [format(link.context.trace_id, "032x") for link in both.links] == [second_trace]
    assert both.attributes is not None
    assert both.attributes["messaging.system"] == "kafka"
    assert both.attributes["messaging.operation.type"] == "send"
    assert both.attributes["messaging.batch.message_count"] == 2
    alone = by_name[f"send {dead}"]
    assert alone.attributes is not None
    assert alone.attributes["messaging.kafka.message.key"] == "SKU-9"
    assert alone.attributes["messaging.destination.partition.id"] == "1"
    assert alone.attributes["messaging.kafka.offset"] == 41


def test_nothing_is_built_while_not_exporting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telemetry, "_RECORDER", None)
    first, _ = new_trace()
    second, _ = new_trace()

    assert messaging_spans.joined("x", first, "a=1", [(second, None)]) == (first, "a=1")
    assert messaging_spans.receive_span([], [], "group", 0) is None


def test_a_consumed_record_is_processed_under_the_span_that_sent_it(
    exported: InMemorySpanExporter,
) -> None:
    sent, trace_id = new_trace()
    record = SimpleNamespace(topic="stock.stock-moved.v1", key=b"SKU-1", partition=2, offset=7)

    span = messaging_spans.process_span(
        record, message_id="id-1", traceparent=sent, tracestate=None, group="stock"
    )
    carried, _ = span.carried()
    span.end()

    [finished] = exported.get_finished_spans()
    assert finished.name == "process stock.stock-moved.v1"
    assert finished.kind is SpanKind.CONSUMER
    assert finished.parent is not None
    assert format(finished.parent.span_id, "016x") == sent.split("-")[2]
    assert format(finished.context.trace_id, "032x") == trace_id
    assert carried.split("-")[2] == format(finished.context.span_id, "016x")
    assert dict(finished.attributes or {}) == {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": "stock.stock-moved.v1",
        "messaging.destination.partition.id": "2",
        "messaging.kafka.offset": 7,
        "messaging.kafka.message.key": "SKU-1",
        "messaging.message.id": "id-1",
        "messaging.consumer.group.name": "stock",
    }

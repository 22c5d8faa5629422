"""A span written as span_wire JSON and read back is the span it was, as OTLP sees it.

The oracle is the library's encoder (``opentelemetry-exporter-otlp-proto-common``'s
``encode_spans``) applied to the original spans: the spans read back must encode to the
same ``ExportTraceServiceRequest``, message by message.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import SpanKind

from skuhub_runtime import direct_spans, span_wire, telemetry
from skuhub_runtime.span_shipping import ShippingSpanProcessor
from tests.exported_spans import library_request, spans_of_every_shape
from tests.upstream import new_trace

SAMPLED_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _trip(spans: list[Any], resource: Resource, scopes: dict[Any, Any]) -> list[ReadableSpan]:
    document = span_wire.dumps([s if isinstance(s, list) else span_wire.of_span(s) for s in spans])
    return span_wire.loads(document, resource, scopes)


def test_spans_of_every_shape_come_back_as_they_were() -> None:
    spans = spans_of_every_shape()
    resource = span_wire.resource_of(span_wire.resource_document(spans[0].resource))
    scopes: dict[Any, Any] = {}

    back = _trip(spans, resource, scopes)
    again = _trip(spans, resource, scopes)

    assert library_request(back) == library_request(spans)
    assert resource.attributes == spans[0].resource.attributes
    assert {s.name for s in spans} == {s.name for s in back}
    # One scope object per scope, across batches: the encoder groups spans by identity.
    assert [s.instrumentation_scope for s in again] == [s.instrumentation_scope for s in back]
    assert all(
        a.instrumentation_scope is b.instrumentation_scope for a, b in zip(again, back, strict=True)
    )


class _Collecting(ShippingSpanProcessor):
    """The export process's queue, kept in a list instead of shipped."""

    def __init__(self) -> None:
        super().__init__(
            Resource.create({}), max_queue_size=10, max_batch_size=10, schedule_delay_ms=60_000
        )
        self.items: list[Any] = []

    def ship(self, span: ReadableSpan | list[Any]) -> None:
        self.items.append(span)


def test_direct_spans_shipped_come_back_as_the_sdk_finishes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exporter, shipper = InMemorySpanExporter(), _Collecting()
    provider = TracerProvider(sampler=ParentBased(ALWAYS_ON))
    processor = SimpleSpanProcessor(exporter)
    recorder = telemetry.Recorder.of(provider, (processor, shipper))
    monkeypatch.setattr(telemetry, "_RECORDER", recorder)
    try:
        consumed = direct_spans.start(
            "process t",
            SpanKind.CONSUMER,
            telemetry.extract(SAMPLED_PARENT, "vendor=value"),
            {"messaging.system": "kafka", "messaging.kafka.offset": 42, "texts": ("a", "b")},
        )
        consumed.set_attributes({"messaging.destination.partition.id": "2"})
        consumed.failed(ValueError("no such SKU"))
        other, _ = new_trace()
        joined = direct_spans.start(
            "create t",
            SpanKind.PRODUCER,
            telemetry.extract(consumed.carried()[0]),
            # Another trace's span, this process's own (not remote) and one that is no
            # span at all (left out).
            links=[(other, "vendor=value"), (consumed.carried()[0], None), ("nonsense", None)],
        )
        root = direct_spans.start("send t", SpanKind.PRODUCER, telemetry.extract(None))
        for span in (joined, consumed, root):
            span.end()
        finished = list(exporter.get_finished_spans())

        back = _trip(shipper.items, provider.resource, {})

        assert recorder.shipper is shipper
        assert recorder.processors == (processor,)
        assert len(shipper.items) == 3
        assert library_request(back) == library_request(finished)
        [create] = [span for span in back if span.name == "create t"]
        assert [link.context.is_remote for link in create.links] == [True, False]
    finally:
        shipper.shutdown()
        provider.shutdown()

"""A span written as span_wire JSON, read back and encoded by the export process is the
span it was, as OTLP sees it.

The oracle is the library's encoder (``opentelemetry-exporter-otlp-proto-common``'s
``encode_spans``) applied to the original spans: the spans read back must encode to the
same ``ExportTraceServiceRequest``, message by message.
"""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import SpanKind

from skuhub_runtime import direct_spans, span_wire, telemetry
from skuhub_runtime.otlp_encoding import SpanEncoder
from tests.exported_spans import (
    CollectingShipper,
    library_request,
    our_request,
    spans_of_every_shape,
)
from tests.upstream import new_trace

SAMPLED_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_spans_of_every_shape_come_back_as_they_were() -> None:
    spans = spans_of_every_shape()
    resource = span_wire.resource_of(span_wire.resource_document(spans[0].resource))
    encoder = SpanEncoder(resource)

    back = our_request(spans, encoder)
    again = our_request(spans, encoder)

    assert back == library_request(spans)
    assert again == back
    assert resource.attributes == spans[0].resource.attributes


def test_direct_spans_shipped_come_back_as_the_sdk_finishes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exporter, shipper = InMemorySpanExporter(), CollectingShipper()
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

        back = our_request(shipper.items, SpanEncoder(provider.resource))

        assert recorder.shipper is shipper
        assert recorder.processors == (processor,)
        assert len(shipper.items) == 3
        assert back == library_request(finished)
        [create] = [s for s in back.resource_spans[0].scope_spans[0].spans if s.name == "create t"]
        # Flags: whether the linked span is remote is known (0x100), and if it is (0x200).
        assert [link.flags for link in create.links] == [0x300, 0x100]
    finally:
        shipper.shutdown()
        provider.shutdown()

"""Spans as a process that exports them builds them, kept in memory (no I/O), and spans of
every shape the SDK makes, for the tests of what carries and encodes them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Sampler
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from skuhub_runtime import span_wire, telemetry
from skuhub_runtime.otlp_encoding import SpanEncoder
from skuhub_runtime.span_shipping import ShippingSpanProcessor


def export_in_memory(
    monkeypatch: pytest.MonkeyPatch, exporter: InMemorySpanExporter, sampler: Sampler | None = None
) -> TracerProvider:
    """Make this process export every span to ``exporter``, as configure_tracing does
    for a real exporter (the provider it returns is not the global one: shut it down)."""
    provider = TracerProvider(sampler=sampler)
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    monkeypatch.setattr(telemetry, "_RECORDER", telemetry.Recorder.of(provider, (processor,)))
    monkeypatch.setattr(telemetry, "tracer", lambda: provider.get_tracer(telemetry.TRACER_NAME))
    return provider


REMOTE = SpanContext(
    0x0AF7651916CD43DD8448EB211C80319C,
    0xB7AD6B7169203331,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
    trace_state=TraceState([("vendor", "value"), ("other", "x")]),
)


def limited_provider(exporter: InMemorySpanExporter) -> TracerProvider:
    """A provider whose limits drop attributes, links and events (shut it down)."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": "skuhub-stock", "replicas": 2}),
        span_limits=SpanLimits(max_span_attributes=12, max_links=3, max_events=2),
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def parsed_request(body: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return request


def library_request(spans: list[ReadableSpan]) -> ExportTraceServiceRequest:
    """The OTLP request the library's own encoder writes for ``spans``: the oracle."""
    return parsed_request(encode_spans(spans).SerializeToString())


def shipped(spans: Sequence[ReadableSpan | list[Any]]) -> list[list[Any]]:
    """Spans (SDK spans, or direct spans' wire items) as the export process reads them: in
    their wire form, through the JSON trip."""
    return span_wire.loads(
        span_wire.dumps([s if isinstance(s, list) else span_wire.of_span(s) for s in spans])
    )


def our_request(
    spans: Sequence[ReadableSpan | list[Any]], encoder: SpanEncoder | None = None
) -> ExportTraceServiceRequest:
    """The OTLP request the export process writes for ``spans`` (SDK spans' resource)."""
    if encoder is None:
        first = next((s for s in spans if isinstance(s, ReadableSpan)), None)
        encoder = SpanEncoder(first.resource if first is not None else Resource.create({}))
    return parsed_request(encoder.request(shipped(spans)))


def spans_of_every_shape() -> list[ReadableSpan]:
    """Finished spans of every shape (a :func:`limited_provider`'s): local and remote
    parents, trace state, every attribute type, events, links with attributes, dropped
    counts, error and ok status, every kind, two scopes (one with a version and schema)."""
    exporter = InMemorySpanExporter()
    provider = limited_provider(exporter)
    tracer = provider.get_tracer("skuhub", "1.0", schema_url="https://example.org/1.0")
    plain = provider.get_tracer("other")
    remote_parent = trace.set_span_in_context(trace.NonRecordingSpan(REMOTE))
    with tracer.start_as_current_span("local parent"):
        tracer.start_span("child of a local span").end()
    consumed = tracer.start_span(
        "process skuhub.stock-moved.v1",
        context=remote_parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.kafka.offset": 123_456_789_012,
            "negative": -7,
            "ratio": 0.25,
            "flag": True,
            "off": False,
            "empty": "",
            "long": "x" * 300,  # a length that needs two bytes
            "texts": ("a", "b"),
            "numbers": [1, -2, 3],
        },
        links=[Link(REMOTE, {"why": "joined"}), Link(REMOTE)],
    )
    consumed.add_event("one too many")  # the oldest goes: the limit keeps two
    consumed.add_event("retried", {"attempt": 2}, timestamp=1_700_000_000_000_000_000)
    consumed.add_event("plain")
    consumed.set_status(Status(StatusCode.ERROR, "broker down"))
    consumed.end()
    crowded = plain.start_span(
        "send", kind=SpanKind.PRODUCER, links=[Link(REMOTE)] * 5, attributes={"k": "v"}
    )
    crowded.set_attributes({f"a{i}": i for i in range(20)})  # beyond the limit of 12
    crowded.set_status(Status(StatusCode.OK))
    crowded.end()
    for kind in SpanKind:
        plain.start_span(f"kind {kind.name}", kind=kind).end()
    provider.shutdown()
    return list(exporter.get_finished_spans())


class CollectingShipper(ShippingSpanProcessor):
    """The export process's queue, kept in lists instead of shipped: ``items`` as they were
    shipped, ``counts`` the spans each holds."""

    def __init__(self, resource: Resource | None = None) -> None:
        self.resource = resource or Resource.create({})
        super().__init__(
            self.resource,
            max_queue_size=100,
            max_batch_size=10,
            schedule_delay_ms=60_000,
        )
        self.items: list[Any] = []
        self.counts: list[int] = []

    def ship(self, span: ReadableSpan | list[Any], spans: int = 1) -> None:
        self.items.append(span)
        self.counts.append(spans)

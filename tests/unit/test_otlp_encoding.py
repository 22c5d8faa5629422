"""skuhub's OTLP request encoder writes, from spans in their wire form, what the library's
encoder writes from the SDK's spans.

The oracle is ``opentelemetry-exporter-otlp-proto-common``'s ``encode_spans`` on the
original spans: both requests are parsed with the generated protobuf classes and compared
message by message.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from skuhub_runtime import otlp_encoding, span_wire, telemetry
from skuhub_runtime.otlp_encoding import SpanEncoder
from tests.exported_spans import (
    library_request,
    limited_provider,
    our_request,
    parsed_request,
    spans_of_every_shape,
)

UNSET = Status(StatusCode.UNSET)


@pytest.fixture
def finished() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = limited_provider(exporter)
    yield provider, exporter
    provider.shutdown()


def test_spans_of_every_shape_encode_as_the_library_encodes_them() -> None:
    spans = spans_of_every_shape()

    ours = our_request(spans)

    assert ours == library_request(spans)
    dropped = [s for s in ours.resource_spans[0].scope_spans[1].spans if s.name == "send"]
    assert dropped[0].dropped_attributes_count == 9
    assert dropped[0].dropped_links_count == 2


def test_spans_of_scopes_in_turn_are_grouped_by_scope() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "skuhub-stock"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    for round_ in range(2):
        for scope in ("a", "b", "a"):
            provider.get_tracer(scope).start_span(f"{scope} {round_}").end()
        provider.get_tracer("b", "2.0").start_span(f"b 2.0 {round_}").end()
    spans = list(exporter.get_finished_spans())
    encoder = SpanEncoder(provider.resource)

    ours = our_request(spans, encoder)

    assert ours == library_request(spans)
    assert [len(s.spans) for s in ours.resource_spans[0].scope_spans] == [4, 2, 2]
    assert our_request(spans, encoder) == ours  # the scopes known from the first batch


def test_repeated_attributes_stay_right_when_the_reuse_cache_starts_over(
    finished: tuple[TracerProvider, InMemorySpanExporter], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(otlp_encoding, "_REPEATED_TEXT_LIMIT", 3)
    provider, exporter = finished
    tracer = provider.get_tracer("skuhub")
    encoder = SpanEncoder(provider.resource)
    for batch in range(3):
        for i in range(5):
            tracer.start_span(
                "process", attributes={"system": "kafka", "key": f"SKU-{i}", "n": str(batch)}
            ).end()
        spans = list(exporter.get_finished_spans())
        exporter.clear()

        assert our_request(spans, encoder) == library_request(spans)


def test_an_empty_batch_is_an_empty_request() -> None:
    assert SpanEncoder(Resource.create({})).request([]) == b""
    assert library_request([]) == parsed_request(b"")


def test_a_key_whose_values_keep_being_new_is_written_without_the_cache(
    finished: tuple[TracerProvider, InMemorySpanExporter], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(otlp_encoding, "_NEW_VALUES_OF_A_VOLATILE_KEY", 2)
    provider, exporter = finished
    tracer = provider.get_tracer("skuhub")
    for i in range(6):
        tracer.start_span("process", attributes={"system": "kafka", "id": f"message-{i}"}).end()
    spans = list(exporter.get_finished_spans())
    encoder = SpanEncoder(provider.resource)

    assert our_request(spans, encoder) == library_request(spans)
    assert our_request(spans, encoder) == library_request(spans)  # volatile by now
    assert encoder._volatile == {"id"}


@pytest.mark.parametrize(
    ("traceparent", "names_a_span"),
    [
        ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", True),
        (" 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00\t", True),
        ("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future", True),
        ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", False),
        ("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", False),
        ("00-00000000000000000000000000000000-b7ad6b7169203331-01", False),
        ("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", False),
        ("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", False),
        ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01", False),
        ("nonsense", False),
    ],
)
def test_a_carried_link_is_written_where_the_w3c_propagator_reads_a_span(
    traceparent: str, names_a_span: bool
) -> None:
    """The oracle is the SDK's W3C propagator: a link it reads as a valid span is written,
    as remote; one it reads as nothing is left out."""
    linked = telemetry.span_context_of(traceparent, None)
    context = SpanContext(0x1, 0x2, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    links = [[traceparent, None, False]]
    item = span_wire.item(
        "a", SpanKind.INTERNAL, context, None, 10, 20, None, (), links, UNSET, None
    )

    request = parsed_request(SpanEncoder(Resource.create({})).request([item]))

    [span] = request.resource_spans[0].scope_spans[0].spans
    assert linked.is_valid is names_a_span
    assert [(link.trace_id, link.span_id, link.flags) for link in span.links] == (
        [(linked.trace_id.to_bytes(16, "big"), linked.span_id.to_bytes(8, "big"), 0x300)]
        if names_a_span
        else []
    )

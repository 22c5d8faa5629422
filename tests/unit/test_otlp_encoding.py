"""skuhub's OTLP request encoder writes what the library's encoder writes.

The oracle is ``opentelemetry-exporter-otlp-proto-common``'s ``encode_spans``: both
requests are parsed with the generated protobuf classes and compared message by message.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from skuhub_runtime import otlp_encoding
from skuhub_runtime.otlp_encoding import SpanEncoder
from tests.exported_spans import (
    library_request,
    limited_provider,
    parsed_request,
    spans_of_every_shape,
)


@pytest.fixture
def finished() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = limited_provider(exporter)
    yield provider, exporter
    provider.shutdown()


def test_spans_of_every_shape_encode_as_the_library_encodes_them() -> None:
    spans = spans_of_every_shape()

    ours = parsed_request(SpanEncoder().request(spans))

    assert ours == library_request(spans)
    dropped = [s for s in ours.resource_spans[0].scope_spans[1].spans if s.name == "send"]
    assert dropped[0].dropped_attributes_count == 9
    assert dropped[0].dropped_links_count == 2


def test_spans_of_two_resources_are_grouped_by_resource_and_scope() -> None:
    exporter = InMemorySpanExporter()
    providers = [
        TracerProvider(resource=Resource.create({"service.name": name}))
        for name in ("skuhub-stock", "skuhub-sync-gateway")
    ]
    for provider in providers:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    for round_ in range(2):
        for provider in providers:
            for scope in ("a", "b"):
                provider.get_tracer(scope).start_span(f"{scope} {round_}").end()
    spans = list(exporter.get_finished_spans())

    ours = parsed_request(SpanEncoder().request(spans))

    assert ours == library_request(spans)
    assert [len(r.scope_spans) for r in ours.resource_spans] == [2, 2]


def test_repeated_attributes_stay_right_when_the_reuse_cache_starts_over(
    finished: tuple[TracerProvider, InMemorySpanExporter], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(otlp_encoding, "_REPEATED_TEXT_LIMIT", 3)
    provider, exporter = finished
    tracer = provider.get_tracer("skuhub")
    encoder = SpanEncoder()
    for batch in range(3):
        for i in range(5):
            tracer.start_span(
                "process", attributes={"system": "kafka", "key": f"SKU-{i}", "n": str(batch)}
            ).end()
        spans = list(exporter.get_finished_spans())
        exporter.clear()

        assert parsed_request(encoder.request(spans)) == library_request(spans)


def test_an_empty_batch_is_an_empty_request() -> None:
    assert SpanEncoder().request([]) == b""
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
    encoder = SpanEncoder()

    assert parsed_request(encoder.request(spans)) == library_request(spans)
    assert parsed_request(encoder.request(spans)) == library_request(spans)  # volatile by now
    assert encoder._volatile == {"id"}

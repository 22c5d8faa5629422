"""A direct span is the span the SDK's tracer would have made from the same inputs.

The oracle is the SDK itself: each case starts the same span through ``Tracer.start_span``
and through :func:`direct_spans.start`, under the same sampler, and compares what the
exporter receives.
"""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from skuhub_runtime import direct_spans, telemetry
from tests.exported_spans import export_in_memory
from tests.upstream import new_trace

SAMPLED_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
UNSAMPLED_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
STATE = "vendor=value,other=x"
ATTRIBUTES: dict[str, AttributeValue] = {"messaging.system": "kafka", "messaging.kafka.offset": 42}


def _both(
    monkeypatch: pytest.MonkeyPatch,
    sampler: Sampler,
    traceparent: str | None,
    tracestate: str | None = None,
    links: tuple[direct_spans.Carried, ...] = (),
) -> tuple[list[ReadableSpan], list[ReadableSpan], SpanContext, SpanContext]:
    """What the SDK's span and the direct span export, and the contexts they carry on
    (``links`` as records carry them: the SDK's span gets them parsed by the propagator)."""
    exporter = InMemorySpanExporter()
    provider = export_in_memory(monkeypatch, exporter, sampler)
    parent = telemetry.extract(traceparent, tracestate)
    parsed = [
        trace.get_current_span(
            TraceContextTextMapPropagator().extract({"traceparent": p, "tracestate": s or ""})
        ).get_span_context()
        for p, s in links
    ]
    sdk = telemetry.tracer().start_span(
        "process t",
        parent,
        SpanKind.CONSUMER,
        attributes=ATTRIBUTES,
        links=[Link(context) for context in parsed if context.is_valid],
    )
    sdk.end()
    by_sdk = list(exporter.get_finished_spans())
    exporter.clear()
    direct = direct_spans.start("process t", SpanKind.CONSUMER, parent, ATTRIBUTES, links)
    direct.end()
    by_direct = list(exporter.get_finished_spans())
    provider.shutdown()
    return by_sdk, by_direct, sdk.get_span_context(), direct.context


def _same_span(sdk: ReadableSpan, direct: ReadableSpan) -> None:
    assert sdk.context is not None
    assert direct.context is not None
    assert direct.name == sdk.name
    assert direct.kind == sdk.kind
    assert direct.parent == sdk.parent
    if sdk.parent is not None:
        assert direct.context.trace_id == sdk.context.trace_id
    else:  # each a new trace
        assert direct.context.trace_id != sdk.context.trace_id
    assert direct.context.span_id != sdk.context.span_id
    assert direct.context.trace_flags == sdk.context.trace_flags
    assert direct.context.trace_state == sdk.context.trace_state
    assert direct.context.is_remote == sdk.context.is_remote
    assert dict(direct.attributes or {}) == dict(sdk.attributes or {})
    assert [link.context for link in direct.links] == [link.context for link in sdk.links]
    assert direct.status.status_code == sdk.status.status_code
    assert direct.resource == sdk.resource
    assert direct.instrumentation_scope == sdk.instrumentation_scope
    assert direct.start_time is not None
    assert direct.end_time is not None
    assert direct.start_time <= direct.end_time


@pytest.mark.parametrize(
    ("traceparent", "tracestate"),
    [(SAMPLED_PARENT, STATE), (SAMPLED_PARENT, None), (None, None)],
    ids=["a sampled caller with state", "a sampled caller", "no caller"],
)
def test_a_sampled_span_is_exported_as_the_sdk_exports_it(
    monkeypatch: pytest.MonkeyPatch, traceparent: str | None, tracestate: str | None
) -> None:
    other, _ = new_trace()

    by_sdk, by_direct, _, _ = _both(
        monkeypatch,
        ParentBased(ALWAYS_ON),
        traceparent,
        tracestate,
        ((other, "vendor=value"), ("not a traceparent", None)),
    )

    assert len(by_sdk) == len(by_direct) == 1
    _same_span(by_sdk[0], by_direct[0])


@pytest.mark.parametrize(
    ("sampler", "traceparent"),
    [
        (ParentBased(ALWAYS_ON), UNSAMPLED_PARENT),
        (ParentBased(ALWAYS_OFF), None),
        (TraceIdRatioBased(0.0), SAMPLED_PARENT),
    ],
    ids=["an unsampled caller", "no caller, parent-based off", "ratio 0"],
)
def test_a_span_the_sampler_drops_is_not_exported_and_carries_the_same_decision(
    monkeypatch: pytest.MonkeyPatch, sampler: Sampler, traceparent: str | None
) -> None:
    by_sdk, by_direct, sdk_context, direct_context = _both(monkeypatch, sampler, traceparent)

    assert by_sdk == by_direct == []
    assert direct_context.trace_flags == sdk_context.trace_flags
    assert not direct_context.trace_flags.sampled
    if traceparent:
        assert format(direct_context.trace_id, "032x") == traceparent.split("-")[1]


def test_the_carried_context_is_what_the_propagator_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    export_in_memory(monkeypatch, InMemorySpanExporter())
    span = direct_spans.start(
        "process t", SpanKind.CONSUMER, telemetry.extract(SAMPLED_PARENT, STATE)
    )

    assert span.carried() == telemetry.inject(NonRecordingSpan(span.context))
    assert span.carried()[1] == STATE


def test_a_span_ended_twice_is_exported_once(monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = InMemorySpanExporter()
    export_in_memory(monkeypatch, exporter)
    span = direct_spans.start("process t", SpanKind.CONSUMER, telemetry.extract(SAMPLED_PARENT))

    span.end()
    span.end()

    assert len(exporter.get_finished_spans()) == 1


@pytest.mark.parametrize("flags", ["01", "00"])
def test_without_export_a_span_only_carries_the_callers_trace_on(
    monkeypatch: pytest.MonkeyPatch, flags: str
) -> None:
    monkeypatch.setattr(telemetry, "_RECORDER", None)
    caller = SAMPLED_PARENT[:-2] + flags

    span = direct_spans.start("process t", SpanKind.CONSUMER, telemetry.extract(caller, STATE))
    span.end()
    traceparent, tracestate = span.carried()

    version, trace_id, span_id, carried_flags = traceparent.split("-")
    assert (version, trace_id, carried_flags) == ("00", caller.split("-")[1], flags)
    assert span_id != caller.split("-")[2]
    assert tracestate == STATE


def test_without_export_and_without_a_caller_a_new_unsampled_trace_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(telemetry, "_RECORDER", None)

    first = direct_spans.start("process t", SpanKind.CONSUMER, telemetry.extract(None))
    second = direct_spans.start("process t", SpanKind.CONSUMER, telemetry.extract(None))

    assert first.context.trace_id != second.context.trace_id
    assert not TraceFlags(first.context.trace_flags).sampled
    assert first.carried()[1] is None


def test_a_failed_span_carries_the_exception_as_the_sdk_records_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exporter = InMemorySpanExporter()
    export_in_memory(monkeypatch, exporter)
    parent = telemetry.extract(SAMPLED_PARENT)
    error = ConnectionError("broker down")
    sdk = telemetry.tracer().start_span("send t", parent, SpanKind.PRODUCER)
    sdk.record_exception(error)
    sdk.set_status(Status(StatusCode.ERROR, "ConnectionError"))
    sdk.end()
    direct = direct_spans.start("send t", SpanKind.PRODUCER, parent, {"a": "b"})
    direct.set_attributes({"late": 1})
    direct.failed(error)
    direct.end()

    by_sdk, by_direct = exporter.get_finished_spans()
    assert by_direct.status.status_code is StatusCode.ERROR
    assert by_direct.status.description == by_sdk.status.description
    [sdk_event], [direct_event] = by_sdk.events, by_direct.events
    assert direct_event.name == sdk_event.name
    assert dict(direct_event.attributes or {}) == dict(sdk_event.attributes or {})
    assert dict(by_direct.attributes or {}) == {"a": "b", "late": 1}

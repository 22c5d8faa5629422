"""The trace context a command's events carry (W3C Trace Context, traceparent
``00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>``): the caller's trace is
joined, a missing or invalid one starts a new trace, and a span current while the route
runs (FastAPI's, where spans are exported) is the events' parent."""

from __future__ import annotations

import re

from opentelemetry import trace

from skuhub_runtime.telemetry import request_context

TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def parts(traceparent: str | None) -> tuple[str, str, str]:
    assert traceparent is not None
    match = TRACEPARENT.fullmatch(traceparent)
    assert match, traceparent
    return match.group(1), match.group(2), match.group(3)


def test_the_events_join_the_callers_trace_under_a_span_of_their_own() -> None:
    traceparent, tracestate = request_context(f"00-{CALLER_TRACE}-{CALLER_SPAN}-01", "vendor=value")
    trace_id, span_id, flags = parts(traceparent)
    assert (trace_id, flags, tracestate) == (CALLER_TRACE, "01", "vendor=value")
    assert span_id not in (CALLER_SPAN, "0" * 16)


def test_without_a_caller_the_events_start_a_new_unsampled_trace() -> None:
    first, second = parts(request_context(None, None)[0]), parts(request_context(None, None)[0])
    assert first[0] != second[0]
    assert "0" * 32 not in (first[0], second[0])
    assert first[2] == "00"


def test_an_invalid_traceparent_starts_a_new_trace() -> None:
    trace_id, _, _ = parts(request_context("00-not-a-trace-01", None)[0])
    assert trace_id != "not-a-trace"
    assert trace_id != "0" * 32


def test_the_current_span_is_the_events_parent() -> None:
    server_span = trace.NonRecordingSpan(
        trace.SpanContext(
            trace_id=int(CALLER_TRACE, 16),
            span_id=int(CALLER_SPAN, 16),
            is_remote=False,
            trace_flags=trace.TraceFlags(1),
        )
    )
    with trace.use_span(server_span):
        traceparent, _ = request_context(f"00-{'1' * 32}-{'2' * 16}-01", None)
    assert parts(traceparent) == (CALLER_TRACE, CALLER_SPAN, "01")

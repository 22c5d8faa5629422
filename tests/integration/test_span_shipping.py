"""Spans reach an OTLP/HTTP collector through the export process a service starts
(:mod:`skuhub_runtime.span_shipping`); an export process that dies is started again; one
that stops reading costs spans, never a wait, and does not hold the service's shutdown.

Real parts: the export process is ``python -m skuhub_runtime.span_export_process``, the
collector an in-process OTLP/HTTP receiver (:class:`skuhub_cli.otlp_sink.OtlpSink`).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import psutil
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, TraceFlags

from skuhub_cli.otlp_sink import OtlpSink
from skuhub_runtime import span_shipping
from skuhub_runtime.otlp_export import OtlpHttpSpanExporter
from skuhub_runtime.span_shipping import ShippingSpanProcessor
from tests.harness import wait_until

SERVICE = Resource.create({"service.name": "skuhub-shipping-test"})


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpSink]:
    with OtlpSink().serve() as sink:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.endpoint)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2")
        yield sink


def _finish(processor: ShippingSpanProcessor, names: list[str]) -> None:
    provider = TracerProvider(resource=SERVICE)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("skuhub")
    for name in names:
        tracer.start_span(name).end()


def test_spans_reach_the_collector_and_the_export_process_ends_with_the_service(
    sink: OtlpSink,
) -> None:
    processor = ShippingSpanProcessor(
        SERVICE, max_queue_size=100, max_batch_size=4, schedule_delay_ms=50
    )
    names = [f"span {i}" for i in range(10)]
    _finish(processor, names)
    unsampled = SpanContext(1, 2, False, TraceFlags(TraceFlags.DEFAULT))
    processor.on_end(ReadableSpan("not sampled", unsampled))
    pid = processor.child_pid or wait_until(lambda: processor.child_pid, what="export process")

    processor.shutdown()  # what is queued goes out first

    assert sorted(s.name for s in sink.snapshot()) == sorted(names)
    assert {s.service for s in sink.snapshot()} == {"skuhub-shipping-test"}
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert processor.dropped == 0


def test_an_export_process_that_dies_is_started_again(
    sink: OtlpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(span_shipping, "_RESTART_AFTER_S", 0.0)
    processor = ShippingSpanProcessor(
        SERVICE, max_queue_size=100, max_batch_size=1, schedule_delay_ms=20
    )
    try:
        _finish(processor, ["before"])
        wait_until(lambda: sink.received == 1, what="the first span at the collector")
        first = processor.child_pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_until(
            lambda: psutil.Process(first).status() == psutil.STATUS_ZOMBIE,
            what="the export process killed",
        )

        def shipped_after() -> bool:
            _finish(processor, ["after"])  # lost while the pipe is found broken, then kept
            return any(s.name == "after" for s in sink.snapshot())

        wait_until(shipped_after, what="a span at the collector after the restart")
        assert processor.child_pid not in (None, first)
    finally:
        processor.shutdown()


def test_an_export_process_that_stops_reading_costs_spans_never_a_wait() -> None:
    # A child that never reads its input: the pipe fills, then the queue; shipping goes on.
    processor = ShippingSpanProcessor(
        SERVICE,
        max_queue_size=50,
        max_batch_size=10,
        schedule_delay_ms=10,
        export_timeout_ms=500,
        command=["sleep", "60"],
    )
    _finish(processor, [f"span {i}" for i in range(5_000)])
    pid = wait_until(lambda: processor.child_pid, what="export process")

    wait_until(lambda: processor.dropped > 0, what="spans dropped once the pipe is full")
    processor.shutdown()  # bounded by the export timeout: the stuck process is ended

    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_the_exporter_also_takes_sdk_spans(sink: OtlpSink) -> None:
    """``OtlpHttpSpanExporter`` is a ``SpanExporter`` too: SDK spans go out as the export
    process sends wire items."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=SERVICE)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("skuhub").start_as_current_span("parent"):
        provider.get_tracer("skuhub").start_span("child").end()
    otlp = OtlpHttpSpanExporter(SERVICE)

    result = otlp.export(exporter.get_finished_spans())
    otlp.shutdown()  # type: ignore[no-untyped-call]

    assert result is SpanExportResult.SUCCESS
    received = {s.name: s for s in sink.snapshot()}
    assert set(received) == {"parent", "child"}
    assert received["child"].parent_span_id == received["parent"].span_id
    assert received["child"].service == "skuhub-shipping-test"


def test_frames_are_full_batches_until_a_flush_sends_the_rest(sink: OtlpSink) -> None:
    processor = ShippingSpanProcessor(
        SERVICE, max_queue_size=100, max_batch_size=4, schedule_delay_ms=600_000
    )
    try:
        _finish(processor, [f"span {i}" for i in range(10)])
        wait_until(lambda: sink.received == 8, what="two full batches at the collector")
        assert sink.requests == 2  # the two left wait for more, or for the schedule

        assert processor.force_flush(10_000)
        wait_until(lambda: sink.received == 10, what="the rest after a flush")
        assert sink.requests == 3
    finally:
        processor.shutdown()

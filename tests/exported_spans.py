"""Spans as a process that exports them builds them, kept in memory (no I/O)."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Sampler

from skuhub_runtime import telemetry


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

"""Tracing (OpenTelemetry, W3C trace context through Kafka headers) and structured logs."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()


def configure_tracing(service: str, exporter: str = "none") -> None:
    """Install the SDK tracer provider for this process (once)."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    # Without an exporter a span only carries trace context on: a new trace starts
    # unsampled (a span that records nothing costs a tenth of what a recorded one does),
    # while a caller's sampled trace stays sampled for the hops that export.
    sampler = ParentBased(ALWAYS_OFF) if exporter == "none" else ParentBased(ALWAYS_ON)
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"skuhub-{service}"}), sampler=sampler
    )
    if exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    trace.set_tracer_provider(provider)


_TRACER = trace.get_tracer("skuhub")
"""Follows the provider configure_tracing installs (a proxy until then)."""


def tracer() -> trace.Tracer:
    return _TRACER


def extract(traceparent: str | None, tracestate: str | None = None) -> Context:
    """The trace context carried by an incoming event (empty when it has none)."""
    carrier = {}
    if traceparent:
        carrier["traceparent"] = traceparent
        if tracestate:
            carrier["tracestate"] = tracestate
    return _PROPAGATOR.extract(carrier)


def inject(span: trace.Span) -> tuple[str | None, str | None]:
    """``(traceparent, tracestate)`` that make the next hop a child of ``span``."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent"), carrier.get("tracestate")


_IDS = RandomIdGenerator()


def request_context(
    traceparent: str | None, tracestate: str | None
) -> tuple[str | None, str | None]:
    """``(traceparent, tracestate)`` for the events an HTTP request causes.

    Where spans are exported, FastAPI's server span of the request is current while the
    route runs, and the events are its children. Elsewhere no span is built (that cost a
    tenth of a reservation): the events carry a new span id in the caller's trace, or in a
    new unsampled one, so the hops that do export can still join them.
    """
    current = trace.get_current_span()
    if not current.get_span_context().is_valid:
        caller = trace.get_current_span(extract(traceparent, tracestate)).get_span_context()
        current = trace.NonRecordingSpan(
            trace.SpanContext(
                trace_id=caller.trace_id if caller.is_valid else _IDS.generate_trace_id(),
                span_id=_IDS.generate_span_id(),
                is_remote=False,
                trace_flags=caller.trace_flags,
                trace_state=caller.trace_state,
            )
        )
    return inject(current)


def trace_id_of(traceparent: str | None) -> str | None:
    """The 32-hex trace id inside a traceparent header."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    return parts[1] if len(parts) >= 4 else None


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the service and the current trace id."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

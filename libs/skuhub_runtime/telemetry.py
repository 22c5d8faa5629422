"""Tracing (OpenTelemetry, W3C trace context through Kafka headers) and structured logs."""

from __future__ import annotations

import json
import logging
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from skuhub_runtime.span_shipping import ShippingSpanProcessor

_PROPAGATOR = TraceContextTextMapPropagator()
TRACER_NAME = "skuhub"
"""The instrumentation scope of skuhub's own spans."""

Exporter = Literal["otlp", "console"]
SamplerName = Literal[
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
]


class TracingSettings(BaseSettings):
    """The standard ``OTEL_*`` variables skuhub reads (docs/operations.md, "Tracing").

    One difference from the SDK's defaults: without ``OTEL_TRACES_EXPORTER`` nothing is
    exported (the embedded mode has no collector), where the SDK would assume ``otlp``.
    The OTLP exporter reads its own ``OTEL_EXPORTER_OTLP_*`` variables (endpoint,
    headers, timeout, compression).
    """

    model_config = SettingsConfigDict(env_prefix="OTEL_", extra="ignore", frozen=True)

    sdk_disabled: bool = Field(default=False, description="true: no span is exported.")
    traces_exporter: Annotated[tuple[Exporter, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated: otlp, console; none (or unset) exports nothing.",
    )
    service_name: str | None = Field(
        default=None, description="service.name of the spans; default skuhub-<service>."
    )
    traces_sampler: SamplerName = "parentbased_always_on"
    traces_sampler_arg: float = Field(
        default=1.0, ge=0.0, le=1.0, description="The ratio of the traceidratio samplers."
    )
    bsp_max_queue_size: int = Field(
        default=2048,
        ge=1,
        description="Spans waiting for export; beyond it new ones are dropped, so an "
        "exporter that cannot keep up (or a collector that is down) never holds a service.",
    )
    bsp_max_export_batch_size: int = Field(default=512, ge=1)
    bsp_schedule_delay: int = Field(default=1000, ge=1, description="Milliseconds.")
    bsp_export_timeout: int = Field(default=10000, ge=1, description="Milliseconds.")

    @field_validator("traces_exporter", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            names = [name.strip().lower() for name in value.split(",") if name.strip()]
            return tuple(name for name in names if name != "none")
        return value

    @property
    def exports(self) -> bool:
        """An exporter is named (and the SDK not disabled)."""
        return bool(self.traces_exporter) and not self.sdk_disabled

    def sampler(self, exporting: bool) -> Sampler:
        if not exporting:
            # Without an exporter a span only carries trace context on: a new trace starts
            # unsampled (a span that records nothing costs a tenth of what a recorded one
            # does), while a caller's sampled trace stays sampled for the hops that export.
            return ParentBased(ALWAYS_OFF)
        root: Sampler = {
            "always_on": ALWAYS_ON,
            "always_off": ALWAYS_OFF,
            "traceidratio": TraceIdRatioBased(self.traces_sampler_arg),
        }[self.traces_sampler.removeprefix("parentbased_")]
        return ParentBased(root) if self.traces_sampler.startswith("parentbased_") else root


@dataclass(frozen=True, slots=True)
class Recorder:
    """Where this process's finished spans go, and how their sampling is decided: what
    :func:`configure_tracing` installed, for spans written without the SDK's tracer
    (:mod:`skuhub_runtime.direct_spans`)."""

    sampler: Sampler
    resource: Resource
    scope: InstrumentationScope
    processors: tuple[SpanProcessor, ...]
    """The processors that take the SDK's finished spans (in-process exporters)."""
    shipper: ShippingSpanProcessor | None = None
    """The OTLP export process's queue, which takes spans as :mod:`span_wire` items."""

    @classmethod
    def of(cls, provider: TracerProvider, processors: tuple[SpanProcessor, ...]) -> Recorder:
        """The recorder of spans ``provider``'s tracer would hand to ``processors``."""
        # The scope the SDK gives trace.get_tracer(TRACER_NAME): no version, no schema.
        scope = InstrumentationScope(TRACER_NAME, "", "")
        shippers = [p for p in processors if isinstance(p, ShippingSpanProcessor)]
        others = tuple(p for p in processors if not isinstance(p, ShippingSpanProcessor))
        return cls(
            provider.sampler, provider.resource, scope, others, shippers[0] if shippers else None
        )


_RECORDER: Recorder | None = None


def exporting() -> bool:
    """True once :func:`configure_tracing` installed an exporter: build spans worth seeing.

    The hot paths ask this before they build attributes or spans of their own (a span
    that records nothing still costs; docs/profiling.md).
    """
    return _RECORDER is not None


def recorder() -> Recorder | None:
    """The installed :class:`Recorder`; None while nothing is exported."""
    return _RECORDER


def configure_tracing(
    service: str,
    *,
    instance: str = "",
    settings: TracingSettings | None = None,
    exporters: tuple[SpanExporter, ...] = (),
) -> None:
    """Install the SDK tracer provider for this process (once), as ``OTEL_*`` say.

    ``exporters`` are added to the ones the settings name (the bench's in-process sink).
    """
    global _RECORDER
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    settings = settings or TracingSettings()
    attributes = {"service.name": settings.service_name or f"skuhub-{service}"}
    if instance:
        attributes["service.instance.id"] = instance
    resource = Resource.create(attributes)
    processors = (
        ()
        if settings.sdk_disabled
        else (
            *(_processor(name, settings, resource) for name in settings.traces_exporter),
            *(_batched(exporter, settings) for exporter in exporters),
        )
    )
    provider = TracerProvider(
        resource=resource,
        sampler=settings.sampler(bool(processors)),
        # shutdown_tracing bounds the wait at exit; the SDK's own would wait up to 30 s for
        # a collector that is down.
        shutdown_on_exit=False,
    )
    for processor in processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    if processors:
        _RECORDER = Recorder.of(provider, processors)


def shutdown_tracing(timeout_s: float = 2.0) -> None:
    """Export what is queued, for at most ``timeout_s``: a collector that is down must not
    hold a stopping service (what is not out by then is dropped)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        return
    stopping = threading.Thread(target=provider.shutdown, name="otel-shutdown", daemon=True)
    stopping.start()
    stopping.join(timeout_s)


def _processor(name: Exporter, settings: TracingSettings, resource: Resource) -> SpanProcessor:
    if name == "console":
        return SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr))
    # OTLP from a process of its own: the encoding and the posts off the service's
    # interpreter (docs/decisions.md, "Tracing").
    return ShippingSpanProcessor(
        resource,
        max_queue_size=settings.bsp_max_queue_size,
        max_batch_size=settings.bsp_max_export_batch_size,
        schedule_delay_ms=settings.bsp_schedule_delay,
        export_timeout_ms=settings.bsp_export_timeout,
    )


def _batched(exporter: SpanExporter, settings: TracingSettings) -> SpanProcessor:
    # A bounded queue drained by the processor's own thread: an endpoint that is down or
    # slow costs dropped spans, never a wait in the service's event loop.
    return BatchSpanProcessor(
        exporter,
        max_queue_size=settings.bsp_max_queue_size,
        max_export_batch_size=min(settings.bsp_max_export_batch_size, settings.bsp_max_queue_size),
        schedule_delay_millis=settings.bsp_schedule_delay,
        export_timeout_millis=settings.bsp_export_timeout,
    )


_TRACER = trace.get_tracer(TRACER_NAME)
"""Follows the provider configure_tracing installs (a proxy until then)."""


def tracer() -> trace.Tracer:
    return _TRACER


_EXTRACTED: dict[tuple[str, str | None], Context] = {}
_CARRIED: dict[str, SpanContext] = {}
_NO_CONTEXT = Context()
_CACHE_LIMIT = 8192
"""Entries each of the two caches keeps; when full, it starts over."""


def extract(traceparent: str | None, tracestate: str | None = None) -> Context:
    """The trace context carried by an incoming event (empty when it has none).

    Kept for reuse (a Context is immutable): a record's context is read again for the
    batch's ``receive`` span, and an event's by its coalesced siblings and its send span.
    A context this process carried on itself (:func:`remember`) is not parsed back.
    """
    if not traceparent:
        return _NO_CONTEXT
    key = (traceparent, tracestate or None)
    context = _EXTRACTED.get(key)
    if context is None:
        local = _CARRIED.get(traceparent)
        if local is not None:
            context = trace.set_span_in_context(trace.NonRecordingSpan(local))
        else:
            carrier = {"traceparent": traceparent}
            if tracestate:
                carrier["tracestate"] = tracestate
            context = _PROPAGATOR.extract(carrier)
        if len(_EXTRACTED) >= _CACHE_LIMIT:
            _EXTRACTED.clear()
        _EXTRACTED[key] = context
    return context


def span_context_of(traceparent: str | None, tracestate: str | None = None) -> SpanContext:
    """The span context a ``traceparent`` names (invalid when it names none)."""
    local = _CARRIED.get(traceparent) if traceparent else None
    if local is not None:
        return local
    return trace.get_current_span(extract(traceparent, tracestate)).get_span_context()


def remember(traceparent: str, span_context: SpanContext) -> None:
    """Note that this process's span ``span_context`` was carried on as ``traceparent``,
    so that linking to it later (a coalesced event, a send span) needs no parsing."""
    if len(_CARRIED) >= _CACHE_LIMIT:
        _CARRIED.clear()
    _CARRIED[traceparent] = span_context


def carried_here(traceparent: str) -> bool:
    """``traceparent`` names a span of this process (:func:`remember` saw it), as far as
    the cache still knows."""
    return traceparent in _CARRIED


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

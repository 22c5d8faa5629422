"""Spans written straight to the span processors, for the spans skuhub makes per record.

The SDK's span (``Tracer.start_span`` … ``end``) costs about 13 µs of CPU for a
``process`` span with its attributes: locks, attribute checks, the processors' fan-out.
Stock makes one per movement, and with every span exported that was a third of what
tracing cost it (docs/benchmarks.md, "Traces exported"). A :class:`DirectSpan` is the
same span, about 3 µs: its sampling decided by the sampler the SDK would ask, its ids from
the same generator, finished as the SDK's own :class:`ReadableSpan` into the same
processors (their ``on_start``, empty in the batch and simple processors skuhub uses, is
not called). ``tests/unit/test_direct_spans.py`` holds it equal to the SDK's span.

While nothing is exported it records nothing and only carries the trace on: a new span
id in the caller's trace (the caller's sampling flag kept, so a hop that exports still
joins it), or a new unsampled trace.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import Decision, SamplingResult
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from skuhub_runtime import span_wire, telemetry

Carried = tuple[str, str | None]
"""A span as a record carried it: its ``(traceparent, tracestate)``."""

_IDS = RandomIdGenerator()
_UNSET = Status(StatusCode.UNSET)
_TRACE_FLAGS = tuple(TraceFlags(bits) for bits in range(256))
"""Every value of the flags, made once: a ``TraceFlags`` is an object the collector
tracks, and a span per record made one each."""
_NEW_TRACE_FLAGS = _TRACE_FLAGS[
    TraceFlags.RANDOM_TRACE_ID if _IDS.is_trace_id_random() else TraceFlags.DEFAULT
]


class DirectSpan:
    """A started span; :meth:`end` hands it to the exporters when it is sampled."""

    __slots__ = (
        "_attributes",
        "_context",
        "_events",
        "_kind",
        "_links",
        "_name",
        "_parent",
        "_recorder",
        "_start_ns",
        "_status",
    )

    def __init__(
        self,
        name: str,
        kind: SpanKind,
        context: SpanContext,
        parent: SpanContext | None,
        attributes: Mapping[str, Any] | None,
        links: Sequence[Carried],
        recorder: telemetry.Recorder | None,
        start_ns: int | None = None,
    ) -> None:
        self._name, self._kind, self._context, self._parent = name, kind, context, parent
        self._attributes, self._links, self._recorder = attributes, links, recorder
        self._start_ns = start_ns or time.time_ns()
        self._events: tuple[Event, ...] = ()
        self._status = _UNSET

    @property
    def context(self) -> SpanContext:
        return self._context

    def carried(self) -> tuple[str, str | None]:
        """``(traceparent, tracestate)`` that make the next hop a child of this span."""
        return carried(self._context, remember=self._recorder is not None)

    def is_recording(self) -> bool:
        return self._recorder is not None

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Add attributes known only later (where a sent record landed)."""
        if self._recorder is not None:
            self._attributes = {**(self._attributes or {}), **attributes}

    def failed(self, exc: BaseException) -> None:
        """Mark the span failed by ``exc``, as the SDK's ``record_exception`` and
        ``set_status`` do (an ``exception`` event, status ERROR)."""
        if self._recorder is None:
            return
        kind = type(exc)
        module = kind.__module__
        self._events += (
            Event(
                "exception",
                {
                    "exception.type": f"{module}.{kind.__qualname__}"
                    if module and module != "builtins"
                    else kind.__qualname__,
                    "exception.message": str(exc),
                    "exception.stacktrace": "".join(traceback.format_exception(exc)),
                    "exception.escaped": "False",
                },
            ),
        )
        self._status = Status(StatusCode.ERROR, kind.__name__)

    def end(self) -> None:
        """Finish the span (once; a second call does nothing)."""
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return
        end_ns = time.time_ns()
        shipper, context = recorder.shipper, self._context
        if shipper is not None and context.trace_flags.sampled:
            # Straight to the export process's queue in its wire form: no ReadableSpan.
            shipper.ship(
                span_wire.item(
                    self._name,
                    self._kind,
                    context,
                    self._parent,
                    self._start_ns,
                    end_ns,
                    self._attributes,
                    self._events,
                    [(p, s, telemetry.carried_here(p)) for p, s in self._links] or None,
                    self._status,
                    recorder.scope,
                )
            )
        if not recorder.processors:
            return
        finished = ReadableSpan(
            name=self._name,
            context=context,
            parent=self._parent,
            resource=recorder.resource,
            attributes=self._attributes,
            events=self._events,
            links=[
                Link(linked)
                for linked in (telemetry.span_context_of(p, s) for p, s in self._links)
                if linked.is_valid
            ],
            kind=self._kind,
            status=self._status,
            start_time=self._start_ns,
            end_time=end_ns,
            instrumentation_scope=recorder.scope,
        )
        for processor in recorder.processors:
            processor.on_end(finished)


def start(
    name: str,
    kind: SpanKind,
    parent: Context,
    attributes: Mapping[str, Any] | None = None,
    links: Sequence[Carried] = (),
    start_ns: int | None = None,
) -> DirectSpan:
    """Start a span under ``parent`` (a context from :func:`telemetry.extract`; an empty
    one starts a new trace).

    ``links``: the spans this one is linked to, as the records that carried them name
    them, at most the SDK's limit (128) of them. They are parsed only for in-process
    processors (tests, the console), where an invalid one is left out; the export process
    parses the others. Samplers are not shown them: none of the SDK's reads them, and
    parsing them was most of what a link cost.
    """
    parent_context = parent_of(parent)
    recorder = telemetry.recorder()
    if recorder is None:
        context = carrier_context(parent_context)
        return DirectSpan(name, kind, context, parent_context, None, (), None, start_ns)
    context, sampled = sampled_context(recorder, parent, parent_context, name, kind, attributes)
    if sampled is None:
        return DirectSpan(name, kind, context, parent_context, None, (), None, start_ns)
    # The sampler's attributes come as a read-only view (MappingProxyType); its copy is a
    # plain dict, which the wire form's JSON writer takes without a call back into Python
    # (0.2 µs a span instead of 1.8).
    return DirectSpan(
        name,
        kind,
        context,
        parent_context,
        _plain(sampled.attributes),
        tuple(links),
        recorder,
        start_ns,
    )


def parent_of(parent: Context) -> SpanContext | None:
    """The span context a new span under ``parent`` is the child of (None: a new trace)."""
    carried_context = trace.get_current_span(parent).get_span_context()
    return carried_context if carried_context.is_valid else None


def carrier_context(parent: SpanContext | None) -> SpanContext:
    """The context of a span that records nothing and only carries the trace on: a new
    span id in ``parent``'s trace, its sampling flag and state kept, or a new unsampled
    trace."""
    if parent is None:
        return SpanContext(
            _IDS.generate_trace_id(), _IDS.generate_span_id(), False, _NEW_TRACE_FLAGS
        )
    return SpanContext(
        parent.trace_id, _IDS.generate_span_id(), False, parent.trace_flags, parent.trace_state
    )


def sampled_context(
    recorder: telemetry.Recorder,
    parent: Context,
    parent_context: SpanContext | None,
    name: str,
    kind: SpanKind,
    attributes: Mapping[str, Any] | None,
) -> tuple[SpanContext, SamplingResult | None]:
    """A new span's context under ``parent``, sampled as the SDK's ``Tracer.start_span``
    decides it, and the sampler's result if the span records (None if it does not)."""
    trace_id = parent_context.trace_id if parent_context else _IDS.generate_trace_id()
    sampled = recorder.sampler.should_sample(parent, trace_id, name, kind, attributes)
    decision = sampled.decision
    is_sampled = decision is Decision.RECORD_AND_SAMPLE  # Decision.is_sampled(), a call less
    bits = TraceFlags.SAMPLED if is_sampled else TraceFlags.DEFAULT
    if parent_context.trace_flags.random_trace_id if parent_context else _IDS.is_trace_id_random():
        bits |= TraceFlags.RANDOM_TRACE_ID
    context = SpanContext(
        trace_id, _IDS.generate_span_id(), False, _TRACE_FLAGS[bits], sampled.trace_state
    )
    records = is_sampled or decision is Decision.RECORD_ONLY
    return context, sampled if records else None


def carried(context: SpanContext, *, remember: bool) -> tuple[str, str | None]:
    """``(traceparent, tracestate)`` that make the next hop a child of the span of
    ``context``; ``remember``: note it as this process's own span (one that records), so
    that a link to it needs no parsing and is known to be local."""
    traceparent = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    if remember:
        telemetry.remember(traceparent, context)
    return traceparent, span_wire.trace_state_header(context.trace_state)


def _plain(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not attributes:
        return None
    if type(attributes) is MappingProxyType:
        return attributes.copy()
    return dict(attributes)

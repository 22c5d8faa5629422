"""Finished spans as plain JSON values, for the trip from a service to its export process
(:mod:`skuhub_runtime.span_shipping`).

A span is a JSON array (:func:`item`, about 0.8 µs), a batch an array of them written by
orjson (about 1.2 µs a span): a fifth of what encoding the OTLP request costs, and that
is done by the export process. What the OTLP encoder reads survives the trip:
``tests/unit/test_span_wire.py`` holds the library's encoding of the spans read back equal
to that of the originals. The resource is the export process's own, given to it once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    get_current_span,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.span import TraceState

_LOW_64 = 0xFFFFFFFFFFFFFFFF
"""JSON numbers from orjson are at most 64 bits: a trace id goes as two halves."""
_KINDS = list(SpanKind)
_CODES = list(StatusCode)
_UNSET = Status(StatusCode.UNSET)
_PROPAGATOR = TraceContextTextMapPropagator()


def dumps(items: list[list[Any]]) -> bytes:
    """A batch of spans (each from :func:`item` or :func:`of_span`) as one JSON document."""
    return orjson.dumps(items, default=_plain)


def loads(
    document: bytes, resource: Resource, scopes: dict[tuple[Any, ...], InstrumentationScope]
) -> list[ReadableSpan]:
    """The spans of a :func:`dumps` document, under ``resource``; ``scopes`` keeps one
    scope object per scope across batches (the encoder groups spans by identity)."""
    return [_read(item, resource, scopes) for item in orjson.loads(document)]


def resource_document(resource: Resource) -> str:
    """``resource`` as the text :func:`resource_of` reads back."""
    return orjson.dumps([dict(resource.attributes), resource.schema_url]).decode()


def resource_of(document: str) -> Resource:
    attributes, schema_url = orjson.loads(document)
    return Resource(attributes, schema_url)


def _plain(value: object) -> object:
    """What orjson cannot write itself: the SDK's attribute mappings."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not a span attribute value")


def _context(context: SpanContext) -> list[Any]:
    trace_id = context.trace_id
    return [
        trace_id >> 64,
        trace_id & _LOW_64,
        context.span_id,
        context.trace_flags,
        context.is_remote,
        context.trace_state.to_header() if context.trace_state else None,
    ]


def item(
    name: str,
    kind: SpanKind,
    context: SpanContext,
    parent: SpanContext | None,
    start: int | None,
    end: int | None,
    attributes: Mapping[str, Any] | None,
    events: Sequence[Event],
    links: Sequence[Sequence[Any]] | None,
    status: Status,
    scope: InstrumentationScope | None,
    dropped: list[int] | None = None,
) -> list[Any]:
    """A finished span, from its parts: what :func:`dumps` writes and :func:`loads` reads.

    ``links`` are in their wire form already: ``[traceparent, tracestate, local]`` as a
    record carried the linked span (``local``: a span of this process), or :func:`link`.
    ``dropped``: the attributes, events and links the SDK's limits dropped, if any.
    """
    trace_id = context.trace_id
    return [
        name,
        kind.value,
        trace_id >> 64,
        trace_id & _LOW_64,
        context.span_id,
        context.trace_flags,
        context.trace_state.to_header() if context.trace_state else None,
        None if parent is None else [parent.span_id, parent.is_remote],
        start,
        end,
        attributes or None,
        [
            [event.name, event.timestamp, event.attributes or None, event.dropped_attributes]
            for event in events
        ]
        if events
        else None,
        links,
        None
        if status.status_code is StatusCode.UNSET and status.description is None
        else [status.status_code.value, status.description],
        _scope(scope),
        dropped,
    ]


def of_span(span: ReadableSpan) -> list[Any]:
    """The :func:`item` of a span the SDK finished."""
    # The SDK's private fields, not its properties: those copy the attributes, events and
    # links on every read. The SDK's version is pinned and tests/unit/test_span_wire.py
    # reads every field back.
    attributes, events, links = span._attributes, span._events, span._links
    dropped = [
        attributes.dropped if type(attributes) is BoundedAttributes else 0,
        events.dropped if type(events) is BoundedList else 0,
        links.dropped if type(links) is BoundedList else 0,
    ]
    assert span._context is not None  # a finished SDK span always has its context
    return item(
        span._name,
        span._kind,
        span._context,
        span._parent,
        span._start_time,
        span._end_time,
        attributes,
        events,
        [link(each) for each in links] or None,
        span._status,
        span._instrumentation_scope,
        dropped if any(dropped) else None,
    )


def link(linked: Link) -> list[Any]:
    """A link as the SDK holds it, in its wire form."""
    return [_context(linked.context), linked.attributes or None, linked.dropped_attributes]


_SCOPES: dict[int, tuple[InstrumentationScope, list[Any]]] = {}


def _scope(scope: InstrumentationScope | None) -> list[Any] | None:
    if scope is None:
        return None
    # By identity, the object kept beside its fields so that a reused id() is never
    # mistaken for it: a service has a handful of scopes.
    known = _SCOPES.get(id(scope))
    if known is None or known[0] is not scope:
        fields = [scope.name, scope.version, scope.schema_url, scope.attributes or None]
        known = _SCOPES[id(scope)] = (scope, fields)
    return known[1]


def _read_context(fields: list[Any]) -> SpanContext:
    high, low, span_id, flags, is_remote, state = fields
    return SpanContext(
        high << 64 | low,
        span_id,
        is_remote,
        TraceFlags(flags),
        TraceState.from_header([state]) if state else None,
    )


def _read(
    item: list[Any], resource: Resource, scopes: dict[tuple[Any, ...], InstrumentationScope]
) -> ReadableSpan:
    name, kind, high, low, span_id, flags, state, parent, start, end = item[:10]
    attributes, events, links, status, scope_fields, dropped = item[10:]
    trace_id = high << 64 | low
    trace_flags = TraceFlags(flags)
    scope = None
    if scope_fields is not None:
        key = (*scope_fields[:3], orjson.dumps(scope_fields[3]))
        scope = scopes.get(key)
        if scope is None:
            scope = scopes[key] = InstrumentationScope(*scope_fields)
    dropped_attributes, dropped_events, dropped_links = dropped or (0, 0, 0)
    return ReadableSpan(
        name=name,
        context=SpanContext(
            trace_id,
            span_id,
            False,
            trace_flags,
            TraceState.from_header([state]) if state else None,
        ),
        # The encoder reads a parent's span id and whether it is remote.
        parent=None if parent is None else SpanContext(trace_id, parent[0], parent[1], trace_flags),
        resource=resource,
        attributes=_counted_attributes(attributes, dropped_attributes),
        events=_counted(
            [
                Event(e_name, _counted_attributes(e_attributes, e_dropped), timestamp)
                for e_name, timestamp, e_attributes, e_dropped in events or ()
            ],
            dropped_events,
        ),
        links=_counted([*filter(None, map(_read_link, links or ()))], dropped_links),
        kind=_KINDS[kind],
        status=_UNSET if status is None else Status(_CODES[status[0]], status[1]),
        start_time=start,
        end_time=end,
        instrumentation_scope=scope,
    )


def _read_link(fields: list[Any]) -> Link | None:
    """The link; None for a carried ``traceparent`` that names no span."""
    first, second, third = fields
    if type(first) is not str:
        return Link(_read_context(first), _counted_attributes(second, third))
    carrier = {"traceparent": first, **({"tracestate": second} if second else {})}
    linked = get_current_span(_PROPAGATOR.extract(carrier)).get_span_context()
    if not linked.is_valid:
        return None
    if third:  # carried by the service's own span: not remote
        linked = SpanContext(
            linked.trace_id, linked.span_id, False, linked.trace_flags, linked.trace_state
        )
    return Link(linked)


def _counted_attributes(attributes: dict[str, Any] | None, dropped: int) -> Any:
    """The attributes, with the count the SDK dropped where it dropped some."""
    if not dropped:
        return attributes
    bounded = BoundedAttributes(attributes=attributes, immutable=False)
    bounded.dropped = dropped
    return bounded


def _counted(items: list[Any], dropped: int) -> Any:
    if not dropped:
        return items
    bounded = BoundedList.from_seq(len(items), items)
    bounded.dropped = dropped
    return bounded

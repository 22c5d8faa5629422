"""Finished spans as plain JSON values, for the trip from a service to its export process
(:mod:`skuhub_runtime.span_shipping`).

A span is a JSON array (:func:`item`, about 0.8 µs), a batch an array of them written by
orjson (about 1.2 µs a span): a fifth of what encoding the OTLP request costs, and that
is done by the export process, straight from these values
(:mod:`skuhub_runtime.otlp_encoding`). ``tests/unit/test_span_wire.py`` holds the
encoding of spans that made the trip equal to the library's encoding of the originals.
The resource is the export process's own, given to it once.
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
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.span import DEFAULT_TRACE_STATE, TraceState

_LOW_64 = 0xFFFFFFFFFFFFFFFF
"""JSON numbers from orjson are at most 64 bits: a trace id goes as two halves."""
SCOPE_AT = 14
"""Where an :func:`item` holds its instrumentation scope's fields (spans are grouped by
scope without reading the rest)."""


def dumps(items: list[list[Any]]) -> bytes:
    """A batch of spans (each from :func:`item` or :func:`of_span`) as one JSON document."""
    return orjson.dumps(items, default=_plain)


def loads(document: bytes) -> list[list[Any]]:
    """The spans of a :func:`dumps` document, each as :func:`item` lays it out (what
    :class:`skuhub_runtime.otlp_encoding.SpanEncoder` encodes)."""
    items: list[list[Any]] = orjson.loads(document)
    return items


def resource_document(resource: Resource) -> str:
    """``resource`` as the text :func:`resource_of` reads back."""
    return orjson.dumps([dict(resource.attributes), resource.schema_url]).decode()


def resource_of(document: str) -> Resource:
    attributes, schema_url = orjson.loads(document)
    return Resource(attributes, schema_url)


def trace_state_header(state: TraceState | None) -> str | None:
    """A span's ``tracestate`` header; None when it has none (most spans: the shared empty
    one is recognised without asking its length, a call into Python)."""
    if state is None or state is DEFAULT_TRACE_STATE or not state:
        return None
    return state.to_header()


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
        trace_state_header(context.trace_state),
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
    record carried the linked span (``local``: a span of this process), or an SDK link
    as :func:`of_span` writes it: ``[context fields, attributes, dropped attributes]``.
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
        trace_state_header(context.trace_state),
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


def spans_alike(
    name: str,
    kind: SpanKind,
    scope: InstrumentationScope | None,
    attributes: Mapping[str, Any] | None,
    keys: Sequence[str],
    end: int,
    rows: list[tuple[Any, ...]],
) -> list[Any]:
    """Spans that share their name, kind, scope, attributes and end (the ``process``
    spans of one batch's records of a topic and partition) as one item: what they share
    once, then a row each (:func:`alike_row`). A row's ``values`` are its own attributes
    under ``keys``, after the shared ones (None: the span has no such attribute). Status
    unset, nothing dropped, no events or links. The export process encodes each row as
    the span it stands for (:class:`skuhub_runtime.otlp_encoding.SpanEncoder`)."""
    return [None, name, kind.value, end, attributes or None, keys, rows, _scope(scope)]


ALIKE_ROWS_AT, ALIKE_SCOPE_AT = 6, 7
"""Where a :func:`spans_alike` item holds its rows and its scope's fields. Its first
value is None; an :func:`item`'s is the span's name."""


def alike_row(
    context: SpanContext, parent: SpanContext | None, start: int, values: tuple[Any, ...]
) -> tuple[Any, ...]:
    """One span of a :func:`spans_alike` item: a tuple of numbers and texts, which the
    collector stops tracking (a batch's rows live until it ends)."""
    trace_id = context.trace_id
    return (
        trace_id >> 64,
        trace_id & _LOW_64,
        context.span_id,
        trace_state_header(context.trace_state),
        None if parent is None else (parent.span_id, parent.is_remote),
        start,
        *values,
    )


def split(item: list[Any], spans: int) -> tuple[list[Any], list[Any]]:
    """A :func:`spans_alike` item as two: its first ``spans`` spans, and the rest."""
    rows = item[ALIKE_ROWS_AT]
    head, rest = list(item), list(item)
    head[ALIKE_ROWS_AT], rest[ALIKE_ROWS_AT] = rows[:spans], rows[spans:]
    return head, rest


def spans_in(items: Sequence[Sequence[Any]]) -> int:
    """How many spans ``items`` hold."""
    return sum(1 if item[0] is not None else len(item[ALIKE_ROWS_AT]) for item in items)


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
        [_link(each) for each in links] or None,
        span._status,
        span._instrumentation_scope,
        dropped if any(dropped) else None,
    )


def _link(linked: Link) -> list[Any]:
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

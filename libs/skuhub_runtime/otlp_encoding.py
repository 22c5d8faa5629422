"""Finished spans as an OTLP ``ExportTraceServiceRequest``, written straight to protobuf's
wire format.

The exporter's own encoder (``opentelemetry-exporter-otlp-proto-common``) builds a
protobuf object for every span, attribute and value and then serialises them: about
25 µs per span of a ``process`` record's kind, in the service's own interpreter, which
cost stock a quarter of its throughput when every span is exported (docs/benchmarks.md,
"Traces exported"). This writes the same message as bytes (a fifth of the time), and
writes an attribute whose text repeats on every span (the system, the operation, the
topic, the group) once per process. ``tests/unit/test_otlp_encoding.py`` holds it equal
to the library's encoding, field by field.

Wire format: https://protobuf.dev/programming-guides/encoding/; messages:
``opentelemetry/proto/trace/v1/trace.proto`` and ``common/v1/common.proto``.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, StatusCode

_LEN = 2  # wire type of strings, bytes and embedded messages
_FIXED64 = struct.Struct("<Q").pack
_DOUBLE = struct.Struct("<d").pack
_FIXED32 = struct.Struct("<I").pack

# Span.flags (trace.proto SpanFlags): the parent's remoteness is known, and whether it is.
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200

Scope = InstrumentationScope | None

_REPEATED_TEXT_LIMIT = 4096
"""Encoded span names and ``key = text`` attributes kept for reuse; when full, a cache
starts over (the repeating ones come straight back, values met once do not pile up)."""
_NEW_VALUES_OF_A_VOLATILE_KEY = 256
"""An attribute key whose values were new this often is not cached any more."""
_INT64 = 0xFFFFFFFFFFFFFFFF


_ONE_BYTE = [bytes((value,)) for value in range(0x80)]


def _varint(value: int) -> bytes:
    if value < 0x80:
        return _ONE_BYTE[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag, the payload's length, the payload."""
    size = len(payload)
    if size < 0x80:
        return tag + _ONE_BYTE[size] + payload
    if size < 0x4000:  # a span's size: two bytes
        return tag + bytes((size & 0x7F | 0x80, size >> 7)) + payload
    return tag + _varint(size) + payload


# Tags, by message and field number.
_REQUEST_RESOURCE_SPANS = _tag(1, _LEN)
_RESOURCE_SPANS_RESOURCE = _tag(1, _LEN)
_RESOURCE_SPANS_SCOPE_SPANS = _tag(2, _LEN)
_RESOURCE_SPANS_SCHEMA_URL = _tag(3, _LEN)
_RESOURCE_ATTRIBUTES = _tag(1, _LEN)
_SCOPE_SPANS_SCOPE = _tag(1, _LEN)
_SCOPE_SPANS_SPAN = _tag(2, _LEN)
_SCOPE_SPANS_SCHEMA_URL = _tag(3, _LEN)
_SCOPE_NAME = _tag(1, _LEN)
_SCOPE_VERSION = _tag(2, _LEN)
_SCOPE_ATTRIBUTES = _tag(3, _LEN)
_SPAN_TRACE_ID = _tag(1, _LEN) + _varint(16)
_SPAN_SPAN_ID = _tag(2, _LEN) + _varint(8)
_SPAN_TRACE_STATE = _tag(3, _LEN)
_SPAN_PARENT_SPAN_ID = _tag(4, _LEN) + _varint(8)
_SPAN_NAME = _tag(5, _LEN)
_SPAN_KIND = _tag(6, 0)
_SPAN_START = _tag(7, 1)
_SPAN_END = _tag(8, 1)
_TIMES = struct.Struct("<1sQ1sQ").pack
"""Start and end, each with its tag: (_SPAN_START, start, _SPAN_END, end)."""
_SPAN_ATTRIBUTES = _tag(9, _LEN)
_SPAN_DROPPED_ATTRIBUTES = _tag(10, 0)
_SPAN_EVENTS = _tag(11, _LEN)
_SPAN_DROPPED_EVENTS = _tag(12, 0)
_SPAN_LINKS = _tag(13, _LEN)
_SPAN_DROPPED_LINKS = _tag(14, 0)
_SPAN_STATUS = _tag(15, _LEN)
_SPAN_FLAGS = _tag(16, 5)
_EVENT_TIME = _tag(1, 1)
_EVENT_NAME = _tag(2, _LEN)
_EVENT_ATTRIBUTES = _tag(3, _LEN)
_EVENT_DROPPED_ATTRIBUTES = _tag(4, 0)
_LINK_TRACE_ID = _tag(1, _LEN) + _varint(16)
_LINK_SPAN_ID = _tag(2, _LEN) + _varint(8)
_LINK_ATTRIBUTES = _tag(4, _LEN)
_LINK_DROPPED_ATTRIBUTES = _tag(5, 0)
_LINK_FLAGS = _tag(6, 5)
_STATUS_MESSAGE = _tag(2, _LEN)
_STATUS_CODE = _tag(3, 0)
_UNSET_STATUS = _field(_SPAN_STATUS, b"")
_KINDS = {kind: _SPAN_KIND + _varint(kind.value + 1) for kind in SpanKind}
"""The SDK's kinds, shifted by the protocol's SPAN_KIND_UNSPECIFIED = 0."""
_KEY_VALUE_KEY = _tag(1, _LEN)
_KEY_VALUE_VALUE = _tag(2, _LEN)
_VALUE_STRING = _tag(1, _LEN)
_VALUE_BOOL = _tag(2, 0)
_VALUE_INT = _tag(3, 0)
_VALUE_DOUBLE = _tag(4, 1)
_VALUE_ARRAY = _tag(5, _LEN)
_VALUE_KVLIST = _tag(6, _LEN)
_VALUE_BYTES = _tag(7, _LEN)
_ARRAY_VALUES = _tag(1, _LEN)
_KVLIST_VALUES = _tag(1, _LEN)


class SpanEncoder:
    """Encodes batches of finished spans; one per exporter (it keeps what repeats)."""

    def __init__(self) -> None:
        self._texts: dict[tuple[bytes, str, str], bytes] = {}
        self._keys: dict[str, bytes] = {}
        self._names: dict[str, bytes] = {}
        self._misses: dict[str, int] = {}
        self._volatile: set[str] = set()
        # By identity: a Resource hashes by writing itself out as JSON, every time. The
        # object is kept beside its bytes, so a reused id() is never mistaken for it.
        self._resources: dict[int, tuple[Resource, bytes]] = {}
        self._scopes: dict[int, tuple[Scope, bytes]] = {}

    def request(self, spans: Sequence[ReadableSpan]) -> bytes:
        """The serialised ``ExportTraceServiceRequest`` of ``spans``, grouped by resource
        and instrumentation scope in the order they first appear."""
        grouped: dict[int, tuple[Resource, dict[int, tuple[Scope, list[bytes]]]]] = {}
        last: tuple[Resource | None, Scope, list[bytes]] = (None, None, [])
        for span in spans:
            resource, scope = span.resource, span.instrumentation_scope or None
            if resource is not last[0] or scope is not last[1]:  # spans come in runs
                by_scope = grouped.setdefault(id(resource), (resource, {}))[1]
                last = (resource, scope, by_scope.setdefault(id(scope), (scope, []))[1])
            last[2].append(_field(_SCOPE_SPANS_SPAN, self.span(span)))
        out = []
        for resource, by_scope in grouped.values():
            parts = [_field(_RESOURCE_SPANS_RESOURCE, self._resource(resource))]
            for scope, encoded in by_scope.values():
                scope_spans = [_field(_SCOPE_SPANS_SCOPE, self._scope(scope)), *encoded]
                if scope is not None and scope.schema_url:
                    scope_spans.append(_field(_SCOPE_SPANS_SCHEMA_URL, scope.schema_url.encode()))
                parts.append(_field(_RESOURCE_SPANS_SCOPE_SPANS, b"".join(scope_spans)))
            if resource.schema_url:
                parts.append(_field(_RESOURCE_SPANS_SCHEMA_URL, resource.schema_url.encode()))
            out.append(_field(_REQUEST_RESOURCE_SPANS, b"".join(parts)))
        return b"".join(out)

    def span(self, span: ReadableSpan) -> bytes:
        """One ``Span`` message."""
        context = span.context
        assert context is not None  # a finished SDK span always has its context
        parts = [
            _SPAN_TRACE_ID,
            context.trace_id.to_bytes(16, "big"),
            _SPAN_SPAN_ID,
            context.span_id.to_bytes(8, "big"),
        ]
        if context.trace_state:
            state = ",".join(f"{key}={value}" for key, value in context.trace_state.items())
            parts.append(_field(_SPAN_TRACE_STATE, state.encode()))
        parent = span.parent
        if parent is not None:
            parts += (_SPAN_PARENT_SPAN_ID, parent.span_id.to_bytes(8, "big"))
        name = self._names.get(span.name)
        if name is None:
            if len(self._names) >= _REPEATED_TEXT_LIMIT:
                self._names.clear()
            name = self._names[span.name] = _field(_SPAN_NAME, span.name.encode())
        parts += (
            name,
            _KINDS[span.kind],
            _TIMES(_SPAN_START, span.start_time or 0, _SPAN_END, span.end_time or 0),
        )
        attributes = span.attributes
        if attributes:
            parts += self._attributes(_SPAN_ATTRIBUTES, attributes)
        if span.dropped_attributes:
            parts += (_SPAN_DROPPED_ATTRIBUTES, _varint(span.dropped_attributes))
        for event in span.events:
            event_parts = [
                _EVENT_TIME,
                _FIXED64(event.timestamp),
                _field(_EVENT_NAME, event.name.encode()),
            ]
            if event.attributes:
                event_parts += self._attributes(_EVENT_ATTRIBUTES, event.attributes)
            if event.dropped_attributes:
                event_parts += (_EVENT_DROPPED_ATTRIBUTES, _varint(event.dropped_attributes))
            parts.append(_field(_SPAN_EVENTS, b"".join(event_parts)))
        if span.dropped_events:
            parts += (_SPAN_DROPPED_EVENTS, _varint(span.dropped_events))
        for link in span.links:
            link_parts = [
                _LINK_TRACE_ID,
                link.context.trace_id.to_bytes(16, "big"),
                _LINK_SPAN_ID,
                link.context.span_id.to_bytes(8, "big"),
            ]
            if link.attributes:
                link_parts += self._attributes(_LINK_ATTRIBUTES, link.attributes)
            if link.dropped_attributes:
                link_parts += (_LINK_DROPPED_ATTRIBUTES, _varint(link.dropped_attributes))
            link_parts += (_LINK_FLAGS, _FIXED32(_flags(link.context)))
            parts.append(_field(_SPAN_LINKS, b"".join(link_parts)))
        if span.dropped_links:
            parts += (_SPAN_DROPPED_LINKS, _varint(span.dropped_links))
        status = span.status
        if status.description is None and status.status_code is StatusCode.UNSET:
            parts.append(_UNSET_STATUS)
        else:
            status_parts = []
            if status.description is not None:
                status_parts.append(_field(_STATUS_MESSAGE, status.description.encode()))
            if status.status_code.value:
                status_parts += (_STATUS_CODE, _varint(status.status_code.value))
            parts.append(_field(_SPAN_STATUS, b"".join(status_parts)))
        parts.append(_REMOTE_PARENT_FLAGS if parent is not None and parent.is_remote else _FLAGS)
        return b"".join(parts)

    def _attributes(self, tag: bytes, attributes: Mapping[str, Any]) -> list[bytes]:
        """Each attribute as a ``KeyValue`` field under ``tag``."""
        texts, volatile = self._texts, self._volatile
        out = []
        for key, value in attributes.items():
            kind = type(value)
            if kind is str and key not in volatile:
                encoded = texts.get((tag, key, value))
                if encoded is None:
                    encoded = self._new_text(tag, key, value)
                out.append(encoded)
            elif kind is str:
                out.append(_field(tag, self._key(key) + _text_value(value)))
            elif kind is int:
                value_field = _field(_KEY_VALUE_VALUE, _VALUE_INT + _varint(value & _INT64))
                out.append(_field(tag, self._key(key) + value_field))
            else:
                out.append(_field(tag, self._key(key) + _field(_KEY_VALUE_VALUE, _value(value))))
        return out

    def _new_text(self, tag: bytes, key: str, value: str) -> bytes:
        """A text attribute met for the first time (since the cache started over); a key
        whose values keep being new (a message id, an offset's key) stops being cached."""
        encoded = _field(tag, self._key(key) + _text_value(value))
        misses = self._misses[key] = self._misses.get(key, 0) + 1
        if misses > _NEW_VALUES_OF_A_VOLATILE_KEY:
            self._volatile.add(key)
        else:
            if len(self._texts) >= _REPEATED_TEXT_LIMIT:
                self._texts.clear()
            self._texts[tag, key, value] = encoded
        return encoded

    def _key(self, key: str) -> bytes:
        encoded = self._keys.get(key)
        if encoded is None:
            encoded = self._keys[key] = _field(_KEY_VALUE_KEY, key.encode())
        return encoded

    def _resource(self, resource: Resource) -> bytes:
        known = self._resources.get(id(resource))
        if known is not None and known[0] is resource:
            return known[1]
        encoded = b"".join(
            _field(_RESOURCE_ATTRIBUTES, _key_value(key, value))
            for key, value in resource.attributes.items()
        )
        self._resources[id(resource)] = (resource, encoded)
        return encoded

    def _scope(self, scope: Scope) -> bytes:
        known = self._scopes.get(id(scope))
        if known is not None and known[0] is scope:
            return known[1]
        parts = []
        if scope is not None:
            parts.append(_field(_SCOPE_NAME, scope.name.encode()))
            if scope.version:
                parts.append(_field(_SCOPE_VERSION, scope.version.encode()))
            for key, value in (scope.attributes or {}).items():
                parts.append(_field(_SCOPE_ATTRIBUTES, _key_value(key, value)))
        encoded = b"".join(parts)
        self._scopes[id(scope)] = (scope, encoded)
        return encoded


def _flags(parent: SpanContext | None) -> int:
    if parent is not None and parent.is_remote:
        return _HAS_IS_REMOTE | _IS_REMOTE
    return _HAS_IS_REMOTE


_FLAGS = _SPAN_FLAGS + _FIXED32(_HAS_IS_REMOTE)
_REMOTE_PARENT_FLAGS = _SPAN_FLAGS + _FIXED32(_HAS_IS_REMOTE | _IS_REMOTE)


def _text_value(value: str) -> bytes:
    return _field(_KEY_VALUE_VALUE, _field(_VALUE_STRING, value.encode()))


def _key_value(key: str, value: Any) -> bytes:
    return _field(_KEY_VALUE_KEY, key.encode()) + _field(_KEY_VALUE_VALUE, _value(value))


def _value(value: Any) -> bytes:
    """An ``AnyValue`` message (the types an attribute may have after the SDK's checks)."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return _VALUE_BOOL + (b"\x01" if value else b"\x00")
    if isinstance(value, str):
        return _field(_VALUE_STRING, value.encode())
    if isinstance(value, int):
        return _VALUE_INT + _varint(value & _INT64)  # int64: two's complement
    if isinstance(value, float):
        return _VALUE_DOUBLE + _DOUBLE(value)
    if isinstance(value, bytes):
        return _field(_VALUE_BYTES, value)
    if isinstance(value, Sequence):
        return _field(_VALUE_ARRAY, b"".join(_field(_ARRAY_VALUES, _value(v)) for v in value))
    if isinstance(value, Mapping):
        return _field(
            _VALUE_KVLIST,
            b"".join(_field(_KVLIST_VALUES, _key_value(str(k), v)) for k, v in value.items()),
        )
    raise TypeError(f"an attribute cannot hold a {type(value).__name__}: {value!r}")

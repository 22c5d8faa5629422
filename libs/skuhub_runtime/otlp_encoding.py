"""Finished spans as an OTLP ``ExportTraceServiceRequest``, written straight to protobuf's
wire format from the plain values a service ships them in (:mod:`skuhub_runtime.span_wire`).

The exporter's own encoder (``opentelemetry-exporter-otlp-proto-common``) builds a
protobuf object for every span, attribute and value and then serialises them: about
25 µs per span of a ``process`` record's kind, in the service's own interpreter, which
cost stock a quarter of its throughput when every span is exported (docs/benchmarks.md,
"Traces exported"). This writes the same message as bytes, from the plain values the
export process reads (no SDK span objects in between: reading and encoding together cost
about 5 µs a span), and writes an attribute whose text repeats on every span (the system,
the operation, the topic, the group) once per process. ``tests/unit/test_otlp_encoding.py``
holds it equal to the library's encoding of the original spans, field by field.

Wire format: https://protobuf.dev/programming-guides/encoding/; messages:
``opentelemetry/proto/trace/v1/trace.proto`` and ``common/v1/common.proto``.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import SpanKind

from skuhub_runtime import span_wire

_LEN = 2  # wire type of strings, bytes and embedded messages
_FIXED64 = struct.Struct("<Q").pack
_DOUBLE = struct.Struct("<d").pack
_FIXED32 = struct.Struct("<I").pack

# Span.flags (trace.proto SpanFlags): the parent's remoteness is known, and whether it is.
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200

_REPEATED_TEXT_LIMIT = 4096
"""Encoded span names and ``key = text`` attributes kept for reuse; when full, a cache
starts over (the repeating ones come straight back, values met once do not pile up)."""
_NEW_VALUES_OF_A_VOLATILE_KEY = 256
"""An attribute key whose values were new this often is not cached any more."""
_INT64 = 0xFFFFFFFFFFFFFFFF
_NO_SCOPE = object()
_NONE_DROPPED = (0, 0, 0)


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
_IDS = struct.Struct(">2sQQ2sQ").pack
"""A trace id (two big-endian halves) and a span id, each with its tag and length."""
_PARENT = struct.Struct(">2sQ").pack
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
_KINDS = [_SPAN_KIND + _varint(kind.value + 1) for kind in sorted(SpanKind, key=lambda k: k.value)]
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
    """Encodes batches of finished spans of one resource, in their wire form
    (:func:`skuhub_runtime.span_wire.item` and :func:`~skuhub_runtime.span_wire.spans_alike`);
    one per exporter (it keeps what repeats)."""

    def __init__(self, resource: Resource) -> None:
        self._resource = _field(
            _RESOURCE_SPANS_RESOURCE,
            b"".join(
                _field(_RESOURCE_ATTRIBUTES, _key_value(key, value))
                for key, value in resource.attributes.items()
            ),
        )
        self._resource_schema = (
            _field(_RESOURCE_SPANS_SCHEMA_URL, resource.schema_url.encode())
            if resource.schema_url
            else b""
        )
        self._texts: dict[tuple[bytes, str, str], bytes] = {}
        self._keys: dict[str, bytes] = {}
        self._names: dict[str, bytes] = {}
        self._misses: dict[str, int] = {}
        self._volatile: set[str] = set()
        self._scopes: dict[bytes, tuple[bytes, bytes]] = {}

    def request(self, items: Sequence[Sequence[Any]]) -> bytes:
        """The serialised ``ExportTraceServiceRequest`` of ``items``, grouped by
        instrumentation scope in the order the scopes first appear."""
        if not items:
            return b""
        by_scope: dict[bytes, list[bytes]] = {}
        last: tuple[Any, list[bytes]] = (_NO_SCOPE, [])
        for item in items:
            alike = item[0] is None
            scope = item[span_wire.ALIKE_SCOPE_AT if alike else span_wire.SCOPE_AT]
            if scope != last[0]:  # spans come in runs of one scope
                last = (scope, by_scope.setdefault(self._scope_key(scope), []))
            if alike:
                last[1].extend(_field(_SCOPE_SPANS_SPAN, span) for span in self.alike(item))
            else:
                last[1].append(_field(_SCOPE_SPANS_SPAN, self.span(item)))
        parts = [self._resource]
        for key, encoded in by_scope.items():
            scope_field, schema_field = self._scopes[key]
            scope_spans = b"".join((scope_field, *encoded, schema_field))
            parts.append(_field(_RESOURCE_SPANS_SCOPE_SPANS, scope_spans))
        parts.append(self._resource_schema)
        return _field(_REQUEST_RESOURCE_SPANS, b"".join(parts))

    def span(self, item: Sequence[Any]) -> bytes:
        """One ``Span`` message."""
        (
            name,
            kind,
            trace_high,
            trace_low,
            span_id,
            _,
            state,
            parent,
            start,
            end,
            attributes,
            events,
            links,
            status,
            _,
            dropped,
        ) = item
        parts = _identity(trace_high, trace_low, span_id, state, parent)
        parts += (self._name(name), _KINDS[kind], _TIMES(_SPAN_START, start, _SPAN_END, end))
        dropped_attributes, dropped_events, dropped_links = dropped or _NONE_DROPPED
        if attributes:
            parts += self._attributes(_SPAN_ATTRIBUTES, attributes)
        if dropped_attributes:
            parts += (_SPAN_DROPPED_ATTRIBUTES, _varint(dropped_attributes))
        for event_name, timestamp, event_attributes, event_dropped in events or ():
            event_parts = [
                _EVENT_TIME,
                _FIXED64(timestamp),
                _field(_EVENT_NAME, event_name.encode()),
            ]
            if event_attributes:
                event_parts += self._attributes(_EVENT_ATTRIBUTES, event_attributes)
            if event_dropped:
                event_parts += (_EVENT_DROPPED_ATTRIBUTES, _varint(event_dropped))
            parts.append(_field(_SPAN_EVENTS, b"".join(event_parts)))
        if dropped_events:
            parts += (_SPAN_DROPPED_EVENTS, _varint(dropped_events))
        for link in links or ():
            encoded_link = self._link(link)
            if encoded_link is not None:
                parts.append(encoded_link)
        if dropped_links:
            parts += (_SPAN_DROPPED_LINKS, _varint(dropped_links))
        if status is None:
            parts.append(_UNSET_STATUS)
        else:
            code, description = status
            status_parts = []
            if description is not None:
                status_parts.append(_field(_STATUS_MESSAGE, description.encode()))
            if code:
                status_parts += (_STATUS_CODE, _varint(code))
            parts.append(_field(_SPAN_STATUS, b"".join(status_parts)))
        parts.append(_flags(parent))
        return b"".join(parts)

    def alike(self, item: Sequence[Any]) -> list[bytes]:
        """The ``Span`` messages of a :func:`~skuhub_runtime.span_wire.spans_alike` item."""
        _, name, kind, end, attributes, keys, rows, _ = item
        head = self._name(name) + _KINDS[kind]
        shared = b"".join(self._attributes(_SPAN_ATTRIBUTES, attributes)) if attributes else b""
        spans = []
        for trace_high, trace_low, span_id, state, parent, start, *values in rows:
            parts = _identity(trace_high, trace_low, span_id, state, parent)
            parts += (head, _TIMES(_SPAN_START, start, _SPAN_END, end), shared)
            own = {key: value for key, value in zip(keys, values, strict=True) if value is not None}
            if own:
                parts += self._attributes(_SPAN_ATTRIBUTES, own)
            parts += (_UNSET_STATUS, _flags(parent))
            spans.append(b"".join(parts))
        return spans

    def _name(self, name: str) -> bytes:
        encoded = self._names.get(name)
        if encoded is None:
            if len(self._names) >= _REPEATED_TEXT_LIMIT:
                self._names.clear()
            encoded = self._names[name] = _field(_SPAN_NAME, name.encode())
        return encoded

    def _link(self, link: Sequence[Any]) -> bytes | None:
        """A ``Link`` field; None for a carried ``traceparent`` that names no span."""
        first, second, third = link
        if type(first) is str:  # [traceparent, tracestate, this process's own span]
            ids = _carried_ids(first)
            if ids is None:
                return None
            flags = _LOCAL_LINK_FLAGS if third else _REMOTE_LINK_FLAGS
            return _field(
                _SPAN_LINKS, b"".join((_LINK_TRACE_ID, ids[0], _LINK_SPAN_ID, ids[1], flags))
            )
        trace_high, trace_low, span_id, _, is_remote, _ = first
        parts = [_IDS(_LINK_TRACE_ID, trace_high, trace_low, _LINK_SPAN_ID, span_id)]
        if second:
            parts += self._attributes(_LINK_ATTRIBUTES, second)
        if third:
            parts += (_LINK_DROPPED_ATTRIBUTES, _varint(third))
        parts.append(_REMOTE_LINK_FLAGS if is_remote else _LOCAL_LINK_FLAGS)
        return _field(_SPAN_LINKS, b"".join(parts))

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

    def _scope_key(self, scope: Sequence[Any] | None) -> bytes:
        """The scope's identity, with its ``InstrumentationScope`` field and schema URL
        field encoded the first time it is met."""
        key = orjson.dumps(scope, default=dict)
        if key not in self._scopes:
            parts = []
            schema = b""
            if scope is not None:
                name, version, schema_url, attributes = scope
                parts.append(_field(_SCOPE_NAME, name.encode()))
                if version:
                    parts.append(_field(_SCOPE_VERSION, version.encode()))
                for attribute, value in (attributes or {}).items():
                    parts.append(_field(_SCOPE_ATTRIBUTES, _key_value(attribute, value)))
                if schema_url:
                    schema = _field(_SCOPE_SPANS_SCHEMA_URL, schema_url.encode())
            self._scopes[key] = (_field(_SCOPE_SPANS_SCOPE, b"".join(parts)), schema)
        return key


_FLAGS = _SPAN_FLAGS + _FIXED32(_HAS_IS_REMOTE)
_REMOTE_PARENT_FLAGS = _SPAN_FLAGS + _FIXED32(_HAS_IS_REMOTE | _IS_REMOTE)
_LOCAL_LINK_FLAGS = _LINK_FLAGS + _FIXED32(_HAS_IS_REMOTE)
_REMOTE_LINK_FLAGS = _LINK_FLAGS + _FIXED32(_HAS_IS_REMOTE | _IS_REMOTE)
_TRACEPARENT = re.compile(
    r"^[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?[ \t]*$"
)
_NO_TRACE, _NO_SPAN = "0" * 32, "0" * 16


def _identity(
    trace_high: int, trace_low: int, span_id: int, state: str | None, parent: Sequence[Any] | None
) -> list[bytes]:
    """A span's ids, trace state and parent span id fields."""
    parts = [_IDS(_SPAN_TRACE_ID, trace_high, trace_low, _SPAN_SPAN_ID, span_id)]
    if state:
        parts.append(_field(_SPAN_TRACE_STATE, state.encode()))
    if parent is not None:
        parts.append(_PARENT(_SPAN_PARENT_SPAN_ID, parent[0]))
    return parts


def _flags(parent: Sequence[Any] | None) -> bytes:
    """A span's flags field: whether its parent is remote is known, and if it is."""
    return _REMOTE_PARENT_FLAGS if parent is not None and parent[1] else _FLAGS


def _carried_ids(traceparent: str) -> tuple[bytes, bytes] | None:
    """The trace id and span id a ``traceparent`` names (W3C Trace Context, "traceparent
    header"), as 16 and 8 bytes; None where it names no span: malformed, version ff, an
    all-zero id, or fields after version 00's four."""
    found = _TRACEPARENT.match(traceparent)
    if found is None:
        return None
    version, trace_id, span_id, _, rest = found.groups()
    if (
        version == "ff"
        or (version == "00" and rest)
        or trace_id == _NO_TRACE
        or span_id == _NO_SPAN
    ):
        return None
    return bytes.fromhex(trace_id), bytes.fromhex(span_id)


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

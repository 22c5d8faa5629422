"""The one event codec: CloudEvents 1.0 on Kafka.

Writes binary content mode (``ce_*`` headers, JSON body) and reads both binary
and structured mode, using the CloudEvents SDK's Kafka binding. Trace context
travels in the W3C ``traceparent``/``tracestate`` headers; the time an event
first entered skuhub travels in the ``origintime`` extension so that latency
is measured from the first hop, through every derived event.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import ValidationError

from skuhub_contracts.events import EVENTS_BY_TYPE, EventPayload

P = TypeVar("P", bound=EventPayload)

ORIGIN_TIME_ATTR = "origintime"
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_FORMAT = JSONFormat()

Headers = list[tuple[str, bytes]]


class DecodeError(ValueError):
    """A record that is not a valid skuhub event; ``reason`` says what to fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Envelope(Generic[P]):
    """One event with its CloudEvents attributes."""

    payload: P
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    source: str = "/skuhub"
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    origin_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    traceparent: str | None = None
    tracestate: str | None = None

    @property
    def type(self) -> str:
        return self.payload.event_type


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """What goes on the wire: key, value and headers."""

    key: bytes
    value: bytes
    headers: Headers


def encode(envelope: Envelope[Any]) -> KafkaRecord:
    """Encode an envelope in CloudEvents binary content mode."""
    attributes = {
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "specversion": "1.0",
        "time": envelope.time,
        "subject": envelope.payload.key,
        "datacontenttype": "application/json",
        ORIGIN_TIME_ATTR: envelope.origin_time.isoformat(),
    }
    event = CloudEvent(attributes, envelope.payload.model_dump(mode="json"))
    message = ce_kafka.to_binary(event, _FORMAT)
    headers: Headers = list(message.headers.items())
    if envelope.traceparent:
        headers.append((TRACEPARENT, envelope.traceparent.encode()))
    if envelope.tracestate:
        headers.append((TRACESTATE, envelope.tracestate.encode()))
    return KafkaRecord(envelope.payload.key.encode(), message.value, headers)


def decode(
    value: bytes | None,
    headers: Iterable[tuple[str, bytes]],
    *,
    key: bytes | None = None,
    timestamp_ms: int | None = None,
    accept: Sequence[type[EventPayload]] | None = None,
) -> Envelope[Any]:
    """Decode a Kafka record in binary or structured mode.

    ``timestamp_ms`` (the record's timestamp) stands in for the origin time when
    the producer did not set one, i.e. the event enters skuhub here. ``accept``
    limits which event types this consumer takes. A record key, when present,
    must be the event's own key (the SKU).

    Raises:
        DecodeError: the record is not a valid event of an accepted type.
    """
    if not value:
        raise DecodeError("empty record value; expected a CloudEvent with a JSON body")
    header_map: dict[str, bytes] = {}
    for name, raw in headers:
        if raw is None:  # Kafka allows null header values
            continue
        header_map[name] = raw if isinstance(raw, bytes) else str(raw).encode()
    try:
        event = ce_kafka.from_kafka(ce_kafka.KafkaMessage(header_map, key, value), _FORMAT)
    except (ValueError, TypeError, KeyError, json.JSONDecodeError) as exc:
        raise DecodeError(f"not a CloudEvent: {_first_line(exc)}") from exc
    except Exception as exc:  # the SDK raises its own exception types for missing attributes
        raise DecodeError(f"not a CloudEvent: {type(exc).__name__}: {_first_line(exc)}") from exc

    event_type = event.get_type()
    model = EVENTS_BY_TYPE.get(event_type)
    allowed = accept if accept is not None else tuple(EVENTS_BY_TYPE.values())
    if model is None or model not in allowed:
        names = ", ".join(m.event_type for m in allowed)
        raise DecodeError(f"unexpected event type {event_type!r}; this topic takes {names}")
    data = event.get_data()
    if isinstance(data, (bytes, str)):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise DecodeError(f"body is not JSON: {exc.msg} at position {exc.pos}") from exc
    if not isinstance(data, dict):
        raise DecodeError("body must be a JSON object")
    try:
        payload = model.model_validate(data)
    except ValidationError as exc:
        raise DecodeError(f"invalid {event_type} payload: {describe(exc)}") from exc
    if key and key != payload.key.encode():
        # Per-key order is what makes a SKU's events apply in sequence; a foreign key
        # would put this event on another SKU's partition.
        shown = key.decode("utf-8", "replace")[:100]
        raise DecodeError(
            f"record key {shown!r} is not the event's key {payload.key!r}; key each record by it"
        )

    time = event.get_time() or datetime.now(UTC)
    origin = _origin_time(event.get_extension(ORIGIN_TIME_ATTR), timestamp_ms, time)
    return Envelope(
        payload=payload,
        id=event.get_id(),
        source=event.get_source(),
        time=time,
        origin_time=origin,
        traceparent=_text(header_map.get(TRACEPARENT)),
        tracestate=_text(header_map.get(TRACESTATE)),
    )


def describe(exc: ValidationError) -> str:
    """One line per problem: ``field.path: message``."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "(body)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def _origin_time(raw: Any, timestamp_ms: int | None, fallback: datetime) -> datetime:
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError as exc:
            raise DecodeError(f"origintime {raw!r} is not an RFC 3339 timestamp") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if timestamp_ms is not None and timestamp_ms > 0:
        return datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    return fallback


def _text(raw: bytes | None) -> str | None:
    return raw.decode("ascii", errors="replace") if raw else None


def _first_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]

"""The one event codec: CloudEvents 1.0 on Kafka.

Writes binary content mode (``ce_*`` headers, JSON body) and reads both binary
and structured mode, against :class:`CloudEventAttributes`. Both are done here
rather than with the CloudEvents SDK: the contract is stricter than the SDK
(which invents an id when ``ce_id`` is missing, while a consumer must refuse such
a record: its id is what makes delivery exactly-once), and writing is on every
service's hot path, where the SDK's generic event object costs twice the rest of
the work. The tests read what :func:`encode` writes with the SDK's Kafka binding.

Trace context travels in the W3C ``traceparent``/``tracestate`` headers; the
time an event first entered skuhub travels in the ``origintime`` extension so
that latency is measured from the first hop, through every derived event.

Every refusal raises :class:`DecodeError` whose ``reason`` names the header or
payload field and the rule it breaks, in the contract's words.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from skuhub_contracts.events import EVENTS_BY_TYPE, EventId, EventPayload
from skuhub_contracts.identifiers import Sku
from skuhub_contracts.values import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    LINE_SCHEMA,
    ONE_LINE,
    TIMESTAMP_DESCRIPTION,
    Timestamp,
)

P = TypeVar("P", bound=EventPayload)

ORIGIN_TIME_ATTR = "origintime"
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
BINARY_PREFIX = "ce_"
CONTENT_TYPE = "content-type"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
TRACEPARENT_PATTERN = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
_TRACEPARENT = re.compile(TRACEPARENT_PATTERN)
_TRACESTATE = re.compile(r"^[\x20-\x7e]{0,512}$")
_JSON_MEDIA_TYPE = re.compile(r"^application/json\s*(;.*)?$", re.IGNORECASE)

Headers = list[tuple[str, bytes]]


class DecodeError(ValueError):
    """A record that is not a valid skuhub event; ``reason`` says what to fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CloudEventAttributes(BaseModel):
    """The CloudEvents 1.0 attributes skuhub reads: ``ce_<name>`` headers in binary mode,
    top-level members in structured mode. Other extensions are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    specversion: Literal["1.0"] = Field(description="CloudEvents version.")
    id: EventId = Field(
        description="Unique event id; consumers de-duplicate on it, so a retry must re-send "
        "the same id."
    )
    source: Annotated[
        str, Field(min_length=1, max_length=1000, json_schema_extra=LINE_SCHEMA), ONE_LINE
    ] = Field(description="URI reference of the producer, e.g. /wms/berlin or /skuhub/stock.")
    type: Annotated[
        str, Field(min_length=1, max_length=200, json_schema_extra=LINE_SCHEMA), ONE_LINE
    ] = Field(description="Event type; carries the major version, e.g. skuhub.stock-moved.v1.")
    time: Timestamp | None = Field(
        default=None, description=f"When the event was produced. {TIMESTAMP_DESCRIPTION}"
    )
    subject: Sku | None = Field(
        default=None, description="The SKU; when given it must equal the payload's sku."
    )
    origintime: Timestamp | None = Field(
        default=None,
        description="When the fact first entered skuhub; copied onto every derived event. "
        f"Absent: the record timestamp is used. {TIMESTAMP_DESCRIPTION}",
    )


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
    payload = envelope.payload
    key = payload.key.encode()
    headers: Headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", envelope.id.encode()),
        ("ce_source", envelope.source.encode()),
        ("ce_type", payload.event_type.encode()),
        ("ce_time", _rfc3339(envelope.time)),
        ("ce_subject", key),
        (f"{BINARY_PREFIX}{ORIGIN_TIME_ATTR}", _rfc3339(envelope.origin_time)),
        (CONTENT_TYPE, b"application/json"),
    ]
    if envelope.traceparent:
        headers.append((TRACEPARENT, envelope.traceparent.encode()))
    if envelope.tracestate:
        headers.append((TRACESTATE, envelope.tracestate.encode()))
    return KafkaRecord(key, payload.__pydantic_serializer__.to_json(payload), headers)


def _rfc3339(moment: datetime) -> bytes:
    """An aware time as RFC 3339, ``Z`` for UTC."""
    text = moment.isoformat()
    return (text[:-6] + "Z" if text.endswith("+00:00") else text).encode()


def decode(
    value: bytes | None,
    headers: Iterable[tuple[str, bytes | str | None]],
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
    header_map = _header_map(headers)
    binary = any(name.startswith(BINARY_PREFIX) for name in header_map)
    decoded = _valid_binary(value, header_map, accept) if binary else None
    if decoded is None:
        # The checks one by one, each problem with its own reason.
        attributes, data = (_binary if binary else _structured)(value, header_map)
        model = EVENTS_BY_TYPE.get(attributes.type)
        allowed = tuple(accept) if accept is not None else tuple(EVENTS_BY_TYPE.values())
        if model is None or model not in allowed:
            names = ", ".join(m.event_type for m in allowed)
            raise DecodeError(
                f"unexpected event type {attributes.type!r}; this topic takes {names}"
            )
        payload = validate_payload(model, data)
    else:
        attributes, payload = decoded
    if attributes.subject is not None and attributes.subject != payload.key:
        raise DecodeError(
            f"{BINARY_PREFIX if binary else ''}subject {attributes.subject!r} is not the "
            f"payload's sku {payload.key!r}; they must be equal"
        )
    if key and key != payload.key.encode():
        # Per-key order is what makes a SKU's events apply in sequence; a foreign key
        # would put this event on another SKU's partition.
        shown = key.decode("utf-8", "replace")[:100]
        raise DecodeError(
            f"record key {shown!r} is not the event's key {payload.key!r}; key each record by it"
        )
    time = attributes.time or datetime.now(UTC)
    traceparent = _text(header_map.get(TRACEPARENT))
    if traceparent is None or not _TRACEPARENT.match(traceparent):
        # W3C Trace Context: an unparsable traceparent starts a new trace, it is no error.
        traceparent, tracestate = None, None
    else:
        tracestate = _text(header_map.get(TRACESTATE))
        if tracestate is not None and not _TRACESTATE.match(tracestate):
            tracestate = None
    return Envelope(
        payload=payload,
        id=attributes.id,
        source=attributes.source,
        time=time,
        origin_time=attributes.origintime or _record_time(timestamp_ms) or time,
        traceparent=traceparent,
        tracestate=tracestate,
    )


def validate_payload(model: type[P], data: object) -> P:
    """``data`` (parsed JSON) as a ``model`` payload, checked by every rule of the contract.

    The one validation of event payloads: the codec and HTTP ingest both call it,
    so a payload is accepted or refused the same way whichever way it arrives.

    Raises:
        DecodeError: the payload breaks a rule; the reason names each field.
    """
    if not isinstance(data, dict):
        raise DecodeError("body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise DecodeError(f"invalid {model.event_type} payload: {describe(exc)}") from exc


def describe(exc: ValidationError, *, names: dict[str, str] | None = None) -> str:
    """One ``field.path: rule`` per problem, in the contract's words."""
    return "; ".join(describe_error(error, names=names) for error in exc.errors(include_url=False))


def describe_error(error: ErrorDetails, *, names: dict[str, str] | None = None) -> str:
    """``field.path: rule`` for one pydantic error (``names`` renames top-level fields)."""
    loc = [str(part) for part in error["loc"]]
    if loc and names and loc[0] in names:
        loc[0] = names[loc[0]]
    message = "is required" if error["type"] == "missing" else error["msg"]
    return f"{'.'.join(loc)}: {message}" if loc else message


def _header_map(headers: Iterable[tuple[str, bytes | str | None]]) -> dict[str, bytes]:
    """Header values by lower-case name; a CloudEvents header given twice is ambiguous."""
    found: dict[str, bytes] = {}
    for name, raw in headers:
        if raw is None:  # Kafka allows null header values
            continue
        lower = name.lower()
        if lower in found and (lower.startswith(BINARY_PREFIX) or lower == CONTENT_TYPE):
            raise DecodeError(f"{lower}: given more than once; send each CloudEvents header once")
        found[lower] = raw if isinstance(raw, bytes) else str(raw).encode()
    return found


def _valid_binary(
    value: bytes, headers: dict[str, bytes], accept: Sequence[type[EventPayload]] | None
) -> tuple[CloudEventAttributes, EventPayload] | None:
    """A binary-mode record that passes every check, decoded in one go (pydantic parses the
    body itself, without a JSON document in between); None at the first problem, which
    :func:`_binary` and the checks after it then name.

    What it takes, the checks one by one take as well: the JSON parser refuses NaN and
    Infinity in numbers and every contract field refuses them as values (tests/contracts).
    """
    raw: dict[str, str] = {}
    try:
        for name, header in headers.items():
            if name.startswith(BINARY_PREFIX):
                raw[name[len(BINARY_PREFIX) :]] = header.decode("utf-8")
        if CONTENT_TYPE in headers and not _JSON_MEDIA_TYPE.match(
            _text(headers[CONTENT_TYPE]) or ""
        ):
            return None
        attributes = CloudEventAttributes.model_validate(raw)
        model = EVENTS_BY_TYPE.get(attributes.type)
        if model is None or (accept is not None and model not in accept):
            return None
        return attributes, model.model_validate_json(value)
    except (UnicodeDecodeError, ValidationError):
        return None


_BINARY_NAMES = {name: f"{BINARY_PREFIX}{name}" for name in CloudEventAttributes.model_fields}
"""Attribute names as a binary-mode record spells them (in reasons)."""


def _binary(value: bytes, headers: dict[str, bytes]) -> tuple[CloudEventAttributes, object]:
    raw: dict[str, str] = {}
    for name, header in headers.items():
        if not name.startswith(BINARY_PREFIX):
            continue
        try:
            raw[name[len(BINARY_PREFIX) :]] = header.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(f"{name}: must be UTF-8 text") from None
    if CONTENT_TYPE in headers:
        content_type = _text(headers[CONTENT_TYPE]) or ""
        if not _JSON_MEDIA_TYPE.match(content_type):
            raise DecodeError(f"content-type: {content_type!r} is not application/json")
    attributes = _attributes(raw, _BINARY_NAMES)
    return attributes, _json(value, "body")


def _structured(value: bytes, headers: dict[str, bytes]) -> tuple[CloudEventAttributes, object]:
    try:
        document = _json(value, "value")
    except DecodeError as exc:
        raise DecodeError(
            "not a CloudEvent: no ce_* headers (binary mode) and the value is no structured "
            f"CloudEvent ({exc.reason})"
        ) from None
    if not isinstance(document, dict):
        raise DecodeError(
            "not a CloudEvent: no ce_* headers (binary mode) and the value is no JSON object "
            "(structured mode)"
        )
    media_type = document.get("datacontenttype")
    if media_type is not None and not (
        isinstance(media_type, str) and _JSON_MEDIA_TYPE.match(media_type)
    ):
        raise DecodeError(f"datacontenttype: {media_type!r} is not application/json")
    if "data" not in document:
        raise DecodeError("data: is required (structured mode carries the payload in data)")
    return _attributes(document, None), document["data"]


def _attributes(raw: dict[str, Any], names: dict[str, str] | None) -> CloudEventAttributes:
    try:
        return CloudEventAttributes.model_validate(raw)
    except ValidationError as exc:
        raise DecodeError(f"not a CloudEvent: {describe(exc, names=names)}") from exc


def _json(value: bytes, what: str) -> object:
    """Strict JSON: no NaN or Infinity (JSON has neither)."""
    try:
        return json.loads(value, parse_constant=_no_constant)
    except DecodeError as exc:
        raise DecodeError(f"{what} is not JSON: {exc.reason}") from None
    except UnicodeDecodeError:
        raise DecodeError(f"{what} is not JSON: not UTF-8 text") from None
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)[:200]
        where = f" at position {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        raise DecodeError(f"{what} is not JSON: {message}{where}") from None


def _no_constant(name: str) -> object:
    raise DecodeError(f"{name} is not a JSON number")


def _record_time(timestamp_ms: int | None) -> datetime | None:
    """The record timestamp, when the producer set one skuhub can represent."""
    if timestamp_ms is None or timestamp_ms <= 0:
        return None
    try:
        moment = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment if EARLIEST_YEAR <= moment.year <= LATEST_YEAR else None


def _text(raw: bytes | None) -> str | None:
    if not raw:
        return None
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return None

"""Every released event type keeps decoding the records producers were promised to send.

``golden/<event type>/*.json`` are Kafka records written by hand from the released
schema and docs/contracts.md, never by the code: the key, the headers, the value, and
what each field the record leaves out is read as. They are never edited once released;
a new field gets a new record. Each is decoded with today's codec, and every field of
the result must equal what the record says: the record is the oracle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel

from skuhub_contracts.codec import STRUCTURED_CONTENT_TYPE, decode
from skuhub_contracts.events import EVENTS_BY_TYPE
from skuhub_contracts.release import ENVELOPE, current_schemas, released_schemas
from skuhub_contracts.topics import EVENT_TOPICS

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
TOPICS_BY_NAME = {topic.name: topic for topic in EVENT_TOPICS}


@dataclass(frozen=True)
class Golden:
    """One golden record file."""

    event_type: str
    name: str
    record: dict[str, Any]

    @property
    def structured(self) -> bool:
        return bool(self.record["headers"].get("content-type") == STRUCTURED_CONTENT_TYPE)

    @property
    def payload(self) -> dict[str, Any]:
        value: dict[str, Any] = self.record["value"]
        return value["data"] if self.structured else value

    @property
    def attributes(self) -> dict[str, Any]:
        """The CloudEvents attributes, however the record carries them."""
        if self.structured:
            return {k: v for k, v in self.record["value"].items() if k != "data"}
        headers: dict[str, str] = self.record["headers"]
        return {name[3:]: text for name, text in headers.items() if name.startswith("ce_")}

    def __str__(self) -> str:
        return f"{self.event_type}/{self.name}"


def golden_records() -> list[Golden]:
    return [
        Golden(path.parent.name, path.name, json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(GOLDEN.glob("*/*.json"))
    ]


RECORDS = golden_records()


def test_every_event_type_in_the_registry_has_golden_records() -> None:
    kept = {path.name for path in GOLDEN.iterdir() if path.is_dir()}
    missing = sorted(set(EVENTS_BY_TYPE) - kept)
    assert not missing, f"no golden records for {missing}: add tests/contracts/golden/<type>/"
    unknown = sorted(kept - set(EVENTS_BY_TYPE))
    assert not unknown, f"golden records of types the code no longer has: {unknown}"


@pytest.mark.parametrize("event_type", sorted(EVENTS_BY_TYPE))
def test_a_minimal_record_holds_exactly_the_required_fields_and_headers(event_type: str) -> None:
    schemas = current_schemas()
    required, attributes = set(schemas[event_type]["required"]), set(schemas[ENVELOPE]["required"])
    minimal = [g for g in RECORDS if g.event_type == event_type and g.name.startswith("minimal")]
    assert minimal, f"{event_type}: no golden minimal*.json"
    for golden in minimal:
        assert set(golden.payload) == required, f"{golden}: a minimal record holds just {required}"
        assert set(golden.attributes) == attributes, f"{golden}: and just the {attributes} headers"


@pytest.mark.parametrize("event_type", sorted(EVENTS_BY_TYPE))
def test_golden_records_give_every_field_a_value(event_type: str) -> None:
    """Full records: every field of the schema, nested ones too, is non-null in one of them."""
    schema = current_schemas()[event_type]
    covered: set[str] = set()
    for golden in RECORDS:
        if golden.event_type == event_type:
            covered |= value_paths(golden.payload, "$")
    uncovered = sorted(schema_paths(schema, schema, "$") - covered)
    assert not uncovered, (
        f"{event_type}: no golden record gives {uncovered} a value; add a record "
        "(full-<what>.json) rather than editing a released one"
    )


@pytest.mark.parametrize("golden", RECORDS, ids=str)
def test_a_golden_record_is_valid_under_the_released_schema(golden: Golden) -> None:
    schemas = released_schemas(ROOT)
    jsonschema.Draft202012Validator(schemas[golden.event_type]).validate(golden.payload)
    jsonschema.Draft202012Validator(schemas[ENVELOPE]).validate(golden.attributes)


@pytest.mark.parametrize("golden", RECORDS, ids=str)
def test_a_golden_record_decodes_to_the_values_it_holds(golden: Golden) -> None:
    record = golden.record
    topic = TOPICS_BY_NAME[record["topic"]]
    assert topic.event is not None
    assert topic.event.event_type == golden.event_type, f"{golden}: travels on {topic.name}"
    value = json.dumps(record["value"], ensure_ascii=False).encode()
    headers = [(name, text.encode()) for name, text in record["headers"].items()]
    before = datetime.now(UTC)
    envelope = decode(
        value,
        headers,
        key=record["key"].encode(),
        timestamp_ms=record["timestamp_ms"],
        accept=[topic.event],
    )
    after = datetime.now(UTC)

    attributes = golden.attributes
    assert envelope.type == golden.event_type == attributes["type"]
    assert envelope.id == attributes["id"]
    assert envelope.source == attributes["source"]
    if "time" in attributes:
        assert_reads_as(envelope.time, attributes["time"], "ce_time")
    else:
        assert before <= envelope.time <= after, "without ce_time the event is timed on arrival"
    if "origintime" in attributes:
        assert_reads_as(envelope.origin_time, attributes["origintime"], "ce_origintime")
    else:
        recorded = datetime.fromtimestamp(record["timestamp_ms"] / 1000, UTC)
        assert envelope.origin_time == recorded, "without ce_origintime: the record timestamp"
    assert envelope.traceparent == record["headers"].get("traceparent")
    assert envelope.tracestate == record["headers"].get("tracestate")

    payload = golden.payload
    unknown = set(record.get("unknown_fields", []))
    fields = set(type(envelope.payload).model_fields)
    assert set(payload) - fields == unknown, f"{golden}: fields v1 does not have must be listed"
    expected = merged({k: v for k, v in payload.items() if k not in unknown}, record)
    assert envelope.payload.key == record["key"]
    assert_reads_as(envelope.payload, expected, "$")


# ------------------------------------------------------------------------------- the oracle


def merged(payload: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """The payload with what its omitted fields read as, nested objects and lists merged."""
    return _merge(payload, record.get("omitted_read_as", {}))  # type: ignore[no-any-return]


def _merge(given: Any, omitted: Any) -> Any:
    if isinstance(given, dict) and isinstance(omitted, dict):
        result = dict(given)
        for name, value in omitted.items():
            assert name not in given or isinstance(value, (dict, list)), (
                f"omitted_read_as names {name}, which the record gives"
            )
            result[name] = _merge(given[name], value) if name in given else value
        return result
    if isinstance(given, list) and isinstance(omitted, list):
        assert len(omitted) == len(given), "omitted_read_as lists one entry per item"
        return [_merge(item, extra) for item, extra in zip(given, omitted, strict=True)]
    return given


def assert_reads_as(actual: Any, expected: Any, path: str) -> None:
    """``actual`` (decoded) is the value the JSON ``expected`` stands for, by the contract's
    words: decimals exactly, times as the same instant with the same UTC offset."""
    if isinstance(actual, BaseModel):
        assert isinstance(expected, dict), f"{path}: expected an object"
        for name in type(actual).model_fields:
            assert name in expected, f"{path}.{name}: the golden record must say what it reads as"
            assert_reads_as(getattr(actual, name), expected[name], f"{path}.{name}")
        return
    if isinstance(actual, Enum):
        assert actual.value == expected, f"{path}: {actual.value!r} != {expected!r}"
    elif isinstance(actual, bool) or actual is None:
        assert actual is expected, f"{path}: {actual!r} is not {expected!r}"
    elif isinstance(actual, Decimal):
        assert not isinstance(expected, bool)
        assert actual == Decimal(str(expected)), f"{path}: {actual} != {expected!r}"
    elif isinstance(actual, datetime):
        moment = datetime.fromisoformat(expected.upper())  # RFC 3339: t and z as T and Z
        assert actual == moment, f"{path}: {actual.isoformat()} != {expected}"
        assert actual.utcoffset() == moment.utcoffset(), f"{path}: offset changed"
    elif isinstance(actual, date):
        assert actual == date.fromisoformat(expected), f"{path}: {actual} != {expected}"
    elif isinstance(actual, dict):
        assert isinstance(expected, dict), f"{path}: expected an object"
        keys = {key.value if isinstance(key, Enum) else key: item for key, item in actual.items()}
        assert set(keys) == set(expected), f"{path}: keys {sorted(keys)} != {sorted(expected)}"
        for key, item in keys.items():
            assert_reads_as(item, expected[key], f"{path}.{key}")
    elif isinstance(actual, (list, tuple)):
        assert isinstance(expected, list), f"{path}: expected a list"
        assert len(actual) == len(expected), f"{path}: {len(actual)} items != {len(expected)}"
        for index, (item, wanted) in enumerate(zip(actual, expected, strict=True)):
            assert_reads_as(item, wanted, f"{path}[{index}]")
    else:
        assert isinstance(actual, (str, int, float)), f"{path}: unexpected {type(actual)}"
        assert type(expected) in (str, int, float), f"{path}: expected {expected!r}"
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def schema_paths(schema: dict[str, Any], root: dict[str, Any], at: str) -> set[str]:
    """Every named field of the schema, nested ones as ``$.a.b`` and ``$.list[].b``."""
    while "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    found: set[str] = set()
    for option in schema.get("anyOf", []):
        found |= schema_paths(option, root, at)
    for name, field in schema.get("properties", {}).items():
        found |= {f"{at}.{name}"} | schema_paths(field, root, f"{at}.{name}")
    if isinstance(schema.get("items"), dict):
        found |= schema_paths(schema["items"], root, f"{at}[]")
    return found


def value_paths(value: Any, at: str) -> set[str]:
    """Every non-null member of a JSON value, named as :func:`schema_paths` names fields."""
    if isinstance(value, dict):
        found: set[str] = set()
        for name, item in value.items():
            if item is not None:
                found |= {f"{at}.{name}"} | value_paths(item, f"{at}.{name}")
        return found
    if isinstance(value, list):
        return {path for item in value for path in value_paths(item, f"{at}[]")}
    return set()

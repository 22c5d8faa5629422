"""The published contract and the decoder agree, generated from the checked-in schema files.

Instances come from ``schemas/`` (hypothesis-jsonschema reads the files, not the models):
every one the schema accepts is either decoded or refused with a reason that names the
field (or header) and the rule. The other way round, whatever the decoder takes, the
published schema accepts too (validated with jsonschema-rs, ECMA regular expressions).
The same instances through the real consumers and PostgreSQL:
tests/integration/test_contract_properties_db.py.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any, cast

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from skuhub_contracts import codec
from skuhub_contracts.codec import DecodeError, decode
from skuhub_contracts.events import ALL_EVENTS, EventPayload, ProductChanged
from skuhub_contracts.schema_export import ASYNCAPI_PATH, schema_path

ROOT = Path(__file__).resolve().parents[2]
PROPERTIES = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def published_schema(event: type[EventPayload]) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((ROOT / schema_path(event)).read_text(encoding="utf-8"))
    return schema


def binary_headers(event: type[EventPayload], sku: str) -> list[tuple[str, bytes]]:
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", f"prop-{sku}".encode()),
        ("ce_source", b"/property-test"),
        ("ce_type", event.event_type.encode()),
        ("content-type", b"application/json"),
    ]


def named_fields(reason: str, prefix: str) -> list[str]:
    """The field path of every problem in a reason ``<prefix>path: rule; path: rule``."""
    assert reason.startswith(prefix), reason
    return [part.split(": ", 1)[0] for part in reason.removeprefix(prefix).split("; ")]


def top_level(path: str) -> str:
    return re.split(r"[.\[]", path, maxsplit=1)[0]


@functools.cache
def instances_of(event: type[EventPayload]) -> st.SearchStrategy[dict[str, Any]]:
    """Instances of the event's checked-in schema (building the strategy is costly: once)."""
    # Every event schema is an object schema, so every instance is a JSON object.
    return cast("st.SearchStrategy[dict[str, Any]]", from_schema(published_schema(event)))


def refusal(event: type[EventPayload], instance: dict[str, Any]) -> str | None:
    """Why the decoder refuses ``instance`` as a record of ``event``; None if it takes it."""
    sku = instance["sku"]
    try:
        decode(
            json.dumps(instance).encode(),
            binary_headers(event, sku),
            key=sku.encode(),
            accept=[event],
        )
    except DecodeError as exc:
        return exc.reason
    return None


RULES_BEYOND_THE_SCHEMA = [
    re.compile(pattern)
    for pattern in (
        r"is not a valid (GLN|GTIN): wrong check digit$",
        r"is not a locale CLDR knows: ",
        r"^must be positive for \w+$",
        r"^must not be zero for an adjustment",
        r"^must be zero or more for a cycle_count$",
        r"^must differ from location$",
        r"^\w+ is the stock unit \(unit\) and cannot also be a pack unit: ",
        r"^a kit cannot be a component of itself: ",
        r"^\S+ is listed twice \(items \d+ and \d+\): list each component SKU once",
        r"^Input should be greater than 0$",
        # A quantity sent as a JSON number: the string form's pattern states the digits,
        # no schema keyword states them reliably for binary floating point.
        r"^Decimal input should have no more than (18 digits in total|6 decimal places|12 "
        r"digits before the decimal point)$",
    )
]
"""What docs/contracts.md lists as checked beyond what the JSON Schema can say."""


def assert_names_schema_fields(event: type[EventPayload], reason: str) -> None:
    """Each problem names a field of the schema; since the instance is valid by the schema,
    each must be one of the rules beyond it."""
    problems = reason.removeprefix(f"invalid {event.event_type} payload: ").split("; ")
    properties = published_schema(event)["properties"]
    assert reason.startswith("invalid "), reason
    for problem in problems:
        path, _, rule = problem.partition(": ")
        assert top_level(path) in properties, reason
        assert any(r.search(rule) for r in RULES_BEYOND_THE_SCHEMA), f"not a stated rule: {reason}"


@pytest.mark.parametrize(
    "facts",
    [
        {"unit": "CS", "packs": {"CS": "12"}},
        {"kit_components": [{"sku": "PROP-1", "quantity": "1"}]},
        {"kit_components": [{"sku": "A", "quantity": "1"}, {"sku": "A", "quantity": "1"}]},
    ],
    ids=["pack-in-the-stock-unit", "kit-lists-itself", "component-twice"],
)
def test_the_product_rules_beyond_the_schema_are_stated(facts: dict[str, Any]) -> None:
    instance = {
        "sku": "PROP-1",
        "product_version": 1,
        "status": "draft",
        "title": {},
        "changed_at": "2025-03-01T08:00:00Z",
        **facts,
    }
    assert jsonschema_rs.Draft202012Validator(published_schema(ProductChanged)).is_valid(instance)

    reason = refusal(ProductChanged, instance)

    assert reason is not None
    assert_names_schema_fields(ProductChanged, reason)


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.event_type)
def test_every_instance_of_a_published_schema_is_decoded_or_refused_for_a_stated_rule(
    event: type[EventPayload],
) -> None:
    @PROPERTIES
    @given(instance=instances_of(event))
    def check(instance: dict[str, Any]) -> None:
        reason = refusal(event, instance)
        if reason is not None:
            assert_names_schema_fields(event, reason)

    check()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.event_type)
def test_what_the_decoder_takes_the_published_schema_accepts(event: type[EventPayload]) -> None:
    schema = published_schema(event)
    validator = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
    fields = sorted(schema["properties"])

    @PROPERTIES
    @given(
        instance=instances_of(event),
        field=st.sampled_from(fields),
        value=JSON_VALUES,
        drop=st.booleans(),
    )
    def check(instance: dict[str, Any], field: str, value: Any, drop: bool) -> None:
        mutated = dict(instance)
        if drop:
            mutated.pop(field, None)
        else:
            mutated[field] = value
        if field == "sku" and not drop and not isinstance(value, str):
            mutated["sku"] = instance["sku"]
        try:
            decode(
                json.dumps(mutated).encode(),
                binary_headers(event, instance["sku"]),
                accept=[event],
            )
        except DecodeError:
            return
        errors = [error.message for error in validator.iter_errors(mutated)]
        assert not errors, f"decoded, but the published schema refuses it: {errors}"

    check()


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.event_type)
def test_the_decoder_in_one_go_takes_only_what_the_checks_one_by_one_take_alike(
    event: type[EventPayload],
) -> None:
    """The codec decodes a sound binary record in one go and checks a doubtful one step by
    step (for its reasons); the first may take nothing the second refuses or reads otherwise."""
    fields = sorted(published_schema(event)["properties"])

    @PROPERTIES
    @given(
        instance=instances_of(event),
        field=st.sampled_from(fields),
        value=JSON_VALUES | st.sampled_from([float("nan"), float("inf"), 10**400]),
        mutate=st.booleans(),
    )
    def check(instance: dict[str, Any], field: str, value: Any, mutate: bool) -> None:
        document = {**instance, field: value} if mutate else instance
        body = json.dumps(document).encode()  # with NaN and Infinity, which JSON has not
        headers = dict(binary_headers(event, instance["sku"]))
        in_one_go = codec._valid_binary(body, headers, [event])
        try:
            step_by_step: EventPayload | None = codec.validate_payload(
                event, codec._json(body, "body")
            )
        except DecodeError:
            step_by_step = None
        if in_one_go is not None:
            assert in_one_go[1] == step_by_step

    check()


def test_every_header_set_the_asyncapi_document_allows_is_decoded_or_refused_naming_it() -> None:
    document = json.loads((ROOT / ASYNCAPI_PATH).read_text(encoding="utf-8"))
    headers_schema = document["components"]["messages"]["StockMoved"]["headers"]
    body = {
        "sku": "PROP-1",
        "kind": "receipt",
        "location": "4012345000009",
        "quantity": "1",
        "source_system": "prop",
        "source_sequence": 1,
        "occurred_at": "2025-03-01T08:00:00Z",
    }
    decoded: list[bool] = []

    @PROPERTIES
    @given(headers=from_schema(headers_schema))
    def check(headers: dict[str, str]) -> None:
        # Kafka header values are bytes or null; other JSON values cannot travel as headers.
        raw = [(k, v.encode() if isinstance(v, str) else None) for k, v in headers.items()]
        try:
            decode(json.dumps(body).encode(), raw)
            reason = None
        except DecodeError as exc:
            reason = exc.reason
        decoded.append(reason is None)
        if reason is None:
            return
        attributes = "not a CloudEvent: "
        if reason.startswith(attributes):
            names = named_fields(reason, attributes)
        else:
            names = [reason.split(" ", 1)[0].rstrip(":")]
        assert all(name in headers_schema["properties"] for name in names), reason

    check()
    assert any(decoded)

"""The checked-in schemas/ match the code, and the generated documents hang together."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from skuhub_contracts import dead_letters, schema_export
from skuhub_contracts.events import ALL_EVENTS, EventPayload, StockMoved
from skuhub_contracts.topics import ALL_TOPICS, DEAD_LETTER_TOPICS, EVENT_TOPICS

ROOT = Path(__file__).resolve().parents[2]


def asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(schema_export.render()[schema_export.ASYNCAPI_PATH])
    return document


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"external or malformed $ref {ref!r}"
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def test_checked_in_schemas_match_the_code() -> None:
    problems = schema_export.check(ROOT)
    assert not problems, (
        "schemas/ has drifted from skuhub_contracts; run `make schemas` and commit:\n  "
        + "\n  ".join(problems)
    )


def test_render_is_deterministic_and_canonical() -> None:
    first, second = schema_export.render(), schema_export.render()
    assert first == second
    for path, text in first.items():
        assert path.startswith("schemas/")
        assert text.endswith("}\n")
        assert (
            text
            == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )


def test_write_then_check_detects_drift_missing_and_stale_files(tmp_path: Path) -> None:
    written = schema_export.write(tmp_path)
    assert len(written) == len(ALL_EVENTS) + 1
    assert schema_export.check(tmp_path) == []
    assert schema_export.write(tmp_path) == [], "an up-to-date tree is left alone"

    stock_moved = tmp_path / schema_export.schema_path(StockMoved)
    stock_moved.write_text(stock_moved.read_text().replace('"receipt"', '"gift"'))
    (tmp_path / schema_export.ASYNCAPI_PATH).unlink()
    stale = tmp_path / "schemas/events/skuhub.stock-teleported.v1.schema.json"
    stale.write_text("{}\n")
    keep = tmp_path / "schemas/events/README.md"
    keep.write_text("hand-written\n")

    assert schema_export.check(tmp_path) == [
        "schemas/asyncapi.json (missing)",
        "schemas/events/skuhub.stock-moved.v1.schema.json (differs)",
        "schemas/events/skuhub.stock-teleported.v1.schema.json (stale)",
    ]
    schema_export.write(tmp_path)
    assert schema_export.check(tmp_path) == []
    assert not stale.exists()
    assert keep.exists(), "only generated *.schema.json files are removed"


def test_main_check_fails_on_drift_and_points_to_make_schemas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    nested = tmp_path / "services" / "deep"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    assert schema_export.main(check=True) == 1
    assert "make schemas" in capsys.readouterr().err
    assert schema_export.main() == 0
    assert (tmp_path / schema_export.ASYNCAPI_PATH).is_file()
    assert schema_export.main(check=True) == 0


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.__name__)
def test_event_schema_is_identified_and_typed(event: type[EventPayload]) -> None:
    schema = json.loads(schema_export.render()[schema_export.schema_path(event)])
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(event.event_type)
    assert schema["title"] == event.__name__
    assert schema["x-cloudevents-type"] == event.event_type
    assert schema["type"] == "object"
    assert schema.get("additionalProperties", True) is True, "consumers are tolerant readers"
    assert set(schema["properties"]) == set(event.model_fields)
    assert "sku" in schema["required"]
    for ref in refs(schema):
        resolve(schema, ref)


def test_asyncapi_lists_every_topic_as_a_channel() -> None:
    document = asyncapi()
    assert document["asyncapi"] == "3.0.0"
    addresses = sorted(channel["address"] for channel in document["channels"].values())
    assert addresses == sorted(t.name for t in ALL_TOPICS)
    for channel_id in document["channels"]:
        assert channel_id.replace("_", "").replace("-", "").isalnum()


def test_every_asyncapi_reference_resolves() -> None:
    document = asyncapi()
    found = refs(document)
    assert len(found) > 50
    for ref in found:
        assert resolve(document, ref) is not None


def test_event_messages_carry_cloudevents_headers_and_the_event_payload() -> None:
    document = asyncapi()
    for topic in EVENT_TOPICS:
        assert topic.event is not None
        channel = document["channels"][schema_export.channel_id(topic)]
        message = resolve(document, channel["messages"][topic.event.__name__]["$ref"])
        assert message["payload"] == {"$ref": f"#/components/schemas/{topic.event.__name__}"}
        headers = message["headers"]["properties"]
        assert {
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_specversion",
            "ce_time",
            "ce_subject",
            "ce_origintime",
            "content-type",
            "traceparent",
            "tracestate",
        } <= set(headers)
        assert headers["ce_type"]["const"] == topic.event.event_type
        payload = resolve(document, message["payload"]["$ref"])
        assert payload["x-cloudevents-type"] == topic.event.event_type


def test_dead_letter_messages_require_the_contracts_dead_letter_headers() -> None:
    document = asyncapi()
    for topic in DEAD_LETTER_TOPICS:
        channel = document["channels"][schema_export.channel_id(topic)]
        (ref,) = (m["$ref"] for m in channel["messages"].values())
        headers = resolve(document, ref)["headers"]
        assert set(headers["required"]) == set(dead_letters.HEADERS)
        assert all(name.startswith(dead_letters.PREFIX) for name in headers["required"])


def operations_of(document: dict[str, Any], action: str) -> set[tuple[str, str]]:
    return {
        (op["x-skuhub-service"], resolve(document, op["channel"]["$ref"])["address"])
        for op in document["operations"].values()
        if op["action"] == action
    }


def test_operations_say_who_sends_and_who_receives() -> None:
    document = asyncapi()
    assert operations_of(document, "send") == {(t.owner, t.name) for t in ALL_TOPICS}
    assert operations_of(document, "receive") == {
        ("stock", "stock.stock-moved.v1"),
        ("stock", "catalog.product-changed.v1"),
        ("stock", "lifecycle.inventory-policy-changed.v1"),
        ("lifecycle", "catalog.product-changed.v1"),
        ("lifecycle", "stock.stock-level-changed.v1"),
        ("sync_gateway", "stock.stock-level-changed.v1"),
        ("sync_gateway", "catalog.product-changed.v1"),
        ("sync_gateway", "lifecycle.lifecycle-stage-changed.v1"),
        ("catalog", "stock.stock-level-changed.v1"),
        ("catalog", "lifecycle.lifecycle-stage-changed.v1"),
    }
    for op in document["operations"].values():
        channel_messages = resolve(document, op["channel"]["$ref"])["messages"]
        for message in op["messages"]:
            assert message["$ref"].rsplit("/", 1)[1] in channel_messages


# --- example payloads against the generated JSON Schema (only when jsonschema is installed) ---

VALID_MOVEMENT: dict[str, Any] = {
    "sku": "TSHIRT-RED-M",
    "kind": "transfer_out",
    "location": "4012345000009",
    "destination": "0614141000036",
    "quantity": "2.5",
    "source_system": "wms",
    "source_sequence": 7,
    "occurred_at": "2025-03-01T08:00:00Z",
}


@pytest.mark.parametrize(
    ("payload", "valid"),
    [
        (VALID_MOVEMENT, True),
        ({**VALID_MOVEMENT, "quantity": 2.5}, True),
        ({**VALID_MOVEMENT, "kind": "receipt", "destination": None, "lot": "L1"}, True),
        ({**VALID_MOVEMENT, "kind": "teleport"}, False),
        ({**VALID_MOVEMENT, "colour": "red"}, True),  # tolerant reader: unknown fields pass
        ({**VALID_MOVEMENT, "location": "40123450000"}, False),
        ({**VALID_MOVEMENT, "source_sequence": -1}, False),
        ({**VALID_MOVEMENT, "unit": "each"}, False),
        ({k: v for k, v in VALID_MOVEMENT.items() if k != "occurred_at"}, False),
    ],
)
def test_example_payloads_against_the_generated_schema(
    payload: dict[str, Any], valid: bool
) -> None:
    schema = json.loads((ROOT / schema_export.schema_path(StockMoved)).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid(payload) is valid
    # The schema never accepts what the model rejects for a reason it can express.
    if valid:
        StockMoved.model_validate(payload)

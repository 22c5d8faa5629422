"""Machine-readable contracts: JSON Schema per event and one AsyncAPI 3.0 document.

Everything under ``schemas/`` is generated from the pydantic models and the
topic registry by :func:`render`; ``skuhub schemas`` (``make schemas``) writes
the files and ``skuhub schemas --check`` fails when the checked-in copies have
drifted from the code.

Event schemas use pydantic's *validation* mode: they describe what a producer
must send (decimals as JSON numbers or strings, defaults optional), and the
models enforce exactly that. Rules a JSON Schema cannot express (GS1 check
digits, the sign of a quantity per movement kind, a destination other than the
location) are enforced by the models too and described in ``docs/contracts.md``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from skuhub_contracts import dead_letters
from skuhub_contracts.codec import (
    BINARY_PREFIX,
    STRUCTURED_CONTENT_TYPE,
    TRACEPARENT,
    TRACEPARENT_PATTERN,
    TRACESTATE,
    CloudEventAttributes,
)
from skuhub_contracts.events import ALL_EVENTS, EventPayload
from skuhub_contracts.json_schema import exact_maps
from skuhub_contracts.subscriptions import receivers_of
from skuhub_contracts.topics import ALL_TOPICS, UPSTREAM, Topic

SCHEMAS_DIR = "schemas"
EVENTS_DIR = f"{SCHEMAS_DIR}/events"
ASYNCAPI_PATH = f"{SCHEMAS_DIR}/asyncapi.json"
SCHEMA_SUFFIX = ".schema.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID_PREFIX = "urn:skuhub:schema:event:"
ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
CONTRACT_VERSION = "1.0.0"


def schema_path(event: type[EventPayload]) -> str:
    """Repository-relative path of one event's JSON Schema."""
    return f"{EVENTS_DIR}/{event.event_type}{SCHEMA_SUFFIX}"


def schema_id(event: type[EventPayload]) -> str:
    return f"{SCHEMA_ID_PREFIX}{event.event_type}"


def event_schema(event: type[EventPayload]) -> dict[str, Any]:
    """Standalone JSON Schema (2020-12) of one event payload, as producers must send it."""
    schema = exact_maps(event.model_json_schema(mode="validation"))
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_id(event),
        **schema,
        "title": event.__name__,
        "x-cloudevents-type": event.event_type,
    }


def channel_id(topic: Topic[Any]) -> str:
    """AsyncAPI ids allow only ``[A-Za-z0-9_-]``: dots of the topic name become underscores."""
    return topic.name.replace(".", "_")


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _attribute_schemas(event: type[EventPayload]) -> tuple[dict[str, Any], list[str]]:
    """Each CloudEvents attribute's schema (from the codec's model) and the required ones."""
    schema = exact_maps(CloudEventAttributes.model_json_schema(mode="validation"))
    properties: dict[str, Any] = {}
    for name, attribute in schema["properties"].items():
        attribute = {k: v for k, v in attribute.items() if k not in ("title", "default")}
        if name == "type":
            attribute = {**attribute, "const": event.event_type}
        properties[name] = attribute
    return properties, list(schema["required"])


def _present(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional attribute's schema when present (a header has no null)."""
    options = schema.get("anyOf")
    if options is None:
        return schema
    [value] = [option for option in options if option.get("type") != "null"]
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**value, **rest}


_TRACE_HEADERS = {
    TRACEPARENT: _string(
        "W3C Trace Context traceparent. One that does not match the pattern is ignored (the "
        "event starts a new trace), as W3C Trace Context asks.",
        pattern=TRACEPARENT_PATTERN,
    ),
    TRACESTATE: _string(
        "W3C Trace Context tracestate (printable ASCII, at most 512 characters; otherwise, "
        "or without a valid traceparent, ignored).",
    ),
}


def _binary_headers(event: type[EventPayload]) -> dict[str, Any]:
    attributes, required = _attribute_schemas(event)
    return {
        "type": "object",
        "description": (
            "CloudEvents 1.0 Kafka binding, binary content mode: attributes as ce_* headers "
            "(UTF-8 text, each at most once), the payload as the record value."
        ),
        "required": [f"{BINARY_PREFIX}{name}" for name in required],
        "properties": {
            **{f"{BINARY_PREFIX}{name}": _present(s) for name, s in attributes.items()},
            "content-type": _string(
                "Media type of the record value; absent means application/json.",
                pattern="^application/json(;.*)?$",
            ),
            **_TRACE_HEADERS,
        },
    }


def _structured_payload(event: type[EventPayload], name: str) -> dict[str, Any]:
    attributes, required = _attribute_schemas(event)
    return {
        "type": "object",
        "description": "CloudEvents 1.0 JSON format (structured content mode).",
        "required": [*required, "data"],
        "properties": {
            **attributes,
            "datacontenttype": _string("Media type of data.", pattern="^application/json(;.*)?$"),
            "data": {"$ref": f"#/components/schemas/{name}"},
        },
    }


def _kafka_key() -> dict[str, Any]:
    return {
        "kafka": {
            "bindingVersion": KAFKA_BINDING_VERSION,
            "key": _string(
                "The SKU (UTF-8): all events about one SKU share a partition. Partition by "
                "murmur2 of the key, the Java client's default (librdkafka: partitioner="
                "murmur2_random), as skuhub's own producers do."
            ),
        }
    }


def _event_messages(event: type[EventPayload], structured: bool) -> dict[str, Any]:
    name = event.__name__
    doc = (event.__doc__ or name).strip()
    messages: dict[str, Any] = {
        name: {
            "name": name,
            "title": event.event_type,
            "summary": doc.splitlines()[0],
            "contentType": "application/json",
            "headers": _binary_headers(event),
            "payload": {"$ref": f"#/components/schemas/{name}"},
            "bindings": _kafka_key(),
        }
    }
    if structured:
        messages[f"{name}Structured"] = {
            "name": f"{name}Structured",
            "title": f"{event.event_type} (structured mode)",
            "summary": "The same event as one CloudEvents JSON document; accepted on ingest.",
            "contentType": STRUCTURED_CONTENT_TYPE,
            "headers": {
                "type": "object",
                "properties": {
                    "content-type": _string(
                        "Marks structured mode.", const=STRUCTURED_CONTENT_TYPE
                    ),
                    **_TRACE_HEADERS,
                },
                "required": ["content-type"],
            },
            "payload": _structured_payload(event, name),
            "bindings": _kafka_key(),
        }
    return messages


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "DeadLetter",
        "title": "Dead letter",
        "summary": "A record a service could not accept, as it was read, with the reason.",
        "description": (
            "Key and value are the original record's, byte for byte (the value may not be "
            "JSON). The original headers are kept, and skuhub_dlq_* headers are added "
            "(replacing any from an earlier dead-lettering)."
        ),
        "contentType": "application/octet-stream",
        "headers": {
            "type": "object",
            "required": sorted(dead_letters.HEADERS),
            "properties": {name: _string(text) for name, text in dead_letters.HEADERS.items()},
            "additionalProperties": {"type": "string"},
        },
        "payload": {"description": "The original record value, unchanged."},
    }


def _operation(service: str, action: str, topic: Topic[Any]) -> tuple[str, dict[str, Any]]:
    cid = channel_id(topic)
    verb = "sends" if action == "send" else "receives"
    op_id = f"{service}_{action}_{cid}"
    return op_id, {
        "action": action,
        "channel": {"$ref": f"#/channels/{cid}"},
        "summary": f"{service} {verb} {topic.name}.",
        "tags": [{"name": service}],
        "x-skuhub-service": service,
    }


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every topic, message and operation."""
    _, defs = models_json_schema(
        [(event, "validation") for event in ALL_EVENTS],
        ref_template="#/components/schemas/{model}",
    )
    defs = exact_maps(defs)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    for event in ALL_EVENTS:
        schemas[event.__name__] = {
            **schemas[event.__name__],
            "x-cloudevents-type": event.event_type,
            "x-schema-id": schema_id(event),
            "x-schema-file": schema_path(event).removeprefix(f"{SCHEMAS_DIR}/"),
        }

    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in ALL_TOPICS:
        cid = channel_id(topic)
        if topic.event is not None:
            topic_messages = _event_messages(topic.event, structured=topic.owner == UPSTREAM)
        else:
            topic_messages = {"DeadLetter": _dead_letter_message()}
        messages.update(topic_messages)
        channels[cid] = {
            "address": topic.name,
            "title": topic.name,
            "description": (
                f"{topic.description} Owner: {topic.owner}. On the cluster the name carries "
                "the deployment prefix (SKUHUB_TOPIC_PREFIX), if any."
            ),
            "messages": {
                name: {"$ref": f"#/components/messages/{name}"} for name in topic_messages
            },
            "bindings": {"kafka": {"bindingVersion": KAFKA_BINDING_VERSION, "topic": topic.name}},
        }
        refs = [{"$ref": f"#/channels/{cid}/messages/{name}"} for name in topic_messages]
        op_id, op = _operation(topic.owner, "send", topic)
        operations[op_id] = {**op, "messages": refs}
        for service in receivers_of(topic):
            op_id, op = _operation(service, "receive", topic)
            operations[op_id] = {**op, "messages": refs}

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:skuhub:events",
        "info": {
            "title": "skuhub events",
            "version": CONTRACT_VERSION,
            "description": (
                "Every Kafka topic skuhub reads or writes. Events are CloudEvents 1.0 in "
                "binary content mode keyed by SKU; see docs/contracts.md. Generated by "
                "`skuhub schemas` from skuhub_contracts: do not edit."
            ),
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": "The Kafka cluster (SKUHUB_KAFKA_BOOTSTRAP).",
                "variables": {"bootstrap": {"default": "127.0.0.1:9092"}},
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def dumps(document: dict[str, Any]) -> str:
    """Deterministic JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render() -> dict[str, str]:
    """Every generated file: repository-relative path to its exact text."""
    files = {schema_path(event): dumps(event_schema(event)) for event in ALL_EVENTS}
    files[ASYNCAPI_PATH] = dumps(asyncapi_document())
    return dict(sorted(files.items()))


def _stale(root: Path, expected: Iterable[str]) -> list[Path]:
    """Generated event schema files on disk that no event renders any more."""
    directory = root / EVENTS_DIR
    if not directory.is_dir():
        return []
    keep = set(expected)
    return sorted(
        path
        for path in directory.glob(f"*{SCHEMA_SUFFIX}")
        if path.relative_to(root).as_posix() not in keep
    )


def write(root: Path) -> list[Path]:
    """Write the generated files under ``root``, remove stale ones; return what changed."""
    files = render()
    changed: list[Path] = []
    for relative, text in files.items():
        path = root / relative
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        changed.append(path)
    for path in _stale(root, files):
        path.unlink()
        changed.append(path)
    return changed


def check(root: Path) -> list[str]:
    """Repository-relative paths that are missing, differ from the code, or are stale."""
    return _drift(root)


def _drift(root: Path) -> list[str]:
    files = render()
    problems: list[str] = []
    for relative, text in files.items():
        path = root / relative
        if not path.is_file():
            problems.append(f"{relative} (missing)")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{relative} (differs)")
    problems += [f"{p.relative_to(root).as_posix()} (stale)" for p in _stale(root, files)]
    return problems


def find_root(start: Path | None = None) -> Path:
    """The repository root: the nearest directory at or above ``start`` with pyproject.toml."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / "pyproject.toml").is_file():
            return directory
    raise FileNotFoundError(f"no pyproject.toml at or above {here}")


def main(check: bool = False) -> int:
    """CLI entry: write the schemas, or with ``check`` report drift (exit status 1)."""
    try:
        root = find_root()
    except FileNotFoundError as exc:
        print(f"skuhub schemas: {exc}", file=sys.stderr)
        return 2
    if check:
        problems = _drift(root)
        if problems:
            print("schemas/ is out of date with skuhub_contracts:", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
            print("run `make schemas` (skuhub schemas) and commit the result", file=sys.stderr)
            return 1
        print(f"schemas/ is up to date ({len(render())} files)")
        return 0
    changed = write(root)
    for path in changed:
        verb = "wrote" if path.exists() else "removed"
        print(f"{verb} {path.relative_to(root).as_posix()}")
    if not changed:
        print("schemas/ already up to date")
    return 0

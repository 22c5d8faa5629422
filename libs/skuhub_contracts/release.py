"""The released contract: a frozen copy of each event's schema, and the check against it.

``schemas/released/`` holds, per event type, the JSON Schema as it was last released
(``<event type>.schema.json``), and the CloudEvents attributes every event carries
(``cloudevents-attributes.schema.json``). ``schemas/events/`` follows the code at every
commit; the released copy moves only through :func:`release` (``skuhub schemas
--release``), which refuses a change that breaks readers or old events
(:mod:`skuhub_contracts.compatibility`). ``tests/contracts`` fails when the code breaks
the released contract, and when a compatible change has not been released yet, so the
baseline always records every field that was ever published in the version.

Retiring an event type (after its successor version has taken over, docs/contracts.md)
is the one change made by hand: delete its released file and its golden records.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skuhub_contracts.codec import CloudEventAttributes
from skuhub_contracts.compatibility import BreakingChange, breaking_changes
from skuhub_contracts.events import ALL_EVENTS
from skuhub_contracts.json_schema import exact_maps
from skuhub_contracts.schema_export import (
    JSON_SCHEMA_DIALECT,
    SCHEMA_SUFFIX,
    SCHEMAS_DIR,
    dumps,
    event_schema,
    find_root,
)
from skuhub_contracts.schema_export import write as write_generated

RELEASED_DIR = f"{SCHEMAS_DIR}/released"
ENVELOPE = "cloudevents-attributes"
"""Name of the released schema of the CloudEvents attributes (headers) every event carries."""


def released_path(name: str) -> str:
    """Repository-relative path of one released schema (an event type, or :data:`ENVELOPE`)."""
    return f"{RELEASED_DIR}/{name}{SCHEMA_SUFFIX}"


def envelope_schema() -> dict[str, Any]:
    """JSON Schema of the CloudEvents attributes the codec reads (``ce_*`` headers)."""
    schema = exact_maps(CloudEventAttributes.model_json_schema(mode="validation"))
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:skuhub:schema:{ENVELOPE}",
        **schema,
        "title": CloudEventAttributes.__name__,
    }


def current_schemas() -> dict[str, dict[str, Any]]:
    """What the code publishes today: every event type's schema, and the envelope's."""
    schemas = {event.event_type: event_schema(event) for event in ALL_EVENTS}
    schemas[ENVELOPE] = envelope_schema()
    return dict(sorted(schemas.items()))


def released_schemas(root: Path) -> dict[str, dict[str, Any]]:
    """The released baseline under ``root``: name (event type or envelope) to schema."""
    directory = root / RELEASED_DIR
    if not directory.is_dir():
        return {}
    return {
        path.name.removesuffix(SCHEMA_SUFFIX): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob(f"*{SCHEMA_SUFFIX}"))
    }


@dataclass(frozen=True)
class ReleaseCheck:
    """Today's code against the released baseline."""

    breaking: dict[str, list[BreakingChange]] = field(default_factory=dict)
    """Per released name, the changes that break it (a retired type: its removal)."""
    unreleased: list[str] = field(default_factory=list)
    """Names whose schema is new or changed compatibly and not released yet."""

    @property
    def compatible(self) -> bool:
        return not self.breaking

    def lines(self) -> list[str]:
        """The findings, one per line, for people."""
        found = [
            f"{name}: {change}" for name, changes in self.breaking.items() for change in changes
        ]
        return found + [f"{name}: not released yet" for name in self.unreleased]


def compare(root: Path) -> ReleaseCheck:
    """Every breaking change and every unreleased schema, from the baseline to the code."""
    released, current = released_schemas(root), current_schemas()
    breaking: dict[str, list[BreakingChange]] = {}
    for name, baseline in released.items():
        if name not in current:
            breaking[name] = [
                BreakingChange(
                    "$",
                    "event-type-removed",
                    "released, and gone from the code: retire it as docs/contracts.md says "
                    "(its successor version first), not by deleting the model",
                )
            ]
            continue
        changes = breaking_changes(baseline, current[name])
        if changes:
            breaking[name] = changes
    unreleased = [
        name
        for name, schema in current.items()
        if name not in breaking and (name not in released or dumps(released[name]) != dumps(schema))
    ]
    return ReleaseCheck(breaking, unreleased)


class ReleaseRefused(Exception):
    """The code breaks the released contract: the change needs a new major version."""

    def __init__(self, check: ReleaseCheck) -> None:
        super().__init__("; ".join(check.lines()))
        self.check = check


def release(root: Path) -> list[Path]:
    """Regenerate ``schemas/`` and record today's schemas as released; return what changed.

    Raises:
        ReleaseRefused: a change breaks the released contract; nothing is written.
    """
    check = compare(root)
    if not check.compatible:
        raise ReleaseRefused(check)
    changed = write_generated(root)
    for name, schema in current_schemas().items():
        path = root / released_path(name)
        text = dumps(schema)
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        changed.append(path)
    return changed


def main() -> int:
    """CLI entry (``skuhub schemas --release``): exit status 1 when the release is refused."""
    try:
        root = find_root()
    except FileNotFoundError as exc:
        print(f"skuhub schemas: {exc}", file=sys.stderr)
        return 2
    try:
        changed = release(root)
    except ReleaseRefused as refused:
        print("refused: the code breaks the released contract:", file=sys.stderr)
        for line in refused.check.lines():
            print(f"  {line}", file=sys.stderr)
        print(
            "undo the change, or publish it as a new major version (docs/contracts.md, "
            '"Releasing and v2")',
            file=sys.stderr,
        )
        return 1
    for path in changed:
        verb = "wrote" if path.exists() else "removed"
        print(f"{verb} {path.relative_to(root).as_posix()}")
    if not changed:
        print(f"{RELEASED_DIR}/ already records every schema")
    return 0


__all__ = [
    "ENVELOPE",
    "RELEASED_DIR",
    "ReleaseCheck",
    "ReleaseRefused",
    "compare",
    "current_schemas",
    "envelope_schema",
    "release",
    "released_path",
    "released_schemas",
]

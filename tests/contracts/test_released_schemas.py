"""The code keeps the released contract (schemas/released/), and every change is released.

A breaking change fails here with each finding and its JSON path; the way out is a new
major version (docs/contracts.md, "Releasing and v2"), never an edit of the baseline.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from skuhub_contracts.compatibility import breaking_changes
from skuhub_contracts.events import EVENTS_BY_TYPE
from skuhub_contracts.release import ENVELOPE, compare, current_schemas, released_schemas

ROOT = Path(__file__).resolve().parents[2]
RELEASED = released_schemas(ROOT)


def test_every_event_type_and_the_envelope_are_released() -> None:
    assert set(RELEASED) == {*EVENTS_BY_TYPE, ENVELOPE}, (
        "schemas/released/ must hold each event type the code has, and only those: a new "
        "type is released with `skuhub schemas --release`; a retired one as docs/contracts.md "
        "says"
    )


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_the_code_keeps_the_released_schema(name: str) -> None:
    current = current_schemas()
    assert name in current, f"{name} is released and gone from the code"
    changes = breaking_changes(RELEASED[name], current[name])
    assert not changes, (
        f"{name} breaks its released schema; undo the change or publish a new major version "
        "(docs/contracts.md, 'Releasing and v2'):\n  " + "\n  ".join(map(str, changes))
    )


def test_every_compatible_change_is_released() -> None:
    check = compare(ROOT)
    assert check.compatible, "\n".join(check.lines())
    assert check.unreleased == [], (
        f"changed compatibly and not released: {check.unreleased}; run `skuhub schemas "
        "--release` and commit schemas/released/ (with a golden record of any new field)"
    )

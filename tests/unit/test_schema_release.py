"""``skuhub schemas --release``: records compatible changes, refuses breaking ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from skuhub_cli.main import app
from skuhub_contracts import release
from skuhub_contracts.events import StockMoved
from skuhub_contracts.release import ENVELOPE, compare, released_path


def baseline(root: Path, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((root / released_path(name)).read_text())
    return schema


def rewrite(root: Path, name: str, schema: dict[str, Any]) -> None:
    (root / released_path(name)).write_text(json.dumps(schema, indent=2) + "\n")


@pytest.fixture
def released_tree(tmp_path: Path) -> Path:
    """A repository whose schemas are all released as the code stands."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    release.release(tmp_path)
    return tmp_path


def test_a_first_release_records_every_event_type_and_the_envelope(released_tree: Path) -> None:
    names = sorted(p.name for p in (released_tree / release.RELEASED_DIR).iterdir())
    assert f"{StockMoved.event_type}.schema.json" in names
    assert f"{ENVELOPE}.schema.json" in names
    assert len(names) == 8
    assert (released_tree / "schemas/events" / f"{StockMoved.event_type}.schema.json").is_file()
    check = compare(released_tree)
    assert check.compatible
    assert check.unreleased == []
    assert release.release(released_tree) == [], "a second release changes nothing"


def test_a_field_the_baseline_lacks_is_a_compatible_change_to_release(
    released_tree: Path,
) -> None:
    older = baseline(released_tree, StockMoved.event_type)
    del older["properties"]["reason"]  # as if reason had been added since the release
    rewrite(released_tree, StockMoved.event_type, older)

    check = compare(released_tree)
    assert check.compatible
    assert check.unreleased == [StockMoved.event_type]
    assert release.release(released_tree) == [released_tree / released_path(StockMoved.event_type)]
    assert "reason" in baseline(released_tree, StockMoved.event_type)["properties"]


def test_a_breaking_change_is_refused_and_nothing_is_written(released_tree: Path) -> None:
    wider = baseline(released_tree, StockMoved.event_type)
    wider["$defs"]["MovementKind"]["enum"].append("gift")  # as if the code had dropped it
    rewrite(released_tree, StockMoved.event_type, wider)
    before = (released_tree / released_path(StockMoved.event_type)).read_text()

    with pytest.raises(release.ReleaseRefused) as refused:
        release.release(released_tree)
    assert refused.value.check.lines() == [
        f'{StockMoved.event_type}: $.kind: value "gift" removed (old events may be refused) '
        "[enum-value-removed]"
    ]
    assert (released_tree / released_path(StockMoved.event_type)).read_text() == before


def test_a_released_type_gone_from_the_code_is_breaking(released_tree: Path) -> None:
    rewrite(released_tree, "skuhub.stock-teleported.v1", {"type": "object"})
    check = compare(released_tree)
    assert [change.rule for change in check.breaking["skuhub.stock-teleported.v1"]] == [
        "event-type-removed"
    ]


def test_main_refuses_with_each_finding_and_points_to_v2(
    released_tree: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    older = baseline(released_tree, ENVELOPE)
    older["required"].remove("source")  # as if the code had made ce_source required since
    rewrite(released_tree, ENVELOPE, older)
    monkeypatch.chdir(released_tree)

    assert release.main() == 1
    err = capsys.readouterr().err
    assert f"{ENVELOPE}: $.source: now required" in err
    assert "new major version" in err


def test_the_cli_releases_and_refuses_check_with_release(
    released_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(released_tree)
    (released_tree / released_path(StockMoved.event_type)).unlink()

    both = CliRunner().invoke(app, ["schemas", "--check", "--release"])
    assert both.exit_code == 2
    assert not (released_tree / released_path(StockMoved.event_type)).exists()

    result = CliRunner().invoke(app, ["schemas", "--release"])
    assert result.exit_code == 0, result.output
    assert f"wrote {released_path(StockMoved.event_type)}" in result.output

"""constraints.txt pins every installed package, agrees with pyproject.toml and holds no URLs."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!-]+)$")
NOT_PINNED = {"skuhub", "pip", "setuptools", "wheel"}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        matched = PIN.match(line)
        assert matched, f"not a plain name==version pin: {line!r}"
        found[normalized(matched["name"])] = matched["version"]
    return found


@pytest.fixture(scope="module")
def constraints() -> dict[str, str]:
    return pins((ROOT / "constraints.txt").read_text().splitlines())


def test_pyproject_pins_agree_with_the_constraints(constraints: dict[str, str]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    # Drop extras (faststream[kafka]) and environment markers (uvloop; sys_platform != ...).
    direct = pins([re.sub(r"\[.*?\]", "", d.split(";")[0]).strip() for d in declared])
    differ = {n: (v, constraints.get(n)) for n, v in direct.items() if constraints.get(n) != v}
    assert not differ, (
        f"pyproject.toml and constraints.txt disagree (pyproject, constraints): {differ}"
    )


def test_every_installed_package_is_pinned_at_its_installed_version(
    constraints: dict[str, str],
) -> None:
    installed = {
        normalized(d.metadata["Name"]): d.version
        for d in metadata.distributions()
        if normalized(d.metadata["Name"]) not in NOT_PINNED
    }
    missing = {n: v for n, v in installed.items() if constraints.get(n) != v}
    assert not missing, (
        f"installed but not pinned (or at another version) in constraints.txt: {missing}; "
        "run `make constraints`"
    )

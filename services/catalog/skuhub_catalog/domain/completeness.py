"""Families and completeness: what a product needs before a channel can show it.

Pure Python. A family names, per channel, the attributes a product of the family must have
there. ``title`` and ``description`` are required per locale of the channel; any other
attribute is required once (attributes do not vary by locale yet). A value counts when it is
set and not empty (not null, "", [] or {}). Completeness per channel x locale is the share of
requirements met, with the list of what is missing, computed on every save of the product
(and of its family), never by a batch job.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from skuhub_catalog.domain.attributes import Attribute
from skuhub_catalog.domain.product import (
    CatalogError,
    Completeness,
    Product,
    check_expected_version,
    merge_patch,
)

LOCALISED: Final = frozenset({"title", "description"})
"""Requirements met per locale: the product's own fields kept per locale."""


class FamilyNotFoundError(CatalogError):
    """No family has this code."""


class FamilyExistsError(CatalogError):
    """A family with this code exists already."""


class InvalidFamilyError(CatalogError):
    """The family's requirements name an attribute it does not hold, or a channel the
    catalog does not know."""


@dataclass(frozen=True, slots=True)
class Condition:
    """A value that makes more attributes required: when ``attribute`` equals ``equals``
    (hazardous = true), ``require`` (UN number, safety data sheet) joins the requirements of
    every channel the family has requirements for."""

    attribute: str
    equals: Any
    require: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Family:
    """A kind of product: its attributes, and per channel the ones a product needs there."""

    code: str
    version: int
    updated_at: datetime
    labels: Mapping[str, str] = field(default_factory=dict)
    attributes: tuple[str, ...] = ()
    requirements: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class NewFamily:
    code: str
    labels: Mapping[str, str] = field(default_factory=dict)
    attributes: tuple[str, ...] = ()
    requirements: Mapping[str, Sequence[str]] = field(default_factory=dict)
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class FamilyChange:
    """Labels merge per locale; ``attributes`` and each channel's requirements, when sent,
    replace what was there (a channel mapped to None or [] requires nothing)."""

    labels: Mapping[str, str | None] = field(default_factory=dict)
    attributes: tuple[str, ...] | None = None
    requirements: Mapping[str, Sequence[str] | None] = field(default_factory=dict)
    conditions: tuple[Condition, ...] | None = None
    """Replaces the whole list when sent (``()``: none)."""

    @property
    def is_empty(self) -> bool:
        unchanged = self.attributes is None and self.conditions is None
        return unchanged and not self.labels and not self.requirements


def new_family(data: NewFamily, channels: Mapping[str, Sequence[str]], *, now: datetime) -> Family:
    """A family at version 1 (``channels``: each channel the catalog knows and its locales).

    Raises:
        InvalidFamilyError: naming the requirement that is not in the family or the channel
            that is unknown.
    """
    family = Family(
        code=data.code,
        version=1,
        updated_at=now,
        labels=dict(data.labels),
        attributes=_unique(data.attributes, "attributes"),
        requirements={
            ch: _unique(req, f"requirements.{ch}") for ch, req in data.requirements.items() if req
        },
        conditions=tuple(data.conditions),
    )
    _check(family, channels)
    return family


def apply_family_change(
    family: Family,
    change: FamilyChange,
    channels: Mapping[str, Sequence[str]],
    *,
    now: datetime,
    expected_version: int | None = None,
) -> Family:
    """The family after ``change``: the next version, or ``family`` itself if nothing differs.

    Raises:
        VersionConflictError, InvalidFamilyError.
    """
    check_expected_version(f"family {family.code}", family.version, expected_version)
    requirements = dict(family.requirements)
    for channel, required in change.requirements.items():
        if required:
            requirements[channel] = _unique(required, f"requirements.{channel}")
        else:
            requirements.pop(channel, None)
    changed = dataclasses.replace(
        family,
        labels=merge_patch(family.labels, change.labels),
        attributes=(
            family.attributes
            if change.attributes is None
            else _unique(change.attributes, "attributes")
        ),
        requirements=requirements,
        conditions=family.conditions if change.conditions is None else tuple(change.conditions),
    )
    if changed == family:
        return family
    _check(changed, channels)
    return dataclasses.replace(changed, version=family.version + 1, updated_at=now)


def completeness(
    product: Product,
    family: Family | None,
    channels: Mapping[str, Sequence[str]],
    definitions: Mapping[str, Attribute] | None = None,
) -> tuple[Completeness, ...]:
    """Per channel the family requires something for, and per locale of that channel: what
    the (resolved) product misses. Empty without a family. A localizable or scopable
    attribute (``definitions``) counts only with a value for that locale and channel."""
    if family is None:
        return ()
    found: list[Completeness] = []
    triggered = [
        name
        for condition in family.conditions
        if product.attributes.get(condition.attribute) == condition.equals
        for name in condition.require
    ]
    for channel, base in sorted(family.requirements.items()):
        required = tuple(dict.fromkeys([*base, *triggered]))
        for locale in channels.get(channel, ()):
            missing = tuple(
                name
                for name in required
                if not _has(product, name, channel, locale, definitions or {})
            )
            found.append(Completeness(channel, locale, len(required), missing))
    return tuple(found)


def _has(
    product: Product, name: str, channel: str, locale: str, definitions: Mapping[str, Attribute]
) -> bool:
    if name == "title":
        return bool(product.title.get(locale, "").strip())
    if name == "description":
        return bool(product.description.get(locale, "").strip())
    value = product.attributes.get(name)
    definition = definitions.get(name)
    if definition is not None:
        value = definition.value_in(value, channel, locale)
    return _filled(value)


def _filled(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (list, dict)):
        return bool(value)
    return True


def _check(family: Family, channels: Mapping[str, Sequence[str]]) -> None:
    held = set(family.attributes) | LOCALISED
    for index, condition in enumerate(family.conditions):
        for name in (condition.attribute, *condition.require):
            if name not in held:
                raise InvalidFamilyError(
                    f"condition {index} names {name}, which is not an attribute of family "
                    f"{family.code}: add it to attributes first",
                    field=f"conditions.{index}",
                )
    for channel, required in family.requirements.items():
        if channel not in channels:
            raise InvalidFamilyError(
                f"no channel {channel}: the catalog knows {', '.join(sorted(channels)) or 'none'} "
                "(SKUHUB_CHANNELS)",
                field=f"requirements.{channel}",
            )
        for name in required:
            if name not in held:
                raise InvalidFamilyError(
                    f"{name} is required in channel {channel} but is not an attribute of "
                    f"family {family.code}: add it to attributes first",
                    field=f"requirements.{channel}",
                )


def _unique(names: Sequence[str], field_name: str) -> tuple[str, ...]:
    if len(set(names)) != len(names):
        raise InvalidFamilyError(f"list each attribute once in {field_name}", field=field_name)
    return tuple(names)

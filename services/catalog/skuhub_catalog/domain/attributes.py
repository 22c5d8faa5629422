"""Attribute definitions: what each attribute's values may be.

Pure Python. An attribute has a type, and the type says which values it takes; a value
against the rules is refused with the attribute and the rule. Units of measurements are
UN/ECE codes (skuhub_contracts.units) checked with pint against the attribute's unit family;
currencies are ISO 4217 codes (babel).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from typing import Any, Final

from skuhub_catalog.domain.product import CatalogError, check_expected_version, merge_patch
from skuhub_contracts.identifiers import known_locale
from skuhub_contracts.units import DIMENSIONS, dimension_of

TEXT_MAX: Final = 255
TEXTAREA_MAX: Final = 65_535


class AttributeType(StrEnum):
    IDENTIFIER = "identifier"
    TEXT = "text"
    TEXTAREA = "textarea"
    NUMBER = "number"
    MEASUREMENT = "measurement"
    BOOLEAN = "boolean"
    DATE = "date"
    SIMPLE_SELECT = "simple_select"
    MULTI_SELECT = "multi_select"
    PRICE_COLLECTION = "price_collection"
    ASSET = "asset"
    PRODUCT_REFERENCE = "product_reference"
    TABLE = "table"


class ColumnType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"


class AttributeNotFoundError(CatalogError):
    """No attribute has this code."""


class AttributeExistsError(CatalogError):
    """An attribute with this code exists already."""


class InvalidAttributeError(CatalogError):
    """The definition is inconsistent (a measurement without a unit family, a select
    without options, a pattern that does not compile)."""


@dataclass(frozen=True, slots=True)
class Option:
    code: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Column:
    code: str
    type: ColumnType


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute definition at one version. ``type`` is fixed once created."""

    code: str
    type: AttributeType
    version: int
    updated_at: datetime
    labels: Mapping[str, str] = field(default_factory=dict)
    group: str | None = None
    max_length: int | None = None
    pattern: str | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    decimals: bool = True
    unit_family: str | None = None
    options: tuple[Option, ...] = ()
    columns: tuple[Column, ...] = ()
    localizable: bool = False
    """Its value is one per locale: ``{"en_US": …, "de_DE": …}``."""
    scopable: bool = False
    """Its value is one per channel: ``{"web": …}``; with ``localizable`` too,
    ``{"web": {"en_US": …}}``."""

    def value_in(self, value: Any, channel: str, locale: str) -> Any:
        """The value a product holds for ``channel`` in ``locale`` (None: none)."""
        if self.scopable:
            value = value.get(channel) if isinstance(value, dict) else None
        if self.localizable:
            value = value.get(locale) if isinstance(value, dict) else None
        return value


@dataclass(frozen=True, slots=True)
class AttributeChange:
    """Labels merge per locale; the rest, when sent, replaces (``options`` whole)."""

    labels: Mapping[str, str | None] = field(default_factory=dict)
    group: str | None = None
    options: tuple[Option, ...] | None = None

    @property
    def is_empty(self) -> bool:
        return not self.labels and self.group is None and self.options is None


def new_attribute(attribute: Attribute) -> Attribute:
    """``attribute`` once its definition is consistent for its type.

    Raises:
        InvalidAttributeError: naming the field to fix.
    """
    kind = attribute.type
    if kind is AttributeType.MEASUREMENT and attribute.unit_family not in DIMENSIONS:
        raise InvalidAttributeError(
            f"a measurement needs unit_family, one of {', '.join(DIMENSIONS)}",
            field="unit_family",
        )
    if kind in (AttributeType.SIMPLE_SELECT, AttributeType.MULTI_SELECT):
        _check_options(attribute.options)
    if kind is AttributeType.TABLE and not attribute.columns:
        raise InvalidAttributeError("a table needs at least one column", field="columns")
    if attribute.pattern is not None:
        try:
            re.compile(attribute.pattern)
        except re.error as error:
            raise InvalidAttributeError(
                f"pattern does not compile: {error}", field="pattern"
            ) from error
    if (
        attribute.minimum is not None
        and attribute.maximum is not None
        and attribute.minimum > attribute.maximum
    ):
        raise InvalidAttributeError("minimum is above maximum", field="minimum")
    return attribute


def apply_attribute_change(
    attribute: Attribute,
    change: AttributeChange,
    *,
    now: datetime,
    expected_version: int | None = None,
) -> Attribute:
    """The attribute after ``change``: the next version, or itself if nothing differs.
    Options can be added or relabelled; values already stored are not re-checked.

    Raises:
        VersionConflictError, InvalidAttributeError.
    """
    check_expected_version(f"attribute {attribute.code}", attribute.version, expected_version)
    changed = dataclasses.replace(
        attribute,
        labels=merge_patch(attribute.labels, change.labels),
        group=attribute.group if change.group is None else change.group,
        options=attribute.options if change.options is None else change.options,
    )
    if changed == attribute:
        return attribute
    new_attribute(changed)
    return dataclasses.replace(changed, version=attribute.version + 1, updated_at=now)


def broken_rule(attribute: Attribute, value: Any) -> str | None:
    """Why ``value`` is not a value of ``attribute`` (None: it is). A null value is no
    value: it is always taken (it clears the attribute, or its value in one locale or
    channel). A scopable attribute takes a value per channel code, a localizable one per
    locale CLDR knows, each checked by the attribute's type."""
    return _scoped(attribute, value, by_channel=attribute.scopable)


def _scoped(attribute: Attribute, value: Any, *, by_channel: bool) -> str | None:
    if value is None:
        return None
    if by_channel:
        if not isinstance(value, dict) or not value:
            return 'must be values per channel, e.g. {"web": …}'
        for channel, inner in value.items():
            if not _CHANNEL.fullmatch(channel):
                return f"has a key {channel!r} that is not a channel code (web, pos)"
            broken = _scoped(attribute, inner, by_channel=False)
            if broken is not None:
                return f"in channel {channel} {broken}"
        return None
    if attribute.localizable:
        if not isinstance(value, dict) or not value:
            return 'must be values per locale, e.g. {"en_US": …}'
        for locale, inner in value.items():
            if not known_locale(locale):
                return f"has a key {locale!r} that is not a locale CLDR knows (en_US, de_DE)"
            broken = _CHECKS[attribute.type](attribute, inner) if inner is not None else None
            if broken is not None:
                return f"in {locale} {broken}"
        return None
    return _CHECKS[attribute.type](attribute, value)


_CHANNEL: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _text(attribute: Attribute, value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be text"
    default = TEXTAREA_MAX if attribute.type is AttributeType.TEXTAREA else TEXT_MAX
    limit = attribute.max_length or default
    if len(value) > limit:
        return f"must be at most {limit} characters, not {len(value)}"
    if attribute.type is not AttributeType.TEXTAREA and ("\n" in value or "\r" in value):
        return "must be one line"
    if attribute.pattern is not None and not re.fullmatch(attribute.pattern, value):
        return f"must match {attribute.pattern}"
    return None


def _number(attribute: Attribute, value: Any) -> str | None:
    number = _decimal(value)
    if number is None:
        return "must be a number"
    if not attribute.decimals and number != number.to_integral_value():
        return "must be a whole number"
    if attribute.minimum is not None and number < attribute.minimum:
        return f"must be at least {attribute.minimum}"
    if attribute.maximum is not None and number > attribute.maximum:
        return f"must be at most {attribute.maximum}"
    return None


def _measurement(attribute: Attribute, value: Any) -> str | None:
    if not isinstance(value, dict) or set(value) != {"amount", "unit"}:
        return 'must be {"amount": number, "unit": UN/ECE code}'
    broken = _number(attribute, value["amount"])
    if broken is not None:
        return f"amount {broken}"
    unit = value["unit"]
    family = dimension_of(unit) if isinstance(unit, str) else None
    if family != attribute.unit_family:
        return f"unit {unit} is not a unit of {attribute.unit_family} (UN/ECE code, e.g. " + (
            _EXAMPLE_UNITS.get(attribute.unit_family or "", "KGM") + ")"
        )
    return None


def _boolean(attribute: Attribute, value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _date(attribute: Attribute, value: Any) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            date.fromisoformat(value)
            return None
        except ValueError:
            pass
    return "must be a date YYYY-MM-DD"


def _simple_select(attribute: Attribute, value: Any) -> str | None:
    codes = [o.code for o in attribute.options]
    if value not in codes:
        return f"must be one of the options {', '.join(codes)}"
    return None


def _multi_select(attribute: Attribute, value: Any) -> str | None:
    codes = {o.code for o in attribute.options}
    if not isinstance(value, list) or len(set(map(str, value))) != len(value):
        return "must be a list of option codes, each once"
    unknown = [v for v in value if v not in codes]
    if unknown:
        return f"has no option {unknown[0]}; options are {', '.join(sorted(codes))}"
    return None


def _price_collection(attribute: Attribute, value: Any) -> str | None:
    if not isinstance(value, dict) or not value:
        return 'must be amounts per currency, e.g. {"EUR": "9.99"}'
    for currency, amount in value.items():
        if currency not in _currencies():
            return f"{currency} is not an ISO 4217 currency code"
        number = _decimal(amount)
        if number is None or number < 0:
            return f"the {currency} amount must be a number of at least 0"
    return None


def _reference(attribute: Attribute, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip() or "\n" in value:
        return "must be one line of text naming it"
    return None


def _table(attribute: Attribute, value: Any) -> str | None:
    if not isinstance(value, list):
        return "must be a list of rows"
    columns = {c.code: c.type for c in attribute.columns}
    for index, row in enumerate(value):
        if not isinstance(row, dict):
            return f"row {index} must be an object of columns"
        unknown = set(row) - set(columns)
        if unknown:
            return (
                f"row {index} has no column {sorted(unknown)[0]}; columns are {', '.join(columns)}"
            )
        for code, cell in row.items():
            if cell is None:
                continue
            expected = columns[code]
            if expected is ColumnType.NUMBER and _decimal(cell) is None:
                return f"row {index}, column {code} must be a number"
            if expected is ColumnType.BOOLEAN and not isinstance(cell, bool):
                return f"row {index}, column {code} must be true or false"
            if expected is ColumnType.TEXT and not isinstance(cell, str):
                return f"row {index}, column {code} must be text"
    return None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def _check_options(options: tuple[Option, ...]) -> None:
    if not options:
        raise InvalidAttributeError("a select needs at least one option", field="options")
    codes = [o.code for o in options]
    if len(set(codes)) != len(codes):
        raise InvalidAttributeError("each option code once", field="options")


@cache
def _currencies() -> frozenset[str]:
    from babel.numbers import list_currencies

    return frozenset(list_currencies())


_EXAMPLE_UNITS: Final = {"mass": "KGM", "volume": "LTR", "length": "MMT", "area": "MTK"}
_CHECKS: Final = {
    AttributeType.IDENTIFIER: _text,
    AttributeType.TEXT: _text,
    AttributeType.TEXTAREA: _text,
    AttributeType.NUMBER: _number,
    AttributeType.MEASUREMENT: _measurement,
    AttributeType.BOOLEAN: _boolean,
    AttributeType.DATE: _date,
    AttributeType.SIMPLE_SELECT: _simple_select,
    AttributeType.MULTI_SELECT: _multi_select,
    AttributeType.PRICE_COLLECTION: _price_collection,
    AttributeType.ASSET: _reference,
    AttributeType.PRODUCT_REFERENCE: _reference,
    AttributeType.TABLE: _table,
}

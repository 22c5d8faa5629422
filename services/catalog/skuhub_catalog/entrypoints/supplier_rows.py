"""Translation at the edge: one supplier row's cells become the catalog fields it fills.

Cells come as text (CSV), JSON values (JSON Lines) or spreadsheet values (XLSX: numbers,
booleans, dates). Each is checked like the same field sent over HTTP (a SKU, a GTIN's
check digit, a locale's title) and typed by the attribute's definition (a number, a
measurement in the mapping's unit, a price in its currency, options split by the
separator). Every cell that cannot be read is a problem naming its column; an empty cell
fills nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError

from skuhub_catalog.domain.attributes import Attribute, AttributeType
from skuhub_catalog.domain.imports import ColumnRule, ImportMapping, ImportRow, RowProblem
from skuhub_catalog.domain.product import ProductStatus
from skuhub_contracts.events import CategoryCode, Description, Family, ShelfLifeDays, Title
from skuhub_contracts.identifiers import Gtin, Sku, UnitCode
from skuhub_contracts.values import PositiveQuantity

_TRUE: Final = frozenset({"true", "yes", "y", "1", "x", "ja", "oui"})
_FALSE: Final = frozenset({"false", "no", "n", "0", "", "nein", "non"})
DEFAULT_COLUMN: Final = "(default)"
"""The column a problem names when a mapping's default value is at fault."""


class CellError(ValueError):
    """A cell that cannot be read for its field; the message says why."""


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


@cache
def _check_of(kind: Any) -> Callable[[Any], Any]:
    """A value checked as ``kind``, or a CellError with pydantic's message (the validator
    looked up once per type)."""
    validate = _adapter(kind).validate_python

    def check(value: Any) -> Any:
        try:
            return validate(value)
        except ValidationError as exc:
            raise CellError(exc.errors()[0]["msg"]) from None

    return check


def missing_columns(mapping: ImportMapping, header: Iterable[str]) -> list[str]:
    """The mapped columns (and unit columns) a file's header lacks."""
    have = set(header)
    wanted = [r.column for r in mapping.columns] + [
        r.unit_column for r in mapping.columns if r.unit_column is not None
    ]
    return [c for c in dict.fromkeys(wanted) if c not in have]


RowReader = Callable[[int, Mapping[str, Any]], tuple[ImportRow | None, list[RowProblem]]]
"""Reads one row (its number, its cells by column) into its fields, or its problems."""


def read_row(
    mapping: ImportMapping,
    number: int,
    cells: Mapping[str, Any],
    definitions: Mapping[str, Attribute],
) -> tuple[ImportRow | None, list[RowProblem]]:
    """Row ``number``'s fields, or the problems of each cell that cannot be read."""
    return row_reader(mapping, definitions)(number, cells)


Reader = Callable[[Any, Mapping[str, Any]], Any]
"""A cell's value for its field (given the raw cell and the row's cells), or CellError."""
Putter = Callable[[dict[str, Any], Any], None]


@dataclass(frozen=True, slots=True)
class _Column:
    """One rule of a mapping, worked out once per file: where its cell is, how its value is
    read and where in the row's fields it goes."""

    column: str
    to: str
    read: Reader
    put: Putter


def row_reader(mapping: ImportMapping, definitions: Mapping[str, Attribute]) -> RowReader:
    """:func:`read_row` for every row of one file: what each rule needs (its field's kind
    and key, its check, its unit, its definition) is looked up once, not once per cell."""
    plan = [
        _Column(rule.column, rule.to, _reader(rule, mapping, definitions), _putter(rule))
        for rule in mapping.columns
    ]
    defaults = [
        (_Column(DEFAULT_COLUMN, name, _reader(rule, mapping, definitions), _putter(rule)), value)
        for name, value in mapping.defaults.items()
        for rule in (ColumnRule(column=DEFAULT_COLUMN, to=name),)
    ]

    def read(number: int, cells: Mapping[str, Any]) -> tuple[ImportRow | None, list[RowProblem]]:
        fields: dict[str, Any] = {}
        columns: dict[str, str] = {}
        problems: list[RowProblem] = []

        def filled() -> Iterator[tuple[_Column, Any]]:
            """Each rule with its cell, then each default whose field no cell filled."""
            for entry in plan:
                raw = _cell(cells.get(entry.column))
                if raw is not None:
                    yield entry, raw
            for entry, default in defaults:
                if entry.to not in columns:
                    yield entry, _cell(default)

        for entry, raw in filled():
            try:
                value = entry.read(raw, cells)
            except CellError as exc:
                problems.append(RowProblem(number, entry.column, entry.to, str(exc)))
                continue
            entry.put(fields, value)
            columns[entry.to] = entry.column
        sku = fields.pop("sku", None)
        if sku is None and not any(p.field == "sku" for p in problems):
            sku_rule = next(r for r in mapping.columns if r.to == "sku")
            problems.append(RowProblem(number, sku_rule.column, "sku", "a row needs a SKU"))
        if problems:
            return None, problems
        return ImportRow(number, sku, fields, columns), []

    return read


def _cell(raw: Any) -> Any:
    """The cell's value, None when it is empty."""
    if isinstance(raw, str):
        raw = raw.strip()
        return raw or None
    return raw


def _putter(rule: ColumnRule) -> Putter:
    """Where a rule's value goes in the row's fields: a field of its own, or a key of a map
    field (a value of a scopable or localizable attribute under its channel and locale)."""
    target, key = rule.to, rule.key
    if key is None:

        def put_field(fields: dict[str, Any], value: Any) -> None:
            fields[target] = value

        return put_field
    kind = rule.kind
    steps: list[str] = []
    for scope in (rule.channel, rule.locale):
        if scope is not None:
            steps.append(key)
            key = scope
    if not steps and rule.currency is None:

        def put_key(fields: dict[str, Any], value: Any) -> None:
            fields.setdefault(kind, {})[key] = value

        return put_key
    last, merged = key, rule.currency is not None

    def put_scoped(fields: dict[str, Any], value: Any) -> None:
        into = fields.setdefault(kind, {})
        for step in steps:
            into = into.setdefault(step, {})
        if merged:
            into.setdefault(last, {}).update(value)
        else:
            into[last] = value

    return put_scoped


def _reader(
    rule: ColumnRule, mapping: ImportMapping, definitions: Mapping[str, Attribute]
) -> Reader:
    """How one rule's cell is read for its field, with what that needs (its check, its
    attribute's definition) looked up once per file, not once per cell."""
    kind = rule.kind
    if kind == "attributes":
        definition = definitions.get(rule.key or "")
        return lambda raw, cells: _attribute(rule, raw, cells, mapping, definition)
    if kind == "unit":
        unit = _check_of(UnitCode)
        return lambda raw, cells: unit(mapping.units.get(_text(raw), _text(raw)))
    if kind == "packs":
        quantity = _check_of(PositiveQuantity)
        return lambda raw, cells: quantity(_text(raw))
    if kind == "lot_tracked":
        return lambda raw, cells: _boolean(raw)
    if kind == "categories":
        code = _check_of(CategoryCode)

        def categories(raw: Any, cells: Mapping[str, Any]) -> Any:
            codes = raw if isinstance(raw, list) else _split(_text(raw), rule.separator)
            return [code(each) for each in codes]

        return categories
    check = _check_of(_SCALAR_TYPES[kind])
    if kind == "shelf_life_days":
        return lambda raw, cells: check(_whole(raw))
    return lambda raw, cells: check(_text(raw))


_SCALAR_TYPES: Final[Mapping[str, Any]] = {
    "sku": Sku,
    "gtin": Gtin,
    "family": Family,
    "product_model": Sku,
    "status": ProductStatus,
    "shelf_life_days": ShelfLifeDays,
    "title": Title,
    "description": Description,
}


def _attribute(
    rule: ColumnRule,
    raw: Any,
    cells: Mapping[str, Any],
    mapping: ImportMapping,
    definition: Attribute | None,
) -> Any:
    if rule.currency is not None:
        return {rule.currency: str(_number(raw))}
    if rule.unit is not None or rule.unit_column is not None:
        word = rule.unit if rule.unit is not None else _cell(cells.get(rule.unit_column or ""))
        if word is None:
            raise CellError(f"no unit: the unit column {rule.unit_column} is empty")
        return {"amount": _json_number(_number(raw)), "unit": mapping.units.get(word, word)}
    if definition is None:
        return _plain(raw)
    return _TYPED.get(definition.type, _as_text)(raw, rule)


def _as_text(raw: Any, rule: ColumnRule) -> Any:
    if isinstance(raw, bool):
        raise CellError("must be text")
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return _plain(raw) if not isinstance(raw, int | float) else str(raw)


def _as_number(raw: Any, rule: ColumnRule) -> Any:
    return _json_number(_number(raw))


def _as_boolean(raw: Any, rule: ColumnRule) -> Any:
    return _boolean(raw)


def _as_date(raw: Any, rule: ColumnRule) -> Any:
    if isinstance(raw, datetime):
        return raw.date().isoformat()
    if isinstance(raw, date):
        return raw.isoformat()
    return _text(raw)


def _as_list(raw: Any, rule: ColumnRule) -> Any:
    return raw if isinstance(raw, list) else _split(_text(raw), rule.separator)


def _as_json(raw: Any, rule: ColumnRule) -> Any:
    if isinstance(raw, list | dict):
        return raw
    try:
        return json.loads(_text(raw))
    except json.JSONDecodeError:
        raise CellError("must be JSON (a table's rows, or amounts per currency)") from None


_TYPED: Final[Mapping[AttributeType, Callable[[Any, ColumnRule], Any]]] = {
    AttributeType.NUMBER: _as_number,
    AttributeType.BOOLEAN: _as_boolean,
    AttributeType.DATE: _as_date,
    AttributeType.MULTI_SELECT: _as_list,
    AttributeType.TABLE: _as_json,
    AttributeType.PRICE_COLLECTION: _as_json,
    AttributeType.MEASUREMENT: _as_json,
}


def _plain(raw: Any) -> Any:
    """A value as JSON holds it (a spreadsheet's date as ISO 8601 text)."""
    if isinstance(raw, datetime | date):
        return raw.isoformat()
    return raw


def _text(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))  # a spreadsheet's 4006381333931.0
    return str(raw)


def _split(text: str, separator: str) -> list[str]:
    return [part.strip() for part in text.split(separator) if part.strip()]


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    word = _text(raw).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise CellError(f"must be true or false (yes/no, 1/0), not {_text(raw)!r}")


def _number(raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise CellError("must be a number, not true/false")
    try:
        number = Decimal(_text(raw))
    except InvalidOperation:
        raise CellError(f"must be a number, not {_text(raw)!r}") from None
    if not number.is_finite():
        raise CellError(f"must be a number, not {_text(raw)!r}")
    return number


def _whole(raw: Any) -> int:
    number = _number(raw)
    if number != number.to_integral_value():
        raise CellError(f"must be a whole number, not {number}")
    return int(number)


def _json_number(number: Decimal) -> int | float:
    """A number as a JSON number: whole ones as integers."""
    return int(number) if number == number.to_integral_value() else float(number)

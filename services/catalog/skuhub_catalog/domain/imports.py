"""Supplier file imports: the saved mapping from a supplier's columns (and unit words) to
catalog fields, the rows it turns a file into, and what an import reports.

Pure Python. A mapping names, per supplier column, the field it fills (``sku``,
``title.de_DE``, ``attributes.weight`` …), and for measurements and prices what the
column's numbers are in. A row fills only the fields its cells have: an empty cell
leaves the product's value as it is, so re-running a file changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from skuhub_catalog.domain.product import (
    UNSET,
    CatalogError,
    NewProduct,
    ProductChange,
    ProductStatus,
)

MAX_COLUMNS: Final = 500
SCALAR_TARGETS: Final = frozenset(
    {
        "sku",
        "gtin",
        "family",
        "product_model",
        "status",
        "unit",
        "lot_tracked",
        "shelf_life_days",
        "categories",
    }
)
MAP_TARGETS: Final = frozenset({"title", "description", "attributes", "packs"})
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


class FileFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    XLSX = "xlsx"


class InvalidMappingError(CatalogError):
    """The mapping names a field the catalog does not have, or names one twice."""


class MappingNotFoundError(CatalogError):
    """No mapping has this code."""


class ImportNotFoundError(CatalogError):
    """No import job has this id."""


@dataclass(frozen=True, slots=True)
class ColumnRule:
    """Which field one supplier column fills.

    ``unit`` (a word of the supplier's, or a UN/ECE code) or ``unit_column`` (a column
    naming each row's unit) say what a measurement's numbers are in; ``currency`` (ISO
    4217) what a price column's are in; ``separator`` splits a cell into a list
    (categories, multi-select options); ``locale`` and ``channel`` say which value of a
    localizable or scopable attribute the column holds.
    """

    column: str
    to: str
    unit: str | None = None
    unit_column: str | None = None
    currency: str | None = None
    separator: str = "|"
    locale: str | None = None
    channel: str | None = None
    """A localizable or scopable attribute's locale and channel this column holds."""

    @property
    def kind(self) -> str:
        """The field's first part: ``sku``, ``title``, ``attributes`` …"""
        return self.to.split(".", 1)[0]

    @property
    def key(self) -> str | None:
        """The key within a map field (the locale, attribute or pack unit), if any."""
        return self.to.split(".", 1)[1] if "." in self.to else None


@dataclass(frozen=True, slots=True)
class ImportMapping:
    """A supplier's columns and unit words, mapped to the catalog's fields."""

    code: str
    columns: tuple[ColumnRule, ...]
    units: Mapping[str, str] = field(default_factory=dict)
    """The supplier's unit words and the UN/ECE codes they mean (``{"lb": "LBR"}``)."""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    """Values every row gets where its cells leave the field empty (``{"family": …}``)."""
    version: int = 1
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why one row of a file did not go in: the row (1 = the first data row), the
    supplier's column when one is to blame, the catalog field, and what is wrong."""

    row: int
    column: str | None
    field: str | None
    message: str


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One row, read: the SKU, the fields its cells fill (maps as partial maps) and which
    column filled each field (to name it in a problem)."""

    row: int
    sku: str
    fields: Mapping[str, Any]
    columns: Mapping[str, str]

    def column_of(self, field_name: str | None) -> str | None:
        """The supplier column behind a catalog field (``attributes.weight``), if any."""
        if field_name is None:
            return None
        if field_name in self.columns:
            return self.columns[field_name]
        kind = field_name.split(".", 1)[0]
        return next((c for f, c in self.columns.items() if f.split(".", 1)[0] == kind), None)


@dataclass(slots=True)
class ImportCounts:
    """What an import did so far."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    """Rows that did not go in."""
    problems: int = 0
    """Problems recorded (a row can have several)."""

    def add(self, other: ImportCounts) -> None:
        self.rows += other.rows
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed += other.failed
        self.problems += other.problems


def check_mapping(mapping: ImportMapping) -> ImportMapping:
    """``mapping`` once it is one the catalog can follow.

    Raises:
        InvalidMappingError: ``field`` names the rule or default at fault.
    """
    if not mapping.columns or len(mapping.columns) > MAX_COLUMNS:
        raise InvalidMappingError(
            f"a mapping maps 1 to {MAX_COLUMNS} columns, not {len(mapping.columns)}",
            field="columns",
        )
    seen_columns: set[str] = set()
    seen_targets: set[tuple[str, str | None, str | None, str | None]] = set()
    for index, rule in enumerate(mapping.columns):
        where = f"columns[{index}]"
        _check_target(rule.to, f"{where}.to")
        if rule.column in seen_columns:
            raise InvalidMappingError(
                f"column {rule.column!r} is mapped twice: map each supplier column once",
                field=f"{where}.column",
            )
        seen_columns.add(rule.column)
        target = (rule.to, rule.currency, rule.channel, rule.locale)
        if target in seen_targets:
            in_ = " ".join(x for x in target[1:] if x)
            raise InvalidMappingError(
                f"two columns fill {rule.to}"
                + (f" ({in_})" if in_ else "")
                + ": map one column to each field",
                field=f"{where}.to",
            )
        seen_targets.add(target)
        qualified = (rule.unit, rule.unit_column, rule.currency, rule.locale, rule.channel)
        if any(q is not None for q in qualified) and rule.kind != "attributes":
            raise InvalidMappingError(
                "unit, unit_column, currency, locale and channel apply to attributes "
                f"(measurements, prices, localized values) only, not to {rule.to}",
                field=where,
            )
        if rule.unit is not None and rule.unit_column is not None:
            raise InvalidMappingError(
                "give a measurement's unit or its unit_column, not both", field=where
            )
    if ("sku", None, None, None) not in seen_targets:
        raise InvalidMappingError("one column must map to sku", field="columns")
    for name in mapping.defaults:
        _check_target(name, f"defaults.{name}")
        if name == "sku":
            raise InvalidMappingError("sku cannot have a default", field="defaults.sku")
    return mapping


def _check_target(target: str, where: str) -> None:
    kind, _, key = target.partition(".")
    if kind in SCALAR_TARGETS and not key:
        return
    if kind in MAP_TARGETS and key and _KEY.match(key):
        return
    raise InvalidMappingError(
        f"{target!r} is not a catalog field: map to one of {', '.join(sorted(SCALAR_TARGETS))}, "
        "or title.<locale>, description.<locale>, attributes.<code>, packs.<unit>",
        field=where,
    )


def new_product_of(row: ImportRow) -> NewProduct:
    """The product a row creates: what its cells fill, the rest left at the defaults."""
    fields = row.fields
    return NewProduct(
        sku=row.sku,
        title=fields.get("title", {}),
        status=fields.get("status", ProductStatus.DRAFT),
        gtin=fields.get("gtin"),
        family=fields.get("family"),
        product_model=fields.get("product_model"),
        unit=fields.get("unit", "EA"),
        description=fields.get("description", {}),
        attributes=fields.get("attributes", {}),
        packs=fields.get("packs", {}),
        lot_tracked=fields.get("lot_tracked", False),
        shelf_life_days=fields.get("shelf_life_days"),
        categories=tuple(fields.get("categories", ())),
    )


def change_of(row: ImportRow) -> ProductChange:
    """The change a row makes to a product that exists: only what its cells fill (maps key
    by key), so a row that says what the product holds changes nothing."""
    fields = row.fields
    categories = fields.get("categories")
    return ProductChange(
        status=fields.get("status", UNSET),
        gtin=fields.get("gtin", UNSET),
        family=fields.get("family", UNSET),
        product_model=fields.get("product_model", UNSET),
        unit=fields.get("unit", UNSET),
        title=fields.get("title", {}),
        description=fields.get("description", {}),
        attributes=fields.get("attributes", {}),
        packs=fields.get("packs", {}),
        lot_tracked=fields.get("lot_tracked", UNSET),
        shelf_life_days=fields.get("shelf_life_days", UNSET),
        categories=tuple(categories) if categories is not None else UNSET,
    )


class JobStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    """The file could not be read at all (no header, a mapped column missing…)."""
    INTERRUPTED = "interrupted"
    """The service stopped mid-way: what went in stays; run the file again to finish."""


@dataclass(frozen=True, slots=True)
class ImportJob:
    """One run of a file through a mapping, and how far it got."""

    id: str
    mapping: str
    file_format: FileFormat
    file_name: str
    actor: str
    status: JobStatus
    started_at: datetime
    updated_at: datetime
    rows_total: int | None = None
    counts: ImportCounts = field(default_factory=ImportCounts)
    message: str | None = None
    """Why a failed job failed."""

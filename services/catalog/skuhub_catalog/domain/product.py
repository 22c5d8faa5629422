"""Products (SKUs) as the catalog owns them: data, status, version.

Pure Python: no I/O, no frameworks; the clock is passed in. Every change that
alters a product increments its version by one, so the product-changed
snapshots other services receive can be ordered and de-duplicated by version.
A change that alters nothing leaves the version alone (a retried PATCH is a
no-op). Deleting keeps a tombstone (``deleted``), which later snapshots carry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any, Final, TypeVar


class ProductStatus(StrEnum):
    DRAFT = "draft"
    ENABLED = "enabled"
    DISABLED = "disabled"


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
"""Marks a field a :class:`ProductChange` leaves as it is."""

T = TypeVar("T")


class CatalogError(Exception):
    """A catalog rule refused a request; ``reason`` says what to fix, ``field`` which input."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class ProductAlreadyExistsError(CatalogError):
    """A product with this SKU exists already."""


class ProductNotFoundError(CatalogError):
    """No product has this SKU."""


class VersionConflictError(CatalogError):
    """The product changed since the caller read it (optimistic concurrency)."""


class ProductDeletedError(CatalogError):
    """The product is deleted; it can be read but not changed."""


class GtinInUseError(CatalogError):
    """Another product already carries this GTIN."""


class InvalidProductError(CatalogError):
    """The product would break a catalog rule."""


@dataclass(frozen=True, slots=True)
class NewProduct:
    """What it takes to create a product; identifiers are validated at the edge."""

    sku: str
    title: Mapping[str, str]
    status: ProductStatus = ProductStatus.DRAFT
    gtin: str | None = None
    family: str | None = None
    parent_sku: str | None = None
    unit: str = "EA"
    description: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Product:
    """One product (SKU) at one version."""

    sku: str
    status: ProductStatus
    title: Mapping[str, str]
    version: int
    updated_at: datetime
    gtin: str | None = None
    family: str | None = None
    parent_sku: str | None = None
    unit: str = "EA"
    description: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class ProductChange:
    """A partial update. Scalars left ``UNSET`` stay; ``None`` clears an optional one.

    ``title``, ``description`` and ``attributes`` are merged key by key
    (JSON merge patch): a key mapped to ``None`` is removed, other keys are
    set, keys not mentioned stay.
    """

    status: ProductStatus | _Unset = UNSET
    gtin: str | _Unset | None = UNSET
    family: str | _Unset | None = UNSET
    parent_sku: str | _Unset | None = UNSET
    unit: str | _Unset = UNSET
    title: Mapping[str, str | None] = field(default_factory=dict)
    description: Mapping[str, str | None] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        scalars = (self.status, self.gtin, self.family, self.parent_sku, self.unit)
        no_maps = not (self.title or self.description or self.attributes)
        return no_maps and all(value is UNSET for value in scalars)


def new_product(data: NewProduct, *, now: datetime) -> Product:
    """A product at version 1.

    Raises:
        InvalidProductError: the product would break a catalog rule.
    """
    product = Product(
        sku=data.sku,
        status=data.status,
        title=dict(data.title),
        version=1,
        updated_at=now,
        gtin=data.gtin,
        family=data.family,
        parent_sku=data.parent_sku,
        unit=data.unit,
        description=dict(data.description),
        attributes=dict(data.attributes),
    )
    _check(product)
    return product


def apply_change(
    product: Product,
    change: ProductChange,
    *,
    now: datetime,
    expected_version: int | None = None,
) -> Product:
    """The product after ``change``: the next version, or ``product`` itself if nothing differs.

    Raises:
        VersionConflictError: ``expected_version`` is given and is not the current version.
        ProductDeletedError: the product is deleted.
        InvalidProductError: the result would break a catalog rule.
    """
    _check_writable(product, expected_version)
    changed = dataclasses.replace(
        product,
        status=_pick(change.status, product.status),
        gtin=_pick(change.gtin, product.gtin),
        family=_pick(change.family, product.family),
        parent_sku=_pick(change.parent_sku, product.parent_sku),
        unit=_pick(change.unit, product.unit),
        title=_merge(product.title, change.title),
        description=_merge(product.description, change.description),
        attributes=_merge(product.attributes, change.attributes),
    )
    if changed == product:
        return product
    _check(changed)
    return dataclasses.replace(changed, version=product.version + 1, updated_at=now)


def mark_deleted(
    product: Product, *, now: datetime, expected_version: int | None = None
) -> Product:
    """The deleted product (a tombstone at the next version).

    Raises:
        VersionConflictError: ``expected_version`` is given and is not the current version.
        ProductDeletedError: the product is deleted already.
    """
    _check_writable(product, expected_version)
    return dataclasses.replace(product, deleted=True, version=product.version + 1, updated_at=now)


def _check_writable(product: Product, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != product.version:
        raise VersionConflictError(
            f"product {product.sku} is at version {product.version}, not {expected_version}; "
            "read it again and re-apply your change"
        )
    if product.deleted:
        raise ProductDeletedError(f"product {product.sku} is deleted and cannot be changed")


def _check(product: Product) -> None:
    if product.parent_sku == product.sku:
        raise InvalidProductError(
            f"product {product.sku} cannot be its own parent_sku", field="parent_sku"
        )
    has_title = any(title.strip() for title in product.title.values())
    if product.status is ProductStatus.ENABLED and not has_title:
        raise InvalidProductError(
            f"product {product.sku} needs a title in at least one locale before it is enabled",
            field="title",
        )


def _pick(value: T | _Unset, current: T) -> T:
    return current if isinstance(value, _Unset) else value


def _merge(current: Mapping[str, T], patch: Mapping[str, T | None]) -> dict[str, T]:
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged

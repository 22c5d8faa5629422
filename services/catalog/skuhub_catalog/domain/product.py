"""Products (SKUs) as the catalog owns them: data, status, version.

Pure Python: no I/O, no frameworks; the clock is passed in. Every change that
alters a product increments its version by one, so the product-changed
snapshots other services receive can be ordered and de-duplicated by version.
A change that alters nothing leaves the version alone (a retried PATCH is a
no-op). Deleting keeps a tombstone (``deleted``), which later snapshots carry.

Besides content, a product holds the stock facts the stock service keeps its
positions by: the stock unit (``unit``), the packs it ships in and how many
stock units each holds (``packs``), whether stock carries lots
(``lot_tracked``) and how long a lot keeps (``shelf_life_days``), and what a
kit is made of (``kit_components``). ``categories`` are the category codes it is
classified in (a set, kept sorted).

A variant names its ``product_model`` (domain/product_model.py): it sets its own values
only, and inherits the rest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import Enum, StrEnum
from typing import Any, Final, TypeVar


class ProductStatus(StrEnum):
    DRAFT = "draft"
    ENABLED = "enabled"
    DISABLED = "disabled"


class WorkflowState(StrEnum):
    """Where a product's content stands on its way to the channels (domain/workflow.py)."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    PUBLISHED = "published"


class RelationKind(StrEnum):
    """How a product points at another: the related product is its accessory, its
    replacement (successor: at most one), a cross-sell or an up-sell."""

    ACCESSORY = "accessory"
    REPLACEMENT = "replacement"
    CROSS_SELL = "cross_sell"
    UP_SELL = "up_sell"


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
"""Marks a field a :class:`ProductChange` leaves as it is."""

MAX_KIT_COMPONENTS: Final = 100
MAX_CATEGORIES: Final = 100
MAX_RELATED: Final = 100
"""Related SKUs per kind of relation (a replacement names one)."""
SHELF_LIFE_DAYS_MAX: Final = 36_500

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
class KitComponent:
    """``quantity`` units (in the component's stock unit) of product ``sku`` in one kit."""

    sku: str
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class NewProduct:
    """What it takes to create a product; identifiers are validated at the edge."""

    sku: str
    title: Mapping[str, str]
    status: ProductStatus = ProductStatus.DRAFT
    gtin: str | None = None
    family: str | None = None
    product_model: str | None = None
    unit: str = "EA"
    description: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)
    packs: Mapping[str, Decimal] = field(default_factory=dict)
    lot_tracked: bool = False
    shelf_life_days: int | None = None
    kit_components: tuple[KitComponent, ...] = ()
    categories: tuple[str, ...] = ()
    relations: Mapping[RelationKind, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Completeness:
    """How complete a product is for one channel in one locale."""

    channel: str
    locale: str
    required: int
    missing: tuple[str, ...]

    @property
    def ratio(self) -> Decimal:
        """Share of requirements met, 0 to 1 with two decimals (1 when nothing is required)."""
        if self.required == 0:
            return Decimal(1)
        met = Decimal(self.required - len(self.missing)) / Decimal(self.required)
        return met.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass(frozen=True, slots=True)
class PublishedContent:
    """A product's content as the channels get it: as of ``version``, the one last published,
    resolved through its models (domain/workflow.py). Status, stock facts and relations
    are not reviewed content: they take effect at once."""

    version: int
    gtin: str | None
    title: Mapping[str, str]
    description: Mapping[str, str]
    attributes: Mapping[str, Any]
    categories: tuple[str, ...]


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
    product_model: str | None = None
    unit: str = "EA"
    description: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)
    packs: Mapping[str, Decimal] = field(default_factory=dict)
    lot_tracked: bool = False
    shelf_life_days: int | None = None
    kit_components: tuple[KitComponent, ...] = ()
    categories: tuple[str, ...] = ()
    relations: Mapping[RelationKind, tuple[str, ...]] = field(default_factory=dict)
    deleted: bool = False
    workflow: WorkflowState = WorkflowState.DRAFT
    completeness: tuple[Completeness, ...] | None = None
    """Per channel and locale, as measured when this version was saved (None: stored
    before it was kept, measured when read)."""
    published: PublishedContent | None = None
    """What the channels show: the content of the version last published, if any."""

    @property
    def published_version(self) -> int | None:
        return self.published.version if self.published is not None else None


@dataclass(frozen=True, slots=True)
class ProductChange:
    """A partial update. Scalars left ``UNSET`` stay; ``None`` clears an optional one.

    ``title``, ``description``, ``attributes`` and ``packs`` are merged key by
    key (JSON merge patch): a key mapped to ``None`` is removed, other keys are
    set, keys not mentioned stay. ``kit_components``, a list, is replaced whole.
    """

    status: ProductStatus | _Unset = UNSET
    gtin: str | _Unset | None = UNSET
    family: str | _Unset | None = UNSET
    product_model: str | _Unset | None = UNSET
    unit: str | _Unset = UNSET
    title: Mapping[str, str | None] = field(default_factory=dict)
    description: Mapping[str, str | None] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)
    packs: Mapping[str, Decimal | None] = field(default_factory=dict)
    lot_tracked: bool | _Unset = UNSET
    shelf_life_days: int | _Unset | None = UNSET
    kit_components: tuple[KitComponent, ...] | _Unset = UNSET
    categories: tuple[str, ...] | _Unset = UNSET
    relations: Mapping[RelationKind, Sequence[str] | None] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        scalars = (
            self.status,
            self.gtin,
            self.family,
            self.product_model,
            self.unit,
            self.lot_tracked,
            self.shelf_life_days,
            self.kit_components,
            self.categories,
        )
        no_maps = not (
            self.title or self.description or self.attributes or self.packs or self.relations
        )
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
        product_model=data.product_model,
        unit=data.unit,
        description=dict(data.description),
        attributes=dict(data.attributes),
        packs=dict(data.packs),
        lot_tracked=data.lot_tracked,
        shelf_life_days=data.shelf_life_days,
        kit_components=tuple(data.kit_components),
        categories=tuple(sorted(set(data.categories))),
        relations=_related(data.sku, {}, data.relations),
    )
    _check_categories(data.categories)
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
    if not isinstance(change.categories, _Unset):
        _check_categories(change.categories)
    changed = dataclasses.replace(
        product,
        status=_pick(change.status, product.status),
        gtin=_pick(change.gtin, product.gtin),
        family=_pick(change.family, product.family),
        product_model=_pick(change.product_model, product.product_model),
        unit=_pick(change.unit, product.unit),
        title=merge_patch(product.title, change.title),
        description=merge_patch(product.description, change.description),
        attributes=merge_patch(product.attributes, change.attributes),
        packs=merge_patch(product.packs, change.packs),
        lot_tracked=_pick(change.lot_tracked, product.lot_tracked),
        shelf_life_days=_pick(change.shelf_life_days, product.shelf_life_days),
        kit_components=_pick(change.kit_components, product.kit_components),
        categories=(
            product.categories
            if isinstance(change.categories, _Unset)
            else tuple(sorted(set(change.categories)))
        ),
        relations=_related(product.sku, product.relations, change.relations),
    )
    if changed == product:
        return product
    _check(changed)
    return next_version(product, changed, now=now)


def next_version(before: Product, after: Product, *, now: datetime) -> Product:
    """``after`` as the version following ``before``. A change of content (anything but
    ``status``) sends reviewed or published content back to draft: what was approved is no
    longer what the product holds. The channels keep the published version meanwhile."""
    content_changed = dataclasses.replace(after, status=before.status) != before
    workflow = WorkflowState.DRAFT if content_changed else after.workflow
    return dataclasses.replace(after, workflow=workflow, version=before.version + 1, updated_at=now)


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


def check_expected_version(what: str, version: int, expected_version: int | None) -> None:
    """Optimistic concurrency for any versioned thing (``what``: "product MUG-1").

    Raises:
        VersionConflictError: ``expected_version`` is given and is not ``version``.
    """
    if expected_version is not None and expected_version != version:
        raise VersionConflictError(
            f"{what} is at version {version}, not {expected_version}; read it again and "
            "re-apply your change"
        )


def _check_writable(product: Product, expected_version: int | None) -> None:
    check_expected_version(f"product {product.sku}", product.version, expected_version)
    if product.deleted:
        raise ProductDeletedError(f"product {product.sku} is deleted and cannot be changed")


def _check(product: Product) -> None:
    has_title = any(title.strip() for title in product.title.values())
    if product.status is ProductStatus.ENABLED and not has_title:
        raise InvalidProductError(
            f"product {product.sku} needs a title in at least one locale before it is enabled",
            field="title",
        )
    _check_stock_facts(product)


def _check_categories(listed: Sequence[str]) -> None:
    """A product's categories as sent: each once, at most MAX_CATEGORIES."""
    if len(listed) > MAX_CATEGORIES:
        raise InvalidProductError(
            f"a product is in at most {MAX_CATEGORIES} categories, not {len(listed)}",
            field="categories",
        )
    seen: set[str] = set()
    for code in listed:
        if code in seen:
            raise InvalidProductError(
                f"category {code} is listed twice: list each category once", field="categories"
            )
        seen.add(code)


def _related(
    sku: str,
    current: Mapping[RelationKind, tuple[str, ...]],
    patch: Mapping[RelationKind, Sequence[str] | None],
) -> dict[RelationKind, tuple[str, ...]]:
    """The relations after ``patch`` (a kind sent replaces that kind's list; None or an empty
    list removes it), checked: never the product itself, each SKU once, at most MAX_RELATED
    per kind, one replacement."""
    merged = dict(current)
    for kind, skus in patch.items():
        field_name = f"relations.{kind.value}"
        if not skus:
            merged.pop(kind, None)
            continue
        if sku in skus:
            raise InvalidProductError(
                f"product {sku} cannot be its own {kind.value}", field=field_name
            )
        if len(set(skus)) != len(skus):
            raise InvalidProductError(f"list each {kind.value} SKU once", field=field_name)
        limit = 1 if kind is RelationKind.REPLACEMENT else MAX_RELATED
        if len(skus) > limit:
            raise InvalidProductError(
                f"a product has at most {limit} {kind.value} SKU(s), not {len(skus)}",
                field=field_name,
            )
        merged[kind] = tuple(sorted(skus))
    return merged


def _check_stock_facts(product: Product) -> None:
    if product.unit in product.packs:
        raise InvalidProductError(
            f"{product.unit} is the stock unit (unit) of product {product.sku} and cannot also "
            f"be a pack unit: remove {product.unit} from packs (a pack holds a number of stock "
            "units), or change unit",
            field="packs",
        )
    for code, quantity in product.packs.items():
        if quantity <= 0:
            raise InvalidProductError(
                f"a {code} pack must hold more than zero {product.unit}; send a positive number",
                field="packs",
            )
    days = product.shelf_life_days
    if days is not None and not 1 <= days <= SHELF_LIFE_DAYS_MAX:
        raise InvalidProductError(
            f"shelf life must be 1 to {SHELF_LIFE_DAYS_MAX} days, not {days}",
            field="shelf_life_days",
        )
    _check_kit(product)


def _check_kit(product: Product) -> None:
    components = product.kit_components
    if len(components) > MAX_KIT_COMPONENTS:
        raise InvalidProductError(
            f"a kit holds at most {MAX_KIT_COMPONENTS} components, not {len(components)}; "
            "make it smaller",
            field="kit_components",
        )
    seen: dict[str, int] = {}
    for index, component in enumerate(components):
        if component.sku == product.sku:
            raise InvalidProductError(
                f"a kit cannot be a component of itself: remove {product.sku} (item {index}) "
                "from kit_components",
                field="kit_components",
            )
        if component.sku in seen:
            raise InvalidProductError(
                f"{component.sku} is listed twice in kit_components (items {seen[component.sku]} "
                f"and {index}): list each component SKU once, with the total quantity",
                field="kit_components",
            )
        if component.quantity <= 0:
            raise InvalidProductError(
                f"component {component.sku} needs a quantity above zero (item {index})",
                field="kit_components",
            )
        seen[component.sku] = index


def _pick(value: T | _Unset, current: T) -> T:
    return current if isinstance(value, _Unset) else value


def merge_patch(current: Mapping[str, T], patch: Mapping[str, T | None]) -> dict[str, T]:
    """``current`` after a JSON merge patch of one level: a key mapped to None is removed,
    others are set, keys not mentioned stay."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged

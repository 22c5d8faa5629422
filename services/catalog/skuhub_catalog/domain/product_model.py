"""Product models: what the variants of one product share, and the axes that tell them apart.

Pure Python, no I/O. A model holds the values its variants have in common (brand,
material, a title) and names its **axes**, the attributes each child sets and no two
siblings share (``colour``; then ``size``). Two levels at most, as in Akeneo: a root
model, optionally sub-models (one per colour, say), then the products (SKUs) themselves.

- A value is set at one level only and inherited downwards: a sub-model or product may
  not set an attribute an ancestor sets, and the axes of a model are set by its children.
- A child carries a value for every axis of its model, and no sibling carries the same
  combination.
- ``parent`` and ``axes`` are fixed when a model is created, so the hierarchy cannot form a
  cycle: a sub-model's parent is a root, and a root never gets a parent.

:func:`resolve` applies a product's models to it: the per-SKU snapshot channels receive.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from skuhub_catalog.domain.product import (
    UNSET,
    CatalogError,
    Product,
    _Unset,
    check_expected_version,
    merge_patch,
)

MAX_AXES: Final = 5


class ProductModelNotFoundError(CatalogError):
    """No product model has this code."""


class ProductModelExistsError(CatalogError):
    """A product model with this code exists already."""


class ProductModelInUseError(CatalogError):
    """The product model still has variants or sub-models."""


class InvalidProductModelError(CatalogError):
    """The product model would break a hierarchy rule."""


class ProductModelDeletedError(CatalogError):
    """The product model is deleted; it can be read but not changed."""


class InvalidVariantError(CatalogError):
    """A variant (sub-model or product) misses an axis value, repeats a sibling's, or sets
    a value its model sets."""


@dataclass(frozen=True, slots=True)
class ProductModel:
    """One product model at one version."""

    code: str
    axes: tuple[str, ...]
    version: int
    updated_at: datetime
    parent: str | None = None
    family: str | None = None
    title: Mapping[str, str] = field(default_factory=dict)
    description: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class NewProductModel:
    code: str
    axes: tuple[str, ...]
    parent: str | None = None
    family: str | None = None
    title: Mapping[str, str] = field(default_factory=dict)
    description: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProductModelChange:
    """A partial update, merged key by key like :class:`ProductChange`."""

    family: str | _Unset | None = UNSET
    title: Mapping[str, str | None] = field(default_factory=dict)
    description: Mapping[str, str | None] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        no_maps = not (self.title or self.description or self.attributes)
        return no_maps and self.family is UNSET


@dataclass(frozen=True, slots=True)
class Lineage:
    """A model and its parent (for a sub-model): what a child inherits, root first."""

    models: tuple[ProductModel, ...]

    @property
    def model(self) -> ProductModel:
        return self.models[-1]

    @property
    def axes(self) -> tuple[str, ...]:
        """Every axis along the chain, root first (``colour``, then ``size``)."""
        return tuple(axis for m in self.models for axis in m.axes)

    def owner_of(self, attribute: str) -> str | None:
        """The model that sets ``attribute``, if one in the lineage does."""
        return next((m.code for m in self.models if attribute in m.attributes), None)


def new_product_model(
    data: NewProductModel, parent: ProductModel | None, *, now: datetime
) -> ProductModel:
    """A model at version 1; ``parent`` is the stored model ``data.parent`` names.

    Raises:
        InvalidProductModelError: a hierarchy rule is broken (the message names the field).
    """
    model = ProductModel(
        code=data.code,
        axes=tuple(data.axes),
        version=1,
        updated_at=now,
        parent=data.parent,
        family=data.family,
        title=dict(data.title),
        description=dict(data.description),
        attributes=dict(data.attributes),
    )
    _check_axes(model)
    if data.parent is not None:
        if data.parent == data.code:
            raise InvalidProductModelError(
                f"product model {data.code} cannot be its own parent", field="parent"
            )
        if parent is None or parent.deleted:
            raise InvalidProductModelError(
                f"no product model {data.parent}: create the parent model first",
                field="parent",
            )
        if parent.parent is not None:
            raise InvalidProductModelError(
                f"{data.parent} is a sub-model of {parent.parent}; models have two levels at "
                f"most, so name a root model as parent",
                field="parent",
            )
        if model.family is not None and parent.family not in (None, model.family):
            raise InvalidProductModelError(
                f"a sub-model is in its parent's family {parent.family}, not {model.family}",
                field="family",
            )
    _check_own_values(model, Lineage((parent,)) if parent is not None else None)
    return model


def apply_model_change(
    model: ProductModel,
    change: ProductModelChange,
    parent: ProductModel | None,
    *,
    now: datetime,
    expected_version: int | None = None,
) -> ProductModel:
    """The model after ``change``: the next version, or ``model`` itself if nothing differs.

    Raises:
        VersionConflictError: ``expected_version`` is not the current version.
        ProductModelDeletedError: the model is deleted.
        InvalidProductModelError: a rule is broken.
    """
    _check_writable(model, expected_version)
    changed = dataclasses.replace(
        model,
        family=model.family if isinstance(change.family, _Unset) else change.family,
        title=merge_patch(model.title, change.title),
        description=merge_patch(model.description, change.description),
        attributes=merge_patch(model.attributes, change.attributes),
    )
    if changed == model:
        return model
    _check_own_values(changed, Lineage((parent,)) if parent is not None else None)
    return dataclasses.replace(changed, version=model.version + 1, updated_at=now)


def mark_model_deleted(
    model: ProductModel, *, now: datetime, expected_version: int | None = None
) -> ProductModel:
    """The deleted model (a tombstone at the next version); the caller checks that nothing
    is below it any more.

    Raises:
        VersionConflictError, ProductModelDeletedError.
    """
    _check_writable(model, expected_version)
    return dataclasses.replace(model, deleted=True, version=model.version + 1, updated_at=now)


def _check_writable(model: ProductModel, expected_version: int | None) -> None:
    check_expected_version(f"product model {model.code}", model.version, expected_version)
    if model.deleted:
        raise ProductModelDeletedError(
            f"product model {model.code} is deleted and cannot be changed"
        )


def check_child_values(
    lineage: Lineage,
    values: Mapping[str, Any],
    siblings: Iterable[Mapping[str, Any]],
    *,
    child: str,
) -> None:
    """A child (sub-model or product) of ``lineage.model``, with its own ``values``, among
    ``siblings`` (their own values): it sets every axis of its model, nothing an ancestor
    sets, and a combination of axis values no sibling has.

    Raises:
        InvalidVariantError: naming the attribute and the rule.
    """
    model = lineage.model
    missing = [axis for axis in model.axes if values.get(axis) is None]
    if missing:
        raise InvalidVariantError(
            f"{child} is a variant of {model.code}, whose axes are {', '.join(model.axes)}: "
            f"set attributes {', '.join(missing)}",
            field="attributes",
        )
    for attribute in values:
        owner = lineage.owner_of(attribute)
        if owner is not None:
            raise InvalidVariantError(
                f"attribute {attribute} is set on product model {owner} and inherited by "
                f"{child}: change it there, or remove it from the model first",
                field="attributes",
            )
    key = tuple(values[axis] for axis in model.axes)
    for sibling in siblings:
        if tuple(sibling.get(axis) for axis in model.axes) == key:
            spelled = ", ".join(f"{a}={v!r}" for a, v in zip(model.axes, key, strict=True))
            raise InvalidVariantError(
                f"another variant of {model.code} already has {spelled}: each variant "
                "differs in its axes",
                field="attributes",
            )


def check_descendants_free_of(
    model: ProductModel, descendants: Sequence[tuple[str, Mapping[str, Any]]]
) -> None:
    """A model's values may not be set by a descendant too (``(code or SKU, own values)``).

    Raises:
        InvalidProductModelError: naming the attribute and where it is set below.
    """
    for name, values in descendants:
        for attribute in model.attributes:
            if attribute in values:
                raise InvalidProductModelError(
                    f"attribute {attribute} is set on {name}, below product model "
                    f"{model.code}: remove it there first, or leave it off the model",
                    field="attributes",
                )


def resolve(product: Product, lineage: Lineage | None) -> Product:
    """The product as channels see it: its models' values, titles and descriptions
    inherited where it sets none, its own winning; the family from the model if it has
    none. The product's version is kept: a model change bumps each variant's version."""
    if lineage is None:
        return product
    attributes: dict[str, Any] = {}
    title: dict[str, str] = {}
    description: dict[str, str] = {}
    family = product.family
    for model in lineage.models:
        attributes.update(model.attributes)
        title.update(model.title)
        description.update(model.description)
        family = family or model.family
    return dataclasses.replace(
        product,
        family=family,
        attributes={**attributes, **product.attributes},
        title={**title, **product.title},
        description={**description, **product.description},
    )


def _check_axes(model: ProductModel) -> None:
    if not model.axes:
        raise InvalidProductModelError(
            "name at least one axis: the attribute(s) that tell the variants apart",
            field="axes",
        )
    if len(model.axes) > MAX_AXES or len(set(model.axes)) != len(model.axes):
        raise InvalidProductModelError(
            f"axes are 1 to {MAX_AXES} different attributes, not {list(model.axes)}",
            field="axes",
        )


def _check_own_values(model: ProductModel, above: Lineage | None) -> None:
    on_axis = [a for a in model.axes if a in model.attributes]
    if on_axis:
        raise InvalidProductModelError(
            f"{', '.join(on_axis)} is an axis of {model.code}: each variant sets its own "
            "value, so the model cannot",
            field="attributes",
        )
    if above is None:
        return
    for attribute in model.attributes:
        owner = above.owner_of(attribute)
        if owner is not None:
            raise InvalidProductModelError(
                f"attribute {attribute} is set on product model {owner} and inherited by "
                f"{model.code}: change it there",
                field="attributes",
            )

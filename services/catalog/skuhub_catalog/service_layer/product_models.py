"""Use cases: create, change and delete product models, and the lineage a variant inherits.

A model change that alters what a variant inherits makes a new version of that variant
(its resolved snapshot changed), with a history entry of what it inherits now (``via``
the model); the caller publishes each. The caller runs a use case
and the outbox insert in one transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from skuhub_catalog.domain.history import ANONYMOUS, entry_for
from skuhub_catalog.domain.product import Product, WorkflowState
from skuhub_catalog.domain.product_model import (
    Lineage,
    NewProductModel,
    ProductModel,
    ProductModelChange,
    ProductModelDeletedError,
    ProductModelExistsError,
    ProductModelInUseError,
    ProductModelNotFoundError,
    apply_model_change,
    check_child_values,
    check_descendants_free_of,
    mark_model_deleted,
    new_product_model,
    resolve,
)
from skuhub_catalog.service_layer.attributes import check_values
from skuhub_catalog.service_layer.ports import CatalogUnitOfWork, ProductModelRepository
from skuhub_catalog.service_layer.snapshots import (
    NO_CHANNELS,
    Channels,
    Families,
    Republished,
    measured,
)

_LISTED = 5
"""How many blocking variants a refusal names before it says how many more."""


@dataclass(frozen=True, slots=True)
class ModelSaved:
    """The model after a use case, and the variants it gave a new version."""

    model: ProductModel
    changed: bool
    republished: tuple[Republished, ...] = ()


async def lineage_of(models: ProductModelRepository, code: str) -> Lineage | None:
    """The model ``code`` with its parent, root first; None if it is unknown or deleted."""
    model = await models.get(code)
    if model is None or model.deleted:
        return None
    if model.parent is None:
        return Lineage((model,))
    parent = await models.get(model.parent)
    if parent is None:  # the foreign key keeps this from happening
        raise RuntimeError(f"product model {code} names a parent {model.parent} not stored")
    return Lineage((parent, model))


async def create_model(
    uow: CatalogUnitOfWork, data: NewProductModel, *, now: datetime | None = None
) -> ModelSaved:
    """Create a model at version 1 (a sub-model: with its axis values among its siblings').

    Raises:
        ProductModelExistsError, InvalidProductModelError, InvalidVariantError.
    """
    parent = await uow.models.get(data.parent) if data.parent is not None else None
    model = new_product_model(data, parent, now=now or datetime.now(UTC))
    if parent is not None:
        siblings = await uow.models.children(parent.code)
        check_child_values(
            Lineage((parent,)),
            model.attributes,
            [s.attributes for s in siblings],
            child=f"product model {model.code}",
        )
    family = model.family or (parent.family if parent is not None else None)
    await check_values(uow, f"product model {model.code}", model.attributes, family)
    if not await uow.models.add(model):
        raise ProductModelExistsError(
            f"a product model with code {model.code} exists already; change it with PATCH"
        )
    return ModelSaved(model, changed=True)


async def update_model(
    uow: CatalogUnitOfWork,
    code: str,
    change: ProductModelChange,
    *,
    expected_version: int | None = None,
    channels: Channels = NO_CHANNELS,
    actor: str = ANONYMOUS,
    now: datetime | None = None,
) -> ModelSaved:
    """Apply a partial update; then a new version of each variant whose resolved snapshot
    it changed (and only those), with its completeness in ``channels``.

    Raises:
        ProductModelNotFoundError, VersionConflictError, ProductModelDeletedError,
        InvalidProductModelError, InvalidVariantError.
    """
    now = now or datetime.now(UTC)
    current = await _get_for_update(uow.models, code)
    before = await lineage_of(uow.models, code)
    if before is None:
        raise ProductModelDeletedError(f"product model {code} is deleted and cannot be changed")
    parent = before.models[0] if current.parent is not None else None
    model = apply_model_change(current, change, parent, now=now, expected_version=expected_version)
    if model is current:
        return ModelSaved(current, changed=False)
    sub_models = await uow.models.children(code)
    below = [(f"product model {s.code}", s.attributes) for s in sub_models]
    variants: list[tuple[Product, Lineage]] = []
    for sub in sub_models:
        lineage = Lineage((model, sub))
        variants += [
            (p, lineage) for p in await uow.products.variants_of(sub.code, for_update=True)
        ]
    after = Lineage((*before.models[:-1], model))
    variants += [(p, after) for p in await uow.products.variants_of(code, for_update=True)]
    below += [(f"product {p.sku}", p.attributes) for p, _ in variants]
    check_descendants_free_of(model, below)
    family = model.family or (parent.family if parent is not None else None)
    await check_values(uow, f"product model {model.code}", model.attributes, family)
    if parent is not None:
        siblings = [s for s in await uow.models.children(parent.code) if s.code != code]
        check_child_values(
            Lineage((parent,)),
            model.attributes,
            [s.attributes for s in siblings],
            child=f"product model {model.code}",
        )
    await uow.models.update(model)
    bumped: list[Republished] = []
    families = Families(uow)
    for product, lineage in variants:
        shown_before = resolve(product, _lineage_before(lineage, current))
        if resolve(product, lineage) != shown_before:
            # What the variant shows changed: its reviewed content is no longer current.
            newer = dataclasses.replace(
                product,
                workflow=WorkflowState.DRAFT,
                version=product.version + 1,
                updated_at=now,
            )
            newer = await measured(uow, newer, lineage, channels, families)
            await uow.products.update(newer)
            entry = entry_for(shown_before, resolve(newer, lineage), actor=actor, via=code)
            await uow.history.record(entry)
            bumped.append(Republished(newer, lineage))
    return ModelSaved(model, changed=True, republished=tuple(bumped))


async def delete_model(
    uow: CatalogUnitOfWork,
    code: str,
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> ModelSaved:
    """Delete a model with no live sub-models or variants (a tombstone; its code stays taken).

    Raises:
        ProductModelNotFoundError, VersionConflictError, ProductModelInUseError,
        ProductModelDeletedError.
    """
    current = await _get_for_update(uow.models, code)
    below = [f"product model {m.code}" for m in await uow.models.children(code)]
    below += [f"product {p.sku}" for p in await uow.products.variants_of(code)]
    if below:
        raise ProductModelInUseError(
            f"product model {code} still has {_spelled(below)}: delete them or attach them to "
            "another model first"
        )
    deleted = mark_model_deleted(
        current, now=now or datetime.now(UTC), expected_version=expected_version
    )
    await uow.models.update(deleted)
    return ModelSaved(deleted, changed=True)


def _lineage_before(lineage: Lineage, current: ProductModel) -> Lineage:
    """``lineage`` with the changed model as it was."""
    return Lineage(tuple(current if m.code == current.code else m for m in lineage.models))


async def _get_for_update(models: ProductModelRepository, code: str) -> ProductModel:
    model = await models.get(code, for_update=True)
    if model is None:
        raise ProductModelNotFoundError(
            f"no product model {code}; create it with POST /v1/product-models"
        )
    return model


def _spelled(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    more = len(names) - _LISTED
    return f"{shown} and {more} more" if more > 0 else shown

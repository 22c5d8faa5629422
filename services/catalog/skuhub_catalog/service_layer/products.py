"""Use cases: create, change and delete products.

Each returns the saved product; ``changed`` says whether it is a new version,
i.e. whether a product-changed snapshot must be published. The caller runs
the use case and the outbox insert in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from skuhub_catalog.domain.history import ANONYMOUS, entry_for
from skuhub_catalog.domain.product import (
    GtinInUseError,
    InvalidProductError,
    NewProduct,
    Product,
    ProductAlreadyExistsError,
    ProductChange,
    ProductNotFoundError,
    apply_change,
    mark_deleted,
    new_product,
)
from skuhub_catalog.domain.product_model import Lineage, check_child_values, resolve
from skuhub_catalog.domain.workflow import WorkflowAction, take_step
from skuhub_catalog.service_layer.attributes import check_values
from skuhub_catalog.service_layer.categories import check_product_categories
from skuhub_catalog.service_layer.ports import CatalogUnitOfWork, ProductRepository
from skuhub_catalog.service_layer.product_models import lineage_of
from skuhub_catalog.service_layer.relations import check_relations
from skuhub_catalog.service_layer.snapshots import (
    NO_CHANNELS,
    Channels,
    Families,
    measured,
)
from skuhub_contracts.identifiers import gtin14


@dataclass(frozen=True, slots=True)
class Saved:
    """The product after a use case (with its completeness), whether that made a new
    version, and the models it inherits from (its snapshot is resolved through them)."""

    product: Product
    changed: bool
    lineage: Lineage | None = None


async def create_product(
    uow: CatalogUnitOfWork,
    data: NewProduct,
    *,
    channels: Channels = NO_CHANNELS,
    actor: str = ANONYMOUS,
    now: datetime | None = None,
) -> Saved:
    """Create a product at version 1 (its first history entry names ``actor``).

    Raises:
        ProductAlreadyExistsError: the SKU is taken (also by a deleted product).
        GtinInUseError: another product carries the GTIN.
        InvalidProductError: the product would break a catalog rule, or names no model.
        InvalidVariantError: as a variant, it misses an axis, repeats a sibling or sets a
            value its model sets.
    """
    product = new_product(data, now=now or datetime.now(UTC))
    lineage = await _check_variant(uow, product)
    families = Families(uow)  # read once for the check and the completeness
    await check_values(
        uow,
        f"product {product.sku}",
        product.attributes,
        resolve(product, lineage).family,
        families,
    )
    await check_product_categories(uow.categories, product)
    await check_relations(uow.products, product, None)
    await _check_gtin_free(uow.products, product)
    product = await measured(uow, product, lineage, channels, families)
    if not await uow.products.add(product):
        raise ProductAlreadyExistsError(
            f"a product with SKU {product.sku} exists already; change it with PATCH instead"
        )
    await uow.history.record(entry_for(None, product, actor=actor))
    return Saved(product, changed=True, lineage=lineage)


async def update_product(
    uow: CatalogUnitOfWork,
    sku: str,
    change: ProductChange,
    *,
    expected_version: int | None = None,
    channels: Channels = NO_CHANNELS,
    actor: str = ANONYMOUS,
    now: datetime | None = None,
) -> Saved:
    """Apply a partial update; a change that alters nothing saves nothing (and records no
    history).

    Raises:
        ProductNotFoundError, VersionConflictError, ProductDeletedError,
        GtinInUseError, InvalidProductError, InvalidVariantError.
    """
    current = await _get_for_update(uow.products, sku)
    product = apply_change(
        current, change, now=now or datetime.now(UTC), expected_version=expected_version
    )
    if product is current:
        return Saved(current, changed=False)
    lineage = await _check_variant(uow, product)
    families = Families(uow)  # read once for the check and the completeness
    await check_values(
        uow,
        f"product {product.sku}",
        product.attributes,
        resolve(product, lineage).family,
        families,
    )
    await check_product_categories(uow.categories, product, before=current.categories)
    await check_relations(uow.products, product, current)
    if product.gtin != current.gtin:
        await _check_gtin_free(uow.products, product)
    product = await measured(uow, product, lineage, channels, families)
    await uow.products.update(product)
    await uow.history.record(entry_for(current, product, actor=actor))
    return Saved(product, changed=True, lineage=lineage)


async def delete_product(
    uow: CatalogUnitOfWork,
    sku: str,
    *,
    expected_version: int | None = None,
    channels: Channels = NO_CHANNELS,
    actor: str = ANONYMOUS,
    now: datetime | None = None,
) -> Saved:
    """Delete a product, keeping a tombstone version that is published like any change.

    Raises:
        ProductNotFoundError, VersionConflictError, ProductDeletedError.
    """
    current = await _get_for_update(uow.products, sku)
    product = mark_deleted(current, now=now or datetime.now(UTC), expected_version=expected_version)
    lineage = await lineage_of(uow.models, product.product_model) if product.product_model else None
    product = await measured(uow, product, lineage, channels)
    await uow.products.update(product)
    await uow.history.record(entry_for(current, product, actor=actor))
    return Saved(product, changed=True, lineage=lineage)


async def take_workflow_step(
    uow: CatalogUnitOfWork,
    sku: str,
    action: WorkflowAction,
    *,
    comment: str | None = None,
    expected_version: int | None = None,
    channels: Channels = NO_CHANNELS,
    actor: str = ANONYMOUS,
    now: datetime | None = None,
) -> Saved:
    """Move the product along its approval workflow: a new version, recorded with
    ``actor`` and ``comment``; approval measures completeness in ``channels``.

    Raises:
        ProductNotFoundError, VersionConflictError, ProductDeletedError, WorkflowStepError,
        IncompleteProductError.
    """
    current = await _get_for_update(uow.products, sku)
    lineage = await lineage_of(uow.models, current.product_model) if current.product_model else None
    product = take_step(
        await measured(uow, current, lineage, channels),
        action,
        resolved=resolve(current, lineage),
        comment=comment,
        now=now or datetime.now(UTC),
        expected_version=expected_version,
    )
    await uow.products.update(product)
    await uow.history.record(entry_for(current, product, actor=actor, comment=comment))
    return Saved(product, changed=True, lineage=lineage)


async def _check_variant(uow: CatalogUnitOfWork, product: Product) -> Lineage | None:
    """The product's lineage, once it is a valid variant of its model (None: no model)."""
    if product.product_model is None:
        return None
    code = product.product_model
    lineage = await lineage_of(uow.models, code)
    if lineage is None:
        raise InvalidProductError(
            f"no product model {code}; create it with POST /v1/product-models first",
            field="product_model",
        )
    sub_models = await uow.models.children(code)
    if sub_models:
        raise InvalidProductError(
            f"product model {code} has sub-models ({', '.join(m.code for m in sub_models)}): "
            "attach the product to one of them",
            field="product_model",
        )
    siblings = [p for p in await uow.products.variants_of(code) if p.sku != product.sku]
    check_child_values(
        lineage,
        product.attributes,
        [p.attributes for p in siblings],
        child=f"product {product.sku}",
    )
    return lineage


async def _get_for_update(repo: ProductRepository, sku: str) -> Product:
    product = await repo.get(sku, for_update=True)
    if product is None:
        raise ProductNotFoundError(f"no product with SKU {sku}; create it with POST /v1/products")
    return product


async def _check_gtin_free(repo: ProductRepository, product: Product) -> None:
    if product.gtin is None:
        return
    owner = await repo.sku_with_gtin(product.gtin)
    if owner is not None and owner != product.sku:
        raise GtinInUseError(
            f"GTIN {product.gtin} already identifies product {owner} (GTINs are compared as "
            f"14 digits: {gtin14(product.gtin)}); a GTIN names one trade item",
            field="gtin",
        )


async def product_with_gtin(repo: ProductRepository, gtin: str) -> Product | None:
    """The product carrying this GTIN in any of its forms (deleted ones too), if any."""
    sku = await repo.sku_with_gtin(gtin)
    return await repo.get(sku) if sku is not None else None

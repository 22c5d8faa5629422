"""Use cases: create, change and delete products.

Each returns the saved product; ``changed`` says whether it is a new version,
i.e. whether a product-changed snapshot must be published. The caller runs
the use case and the outbox insert in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from skuhub_catalog.domain.product import (
    GtinInUseError,
    NewProduct,
    Product,
    ProductAlreadyExistsError,
    ProductChange,
    ProductNotFoundError,
    apply_change,
    mark_deleted,
    new_product,
)
from skuhub_catalog.service_layer.ports import ProductRepository
from skuhub_contracts.identifiers import gtin14


@dataclass(frozen=True, slots=True)
class Saved:
    """The product after a use case, and whether that made a new version."""

    product: Product
    changed: bool


async def create_product(
    repo: ProductRepository, data: NewProduct, *, now: datetime | None = None
) -> Saved:
    """Create a product at version 1.

    Raises:
        ProductAlreadyExistsError: the SKU is taken (also by a deleted product).
        GtinInUseError: another product carries the GTIN.
        InvalidProductError: the product would break a catalog rule.
    """
    product = new_product(data, now=now or datetime.now(UTC))
    await _check_gtin_free(repo, product)
    if not await repo.add(product):
        raise ProductAlreadyExistsError(
            f"a product with SKU {product.sku} exists already; change it with PATCH instead"
        )
    return Saved(product, changed=True)


async def update_product(
    repo: ProductRepository,
    sku: str,
    change: ProductChange,
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Saved:
    """Apply a partial update; a change that alters nothing saves nothing.

    Raises:
        ProductNotFoundError, VersionConflictError, ProductDeletedError,
        GtinInUseError, InvalidProductError.
    """
    current = await _get_for_update(repo, sku)
    product = apply_change(
        current, change, now=now or datetime.now(UTC), expected_version=expected_version
    )
    if product is current:
        return Saved(current, changed=False)
    if product.gtin != current.gtin:
        await _check_gtin_free(repo, product)
    await repo.update(product)
    return Saved(product, changed=True)


async def delete_product(
    repo: ProductRepository,
    sku: str,
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Saved:
    """Delete a product, keeping a tombstone version that is published like any change.

    Raises:
        ProductNotFoundError, VersionConflictError, ProductDeletedError.
    """
    current = await _get_for_update(repo, sku)
    product = mark_deleted(current, now=now or datetime.now(UTC), expected_version=expected_version)
    await repo.update(product)
    return Saved(product, changed=True)


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

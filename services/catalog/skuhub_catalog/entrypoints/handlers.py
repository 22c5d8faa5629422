"""The catalog's command handlers: they decide; the runtime does the I/O around them.

Each runs a use case on the unit of work and returns the saved product with
the product-changed snapshot to publish when it made a new version.
"""

from __future__ import annotations

from skuhub_catalog.domain.product import NewProduct, Product, ProductChange
from skuhub_catalog.entrypoints.events import to_product_changed
from skuhub_catalog.service_layer.ports import CatalogUnitOfWork
from skuhub_catalog.service_layer.products import (
    Saved,
    create_product,
    delete_product,
    update_product,
)
from skuhub_runtime.handling import Decision
from skuhub_runtime.origin import Origin


async def create(uow: CatalogUnitOfWork, data: NewProduct, origin: Origin) -> Decision[Product]:
    return _published(await create_product(uow.products, data), origin)


async def update(
    uow: CatalogUnitOfWork,
    sku: str,
    change: ProductChange,
    origin: Origin,
    *,
    expected_version: int | None,
) -> Decision[Product]:
    saved = await update_product(uow.products, sku, change, expected_version=expected_version)
    return _published(saved, origin)


async def delete(
    uow: CatalogUnitOfWork, sku: str, origin: Origin, *, expected_version: int | None
) -> Decision[Product]:
    saved = await delete_product(uow.products, sku, expected_version=expected_version)
    return _published(saved, origin)


def _published(saved: Saved, origin: Origin) -> Decision[Product]:
    """The product, with its new snapshot when the use case made a new version."""
    if not saved.changed:
        return Decision(saved.product)
    snapshot = origin.envelope(to_product_changed(saved.product), time=saved.product.updated_at)
    return Decision(saved.product, emitted=[snapshot])

"""What the catalog use cases need from storage."""

from __future__ import annotations

from typing import Protocol

from skuhub_catalog.domain.product import Product


class ProductRepository(Protocol):
    """Products by SKU. ``add`` and ``update`` raise :class:`ProductAlreadyExistsError` or
    :class:`GtinInUseError` when another writer took the SKU or GTIN at the same time."""

    async def get(self, sku: str, *, for_update: bool = False) -> Product | None:
        """The product with this SKU (deleted ones too), optionally locked for this transaction."""

    async def add(self, product: Product) -> bool:
        """Insert a new product; False if its SKU exists already."""

    async def update(self, product: Product) -> None:
        """Store a new version of an existing product."""

    async def sku_with_gtin(self, gtin: str) -> str | None:
        """The SKU of the product carrying this GTIN, if any."""

    async def list_after(
        self, after: str | None, limit: int, *, include_deleted: bool = False
    ) -> list[Product]:
        """Up to ``limit`` products ordered by SKU, starting after ``after``."""


class CatalogUnitOfWork(Protocol):
    """The catalog's repositories, bound to one transaction."""

    @property
    def products(self) -> ProductRepository: ...

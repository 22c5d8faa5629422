"""PostgreSQL implementation of the product repository."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_catalog.adapters.tables import products
from skuhub_catalog.domain.product import Product, ProductStatus


class SqlProductRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, sku: str, *, for_update: bool = False) -> Product | None:
        statement = sa.select(products).where(products.c.sku == sku)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._conn.execute(statement)).mappings().first()
        return _to_product(row) if row is not None else None

    async def add(self, product: Product) -> bool:
        statement = (
            insert(products)
            .values(**_to_row(product), created_at=product.updated_at)
            .on_conflict_do_nothing(index_elements=[products.c.sku])
            .returning(products.c.sku)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def update(self, product: Product) -> None:
        await self._conn.execute(
            sa.update(products).where(products.c.sku == product.sku).values(**_to_row(product))
        )

    async def sku_with_gtin(self, gtin: str) -> str | None:
        statement = sa.select(products.c.sku).where(products.c.gtin == gtin).limit(1)
        sku: str | None = (await self._conn.execute(statement)).scalar_one_or_none()
        return sku

    async def list_after(
        self, after: str | None, limit: int, *, include_deleted: bool = False
    ) -> list[Product]:
        statement = sa.select(products).order_by(products.c.sku).limit(limit)
        if after is not None:
            statement = statement.where(products.c.sku > after)
        if not include_deleted:
            statement = statement.where(products.c.deleted.is_(False))
        return [_to_product(row) for row in (await self._conn.execute(statement)).mappings()]


def _to_row(product: Product) -> dict[str, Any]:
    return {
        "sku": product.sku,
        "gtin": product.gtin,
        "status": product.status.value,
        "family": product.family,
        "parent_sku": product.parent_sku,
        "unit": product.unit,
        "title": dict(product.title),
        "description": dict(product.description),
        "attributes": dict(product.attributes),
        "version": product.version,
        "deleted": product.deleted,
        "updated_at": product.updated_at,
    }


def _to_product(row: sa.RowMapping) -> Product:
    return Product(
        sku=row["sku"],
        status=ProductStatus(row["status"]),
        title=row["title"],
        version=row["version"],
        updated_at=row["updated_at"],
        gtin=row["gtin"],
        family=row["family"],
        parent_sku=row["parent_sku"],
        unit=row["unit"],
        description=row["description"],
        attributes=row["attributes"],
        deleted=row["deleted"],
    )

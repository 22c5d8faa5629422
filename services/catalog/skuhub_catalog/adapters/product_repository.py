"""PostgreSQL implementation of the product repository."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_catalog.adapters.attribute_repository import SqlAttributeRepository
from skuhub_catalog.adapters.category_repository import SqlCategoryRepository
from skuhub_catalog.adapters.family_repository import SqlFamilyRepository
from skuhub_catalog.adapters.history_repository import SqlHistoryRepository
from skuhub_catalog.adapters.import_repository import SqlImportRepository
from skuhub_catalog.adapters.product_model_repository import SqlProductModelRepository
from skuhub_catalog.adapters.projection_repository import SqlProjectionRepository
from skuhub_catalog.adapters.tables import GTIN_INDEX, products, products_gtin14
from skuhub_catalog.domain.product import (
    Completeness,
    GtinInUseError,
    KitComponent,
    Product,
    ProductStatus,
    PublishedContent,
    RelationKind,
    WorkflowState,
)
from skuhub_contracts.identifiers import gtin14

_GET = sa.select(products).where(products.c.sku == sa.bindparam("sku"))
_GET_FOR_UPDATE = _GET.with_for_update()
"""Built once: a statement built per call spends more on its cache key than on running."""


class SqlProductRepository:
    """Products in PostgreSQL; a unique index that refuses a write becomes a domain error."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, sku: str, *, for_update: bool = False) -> Product | None:
        statement = _GET_FOR_UPDATE if for_update else _GET
        row = (await self._conn.execute(statement, {"sku": sku})).mappings().first()
        return to_product(row) if row is not None else None

    async def add(self, product: Product) -> bool:
        statement = (
            insert(products)
            .values(**product_row(product), created_at=product.updated_at)
            .on_conflict_do_nothing(index_elements=[products.c.sku])
            .returning(products.c.sku)
        )
        try:
            return (await self._conn.execute(statement)).first() is not None
        except sa_exc.IntegrityError as exc:
            raise _gtin_taken(product, exc) from exc

    async def update(self, product: Product) -> None:
        statement = (
            sa.update(products).where(products.c.sku == product.sku).values(**product_row(product))
        )
        try:
            await self._conn.execute(statement)
        except sa_exc.IntegrityError as exc:
            raise _gtin_taken(product, exc) from exc

    async def sku_with_gtin(self, gtin: str) -> str | None:
        # The expression of the unique index (0003), so the index answers.
        statement = sa.select(products.c.sku).where(products_gtin14 == gtin14(gtin)).limit(1)
        sku: str | None = (await self._conn.execute(statement)).scalar_one_or_none()
        return sku

    async def list_after(
        self,
        after: str | None,
        limit: int,
        *,
        include_deleted: bool = False,
        updated_since: datetime | None = None,
    ) -> list[Product]:
        statement = sa.select(products).order_by(products.c.sku).limit(limit)
        if after is not None:
            statement = statement.where(products.c.sku > after)
        if not include_deleted:
            statement = statement.where(products.c.deleted.is_(False))
        if updated_since is not None:
            statement = statement.where(products.c.updated_at >= updated_since)
        return [to_product(row) for row in (await self._conn.execute(statement)).mappings()]

    async def in_family(self, family: str, *, for_update: bool = False) -> list[Product]:
        statement = (
            sa.select(products)
            .where(products.c.family == family, products.c.deleted.is_(False))
            .order_by(products.c.sku)
        )
        if for_update:
            statement = statement.with_for_update()
        return [to_product(row) for row in (await self._conn.execute(statement)).mappings()]

    async def skus_in_category(self, code: str, limit: int) -> list[str]:
        statement = (
            sa.select(products.c.sku)
            .where(products.c.categories.contains([code]), products.c.deleted.is_(False))
            .order_by(products.c.sku)
            .limit(limit)
        )
        return list((await self._conn.execute(statement)).scalars())

    async def published_attribute_codes(self) -> list[str]:
        code = sa.func.jsonb_object_keys(products.c.published["attributes"])
        statement = (
            sa.select(code.label("code"))
            .where(products.c.published.isnot(None), products.c.deleted.is_(False))
            .distinct()
            .order_by("code")
        )
        return list((await self._conn.execute(statement)).scalars())

    async def variants_of(self, model: str, *, for_update: bool = False) -> list[Product]:
        statement = (
            sa.select(products)
            .where(products.c.product_model == model, products.c.deleted.is_(False))
            .order_by(products.c.sku)
        )
        if for_update:
            statement = statement.with_for_update()
        return [to_product(row) for row in (await self._conn.execute(statement)).mappings()]


def _gtin_taken(product: Product, exc: sa_exc.IntegrityError) -> Exception:
    """A concurrent writer took the GTIN: the domain error. Any other integrity error is a
    bug, not the caller's fault: it stays what it is."""
    if GTIN_INDEX in str(exc.orig):
        return GtinInUseError(
            f"GTIN {product.gtin} was just taken by another product; a GTIN names one trade item",
            field="gtin",
        )
    return exc


@dataclass(frozen=True, slots=True)
class SqlUnitOfWork:
    """The catalog's repositories on one connection (and its transaction)."""

    products: SqlProductRepository
    models: SqlProductModelRepository
    history: SqlHistoryRepository
    categories: SqlCategoryRepository
    families: SqlFamilyRepository
    attributes: SqlAttributeRepository
    projection: SqlProjectionRepository
    imports: SqlImportRepository
    connection: AsyncConnection

    def savepoint(self) -> AbstractAsyncContextManager[object]:
        return self.connection.begin_nested()


def sql_unit_of_work(conn: AsyncConnection) -> SqlUnitOfWork:
    return SqlUnitOfWork(
        products=SqlProductRepository(conn),
        models=SqlProductModelRepository(conn),
        history=SqlHistoryRepository(conn),
        categories=SqlCategoryRepository(conn),
        families=SqlFamilyRepository(conn),
        attributes=SqlAttributeRepository(conn),
        projection=SqlProjectionRepository(conn),
        imports=SqlImportRepository(conn),
        connection=conn,
    )


def product_row(product: Product) -> dict[str, Any]:
    return {
        "sku": product.sku,
        "gtin": product.gtin,
        "status": product.status.value,
        "family": product.family,
        "product_model": product.product_model,
        "unit": product.unit,
        "title": dict(product.title),
        "description": dict(product.description),
        "attributes": dict(product.attributes),
        "packs": {code: _text(quantity) for code, quantity in product.packs.items()},
        "lot_tracked": product.lot_tracked,
        "shelf_life_days": product.shelf_life_days,
        "kit_components": [
            {"sku": c.sku, "quantity": _text(c.quantity)} for c in product.kit_components
        ],
        "categories": list(product.categories),
        "relations": {kind.value: list(skus) for kind, skus in product.relations.items()},
        "version": product.version,
        "deleted": product.deleted,
        "workflow": product.workflow.value,
        "published": _published_row(product.published),
        "completeness": None
        if product.completeness is None
        else [
            {
                "channel": c.channel,
                "locale": c.locale,
                "required": c.required,
                "missing": list(c.missing),
            }
            for c in product.completeness
        ],
        "updated_at": product.updated_at,
    }


def to_product(row: sa.RowMapping) -> Product:
    return Product(
        sku=row["sku"],
        status=ProductStatus(row["status"]),
        title=row["title"],
        version=row["version"],
        updated_at=row["updated_at"],
        gtin=row["gtin"],
        family=row["family"],
        product_model=row["product_model"],
        unit=row["unit"],
        description=row["description"],
        attributes=row["attributes"],
        packs={code: Decimal(quantity) for code, quantity in row["packs"].items()},
        lot_tracked=row["lot_tracked"],
        shelf_life_days=row["shelf_life_days"],
        kit_components=tuple(
            KitComponent(c["sku"], Decimal(c["quantity"])) for c in row["kit_components"]
        ),
        categories=tuple(row["categories"]),
        relations={RelationKind(kind): tuple(skus) for kind, skus in row["relations"].items()},
        deleted=row["deleted"],
        workflow=WorkflowState(row["workflow"]),
        published=_published(row["published"]),
        completeness=None
        if row["completeness"] is None
        else tuple(
            Completeness(c["channel"], c["locale"], c["required"], tuple(c["missing"]))
            for c in row["completeness"]
        ),
    )


def _completeness_row(measured: tuple[Completeness, ...] | None) -> list[Any] | None:
    if measured is None:
        return None
    return [
        {"channel": c.channel, "locale": c.locale, "required": c.required, "missing": [*c.missing]}
        for c in measured
    ]


def _published_row(content: PublishedContent | None) -> dict[str, Any] | None:
    if content is None:
        return None
    return {
        "version": content.version,
        "gtin": content.gtin,
        "title": dict(content.title),
        "description": dict(content.description),
        "attributes": dict(content.attributes),
        "categories": list(content.categories),
    }


def _published(row: dict[str, Any] | None) -> PublishedContent | None:
    if row is None:
        return None
    return PublishedContent(
        version=row["version"],
        gtin=row["gtin"],
        title=row["title"],
        description=row["description"],
        attributes=row["attributes"],
        categories=tuple(row["categories"]),
    )


def _text(quantity: Decimal) -> str:
    """A quantity as it reads back exactly: digits and a point, never an exponent."""
    return format(quantity, "f")

"""The catalog's repositories for a chunk of imported rows: reads served in bulk, writes
held until the chunk is done.

An import runs the same use cases as the HTTP API, a row at a time; talking to PostgreSQL
a row at a time made it wait on round trips (nine per row). Here the chunk's products and
the owners of its GTINs are read in two statements up front; models, families, categories
and attribute definitions are read once per chunk; products and history entries are kept
and written by :meth:`BatchedUnitOfWork.flush` in one statement each. Reads see the
chunk's own writes (a GTIN an earlier row took, a sibling an earlier row added), so every
rule holds as it does a row at a time. Nothing is written before ``flush``, so a refused
row leaves nothing behind without a savepoint. A write another transaction races (the
same SKU or GTIN) fails the flush with an IntegrityError; the caller then runs the chunk
again a row at a time.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_catalog.adapters.attribute_repository import SqlAttributeRepository
from skuhub_catalog.adapters.category_repository import SqlCategoryRepository
from skuhub_catalog.adapters.family_repository import SqlFamilyRepository
from skuhub_catalog.adapters.history_repository import SqlHistoryRepository, history_row
from skuhub_catalog.adapters.import_repository import SqlImportRepository
from skuhub_catalog.adapters.product_model_repository import SqlProductModelRepository, to_model
from skuhub_catalog.adapters.product_repository import (
    SqlProductRepository,
    product_row,
    to_product,
)
from skuhub_catalog.adapters.projection_repository import SqlProjectionRepository
from skuhub_catalog.adapters.tables import (
    product_history,
    product_models,
    products,
    products_gtin14,
)
from skuhub_catalog.domain.attributes import Attribute
from skuhub_catalog.domain.category import Category
from skuhub_catalog.domain.completeness import Family
from skuhub_catalog.domain.history import HistoryEntry
from skuhub_catalog.domain.product import Product
from skuhub_catalog.domain.product_model import ProductModel
from skuhub_contracts.identifiers import gtin14

_MISSING = object()


class BatchedProductRepository(SqlProductRepository):
    """Products of the chunk read up front and written at the end; the rest as stored."""

    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        self._known: dict[str, Product | None] = {}
        self._owners: dict[str, str | None] = {}  # GTIN-14 -> SKU
        self.added: dict[str, Product] = {}
        self.updated: dict[str, Product] = {}
        self._variants: dict[str, dict[str, Product]] = {}  # model -> its variants by SKU

    async def prefetch(
        self, skus: Sequence[str], gtins: Sequence[str], models: Sequence[str]
    ) -> None:
        """Read (and lock) the chunk's products, who carries its GTINs, and the variants of
        the models its rows name."""
        statement = sa.select(products).where(products.c.sku.in_(skus)).with_for_update()
        found = {
            row["sku"]: to_product(row) for row in (await self._conn.execute(statement)).mappings()
        }
        self._known.update({sku: found.get(sku) for sku in skus})
        wanted = sorted({gtin14(g) for g in gtins})
        if wanted:
            owners = sa.select(products.c.sku, products_gtin14.label("g")).where(
                products_gtin14.in_(wanted)
            )
            carried = {row.g: row.sku for row in await self._conn.execute(owners)}
            self._owners.update({g: carried.get(g) for g in wanted})
        if models:
            variants = (
                sa.select(products)
                .where(products.c.product_model.in_(models), products.c.deleted.is_(False))
                .with_for_update()
            )
            self._variants.update({model: {} for model in models})
            for row in (await self._conn.execute(variants)).mappings():
                self._variants[row["product_model"]][row["sku"]] = to_product(row)

    async def get(self, sku: str, *, for_update: bool = False) -> Product | None:
        if sku not in self._known:
            self._known[sku] = await super().get(sku, for_update=for_update)
        return self._known[sku]

    async def add(self, product: Product) -> bool:
        if await self.get(product.sku) is not None:
            return False
        self._known[product.sku] = self.added[product.sku] = product
        self._carry(None, product)
        self._place(None, product)
        return True

    async def update(self, product: Product) -> None:
        before = await self.get(product.sku)
        self._known[product.sku] = product
        if product.sku in self.added:
            self.added[product.sku] = product
        else:
            self.updated[product.sku] = product
        self._carry(before, product)
        self._place(before, product)

    async def sku_with_gtin(self, gtin: str) -> str | None:
        key = gtin14(gtin)
        if key not in self._owners:
            self._owners[key] = await super().sku_with_gtin(gtin)
        return self._owners[key]

    async def variants_of(self, model: str, *, for_update: bool = False) -> list[Product]:
        if model not in self._variants:  # a model none of the chunk's rows names
            stored = await super().variants_of(model, for_update=for_update)
            members = {p.sku: p for p in stored}
            for product in (*self.added.values(), *self.updated.values()):
                if product.product_model == model and not product.deleted:
                    members[product.sku] = product
                else:
                    members.pop(product.sku, None)
            self._variants[model] = members
        members = self._variants[model]
        return [members[sku] for sku in sorted(members)]

    def _place(self, before: Product | None, after: Product) -> None:
        """Keep the variants read so far current with a product this chunk wrote."""
        if before is not None and before.product_model != after.product_model:
            self._variants.get(before.product_model or "", {}).pop(after.sku, None)
        members = self._variants.get(after.product_model or "")
        if members is not None:
            if after.deleted:
                members.pop(after.sku, None)
            else:
                members[after.sku] = after

    def _carry(self, before: Product | None, after: Product) -> None:
        if before is not None and before.gtin is not None and before.gtin != after.gtin:
            self._owners[gtin14(before.gtin)] = None
        if after.gtin is not None:
            self._owners[gtin14(after.gtin)] = after.sku

    async def flush(self) -> None:
        if self.added:
            rows = [{**product_row(p), "created_at": p.updated_at} for p in self.added.values()]
            await self._conn.execute(sa.insert(products), rows)
        if self.updated:
            # Executed with many rows, SET takes the columns the rows name.
            statement = sa.update(products).where(products.c.sku == sa.bindparam("b_sku"))
            rows = [{**product_row(p), "b_sku": p.sku} for p in self.updated.values()]
            await self._conn.execute(statement, rows)


class BatchedHistoryRepository(SqlHistoryRepository):
    """History entries kept and written in one statement."""

    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        self.entries: list[HistoryEntry] = []

    async def record(self, entry: HistoryEntry) -> None:
        self.entries.append(entry)

    async def flush(self) -> None:
        if self.entries:
            await self._conn.execute(
                sa.insert(product_history), [history_row(e) for e in self.entries]
            )


class CachedModelRepository(SqlProductModelRepository):
    """Models read once per chunk (an import does not change them)."""

    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        self._models: dict[str, ProductModel | None] = {}
        self._children: dict[str, list[ProductModel]] = {}

    async def prefetch(self, codes: Sequence[str]) -> None:
        """Read the named models, their parents and their sub-models in three statements."""
        wanted = sorted(set(codes))
        if not wanted:
            return
        await self._read(product_models.c.code.in_(wanted))
        self._models.update({code: None for code in wanted if code not in self._models})
        parents = sorted(
            {m.parent for m in self._models.values() if m and m.parent} - set(self._models)
        )
        if parents:
            await self._read(product_models.c.code.in_(parents))
        self._children.update({code: [] for code in wanted})
        below = (
            sa.select(product_models)
            .where(product_models.c.parent.in_(wanted), product_models.c.deleted.is_(False))
            .order_by(product_models.c.code)
        )
        for row in (await self._conn.execute(below)).mappings():
            self._children[row["parent"]].append(to_model(row))

    async def _read(self, where: sa.ColumnElement[bool]) -> None:
        for row in (await self._conn.execute(sa.select(product_models).where(where))).mappings():
            self._models[row["code"]] = to_model(row)

    async def get(self, code: str, *, for_update: bool = False) -> ProductModel | None:
        if code not in self._models:
            self._models[code] = await super().get(code, for_update=for_update)
        return self._models[code]

    async def children(self, code: str) -> list[ProductModel]:
        if code not in self._children:
            self._children[code] = await super().children(code)
        return self._children[code]


class CachedCategoryRepository(SqlCategoryRepository):
    """Categories read once per chunk."""

    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        self._read: dict[str, Category | None] = {}

    async def get(self, code: str, *, for_update: bool = False) -> Category | None:
        if code not in self._read:
            self._read[code] = await super().get(code, for_update=for_update)
        return self._read[code]


class CachedFamilyRepository(SqlFamilyRepository):
    """Families read once per chunk."""

    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        self._read: dict[str, Family | None] = {}

    async def get(self, code: str, *, for_update: bool = False) -> Family | None:
        if code not in self._read:
            self._read[code] = await super().get(code, for_update=for_update)
        return self._read[code]


class CachedAttributeRepository(SqlAttributeRepository):
    """Attribute definitions read once per chunk."""

    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        self._read: dict[str, Any] = {}

    async def get_many(self, codes: Sequence[str]) -> dict[str, Attribute]:
        unread = [code for code in codes if code not in self._read]
        if unread:
            found = await super().get_many(unread)
            self._read.update({code: found.get(code, _MISSING) for code in unread})
        return {code: self._read[code] for code in codes if self._read[code] is not _MISSING}


@dataclass(frozen=True, slots=True)
class BatchedUnitOfWork:
    """The catalog's repositories for one chunk of an import, on one transaction."""

    products: BatchedProductRepository
    models: CachedModelRepository
    history: BatchedHistoryRepository
    categories: CachedCategoryRepository
    families: CachedFamilyRepository
    attributes: CachedAttributeRepository
    projection: SqlProjectionRepository
    imports: SqlImportRepository

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[object]:
        """Nothing is written before :meth:`flush`: a refused row has nothing to undo."""
        yield self

    async def flush(self) -> None:
        """Write the chunk's products, then their history."""
        await self.products.flush()
        await self.history.flush()


async def batched_unit_of_work(
    conn: AsyncConnection, skus: Sequence[str], gtins: Sequence[str], models: Sequence[str]
) -> BatchedUnitOfWork:
    """The repositories for a chunk whose rows name ``skus``, ``gtins`` and product
    ``models``."""
    batched = BatchedUnitOfWork(
        products=BatchedProductRepository(conn),
        models=CachedModelRepository(conn),
        history=BatchedHistoryRepository(conn),
        categories=CachedCategoryRepository(conn),
        families=CachedFamilyRepository(conn),
        attributes=CachedAttributeRepository(conn),
        projection=SqlProjectionRepository(conn),
        imports=SqlImportRepository(conn),
    )
    await batched.products.prefetch(skus, gtins, models)
    await batched.models.prefetch(models)
    return batched

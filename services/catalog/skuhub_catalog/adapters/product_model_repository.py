"""PostgreSQL implementation of the product model repository."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_catalog.adapters.tables import product_models
from skuhub_catalog.domain.product_model import ProductModel


class SqlProductModelRepository:
    """Product models in PostgreSQL."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, code: str, *, for_update: bool = False) -> ProductModel | None:
        statement = sa.select(product_models).where(product_models.c.code == code)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._conn.execute(statement)).mappings().first()
        return to_model(row) if row is not None else None

    async def add(self, model: ProductModel) -> bool:
        statement = (
            insert(product_models)
            .values(**_to_row(model), created_at=model.updated_at)
            .on_conflict_do_nothing(index_elements=[product_models.c.code])
            .returning(product_models.c.code)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def update(self, model: ProductModel) -> None:
        await self._conn.execute(
            sa.update(product_models)
            .where(product_models.c.code == model.code)
            .values(**_to_row(model))
        )

    async def children(self, code: str) -> list[ProductModel]:
        statement = (
            sa.select(product_models)
            .where(product_models.c.parent == code, product_models.c.deleted.is_(False))
            .order_by(product_models.c.code)
        )
        return [to_model(row) for row in (await self._conn.execute(statement)).mappings()]

    async def in_family(self, family: str) -> list[ProductModel]:
        statement = (
            sa.select(product_models)
            .where(product_models.c.family == family, product_models.c.deleted.is_(False))
            .order_by(product_models.c.code)
        )
        return [to_model(row) for row in (await self._conn.execute(statement)).mappings()]

    async def list_after(
        self, after: str | None, limit: int, *, include_deleted: bool = False
    ) -> list[ProductModel]:
        statement = sa.select(product_models).order_by(product_models.c.code).limit(limit)
        if after is not None:
            statement = statement.where(product_models.c.code > after)
        if not include_deleted:
            statement = statement.where(product_models.c.deleted.is_(False))
        return [to_model(row) for row in (await self._conn.execute(statement)).mappings()]


def _to_row(model: ProductModel) -> dict[str, Any]:
    return {
        "code": model.code,
        "parent": model.parent,
        "axes": list(model.axes),
        "family": model.family,
        "title": dict(model.title),
        "description": dict(model.description),
        "attributes": dict(model.attributes),
        "version": model.version,
        "deleted": model.deleted,
        "updated_at": model.updated_at,
    }


def to_model(row: sa.RowMapping) -> ProductModel:
    return ProductModel(
        code=row["code"],
        axes=tuple(row["axes"]),
        version=row["version"],
        updated_at=row["updated_at"],
        parent=row["parent"],
        family=row["family"],
        title=row["title"],
        description=row["description"],
        attributes=row["attributes"],
        deleted=row["deleted"],
    )

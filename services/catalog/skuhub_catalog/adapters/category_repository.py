"""PostgreSQL implementation of the category repository."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_catalog.adapters.tables import categories
from skuhub_catalog.domain.category import Category


class SqlCategoryRepository:
    """Categories in PostgreSQL."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, code: str, *, for_update: bool = False) -> Category | None:
        statement = sa.select(categories).where(categories.c.code == code)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._conn.execute(statement)).mappings().first()
        return _to_category(row) if row is not None else None

    async def add(self, category: Category) -> bool:
        statement = (
            insert(categories)
            .values(**_to_row(category), created_at=category.updated_at)
            .on_conflict_do_nothing(index_elements=[categories.c.code])
            .returning(categories.c.code)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def update(self, category: Category) -> None:
        await self._conn.execute(
            sa.update(categories)
            .where(categories.c.code == category.code)
            .values(**_to_row(category))
        )

    async def children(self, code: str) -> list[Category]:
        statement = (
            sa.select(categories)
            .where(categories.c.parent == code, categories.c.deleted.is_(False))
            .order_by(categories.c.code)
        )
        return [_to_category(row) for row in (await self._conn.execute(statement)).mappings()]

    async def list_after(
        self, after: str | None, limit: int, *, include_deleted: bool = False
    ) -> list[Category]:
        statement = sa.select(categories).order_by(categories.c.code).limit(limit)
        if after is not None:
            statement = statement.where(categories.c.code > after)
        if not include_deleted:
            statement = statement.where(categories.c.deleted.is_(False))
        return [_to_category(row) for row in (await self._conn.execute(statement)).mappings()]


def _to_row(category: Category) -> dict[str, Any]:
    return {
        "code": category.code,
        "parent": category.parent,
        "labels": dict(category.labels),
        "version": category.version,
        "deleted": category.deleted,
        "updated_at": category.updated_at,
    }


def _to_category(row: sa.RowMapping) -> Category:
    return Category(
        code=row["code"],
        version=row["version"],
        updated_at=row["updated_at"],
        parent=row["parent"],
        labels=row["labels"],
        deleted=row["deleted"],
    )

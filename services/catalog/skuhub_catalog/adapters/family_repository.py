"""PostgreSQL implementation of the family repository."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_catalog.adapters.tables import families
from skuhub_catalog.domain.completeness import Condition, Family


class SqlFamilyRepository:
    """Families in PostgreSQL."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, code: str, *, for_update: bool = False) -> Family | None:
        statement = sa.select(families).where(families.c.code == code)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._conn.execute(statement)).mappings().first()
        return _to_family(row) if row is not None else None

    async def add(self, family: Family) -> bool:
        statement = (
            insert(families)
            .values(**_to_row(family), created_at=family.updated_at)
            .on_conflict_do_nothing(index_elements=[families.c.code])
            .returning(families.c.code)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def update(self, family: Family) -> None:
        await self._conn.execute(
            sa.update(families).where(families.c.code == family.code).values(**_to_row(family))
        )

    async def list_after(self, after: str | None, limit: int) -> list[Family]:
        statement = sa.select(families).order_by(families.c.code).limit(limit)
        if after is not None:
            statement = statement.where(families.c.code > after)
        return [_to_family(row) for row in (await self._conn.execute(statement)).mappings()]


def _to_row(family: Family) -> dict[str, Any]:
    return {
        "code": family.code,
        "labels": dict(family.labels),
        "attributes": list(family.attributes),
        "requirements": {ch: list(req) for ch, req in family.requirements.items()},
        "conditions": [
            {"attribute": c.attribute, "equals": c.equals, "require": list(c.require)}
            for c in family.conditions
        ],
        "version": family.version,
        "updated_at": family.updated_at,
    }


def _to_family(row: sa.RowMapping) -> Family:
    return Family(
        code=row["code"],
        version=row["version"],
        updated_at=row["updated_at"],
        labels=row["labels"],
        attributes=tuple(row["attributes"]),
        requirements={ch: tuple(req) for ch, req in row["requirements"].items()},
        conditions=tuple(
            Condition(c["attribute"], c["equals"], tuple(c["require"])) for c in row["conditions"]
        ),
    )

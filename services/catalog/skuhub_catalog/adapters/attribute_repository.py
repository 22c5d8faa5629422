"""PostgreSQL implementation of the attribute repository."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_catalog.adapters.tables import attributes
from skuhub_catalog.domain.attributes import Attribute, AttributeType, Column, ColumnType, Option


class SqlAttributeRepository:
    """Attribute definitions in PostgreSQL."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, code: str, *, for_update: bool = False) -> Attribute | None:
        statement = sa.select(attributes).where(attributes.c.code == code)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._conn.execute(statement)).mappings().first()
        return _to_attribute(row) if row is not None else None

    async def get_many(self, codes: Sequence[str]) -> dict[str, Attribute]:
        if not codes:
            return {}
        rows = await self._conn.execute(sa.select(attributes).where(attributes.c.code.in_(codes)))
        return {row["code"]: _to_attribute(row) for row in rows.mappings()}

    async def add(self, attribute: Attribute) -> bool:
        statement = (
            insert(attributes)
            .values(**_to_row(attribute), created_at=attribute.updated_at)
            .on_conflict_do_nothing(index_elements=[attributes.c.code])
            .returning(attributes.c.code)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def update(self, attribute: Attribute) -> None:
        await self._conn.execute(
            sa.update(attributes)
            .where(attributes.c.code == attribute.code)
            .values(**_to_row(attribute))
        )

    async def list_after(self, after: str | None, limit: int) -> list[Attribute]:
        statement = sa.select(attributes).order_by(attributes.c.code).limit(limit)
        if after is not None:
            statement = statement.where(attributes.c.code > after)
        return [_to_attribute(row) for row in (await self._conn.execute(statement)).mappings()]


def _to_row(attribute: Attribute) -> dict[str, Any]:
    return {
        "code": attribute.code,
        "type": attribute.type.value,
        "labels": dict(attribute.labels),
        "definition": {
            "group": attribute.group,
            "max_length": attribute.max_length,
            "pattern": attribute.pattern,
            "minimum": _text(attribute.minimum),
            "maximum": _text(attribute.maximum),
            "decimals": attribute.decimals,
            "unit_family": attribute.unit_family,
            "options": [{"code": o.code, "labels": dict(o.labels)} for o in attribute.options],
            "columns": [{"code": c.code, "type": c.type.value} for c in attribute.columns],
            "localizable": attribute.localizable,
            "scopable": attribute.scopable,
        },
        "version": attribute.version,
        "updated_at": attribute.updated_at,
    }


def _to_attribute(row: sa.RowMapping) -> Attribute:
    d = row["definition"]
    return Attribute(
        code=row["code"],
        type=AttributeType(row["type"]),
        version=row["version"],
        updated_at=row["updated_at"],
        labels=row["labels"],
        group=d["group"],
        max_length=d["max_length"],
        pattern=d["pattern"],
        minimum=Decimal(d["minimum"]) if d["minimum"] is not None else None,
        maximum=Decimal(d["maximum"]) if d["maximum"] is not None else None,
        decimals=d["decimals"],
        unit_family=d["unit_family"],
        options=tuple(Option(o["code"], o["labels"]) for o in d["options"]),
        columns=tuple(Column(c["code"], ColumnType(c["type"])) for c in d["columns"]),
        # Definitions stored before values were localizable (0011) are neither.
        localizable=d.get("localizable", False),
        scopable=d.get("scopable", False),
    )


def _text(number: Decimal | None) -> str | None:
    """Exact as text: a JSONB number would come back through json.loads as a float."""
    return format(number, "f") if number is not None else None

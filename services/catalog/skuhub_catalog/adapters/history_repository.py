"""PostgreSQL implementation of the product history."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_catalog.adapters.tables import product_history
from skuhub_catalog.domain.history import FieldChange, HistoryEntry


class SqlHistoryRepository:
    """History entries in PostgreSQL, keyed by SKU and version."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def record(self, entry: HistoryEntry) -> None:
        await self._conn.execute(sa.insert(product_history).values(**history_row(entry)))

    async def of(self, sku: str, *, before: int | None, limit: int) -> list[HistoryEntry]:
        statement = (
            sa.select(product_history)
            .where(product_history.c.sku == sku)
            .order_by(product_history.c.version.desc())
            .limit(limit)
        )
        if before is not None:
            statement = statement.where(product_history.c.version < before)
        return [
            HistoryEntry(
                sku=row.sku,
                version=row.version,
                actor=row.actor,
                changed_at=row.changed_at,
                changes=tuple(FieldChange(c["field"], c["old"], c["new"]) for c in row.changes),
                via=row.via,
                comment=row.comment,
            )
            for row in await self._conn.execute(statement)
        ]


def history_row(entry: HistoryEntry) -> dict[str, Any]:
    """A history entry as its table row."""
    return {
        "sku": entry.sku,
        "version": entry.version,
        "actor": entry.actor,
        "via": entry.via,
        "comment": entry.comment,
        "changed_at": entry.changed_at,
        "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in entry.changes],
    }

"""PostgreSQL implementation of the flow repository: positions, network stock and days."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_lifecycle.adapters.tables import (
    COUNTER_COLUMNS,
    positions,
    sku_days,
    sku_stock,
    stockouts,
)
from skuhub_lifecycle.domain.flows import DayFlows, PositionReport, SkuStock
from skuhub_lifecycle.domain.gates import NO_STOCK, NetworkStock
from skuhub_lifecycle.domain.metrics import Span
from skuhub_runtime.bulk import Among, BulkInsert, update_on_conflict

_STOCK_FIELDS = (
    "on_hand",
    "reserved",
    "available_to_promise",
    *COUNTER_COLUMNS,
    "tracked_since",
    "last_at",
    "last_sale_at",
    "zero_since",
)
_POSITION_FIELDS = (
    "version",
    "on_hand",
    "reserved",
    "location_available_to_promise",
    *COUNTER_COLUMNS,
    "changed_at",
)

# Keys as arrays: the same SQL for any number of SKUs, parsed and planned once
# (docs/profiling.md, "Statements of fixed SQL").
_STOCK_SKUS = Among([sku_stock.c.sku], "skus")
_STOCKS_OF = (
    sa.select(sku_stock).where(_STOCK_SKUS.clause).order_by(sku_stock.c.sku).with_for_update()
)
_POSITION_SKUS = Among([positions.c.sku], "skus")
_POSITIONS_OF = sa.select(positions).where(_POSITION_SKUS.clause)
_SAVE_STOCKS = BulkInsert(
    sku_stock,
    ("sku", *_STOCK_FIELDS),
    on_conflict=update_on_conflict(("sku",), _STOCK_FIELDS),
)
_SAVE_POSITIONS = BulkInsert(
    positions,
    ("sku", "location", "lot", *_POSITION_FIELDS),
    on_conflict=update_on_conflict(("sku", "location", "lot"), _POSITION_FIELDS),
)
# Counters add up; a day's closing stock is the latest known. One row per SKU and day.
_ADD_DAYS = BulkInsert(
    sku_days,
    ("sku", "day", *COUNTER_COLUMNS, "on_hand_close"),
    on_conflict="ON CONFLICT (sku, day) DO UPDATE SET "
    + ", ".join(f"{name} = sku_days.{name} + EXCLUDED.{name}" for name in COUNTER_COLUMNS)
    + ", on_hand_close = coalesce(EXCLUDED.on_hand_close, sku_days.on_hand_close)",
)


class SqlFlowRepository:
    """Each SKU's positions, network stock and day ledger, in PostgreSQL."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def load(self, skus: Iterable[str]) -> dict[str, SkuStock]:
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        locked = await self._conn.execute(_STOCKS_OF, _STOCK_SKUS.keys(wanted))
        found = {row["sku"]: _to_stock(row) for row in locked.mappings()}
        rows = await self._conn.execute(_POSITIONS_OF, _POSITION_SKUS.keys(sorted(found)))
        for row in rows.mappings():
            report = PositionReport(
                sku=row["sku"],
                location=row["location"],
                lot=row["lot"] or None,
                version=row["version"],
                on_hand=row["on_hand"],
                reserved=row["reserved"],
                location_available_to_promise=row["location_available_to_promise"],
                received=row["received"],
                shipped=row["shipped"],
                returned=row["returned"],
                scrapped=row["scrapped"],
                lost_sales=row["lost_sales"],
                changed_at=_utc(row["changed_at"]),
            )
            found[row["sku"]].positions[report.key] = report
        return found

    async def save(
        self,
        stocks: Iterable[SkuStock],
        reports: Sequence[PositionReport],
        days: Iterable[DayFlows],
        stockout_spans: Mapping[tuple[str, datetime], datetime | None],
    ) -> None:
        conn = self._conn
        await _SAVE_STOCKS.execute(
            conn,
            [
                (s.sku, *[getattr(s, name) for name in _STOCK_FIELDS])
                for s in sorted(stocks, key=lambda s: s.sku)
            ],
        )
        newest: dict[tuple[str, str, str], PositionReport] = {}
        for report in reports:
            newest[(report.sku, report.location, report.lot or "")] = report
        await _SAVE_POSITIONS.execute(
            conn,
            [
                (*key, *[getattr(r, name) for name in _POSITION_FIELDS])
                for key, r in sorted(newest.items())
            ],
        )
        await _ADD_DAYS.execute(
            conn,
            [
                (d.sku, d.day, *[getattr(d, name) for name in COUNTER_COLUMNS], d.on_hand_close)
                for d in sorted(days, key=lambda d: (d.sku, d.day))
            ],
        )
        if stockout_spans:
            statement = insert(stockouts)
            await self._conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[stockouts.c.sku, stockouts.c.started_at],
                    set_={"ended_at": statement.excluded.ended_at},
                ),
                [
                    {"sku": sku, "started_at": start, "ended_at": end}
                    for (sku, start), end in sorted(stockout_spans.items())
                ],
            )

    async def stockouts(self, sku: str, *, since: datetime) -> list[Span]:
        statement = (
            sa.select(stockouts.c.started_at, stockouts.c.ended_at)
            .where(
                stockouts.c.sku == sku,
                sa.or_(stockouts.c.ended_at.is_(None), stockouts.c.ended_at > since),
            )
            .order_by(stockouts.c.started_at)
        )
        return [
            Span(_utc(start), _utc_or_none(end))
            for start, end in await self._conn.execute(statement)
        ]

    async def network(self, sku: str) -> NetworkStock:
        statement = sa.select(
            sku_stock.c.on_hand, sku_stock.c.reserved, sku_stock.c.available_to_promise
        ).where(sku_stock.c.sku == sku)
        row = (await self._conn.execute(statement)).first()
        if row is None:
            return NO_STOCK
        return NetworkStock(row.on_hand, row.reserved, row.available_to_promise)

    async def stock_of(self, sku: str) -> SkuStock | None:
        row = (
            (await self._conn.execute(sa.select(sku_stock).where(sku_stock.c.sku == sku)))
            .mappings()
            .first()
        )
        return _to_stock(row) if row is not None else None

    async def days(
        self, sku: str, *, since: date, until: date
    ) -> tuple[DayFlows | None, list[DayFlows]]:
        """The last recorded day before ``since`` and the recorded days from ``since`` to
        ``until``, in order, in one statement."""
        before = (
            sa.select(sku_days)
            .where(
                sku_days.c.sku == sku, sku_days.c.day < since, sku_days.c.on_hand_close.is_not(None)
            )
            .order_by(sku_days.c.day.desc())
            .limit(1)
        )
        inside = sa.select(sku_days).where(
            sku_days.c.sku == sku, sku_days.c.day >= since, sku_days.c.day <= until
        )
        statement = sa.union_all(before.subquery().select(), inside).order_by(sa.text("day"))
        rows = [_to_day(row) for row in (await self._conn.execute(statement)).mappings()]
        if rows and rows[0].day < since:
            return rows[0], rows[1:]
        return None, rows

    async def days_of(
        self, skus: Iterable[str], *, since: date, until: date
    ) -> dict[str, list[DayFlows]]:
        statement = (
            sa.select(sku_days)
            .where(
                sku_days.c.sku.in_(sorted(set(skus))),
                sku_days.c.day >= since,
                sku_days.c.day <= until,
            )
            .order_by(sku_days.c.sku, sku_days.c.day)
        )
        found: dict[str, list[DayFlows]] = {}
        for row in (await self._conn.execute(statement)).mappings():
            found.setdefault(row["sku"], []).append(_to_day(row))
        return found

    async def on_hand_of(self, skus: Iterable[str]) -> dict[str, Decimal]:
        statement = sa.select(sku_stock.c.sku, sku_stock.c.on_hand).where(
            sku_stock.c.sku.in_(sorted(set(skus)))
        )
        return {row.sku: row.on_hand for row in await self._conn.execute(statement)}

    async def units_sold(self, *, since: date, until: date) -> dict[str, Decimal]:
        statement = (
            sa.select(sku_days.c.sku, sa.func.sum(sku_days.c.shipped))
            .where(sku_days.c.day >= since, sku_days.c.day <= until)
            .group_by(sku_days.c.sku)
        )
        return {row[0]: row[1] for row in await self._conn.execute(statement)}

    async def weekly_demand(self, *, since: date, until: date) -> dict[str, dict[int, Decimal]]:
        """Units sold plus lost sales per SKU and seven-day span, numbered back from
        ``until`` (0: the span ending ``until``)."""
        week = sa.cast(sa.func.floor((until - sku_days.c.day) / 7), sa.Integer).label("week")
        statement = (
            sa.select(
                sku_days.c.sku,
                week,
                sa.func.sum(sku_days.c.shipped + sku_days.c.lost_sales),
            )
            .where(sku_days.c.day >= since, sku_days.c.day <= until)
            .group_by(sku_days.c.sku, week)
        )
        found: dict[str, dict[int, Decimal]] = {}
        for sku, n, demand in await self._conn.execute(statement):
            found.setdefault(sku, {})[n] = demand
        return found

    async def first_days(self) -> dict[str, date]:
        statement = sa.select(sku_stock.c.sku, sku_stock.c.tracked_since).where(
            sku_stock.c.tracked_since.is_not(None)
        )
        return {
            sku: since.astimezone(UTC).date() for sku, since in await self._conn.execute(statement)
        }


def _to_stock(row: sa.RowMapping) -> SkuStock:
    return SkuStock(
        sku=row["sku"],
        on_hand=row["on_hand"],
        reserved=row["reserved"],
        available_to_promise=row["available_to_promise"],
        received=row["received"],
        shipped=row["shipped"],
        returned=row["returned"],
        scrapped=row["scrapped"],
        lost_sales=row["lost_sales"],
        tracked_since=_utc_or_none(row["tracked_since"]),
        last_at=_utc_or_none(row["last_at"]),
        last_sale_at=_utc_or_none(row["last_sale_at"]),
        zero_since=_utc_or_none(row["zero_since"]),
    )


def _utc_or_none(at: datetime | None) -> datetime | None:
    return at.astimezone(UTC) if at is not None else None


def _to_day(row: sa.RowMapping) -> DayFlows:
    return DayFlows(
        sku=row["sku"],
        day=row["day"],
        **{name: row[name] for name in COUNTER_COLUMNS},
        on_hand_close=row["on_hand_close"],
    )


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC)

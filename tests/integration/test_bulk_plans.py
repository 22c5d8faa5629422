"""The ledger's loads by key arrays use the primary key, not a scan of a big positions table.

A list of keys given as arrays (skuhub_runtime.bulk.among) is planned once for any number
of keys (a generic plan): each statement must still find its rows by index there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler

from skuhub_runtime.bulk import key_arrays
from skuhub_stock.adapters import ledger_repository as ledger_sql

pytestmark = pytest.mark.integration

POSITIONS = 60_000


async def plan_of(
    conn: AsyncConnection, statement: sa.ClauseElement, parameters: dict[str, Any]
) -> dict[str, Any]:
    """The generic plan PostgreSQL runs ``statement`` with."""
    compiled = cast(SQLCompiler, statement.compile(dialect=conn.dialect))
    values = compiled.construct_params(parameters)
    order = compiled.positiontup or []
    await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    result = await conn.exec_driver_sql(
        f"EXPLAIN (FORMAT JSON) {compiled.string}", tuple(values[name] for name in order)
    )
    plan: dict[str, Any] = result.scalar_one()[0]["Plan"]
    return plan


def scans_of(plan: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """Every node of ``plan`` that reads ``table``."""
    found = [plan] if plan.get("Relation Name") == table else []
    for child in plan.get("Plans", []):
        found += scans_of(child, table)
    return found


@pytest.fixture
async def big_ledger(engine: AsyncEngine) -> AsyncEngine:
    async with engine.begin() as conn:
        await conn.exec_driver_sql(
            "INSERT INTO positions (sku, location, lot, unit, on_hand, reserved, in_transit,"
            " version, updated_at)"
            " SELECT 'SKU-' || (i / 20), 'LOC-' || (i % 20),"
            " CASE WHEN i % 3 = 0 THEN 'LOT-' || (i % 7) ELSE '' END,"
            f" 'EA', 1, 0, 0, 1, now() FROM generate_series(1, {POSITIONS}) AS i"
        )
        await conn.exec_driver_sql("ANALYZE positions")
    return engine


async def test_positions_at_places_and_of_lots_are_looked_up_by_key(
    big_ledger: AsyncEngine,
) -> None:
    places = ledger_sql._AT_PLACES.keys([("SKU-5", "LOC-5"), ("SKU-77", "LOC-17")])
    lots = ledger_sql._OF_LOTS.keys([("SKU-9", "LOT-3")])
    async with big_ledger.begin() as conn:
        at_places = await plan_of(conn, ledger_sql._POSITIONS_AT, places)
        with_lots = await plan_of(conn, ledger_sql._POSITIONS_AT_OR_OF_LOTS, places | lots)
        found = await conn.execute(ledger_sql._POSITIONS_AT_OR_OF_LOTS, places | lots)
        rows = [(r.sku, r.location, r.lot) for r in found]
    for plan in (at_places, with_lots):
        scans = scans_of(plan, "positions")
        assert scans, plan
        for scan in scans:
            # An index scan without a condition reads the whole table in key order.
            assert scan["Node Type"] == "Index Scan", scan
            assert "Index Cond" in scan, scan
    # The positions the fixture's formula made, filtered in Python.
    made = [generated(i) for i in range(1, POSITIONS + 1)]
    wanted = [
        p
        for p in made
        if (p[0], p[1]) in {("SKU-5", "LOC-5"), ("SKU-77", "LOC-17")}
        or (p[0], p[2]) == ("SKU-9", "LOT-3")
    ]
    assert len(wanted) > 2
    assert rows == sorted(wanted)


def generated(i: int) -> tuple[str, str, str]:
    """Position ``i`` as the fixture's INSERT makes it."""
    return f"SKU-{i // 20}", f"LOC-{i % 20}", f"LOT-{i % 7}" if i % 3 == 0 else ""


async def test_effects_after_counts_are_looked_up_by_key(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql(
            "INSERT INTO effects (event_id, sku, location, lot, occurred_at, on_hand, absorbed)"
            " SELECT 'e' || i, 'SKU-' || (i / 20), 'LOC-' || (i % 20), '',"
            " timestamp '2026-01-01' + i * interval '1 minute', 1, false"
            f" FROM generate_series(1, {POSITIONS}) AS i"
        )
        await conn.exec_driver_sql("ANALYZE effects")
        counts = key_arrays("counts", [("SKU-5", "LOC-5", "", datetime(2026, 1, 1, tzinfo=UTC))], 4)
        plan = await plan_of(conn, ledger_sql._COUNTED_LATER, counts)
        later = (await conn.execute(ledger_sql._COUNTED_LATER, counts)).all()
    scans = scans_of(plan, "effects")
    assert scans, plan
    for scan in scans:
        assert scan["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"), scan
        assert "Index Cond" in scan or "Recheck Cond" in scan, scan
    # One effect at SKU-5, LOC-5 (i = 105), 105 minutes after the count, of 1.
    assert [(r[0], r[1], r[4]) for r in later] == [("SKU-5", "LOC-5", 1)]

"""Rows as column arrays (skuhub_runtime.bulk) against the real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine

from skuhub_runtime.bulk import DO_NOTHING, Among, BulkInsert, update_on_conflict

pytestmark = pytest.mark.integration

metadata = sa.MetaData()
things = sa.Table(
    "bulk_things",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("sku", sa.Text, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("quantity", sa.Numeric),
    sa.Column("day", sa.Date),
    sa.Column("at", sa.DateTime(timezone=True)),
    sa.Column("flag", sa.Boolean),
    sa.Column("doc", JSONB),
    sa.Column("blob", sa.LargeBinary),
    sa.UniqueConstraint("sku", "location"),
)
COLUMNS = ("sku", "location", "quantity", "day", "at", "flag", "doc", "blob")
AT = datetime(2026, 12, 3, 17, 30, tzinfo=UTC)


@pytest.fixture
async def table(engine: AsyncEngine) -> AsyncEngine:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return engine


async def stored(engine: AsyncEngine) -> list[tuple[object, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(things).order_by(things.c.id))
        return [tuple(row) for row in rows]


async def test_every_type_goes_in_as_given_and_in_the_given_order(table: AsyncEngine) -> None:
    first = ("B-2", "L1", Decimal("1.250"), date(2026, 1, 31), AT, True, {"a": [1, "x"]}, b"\x00")
    rows = [
        first,
        ("A-1", "L2", None, None, None, None, None, None),
        ("C-3", "L1", Decimal("-7"), date(2027, 2, 1), AT, False, "text", b""),
    ]
    async with table.begin() as conn:
        result = await BulkInsert(things, COLUMNS).execute(conn, rows)
    assert result is not None
    assert result.rowcount == 3
    got = await stored(table)
    # In identity order the rows come out as given, not sorted (the outbox relies on it).
    assert [row[1] for row in got] == ["B-2", "A-1", "C-3"]
    assert got[0][1:] == first
    assert got[1][1:] == ("A-1", "L2", None, None, None, None, None, None)
    assert got[2][7:] == ("text", b"")  # JSON values are written as JSON: a string stays one


async def test_conflicts_are_skipped_or_update_the_named_columns(table: AsyncEngine) -> None:
    new_only = BulkInsert(things, ("sku", "location"), on_conflict=DO_NOTHING, returning=("sku",))
    async with table.begin() as conn:
        first = await new_only.execute(conn, [("A", "L1"), ("B", "L1"), ("A", "L1")])
        again = await new_only.execute(conn, [("A", "L1"), ("C", "L1")])
        assert first is not None
        assert again is not None
        assert sorted(first.scalars()) == ["A", "B"]  # the duplicate in the batch is skipped
        assert list(again.scalars()) == ["C"]
        upsert = BulkInsert(
            things,
            ("sku", "location", "quantity", "flag"),
            on_conflict=update_on_conflict(("sku", "location"), ("quantity",)),
        )
        await upsert.execute(conn, [("B", "L1", Decimal(5), True), ("D", "L1", Decimal(1), True)])
    got = {(row[1], row[2]): (row[3], row[6]) for row in await stored(table)}
    assert got == {
        ("A", "L1"): (None, None),
        ("B", "L1"): (Decimal(5), None),  # quantity updated; flag not named, so kept
        ("C", "L1"): (None, None),
        ("D", "L1"): (Decimal(1), True),
    }


async def test_nothing_to_insert_runs_nothing(table: AsyncEngine) -> None:
    async with table.begin() as conn:
        assert await BulkInsert(things, COLUMNS).execute(conn, []) is None
    assert await stored(table) == []


def test_a_row_of_the_wrong_width_is_refused_with_the_row() -> None:
    with pytest.raises(ValueError, match=r"a row has 1 values for 2 columns: \('A',\)"):
        BulkInsert(things, ("sku", "location")).parameters([("A", "L1"), ("A",)])


async def test_any_number_of_rows_or_keys_is_one_prepared_statement(table: AsyncEngine) -> None:
    insert = BulkInsert(things, ("sku", "location"))
    places = Among([things.c.sku, things.c.location], "places")
    by_place = sa.select(things.c.sku).where(places.clause)
    async with table.begin() as conn:
        for count in (1, 7, 300):
            await insert.execute(conn, [(f"S{count}-{i}", "L") for i in range(count)])
            await conn.execute(by_place, places.keys([(f"S{count}-0", "L")] * count))
        prepared = (
            await conn.execute(
                sa.text(
                    "SELECT statement FROM pg_prepared_statements"
                    " WHERE statement ~ '^(INSERT INTO|SELECT) bulk_things'"
                )
            )
        ).scalars()
        texts = list(prepared)
    assert len([t for t in texts if t.startswith("INSERT")]) == 1, texts
    assert len([t for t in texts if t.startswith("SELECT")]) == 1, texts


async def test_among_finds_rows_by_one_or_more_columns(table: AsyncEngine) -> None:
    skus = Among([things.c.sku], "skus")
    places = Among([things.c.sku, things.c.location], "places")
    by_sku = sa.select(things.c.location).where(skus.clause)
    by_place = sa.select(things.c.sku, things.c.location).where(places.clause)
    async with table.begin() as conn:
        await BulkInsert(things, ("sku", "location")).execute(
            conn, [("A", "L1"), ("A", "L2"), ("B", "L1")]
        )
        assert sorted((await conn.execute(by_sku, skus.keys(["A"]))).scalars()) == ["L1", "L2"]
        assert list((await conn.execute(by_sku, skus.keys([]))).scalars()) == []
        found = await conn.execute(by_place, places.keys([("A", "L2"), ("B", "L1"), ("B", "L2")]))
        assert sorted(tuple(r) for r in found) == [("A", "L2"), ("B", "L1")]
        assert list(await conn.execute(by_place, places.keys([]))) == []


def test_a_key_of_the_wrong_width_is_refused() -> None:
    places = Among([things.c.sku, things.c.location], "places")
    with pytest.raises(ValueError, match="zip"):
        places.keys([("A", "L1"), ("B",)])

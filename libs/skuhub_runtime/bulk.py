"""Many rows in one statement whose SQL never changes: each column travels as one array.

SQLAlchemy's executemany sends one bind and execute per row (asyncpg pipelines them, and
PostgreSQL still binds and runs each), and a multi-row ``VALUES`` has new SQL for every
row count, which PostgreSQL parses and plans again and asyncpg prepares again. Here a
batch is one round trip of one prepared statement, however many rows it has:
``INSERT … SELECT … FROM unnest(:column arrays) WITH ORDINALITY ORDER BY ordinality``
(the rows go in in the caller's order: identities and lock order follow it). Reads name
many keys the same way (:class:`Among`). docs/profiling.md, "Statements of fixed SQL".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_runtime.db import json_text

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
_quote = _DIALECT.identifier_preparer.quote
DO_NOTHING = "ON CONFLICT DO NOTHING"


def update_on_conflict(keys: Sequence[str], columns: Sequence[str], *, where: str = "") -> str:
    """``ON CONFLICT (keys) DO UPDATE`` setting ``columns`` to the new row's values (only
    where ``where`` holds, when given: SQL over the table and ``EXCLUDED``)."""
    assignments = ", ".join(f"{_quote(c)} = EXCLUDED.{_quote(c)}" for c in columns)
    clause = f"ON CONFLICT ({', '.join(map(_quote, keys))}) DO UPDATE SET {assignments}"
    return f"{clause} WHERE {where}" if where else clause


class BulkInsert:
    """An ``INSERT`` of any number of rows (tuples in the order of ``columns``) in one
    statement of fixed SQL. A JSON column's values travel as JSON text, written here as
    the engine writes them (None is JSON null, as in SQLAlchemy's JSON type)."""

    def __init__(
        self,
        table: sa.Table,
        columns: Sequence[str],
        *,
        on_conflict: str = "",
        returning: Sequence[str] = (),
    ) -> None:
        self.columns = tuple(columns)
        self._json = frozenset(
            index
            for index, name in enumerate(self.columns)
            if isinstance(table.c[name].type, sa.JSON)
        )
        arrays, selected = [], []
        for index, name in enumerate(self.columns):
            column_type = table.c[name].type
            travels_as_text = isinstance(column_type, sa.JSON)
            array_of = "TEXT" if travels_as_text else column_type.compile(dialect=_DIALECT)
            arrays.append(f"CAST(:c{index} AS {array_of}[])")
            value = f"r.c{index}"
            selected.append(
                f"CAST({value} AS {column_type.compile(dialect=_DIALECT)})"
                if travels_as_text
                else value
            )
        aliases = ", ".join(f"c{i}" for i in range(len(self.columns)))
        sql = (
            f"INSERT INTO {_quote(table.name)} ({', '.join(map(_quote, self.columns))}) "
            f"SELECT {', '.join(selected)} FROM unnest({', '.join(arrays)}) "
            f"WITH ORDINALITY AS r({aliases}, n) ORDER BY r.n"
        )
        if on_conflict:
            sql += f" {on_conflict}"
        if returning:
            sql += f" RETURNING {', '.join(map(_quote, returning))}"
        self.statement = sa.text(sql)

    def parameters(self, rows: Sequence[Sequence[Any]]) -> dict[str, list[Any]]:
        """The statement's parameters for ``rows``: one list per column."""
        width = len(self.columns)
        for row in rows:
            if len(row) != width:
                raise ValueError(f"a row has {len(row)} values for {width} columns: {row!r}")
        columns = zip(*rows, strict=True) if rows else ([] for _ in range(width))
        return {
            f"c{index}": [json_text(v) for v in values] if index in self._json else list(values)
            for index, values in enumerate(columns)
        }

    async def execute(
        self, conn: AsyncConnection, rows: Sequence[Sequence[Any]]
    ) -> sa.CursorResult[Any] | None:
        """Insert ``rows`` in the connection's transaction; None when there are none."""
        if not rows:
            return None
        return await conn.execute(self.statement, self.parameters(rows))


class Among:
    """Rows whose ``columns`` take one of a list of keys: :attr:`clause` goes in a
    statement, :meth:`keys` gives its parameters (one array per column).

    One column: ``column = ANY(:name0)``; more: ``(a, b) IN (SELECT * FROM unnest(:name0,
    :name1))``. The SQL is the same for any number of keys. ``name`` tells apart two lists
    in one statement.
    """

    def __init__(self, columns: Sequence[sa.ColumnElement[Any]], name: str) -> None:
        self._name, self._width = name, len(columns)
        arrays = [
            sa.bindparam(f"{name}{index}", type_=ARRAY(column.type))
            for index, column in enumerate(columns)
        ]
        if len(arrays) == 1:
            self.clause: sa.ColumnElement[bool] = columns[0] == sa.any_(arrays[0])
            return
        listed = (
            sa.func.unnest(*arrays)
            .table_valued(*(f"k{i}" for i in range(len(arrays))))
            .render_derived()
        )
        self.clause = sa.tuple_(*columns).in_(sa.select(*listed.c))

    def keys(self, listed: Sequence[Any]) -> dict[str, list[Any]]:
        """The parameters for ``listed`` keys: tuples of one value per column, or single
        values for one column."""
        return key_arrays(self._name, listed, self._width)


def key_arrays(name: str, listed: Sequence[Any], width: int) -> dict[str, list[Any]]:
    """Parameters ``name0`` … for ``listed`` keys as one array per column: tuples of
    ``width`` values, or single values when ``width`` is 1 (what :class:`Among` binds; for
    a statement that joins the arrays itself)."""
    if width == 1:
        return {f"{name}0": list(listed)}
    columns = zip(*listed, strict=True) if listed else ([] for _ in range(width))
    return {f"{name}{index}": list(values) for index, values in enumerate(columns)}

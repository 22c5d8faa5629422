"""Where reconcilers keep their verdicts and their place in the sweep (PostgreSQL).

Two tables every reconciling service has in its own schema (its ``adapters/tables.py``
adds them with :func:`add_to`; its migration creates them):

- ``position_checks``: the last verdict of each position of its stock projection, with
  the time its episode began (so a mismatch has an age);
- ``reconciler_sweeps``: per sweep, the SKU the next batch starts after, and when the
  last complete sweep started and ended.

:class:`ProjectionSpec` says which table and columns hold a service's projection of
stock-level-changed, so one reader serves them all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_runtime.bulk import BulkInsert, update_on_conflict
from skuhub_runtime.reconcile import (
    Claim,
    Figures,
    PositionKey,
    PositionVerdict,
    Standing,
    Sweep,
    Tally,
    Verdict,
)

metadata = sa.MetaData()

position_checks = sa.Table(
    "position_checks",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("location", sa.Text, primary_key=True),
    sa.Column("lot", sa.Text, primary_key=True),
    sa.Column("verdict", sa.Text, nullable=False),
    sa.Column("local_version", sa.BigInteger),
    sa.Column("stock_version", sa.BigInteger),
    # The quantities compared, {name: decimal string}; null where a side lacks the position.
    sa.Column("local", JSONB),
    sa.Column("stock", JSONB),
    sa.Column("reason", sa.Text, nullable=False),
    # [[location, lot, version], ...]: what stock had when an in-flight episode began.
    sa.Column("awaited", JSONB, nullable=False),
    sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("position_checks_by_verdict", position_checks.c.verdict, position_checks.c.since)

reconciler_sweeps = sa.Table(
    "reconciler_sweeps",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("after_sku", sa.Text, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("checked_skus", sa.BigInteger, nullable=False),
    sa.Column("last_started_at", sa.DateTime(timezone=True)),
    sa.Column("last_finished_at", sa.DateTime(timezone=True)),
    sa.Column("last_skus", sa.BigInteger),
)


def add_to(service_metadata: sa.MetaData) -> None:
    """Add the reconciler's tables to a service's metadata."""
    for table in (position_checks, reconciler_sweeps):
        table.to_metadata(service_metadata)


# ---- the sweep


class SweepStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def claim(
        self,
        name: str,
        batch: int,
        skus_after: Callable[[str, int], Awaitable[list[str]]],
        now: datetime,
    ) -> Claim:
        """Take the next ``batch`` SKUs of the sweep (under the sweep row's lock, so
        instances of a service share a pass instead of repeating it). Fewer than
        ``batch`` ends the pass: it is recorded as the last complete one and the next
        claim starts over."""
        await self._conn.execute(
            insert(reconciler_sweeps)
            .values(name=name, after_sku="", started_at=now, checked_skus=0)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        row = (
            (
                await self._conn.execute(
                    sa.select(reconciler_sweeps)
                    .where(reconciler_sweeps.c.name == name)
                    .with_for_update()
                )
            )
            .mappings()
            .one()
        )
        skus = await skus_after(row["after_sku"], batch)
        checked = row["checked_skus"] + len(skus)
        # A pass starts with its first claim (the pause between passes is not part of it).
        fresh = row["after_sku"] == "" and row["checked_skus"] == 0
        started = now if fresh else row["started_at"]
        if len(skus) == batch:
            values: dict[str, Any] = {
                "after_sku": skus[-1],
                "checked_skus": checked,
                "started_at": started,
            }
            ended = False
        else:
            values = {
                "after_sku": "",
                "started_at": now,
                "checked_skus": 0,
                "last_started_at": started,
                "last_finished_at": now,
                "last_skus": checked,
            }
            ended = True
        await self._conn.execute(
            sa.update(reconciler_sweeps).where(reconciler_sweeps.c.name == name).values(values)
        )
        return Claim(skus, Sweep(**{**dict(row), **values}), ended, row["after_sku"])

    async def finished(self, name: str, at: datetime) -> None:
        """The pass the last claim ended has stored its last verdicts ``at``."""
        await self._conn.execute(
            sa.update(reconciler_sweeps)
            .where(reconciler_sweeps.c.name == name)
            .values(last_finished_at=at)
        )

    async def get(self, name: str) -> Sweep | None:
        row = (
            (
                await self._conn.execute(
                    sa.select(reconciler_sweeps).where(reconciler_sweeps.c.name == name)
                )
            )
            .mappings()
            .first()
        )
        return Sweep(**dict(row)) if row is not None else None


# ---- a projection of stock-level-changed


@dataclass(frozen=True, slots=True)
class ProjectionSpec:
    """Where a service keeps its projection of stock positions: one row per SKU,
    location and lot ("" for none), with the event's position version."""

    table: sa.Table
    quantities: Mapping[str, str]
    """Projection column -> the stock figure it holds (stock_positions.QUANTITIES)."""
    version: str = "version"


async def projection_skus_after(
    conn: AsyncConnection, spec: ProjectionSpec, after: str, limit: int
) -> list[str]:
    """The projection's SKUs after ``after``, in order (an index range on the key)."""
    sku = spec.table.c.sku
    rows = await conn.execute(
        sa.select(sku).where(sku > after).group_by(sku).order_by(sku).limit(limit)
    )
    return list(rows.scalars())


async def read_projection(
    conn: AsyncConnection, spec: ProjectionSpec, skus: Sequence[str]
) -> dict[str, list[Figures]]:
    """Each SKU's projected positions, as figures named like stock's."""
    if not skus:
        return {}
    t = spec.table
    rows = await conn.execute(
        sa.select(
            t.c.sku, t.c.location, t.c.lot, t.c[spec.version], *(t.c[c] for c in spec.quantities)
        ).where(t.c.sku.in_(sorted(set(skus))))
    )
    found: dict[str, list[Figures]] = {}
    for row in rows.mappings():
        found.setdefault(row["sku"], []).append(
            Figures(
                location=row["location"],
                lot=row["lot"] or "",
                version=int(row[spec.version]),
                quantities={name: Decimal(row[c]) for c, name in spec.quantities.items()},
            )
        )
    return found


# ---- verdicts of positions


def awaited_json(awaited: Mapping[PositionKey, int]) -> list[list[Any]]:
    return [[location, lot, version] for (location, lot), version in sorted(awaited.items())]


def awaited_of(value: Sequence[Sequence[Any]] | None) -> dict[PositionKey, int]:
    return {(str(loc), str(lot)): int(version) for loc, lot, version in value or ()}


def quantities_json(figures: Figures | None) -> dict[str, str] | None:
    if figures is None:
        return None
    return {name: format(q, "f") for name, q in sorted(figures.quantities.items())}


_CHECK_COLUMNS = (
    "sku",
    "location",
    "lot",
    "verdict",
    "local_version",
    "stock_version",
    "local",
    "stock",
    "reason",
    "awaited",
    "since",
    "checked_at",
)
_WRITE_CHECKS = BulkInsert(
    position_checks,
    _CHECK_COLUMNS,
    on_conflict=update_on_conflict(("sku", "location", "lot"), _CHECK_COLUMNS[3:]),
)


class PositionCheckStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def previous(self, skus: Sequence[str]) -> dict[tuple[str, str, str], Standing]:
        """The stored verdicts of these SKUs' positions."""
        if not skus:
            return {}
        t = position_checks
        rows = await self._conn.execute(
            sa.select(
                t.c.sku, t.c.location, t.c.lot, t.c.verdict, t.c.since, t.c.reason, t.c.awaited
            ).where(t.c.sku.in_(sorted(set(skus))))
        )
        return {
            (r.sku, r.location, r.lot): Standing(
                Verdict(r.verdict), r.since, r.reason, awaited_of(r.awaited)
            )
            for r in rows
        }

    async def replace(
        self,
        verdicts: Sequence[PositionVerdict],
        previous: Mapping[tuple[str, str, str], Standing],
        now: datetime,
    ) -> None:
        """Store one step's verdicts over ``previous`` (the stored ones of its SKUs): every
        discrepancy (its figures and time of check), a match when it begins; a match that
        goes on is not written again. Stored positions no side has any more are forgotten."""
        changed = [v for v in verdicts if to_write(v.standing, previous.get(v.key))]
        await _WRITE_CHECKS.execute(
            self._conn,
            [
                (
                    c.sku,
                    c.location,
                    c.lot,
                    c.standing.verdict.value,
                    c.local.version if c.local else None,
                    c.stock.version if c.stock else None,
                    quantities_json(c.local),
                    quantities_json(c.stock),
                    c.standing.reason,
                    awaited_json(c.standing.awaited),
                    c.standing.since,
                    now,
                )
                for c in sorted(changed, key=lambda c: c.key)
            ],
        )
        gone = sorted(set(previous) - {v.key for v in verdicts})
        if gone:
            t = position_checks
            await self._conn.execute(
                sa.delete(t).where(sa.tuple_(t.c.sku, t.c.location, t.c.lot).in_(gone))
            )

    async def forget_outside(self, claim: Claim) -> None:
        """Forget the SKUs the claim passed over: they left the sweep."""
        await self._conn.execute(sa.delete(position_checks).where(outside(position_checks, claim)))

    async def tally(self) -> Tally:
        t = position_checks
        rows = await self._conn.execute(
            sa.select(t.c.verdict, sa.func.count(), sa.func.min(t.c.since)).group_by(t.c.verdict)
        )
        return tally_of((Verdict(v), n, since) for v, n, since in rows)

    async def mismatches(self, limit: int) -> list[PositionVerdict]:
        """Open mismatches, oldest first."""
        t = position_checks
        rows = await self._conn.execute(
            sa.select(t)
            .where(t.c.verdict == Verdict.MISMATCH.value)
            .order_by(t.c.since, t.c.sku, t.c.location, t.c.lot)
            .limit(limit)
        )
        return [_stored(r) for r in rows.mappings()]


def to_write(new: Standing, old: Standing | None) -> bool:
    """Whether a verdict is stored again: a discrepancy always (its figures and time of
    check), a match only when it begins."""
    return new.verdict is not Verdict.MATCH or old is None or old.verdict is not Verdict.MATCH


def outside(table: sa.Table, claim: Claim) -> sa.ColumnElement[bool]:
    """Rows of SKUs within the range a claim walked over that it did not take."""
    sku = table.c.sku
    conditions = [sku > claim.after]
    if not claim.ended:
        conditions.append(sku <= claim.skus[-1])
    if claim.skus:
        conditions.append(sku.not_in(claim.skus))
    return sa.and_(*conditions)


def tally_of(counts: Any) -> Tally:
    """A tally from ``(verdict, count, oldest since)`` rows."""
    by_verdict = {verdict: (n, since) for verdict, n, since in counts}
    return Tally(
        matches=by_verdict.get(Verdict.MATCH, (0, None))[0],
        mismatches=by_verdict.get(Verdict.MISMATCH, (0, None))[0],
        in_flight=by_verdict.get(Verdict.IN_FLIGHT, (0, None))[0],
        oldest_mismatch_since=by_verdict.get(Verdict.MISMATCH, (0, None))[1],
    )


def _figures(row: sa.RowMapping, side: str) -> Figures | None:
    version, quantities = row[f"{side}_version"], row[side]
    if version is None:
        return None
    return Figures(
        location=row["location"],
        lot=row["lot"],
        version=version,
        quantities={name: Decimal(q) for name, q in (quantities or {}).items()},
    )


def _stored(row: sa.RowMapping) -> PositionVerdict:
    return PositionVerdict(
        sku=row["sku"],
        location=row["location"],
        lot=row["lot"],
        standing=Standing(
            Verdict(row["verdict"]), row["since"], row["reason"], awaited_of(row["awaited"])
        ),
        local=_figures(row, "local"),
        stock=_figures(row, "stock"),
        checked_at=row["checked_at"],
    )

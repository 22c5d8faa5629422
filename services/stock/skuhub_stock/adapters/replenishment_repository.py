"""PostgreSQL implementation of the replenishment repository: one statement per call (two
when stored lifecycle policies queue their SKUs' places for review)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_runtime.bulk import Among, BulkInsert
from skuhub_stock.adapters.tables import (
    daily_demand,
    lifecycle_policies,
    positions,
    replenishment_policies,
    review_queue,
)
from skuhub_stock.adapters.tables import replenishment_proposals as proposals
from skuhub_stock.domain.replenishment import (
    DailyDemand,
    DemandNoted,
    LifecyclePolicy,
    PositionKey,
    Proposal,
    ProposalStatus,
    ReplenishmentPolicy,
)
from skuhub_stock.service_layer.replenishment import DemandHistory

# The batch's demand comes combined (one row per SKU, location and day): one statement may
# not update a row twice.
_ADD_DEMAND = BulkInsert(
    daily_demand,
    ("sku", "location", "day", "shipped", "lost_sales"),
    on_conflict="ON CONFLICT (sku, location, day) DO UPDATE SET"
    " shipped = daily_demand.shipped + EXCLUDED.shipped,"
    " lost_sales = daily_demand.lost_sales + EXCLUDED.lost_sales",
)
_ADD_PROPOSAL = insert(proposals).on_conflict_do_nothing().returning(proposals.c.id)
_saved = insert(lifecycle_policies)
_SAVE_LIFECYCLE_POLICY = _saved.on_conflict_do_update(
    index_elements=[lifecycle_policies.c.sku],
    set_={c.name: _saved.excluded[c.name] for c in lifecycle_policies.c if c.name != "sku"},
    # Only a higher version replaces the stored one: a re-delivery or a late arrival of an
    # older policy changes nothing (and is not returned).
    where=lifecycle_policies.c.policy_version < _saved.excluded.policy_version,
).returning(lifecycle_policies.c.sku)


def _at_places(table: sa.Table) -> Among:
    """The table's rows at a list of places (SKU, location)."""
    return Among([table.c.sku, table.c.location], "places")


_DEMAND_AT = _at_places(daily_demand)
_POLICY_AT = _at_places(replenishment_policies)
_PROPOSAL_AT = _at_places(proposals)


_PLACE = (daily_demand.c.sku, daily_demand.c.location)
_FIRST_DAYS = (
    sa.select(*_PLACE, sa.func.min(daily_demand.c.day).label("first_day"))
    .where(_DEMAND_AT.clause)
    .group_by(*_PLACE)
)
_DEMAND_WINDOW = (
    sa.select(daily_demand)
    .where(
        _DEMAND_AT.clause,
        daily_demand.c.day >= sa.bindparam("since", type_=sa.Date),
        daily_demand.c.day <= sa.bindparam("until", type_=sa.Date),
    )
    .order_by(*_PLACE, daily_demand.c.day)
)
_POLICIES_AT = sa.select(replenishment_policies).where(_POLICY_AT.clause)
_LIFECYCLE_SKUS = Among([lifecycle_policies.c.sku], "skus")
_LIFECYCLE_POLICIES_OF = sa.select(lifecycle_policies).where(_LIFECYCLE_SKUS.clause)
_LATEST_PROPOSALS_AT = (
    sa.select(proposals)
    .where(_PROPOSAL_AT.clause)
    .ext(distinct_on(proposals.c.sku, proposals.c.location))
    .order_by(
        proposals.c.sku,
        proposals.c.location,
        (proposals.c.status == ProposalStatus.OPEN.value).desc(),
        proposals.c.seq.desc(),
    )
)


class SqlReplenishmentRepository:
    """Daily demand, policies and proposals in PostgreSQL."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add_demand(self, noted: Sequence[DemandNoted]) -> None:
        if not noted:
            return
        await _ADD_DEMAND.execute(
            self._conn, [(n.sku, n.location, n.day, n.shipped, n.lost_sales) for n in noted]
        )

    async def demand_history(
        self, keys: Iterable[PositionKey], *, since: date, until: date
    ) -> dict[PositionKey, DemandHistory]:
        wanted = list(keys)
        if not wanted:
            return {}
        places = _DEMAND_AT.keys(sorted(set(wanted)))
        firsts = {
            (r.sku, r.location): r.first_day for r in await self._conn.execute(_FIRST_DAYS, places)
        }
        window = await self._conn.execute(_DEMAND_WINDOW, places | {"since": since, "until": until})
        days: dict[PositionKey, list[DailyDemand]] = {k: [] for k in firsts}
        for row in window.mappings():
            days[(row["sku"], row["location"])].append(
                DailyDemand(row["day"], row["shipped"], row["lost_sales"])
            )
        return {k: DemandHistory(first_day, days[k]) for k, first_day in firsts.items()}

    async def policies(self, keys: Iterable[PositionKey]) -> dict[PositionKey, ReplenishmentPolicy]:
        wanted = list(keys)
        if not wanted:
            return {}
        rows = await self._conn.execute(_POLICIES_AT, _POLICY_AT.keys(sorted(set(wanted))))
        return {
            (row["sku"], row["location"]): ReplenishmentPolicy(
                lead_time_days=row["lead_time_days"],
                review_period_days=row["review_period_days"],
                service_level=row["service_level"],
                min_quantity=row["min_quantity"],
                max_quantity=row["max_quantity"],
                order_multiple=row["order_multiple"],
            )
            for row in rows.mappings()
        }

    async def save_policy(self, sku: str, location: str, policy: ReplenishmentPolicy) -> None:
        values = {
            "lead_time_days": policy.lead_time_days,
            "review_period_days": policy.review_period_days,
            "service_level": policy.service_level,
            "min_quantity": policy.min_quantity,
            "max_quantity": policy.max_quantity,
            "order_multiple": policy.order_multiple,
            "updated_at": datetime.now(UTC),
        }
        statement = (
            insert(replenishment_policies)
            .values(sku=sku, location=location, **values)
            .on_conflict_do_update(
                index_elements=[replenishment_policies.c.sku, replenishment_policies.c.location],
                set_=values,
            )
        )
        await self._conn.execute(statement)

    async def lifecycle_policies(self, skus: Iterable[str]) -> dict[str, LifecyclePolicy]:
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        rows = await self._conn.execute(_LIFECYCLE_POLICIES_OF, _LIFECYCLE_SKUS.keys(wanted))
        return {row["sku"]: _to_lifecycle_policy(row) for row in rows.mappings()}

    async def save_lifecycle_policies(self, policies: Sequence[LifecyclePolicy]) -> set[str]:
        if not policies:
            return set()
        rows = [
            {
                "sku": p.sku,
                "policy_version": p.version,
                "stage": p.stage,
                "velocity_class": p.velocity_class,
                "variability_class": p.variability_class,
                "replenish": p.replenish,
                "service_level": p.service_level,
                "review_period_days": p.review_period_days,
                "buffer_multiplier": p.buffer_multiplier,
                "reason": p.reason,
                "changed_at": p.changed_at,
            }
            for p in sorted(policies, key=lambda p: p.sku)  # a stable lock order
        ]
        # executemany of one cached statement (multi-row INSERTs by SQLAlchemy), then the
        # stored SKUs' places onto the ledger's review queue: a plain insert, as the ledger's
        # own (it never waits for a review taking the same place, migration 0005).
        stored = set((await self._conn.execute(_SAVE_LIFECYCLE_POLICY, rows)).scalars())
        if stored:
            places = (
                sa.select(positions.c.sku, positions.c.location)
                .distinct()
                .where(positions.c.sku.in_(sorted(stored)))
                .order_by(positions.c.sku, positions.c.location)
            )
            await self._conn.execute(
                sa.insert(review_queue).from_select(["sku", "location"], places)
            )
        return stored

    async def latest_proposals(self, keys: Iterable[PositionKey]) -> dict[PositionKey, Proposal]:
        wanted = list(keys)
        if not wanted:
            return {}
        rows = await self._conn.execute(
            _LATEST_PROPOSALS_AT, _PROPOSAL_AT.keys(sorted(set(wanted)))
        )
        found = [_to_proposal(row) for row in rows.mappings()]
        return {p.key: p for p in found}

    async def add_proposals(self, new: Sequence[Proposal]) -> list[Proposal]:
        if not new:
            return []
        rows = [
            {
                "id": p.id,
                "sku": p.sku,
                "location": p.location,
                "quantity": p.quantity,
                "unit": p.unit,
                "reorder_point": p.reorder_point,
                "order_up_to": p.order_up_to,
                "safety_stock": p.safety_stock,
                "inventory_position": p.inventory_position,
                "available_to_promise": p.available_to_promise,
                "status": p.status.value,
                "created_at": p.created_at,
                "decided_at": p.decided_at,
                "decided_by": p.decided_by,
                "note": p.note,
            }
            for p in new
        ]
        stored = set((await self._conn.execute(_ADD_PROPOSAL, rows)).scalars())
        return [p for p in new if p.id in stored]

    async def proposal(self, proposal_id: str, *, lock: bool = False) -> Proposal | None:
        statement = sa.select(proposals).where(proposals.c.id == proposal_id)
        if lock:
            statement = statement.with_for_update()
        row = (await self._conn.execute(statement)).mappings().first()
        return _to_proposal(row) if row is not None else None

    async def save_decision(self, proposal: Proposal) -> None:
        await self._conn.execute(
            sa.update(proposals)
            .where(proposals.c.id == proposal.id)
            .values(
                status=proposal.status.value,
                decided_at=proposal.decided_at,
                decided_by=proposal.decided_by,
                note=proposal.note,
            )
        )

    async def list_proposals(
        self,
        *,
        status: ProposalStatus | None = None,
        sku: str | None = None,
        location: str | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> list[tuple[int, Proposal]]:
        statement = sa.select(proposals).order_by(proposals.c.seq).limit(limit)
        if status is not None:
            statement = statement.where(proposals.c.status == status.value)
        if sku is not None:
            statement = statement.where(proposals.c.sku == sku)
        if location is not None:
            statement = statement.where(proposals.c.location == location)
        if after is not None:
            statement = statement.where(proposals.c.seq > after)
        rows = (await self._conn.execute(statement)).mappings()
        return [(row["seq"], _to_proposal(row)) for row in rows]


def _to_lifecycle_policy(row: sa.RowMapping) -> LifecyclePolicy:
    return LifecyclePolicy(
        sku=row["sku"],
        version=row["policy_version"],
        stage=row["stage"],
        replenish=row["replenish"],
        service_level=row["service_level"],
        review_period_days=row["review_period_days"],
        buffer_multiplier=row["buffer_multiplier"],
        changed_at=row["changed_at"],
        velocity_class=row["velocity_class"],
        variability_class=row["variability_class"],
        reason=row["reason"],
    )


def _to_proposal(row: sa.RowMapping) -> Proposal:
    return Proposal(
        id=row["id"],
        sku=row["sku"],
        location=row["location"],
        quantity=row["quantity"],
        unit=row["unit"],
        reorder_point=row["reorder_point"],
        order_up_to=row["order_up_to"],
        safety_stock=row["safety_stock"],
        inventory_position=row["inventory_position"],
        available_to_promise=row["available_to_promise"],
        created_at=row["created_at"],
        status=ProposalStatus(row["status"]),
        decided_at=row["decided_at"],
        decided_by=row["decided_by"],
        note=row["note"],
    )

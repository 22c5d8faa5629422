"""The replenishment repository in memory; the contract suite holds it to the SQL adapter."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date

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


class FakeReplenishmentRepository:
    """In memory. The review queue is the ledger's (another fake): the SKUs whose places a
    stored lifecycle policy queues for review are listed in ``queued_for_review``."""

    def __init__(self) -> None:
        self.demand: dict[tuple[str, str, date], DailyDemand] = {}
        self._policies: dict[PositionKey, ReplenishmentPolicy] = {}
        self._lifecycle: dict[str, LifecyclePolicy] = {}
        self.queued_for_review: list[str] = []
        self._proposals: dict[str, tuple[int, Proposal]] = {}
        self._seq = 0

    async def add_demand(self, noted: Sequence[DemandNoted]) -> None:
        for n in noted:
            key = (n.sku, n.location, n.day)
            found = self.demand.get(key, DailyDemand(n.day))
            self.demand[key] = dataclasses.replace(
                found,
                shipped=found.shipped + n.shipped,
                lost_sales=found.lost_sales + n.lost_sales,
            )

    async def demand_history(
        self, keys: Iterable[PositionKey], *, since: date, until: date
    ) -> dict[PositionKey, DemandHistory]:
        found: dict[PositionKey, DemandHistory] = {}
        for sku, location in set(keys):
            days = sorted(
                (d for (s, loc, _), d in self.demand.items() if (s, loc) == (sku, location)),
                key=lambda d: d.day,
            )
            if days:
                window = [d for d in days if since <= d.day <= until]
                found[(sku, location)] = DemandHistory(days[0].day, window)
        return found

    async def policies(self, keys: Iterable[PositionKey]) -> dict[PositionKey, ReplenishmentPolicy]:
        return {k: self._policies[k] for k in set(keys) if k in self._policies}

    async def save_policy(self, sku: str, location: str, policy: ReplenishmentPolicy) -> None:
        self._policies[(sku, location)] = policy

    async def lifecycle_policies(self, skus: Iterable[str]) -> dict[str, LifecyclePolicy]:
        return {s: self._lifecycle[s] for s in set(skus) if s in self._lifecycle}

    async def save_lifecycle_policies(self, policies: Sequence[LifecyclePolicy]) -> set[str]:
        stored: set[str] = set()
        for p in policies:
            found = self._lifecycle.get(p.sku)
            if found is None or found.version < p.version:
                self._lifecycle[p.sku] = dataclasses.replace(
                    p, changed_at=p.changed_at.astimezone(UTC)
                )
                stored.add(p.sku)
        self.queued_for_review += sorted(stored)
        return stored

    async def latest_proposals(self, keys: Iterable[PositionKey]) -> dict[PositionKey, Proposal]:
        wanted = set(keys)
        latest: dict[PositionKey, tuple[bool, int, Proposal]] = {}
        for seq, p in self._proposals.values():
            rank = (p.status is ProposalStatus.OPEN, seq, p)
            if p.key in wanted and (p.key not in latest or rank[:2] > latest[p.key][:2]):
                latest[p.key] = rank
        return {k: p for k, (_, _, p) in latest.items()}

    async def add_proposals(self, proposals: Sequence[Proposal]) -> list[Proposal]:
        stored: list[Proposal] = []
        for p in proposals:
            open_there = any(
                q.key == p.key and q.status is ProposalStatus.OPEN
                for _, q in self._proposals.values()
            )
            if p.id in self._proposals or open_there:
                continue
            self._seq += 1
            self._proposals[p.id] = (self._seq, _in_utc(p))
            stored.append(p)
        return stored

    async def proposal(self, proposal_id: str, *, lock: bool = False) -> Proposal | None:
        found = self._proposals.get(proposal_id)
        return found[1] if found is not None else None

    async def save_decision(self, proposal: Proposal) -> None:
        if proposal.id in self._proposals:
            seq, stored = self._proposals[proposal.id]
            self._proposals[proposal.id] = (
                seq,
                _in_utc(
                    dataclasses.replace(
                        stored,
                        status=proposal.status,
                        decided_at=proposal.decided_at,
                        decided_by=proposal.decided_by,
                        note=proposal.note,
                    )
                ),
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
        return [
            (seq, p)
            for seq, p in sorted(self._proposals.values(), key=lambda entry: entry[0])
            if (status is None or p.status is status)
            and (sku is None or p.sku == sku)
            and (location is None or p.location == location)
            and (after is None or seq > after)
        ][:limit]


def _in_utc(p: Proposal) -> Proposal:
    """Times as PostgreSQL returns them: in UTC."""
    return dataclasses.replace(
        p,
        created_at=p.created_at.astimezone(UTC),
        decided_at=p.decided_at.astimezone(UTC) if p.decided_at else None,
    )


@dataclass(frozen=True, slots=True)
class FakeReplenishmentUnitOfWork:
    replenishment: FakeReplenishmentRepository = field(default_factory=FakeReplenishmentRepository)

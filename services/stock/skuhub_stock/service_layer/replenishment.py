"""Replenishment use cases: note demand, review positions, decide proposals, set policies,
apply the lifecycle service's policies.

They take the replenishment repository (bound to the caller's transaction) and return
what they decided; the runtime commits, and the entrypoint turns new proposals into
``replenishment-proposed`` events for the outbox (``entrypoints/replenishment_events.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from skuhub_stock.domain.replenishment import (
    DailyDemand,
    DemandNoted,
    LifecyclePolicy,
    PolicyInForce,
    PositionFigures,
    PositionKey,
    Proposal,
    ProposalNotFoundError,
    ProposalStatus,
    ReplenishmentPolicy,
    combine,
    daily_series,
    estimate_demand,
    newest_per_sku,
    policy_in_force,
    propose_in_force,
)

DEFAULT_HISTORY_DAYS = 91
"""Thirteen weeks of daily demand behind each estimate."""


@dataclass(frozen=True, slots=True)
class DemandHistory:
    """A position's recorded demand within a window, and the first day it ever had any."""

    first_day: date
    days: Sequence[DailyDemand]


@dataclass(frozen=True, slots=True)
class ReplenishmentDefaults:
    """What applies to a position without a policy of its own (the lifecycle policy of its
    SKU replaces the service level and review period, see ``PolicyInForce``)."""

    policy: ReplenishmentPolicy = field(default_factory=ReplenishmentPolicy)
    history_days: int = DEFAULT_HISTORY_DAYS


class ReplenishmentRepository(Protocol):
    """Daily demand, policies and proposals of the stock service.

    ``tests/integration/test_replenishment_repository.py`` holds every implementation to
    this contract.
    """

    async def add_demand(self, noted: Sequence[DemandNoted]) -> None:
        """Add these quantities to each SKU's day at its location (a new day starts at zero).
        At most one entry per SKU, location and day (see ``domain.replenishment.combine``)."""

    async def demand_history(
        self, keys: Iterable[PositionKey], *, since: date, until: date
    ) -> dict[PositionKey, DemandHistory]:
        """Recorded days from ``since`` to ``until`` (both included) by position, in day
        order, for the positions that ever had demand recorded."""

    async def policies(self, keys: Iterable[PositionKey]) -> dict[PositionKey, ReplenishmentPolicy]:
        """The policies set for these positions (a position without one is absent)."""

    async def save_policy(self, sku: str, location: str, policy: ReplenishmentPolicy) -> None:
        """Set (insert or replace) the policy of one position."""

    async def lifecycle_policies(self, skus: Iterable[str]) -> dict[str, LifecyclePolicy]:
        """The lifecycle policies stored for these SKUs (a SKU without one is absent)."""

    async def save_lifecycle_policies(self, policies: Sequence[LifecyclePolicy]) -> set[str]:
        """Store each SKU's lifecycle policy unless one of the same or a higher version is
        stored; return the SKUs whose policy was stored. At most one policy per SKU (see
        ``domain.replenishment.newest_per_sku``).

        The places where a stored SKU has a position are queued for review (the queue
        ``LedgerRepository.take_review_queue`` takes), so a change applies at the next review
        without waiting for stock to move.
        """

    async def latest_proposals(self, keys: Iterable[PositionKey]) -> dict[PositionKey, Proposal]:
        """The newest proposal of each position that has one (an open one if any)."""

    async def add_proposals(self, proposals: Sequence[Proposal]) -> list[Proposal]:
        """Store new open proposals; return those stored. One whose position has an open
        proposal already (another transaction's) is not stored."""

    async def proposal(self, proposal_id: str, *, lock: bool = False) -> Proposal | None:
        """One proposal; with ``lock``, locked until the transaction ends."""

    async def save_decision(self, proposal: Proposal) -> None:
        """Store a proposal's status, decided_at, decided_by and note."""

    async def list_proposals(
        self,
        *,
        status: ProposalStatus | None = None,
        sku: str | None = None,
        location: str | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> list[tuple[int, Proposal]]:
        """Up to ``limit`` proposals matching every filter given, oldest first, each with its
        place in that order (the paging cursor): those after the one placed ``after``."""


class ReplenishmentUnitOfWork(Protocol):
    @property
    def replenishment(self) -> ReplenishmentRepository: ...


async def note_demand(
    repo: ReplenishmentRepository,
    sku: str,
    location: str,
    day: date,
    shipped: Decimal = Decimal(0),
    lost_sales: Decimal = Decimal(0),
) -> None:
    """Add shipped units and lost sales to a SKU's day at a location."""
    await note_demands(repo, [DemandNoted(sku, location, day, shipped, lost_sales)])


async def note_demands(repo: ReplenishmentRepository, noted: Iterable[DemandNoted]) -> None:
    """Add a batch of demand in one statement (what a ledger handler calls per batch)."""
    combined = combine(noted)
    if combined:
        await repo.add_demand(combined)


async def review(
    repo: ReplenishmentRepository,
    positions: Sequence[PositionFigures],
    now: datetime,
    *,
    defaults: ReplenishmentDefaults | None = None,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> list[Proposal]:
    """Review positions against their reorder points; store and return the new proposals.

    Each position is reviewed under its :class:`PolicyInForce` (its own policy or the
    default, with its SKU's lifecycle policy); a SKU whose lifecycle policy says not to
    replenish gets no proposal. Demand comes from the ``history_days`` complete days before
    ``now`` (today is not over), from the position's first recorded day when that is
    later. Each proposal returned is to be published as ``replenishment-proposed`` in the
    same transaction.

    Raises:
        ValueError: a position is given twice.
    """
    defaults = defaults or ReplenishmentDefaults()
    keys = [p.key for p in positions]
    if len(set(keys)) != len(keys):
        raise ValueError("each SKU and location is reviewed once per call; add up its lots first")
    if not keys:
        return []
    until = now.date() - timedelta(days=1)
    since = until - timedelta(days=defaults.history_days - 1)
    policies = await repo.policies(keys)
    lifecycle = await repo.lifecycle_policies({sku for sku, _ in keys})
    in_force = {
        key: policy_in_force(policies.get(key), lifecycle.get(key[0]), defaults.policy)
        for key in keys
    }
    # A held SKU gets no proposal: its demand and proposals need not be read.
    positions = [p for p in positions if in_force[p.key].replenish]
    keys = [p.key for p in positions]
    if not keys:
        return []
    latest = await repo.latest_proposals(keys)
    histories = await repo.demand_history(keys, since=since, until=until)
    new: list[Proposal] = []
    for figures in positions:
        history = histories.get(figures.key)
        series = (
            daily_series(history.days, max(since, history.first_day), until)
            if history is not None
            else []
        )
        proposal = propose_in_force(
            figures,
            in_force[figures.key],
            estimate_demand(series),
            latest=latest.get(figures.key),
            now=now,
            new_id=new_id,
        )
        if proposal is not None:
            new.append(proposal)
    return await repo.add_proposals(new) if new else []


async def accept(
    repo: ReplenishmentRepository,
    proposal_id: str,
    now: datetime,
    *,
    by: str | None = None,
    note: str | None = None,
) -> Proposal:
    """Accept an open proposal.

    Raises:
        ProposalNotFoundError: no such proposal.
        ProposalNotOpenError: it was decided already.
    """
    found = await _open(repo, proposal_id)
    decided = found.accept(now, by=by, note=note)
    await repo.save_decision(decided)
    return decided


async def dismiss(
    repo: ReplenishmentRepository,
    proposal_id: str,
    now: datetime,
    *,
    by: str | None = None,
    note: str | None = None,
) -> Proposal:
    """Dismiss an open proposal (same errors as :func:`accept`)."""
    found = await _open(repo, proposal_id)
    decided = found.dismiss(now, by=by, note=note)
    await repo.save_decision(decided)
    return decided


async def _open(repo: ReplenishmentRepository, proposal_id: str) -> Proposal:
    found = await repo.proposal(proposal_id, lock=True)
    if found is None:
        raise ProposalNotFoundError(proposal_id)
    return found


async def policy_in_force_of(
    repo: ReplenishmentRepository, sku: str, location: str, default: ReplenishmentPolicy
) -> PolicyInForce:
    """What the next review of the position applies: its policy (or the default) with its
    SKU's lifecycle policy, and whether that holds replenishment."""
    found = (await repo.policies([(sku, location)])).get((sku, location))
    lifecycle = (await repo.lifecycle_policies([sku])).get(sku)
    return policy_in_force(found, lifecycle, default)


async def apply_lifecycle_policies(
    repo: ReplenishmentRepository, received: Sequence[tuple[str, LifecyclePolicy]]
) -> set[str]:
    """Keep each SKU's newest lifecycle policy from ``(event id, policy)`` pairs; return the
    ids of the events applied. The others are older than or as old as what is stored (or
    than another one of the batch): re-deliveries and late arrivals, which change nothing.
    The SKUs' places are reviewed again at the next review."""
    newest = newest_per_sku(received)
    if not newest:
        return set()
    stored = await repo.save_lifecycle_policies(
        [policy for _, policy in sorted(newest.values(), key=lambda n: n[1].sku)]
    )
    return {event_id for sku, (event_id, _) in newest.items() if sku in stored}


async def set_policy(
    repo: ReplenishmentRepository, sku: str, location: str, policy: ReplenishmentPolicy
) -> ReplenishmentPolicy:
    await repo.save_policy(sku, location, policy)
    return policy

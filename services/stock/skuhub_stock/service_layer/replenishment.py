"""Replenishment use cases: note demand, review positions, decide proposals, set policies.

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
    PositionFigures,
    PositionKey,
    Proposal,
    ProposalNotFoundError,
    ProposalStatus,
    ReplenishmentPolicy,
    combine,
    daily_series,
    estimate_demand,
    policy_for,
    propose,
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
    """What applies until the lifecycle service publishes a position's policy."""

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

    Demand comes from the ``history_days`` complete days before ``now`` (today is not over),
    from the position's first recorded day when that is later. Each proposal returned is to
    be published as ``replenishment-proposed`` in the same transaction.

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
        proposal = propose(
            figures,
            policy_for(figures.key, policies, defaults.policy),
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


async def policy_of(
    repo: ReplenishmentRepository, sku: str, location: str, default: ReplenishmentPolicy
) -> tuple[ReplenishmentPolicy, bool]:
    """The position's policy and whether it was set (False: the default applies)."""
    found = (await repo.policies([(sku, location)])).get((sku, location))
    return (found, True) if found is not None else (default, False)


async def set_policy(
    repo: ReplenishmentRepository, sku: str, location: str, policy: ReplenishmentPolicy
) -> ReplenishmentPolicy:
    await repo.save_policy(sku, location, policy)
    return policy

"""Use case: an operator moves a SKU to another lifecycle stage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from skuhub_lifecycle.domain.stages import SkuStage, Stage, StageChange, StageNotFoundError
from skuhub_lifecycle.service_layer.ports import StageRepository


@dataclass(frozen=True, slots=True)
class Transitioned:
    """The SKU's state after the move, and the change to publish."""

    state: SkuStage
    change: StageChange


async def transition_stage(
    repo: StageRepository,
    sku: str,
    target: Stage,
    reason: str,
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Transitioned:
    """Move the SKU to ``target`` and save it.

    Raises:
        StageNotFoundError: the lifecycle has not seen the SKU.
        VersionConflictError: ``expected_version`` is not the current stage version.
        ForbiddenTransitionError: the transition table does not allow the move.
    """
    state = await repo.get(sku, for_update=True)
    if state is None:
        raise StageNotFoundError.for_sku(sku)
    change = state.move(
        target, reason, now=now or datetime.now(UTC), expected_version=expected_version
    )
    await repo.save([state])
    return Transitioned(state, change)

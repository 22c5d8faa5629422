"""The inventory policy of a SKU, from its stage and its classes (docs/lifecycle.md).

Pure Python. New products are stocked cautiously, mature ones efficiently, declining
ones are run down; the velocity class sets the service level, the variability class
the safety buffer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from skuhub_lifecycle.domain.metrics import Variability, Velocity
from skuhub_lifecycle.domain.stages import Stage

SERVICE_LEVEL = {Velocity.A: 0.98, Velocity.B: 0.95, Velocity.C: 0.90, None: 0.95}
REVIEW_PERIOD_DAYS = {Velocity.A: 7, Velocity.B: 7, Velocity.C: 14, None: 7}
BUFFER = {Variability.X: 1.0, Variability.Y: 1.25, Variability.Z: 1.5, None: 1.0}
LAUNCH_BUFFER = 0.5
"""Active (newly launched) SKUs keep half the buffer until demand is known."""

NOT_LAUNCHED = frozenset({Stage.CONCEPT, Stage.DEVELOPMENT, Stage.PRE_LAUNCH})


@dataclass(frozen=True, slots=True)
class PolicyTerms:
    """How stock should replenish a SKU."""

    replenish: bool
    service_level: float
    review_period_days: int
    buffer_multiplier: float
    reason: str


@dataclass(frozen=True, slots=True)
class InventoryPolicy:
    """A SKU's policy as published, with what it was decided from."""

    sku: str
    version: int
    stage: Stage
    velocity: Velocity | None
    variability: Variability | None
    terms: PolicyTerms
    changed_at: datetime


def policy_terms(
    stage: Stage, velocity: Velocity | None, variability: Variability | None
) -> PolicyTerms:
    """The policy terms for a stage and classes (the table in docs/lifecycle.md)."""
    level = SERVICE_LEVEL[velocity]
    review = REVIEW_PERIOD_DAYS[velocity]
    buffer = BUFFER[variability]
    if stage in NOT_LAUNCHED:
        return PolicyTerms(False, level, review, 0.0, f"{stage}: hold, no orders before launch")
    if stage is Stage.ACTIVE:
        return PolicyTerms(
            True,
            level,
            review,
            buffer * LAUNCH_BUFFER,
            f"active, class {velocity or 'unknown'}: stocked cautiously until demand is known",
        )
    if stage is Stage.MATURE:
        classes = f"{velocity or '?'}{variability or '?'}"
        return PolicyTerms(True, level, review, buffer, f"mature, class {classes}")
    if stage is Stage.PHASE_OUT:
        return PolicyTerms(False, level, review, 0.0, "phase-out: run down, no new orders")
    return PolicyTerms(False, level, review, 0.0, f"{stage}: no replenishment")


def next_policy(
    current: InventoryPolicy | None,
    sku: str,
    stage: Stage,
    velocity: Velocity | None,
    variability: Variability | None,
    *,
    now: datetime,
) -> InventoryPolicy | None:
    """The SKU's new policy, or None when nothing it is decided from changed."""
    if current is not None and (current.stage, current.velocity, current.variability) == (
        stage,
        velocity,
        variability,
    ):
        return None
    terms = policy_terms(stage, velocity, variability)
    version = current.version + 1 if current else 1
    return InventoryPolicy(sku, version, stage, velocity, variability, terms, now)

"""Lifecycle stages of a product (SKU) and the moves between them.

Pure Python: no I/O, no frameworks; the clock is passed in.

A SKU enters the lifecycle when the catalog first reports it: ``active`` if it
is enabled, ``discontinued`` if it is already deleted, ``concept`` otherwise.
Later product snapshots move it on: enabled while still before launch ->
``active``; deleted -> ``discontinued``. Operators move it along the allowed
transitions (forward, plus re-activation from phase-out). Snapshots carry the
product version; one not newer than the last seen is ignored, so re-delivery
and reordering change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Stage(StrEnum):
    CONCEPT = "concept"
    DEVELOPMENT = "development"
    PRE_LAUNCH = "pre-launch"
    ACTIVE = "active"
    MATURE = "mature"
    PHASE_OUT = "phase-out"
    DISCONTINUED = "discontinued"


ORDER: Final[tuple[Stage, ...]] = tuple(Stage)
PRE_LAUNCH_STAGES: Final = frozenset({Stage.CONCEPT, Stage.DEVELOPMENT, Stage.PRE_LAUNCH})
REACTIVATIONS: Final = frozenset({(Stage.PHASE_OUT, Stage.ACTIVE)})

ALLOWED: Final = MappingProxyType(
    {
        stage: frozenset(ORDER[i + 1 :]) | {to for src, to in REACTIVATIONS if src is stage}
        for i, stage in enumerate(ORDER)
    }
)
"""Stage -> the stages it may move to: any later stage, plus phase-out -> active."""

ENABLED_IN_CATALOG = "enabled in catalog"
DELETED_IN_CATALOG = "deleted in catalog"
NEW_IN_CATALOG = "new in catalog"


class LifecycleError(Exception):
    """A lifecycle rule refused a request; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ForbiddenTransitionError(LifecycleError):
    """The move is not in the transition table."""


class StageNotFoundError(LifecycleError):
    """The lifecycle has not seen this SKU yet."""

    @classmethod
    def for_sku(cls, sku: str) -> StageNotFoundError:
        return cls(
            f"no lifecycle stage for SKU {sku}; it starts when the catalog publishes the product"
        )


class VersionConflictError(LifecycleError):
    """The SKU's stage changed since the caller read it."""


@dataclass(frozen=True, slots=True)
class ProductFacts:
    """What the lifecycle needs from a product-changed snapshot."""

    sku: str
    product_version: int
    enabled: bool
    deleted: bool


@dataclass(frozen=True, slots=True)
class StageChange:
    """A SKU entered ``stage`` (``previous`` is None when it entered the lifecycle)."""

    sku: str
    stage: Stage
    previous: Stage | None
    version: int
    reason: str
    changed_at: datetime


@dataclass(slots=True)
class SkuStage:
    """The lifecycle state of one SKU.

    ``version`` counts stage changes (1 on entry); ``product_version`` is the
    newest catalog version applied.
    """

    sku: str
    stage: Stage
    version: int
    product_version: int
    reason: str
    changed_at: datetime

    @classmethod
    def enter(cls, product: ProductFacts, *, now: datetime) -> tuple[SkuStage, StageChange]:
        """The state of a SKU the catalog reports for the first time, and its first change."""
        stage, reason = first_stage(product)
        state = cls(product.sku, stage, 1, product.product_version, reason, now)
        return state, StageChange(product.sku, stage, None, 1, reason, now)

    def follow(self, product: ProductFacts, *, now: datetime) -> StageChange | None:
        """Apply a later product snapshot; None when the stage stays.

        A snapshot not newer than the last applied one changes nothing.

        Raises:
            ForbiddenTransitionError: the catalog implies a move the table forbids.
        """
        if self.has_seen(product):
            return None
        target = stage_after(self.stage, product)
        change = self.move(target[0], target[1], now=now) if target is not None else None
        self.product_version = product.product_version
        return change

    def has_seen(self, product: ProductFacts) -> bool:
        """True when ``product`` is not newer than the last snapshot applied."""
        return product.product_version <= self.product_version

    def move(
        self, target: Stage, reason: str, *, now: datetime, expected_version: int | None = None
    ) -> StageChange:
        """Move to ``target``.

        Raises:
            VersionConflictError: ``expected_version`` is given and is not the current version.
            ForbiddenTransitionError: the transition table does not allow the move.
        """
        if expected_version is not None and expected_version != self.version:
            raise VersionConflictError(
                f"{self.sku} is at stage version {self.version}, not {expected_version}; "
                "read its stage again"
            )
        check_transition(self.stage, target)
        change = StageChange(self.sku, target, self.stage, self.version + 1, reason, now)
        self.stage = target
        self.version = change.version
        self.reason = reason
        self.changed_at = now
        return change


def first_stage(product: ProductFacts) -> tuple[Stage, str]:
    """The stage (and reason) a SKU enters the lifecycle at."""
    if product.deleted:
        return Stage.DISCONTINUED, DELETED_IN_CATALOG
    if product.enabled:
        return Stage.ACTIVE, ENABLED_IN_CATALOG
    return Stage.CONCEPT, NEW_IN_CATALOG


def stage_after(current: Stage, product: ProductFacts) -> tuple[Stage, str] | None:
    """The stage (and reason) a later product snapshot moves a SKU to, or None to stay."""
    if product.deleted:
        return None if current is Stage.DISCONTINUED else (Stage.DISCONTINUED, DELETED_IN_CATALOG)
    if product.enabled and current in PRE_LAUNCH_STAGES:
        return Stage.ACTIVE, ENABLED_IN_CATALOG
    return None


def check_transition(current: Stage, target: Stage) -> None:
    """Raise unless the transition table allows ``current`` -> ``target``.

    Raises:
        ForbiddenTransitionError: with the moves that are allowed from ``current``.
    """
    allowed = ALLOWED[current]
    if target in allowed:
        return
    if current is target:
        raise ForbiddenTransitionError(f"already in stage {current}")
    options = ", ".join(s.value for s in ORDER if s in allowed) or "none; it is final"
    raise ForbiddenTransitionError(
        f"cannot move from {current} to {target}; allowed from {current}: {options}"
    )

"""Lifecycle stages of a SKU, the transition table, and the moves between stages.

Pure Python: no I/O, no frameworks; the clock is passed in.

A SKU enters the lifecycle at ``concept`` when the catalog first reports it
(``discontinued`` if it is already deleted). From there it moves only along
:data:`TRANSITIONS` (docs/lifecycle.md has the same table), and only when the
gate of the target stage holds (:mod:`skuhub_lifecycle.domain.gates`). The one
move the table does not hold back is the catalog deleting the product: that is a
fact, so the SKU goes to ``discontinued`` from wherever it is (before that stage).
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    RETIRED = "retired"


ORDER: Final[tuple[Stage, ...]] = tuple(Stage)

TRANSITIONS: Final = MappingProxyType(
    {
        Stage.CONCEPT: frozenset({Stage.DEVELOPMENT}),
        Stage.DEVELOPMENT: frozenset({Stage.PRE_LAUNCH, Stage.CONCEPT}),
        Stage.PRE_LAUNCH: frozenset({Stage.ACTIVE, Stage.DEVELOPMENT}),
        Stage.ACTIVE: frozenset({Stage.MATURE, Stage.PHASE_OUT}),
        Stage.MATURE: frozenset({Stage.PHASE_OUT}),
        Stage.PHASE_OUT: frozenset({Stage.ACTIVE, Stage.DISCONTINUED}),
        Stage.DISCONTINUED: frozenset({Stage.RETIRED}),
        Stage.RETIRED: frozenset(),
    }
)
"""Stage -> the stages it may move to (the table in docs/lifecycle.md)."""

SELLING_STAGES: Final = frozenset({Stage.ACTIVE, Stage.MATURE, Stage.PHASE_OUT})
END_OF_LIFE: Final = frozenset({Stage.DISCONTINUED, Stage.RETIRED})

DELETED_IN_CATALOG = "deleted in catalog"
NEW_IN_CATALOG = "new in catalog"
LIFECYCLE_ACTOR = "lifecycle"
"""The actor of moves the service makes itself (catalog facts and rules)."""


class LifecycleError(Exception):
    """A lifecycle rule refused a request; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ForbiddenTransitionError(LifecycleError):
    """The move is not in the transition table."""


class GateNotMetError(LifecycleError):
    """The target stage's gate does not hold; ``unmet`` lists every condition missing."""

    def __init__(self, sku: str, target: Stage, unmet: list[str]) -> None:
        super().__init__(f"{sku} cannot move to {target}: " + "; ".join(unmet))
        self.unmet = unmet


class StageNotFoundError(LifecycleError):
    """The lifecycle has not seen this SKU yet."""

    @classmethod
    def for_sku(cls, sku: str) -> StageNotFoundError:
        return cls(
            f"no lifecycle stage for SKU {sku}; it starts when the catalog publishes the product"
        )


class VersionConflictError(LifecycleError):
    """The SKU's stage changed since the caller read it."""


class BadTransitionRequestError(LifecycleError):
    """The request does not fit its target stage (e.g. a successor outside end of life)."""


@dataclass(frozen=True, slots=True)
class ChannelReadiness:
    """Completeness of the product for one channel and locale, as the catalog measured it."""

    channel: str
    locale: str
    complete: bool
    missing: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProductFacts:
    """What the lifecycle needs from a product-changed snapshot."""

    sku: str
    product_version: int
    deleted: bool = False
    approved: bool = False
    """The content is approved or published in the catalog's workflow."""
    readiness: tuple[ChannelReadiness, ...] = ()
    product_model: str | None = None
    replacement: str | None = None
    """The catalog's replacement relation: the SKU that succeeds this one."""


@dataclass(frozen=True, slots=True)
class StageChange:
    """A SKU entered ``stage`` (``previous`` is None when it entered the lifecycle)."""

    sku: str
    stage: Stage
    previous: Stage | None
    version: int
    reason: str
    actor: str
    changed_at: datetime
    product_model: str | None = None
    pre_order: bool = False
    successor: str | None = None


@dataclass(frozen=True, slots=True)
class Move:
    """What a transition asks for besides the target stage."""

    target: Stage
    reason: str
    actor: str
    pre_order: bool = False
    successor: str | None = None
    no_successor: bool = False

    def check_fits(self) -> None:
        """Raise unless the options fit the target stage.

        Raises:
            BadTransitionRequestError: pre-order outside pre-launch, a successor outside
                discontinued, or both a successor and "no successor".
        """
        if self.pre_order and self.target is not Stage.PRE_LAUNCH:
            raise BadTransitionRequestError(
                f"pre_order applies to pre-launch only, not {self.target}: leave it out"
            )
        if (self.successor is not None or self.no_successor) and (
            self.target is not Stage.DISCONTINUED
        ):
            raise BadTransitionRequestError(
                f"a successor is named on the move to discontinued, not {self.target}: "
                "leave successor and no_successor out"
            )
        if self.successor is not None and self.no_successor:
            raise BadTransitionRequestError("name a successor or say no_successor, not both")


@dataclass(slots=True)
class SkuStage:
    """The lifecycle state of one SKU and the catalog facts its gates read.

    ``version`` counts stage changes (1 on entry); ``product.product_version`` is the
    newest catalog version applied.
    """

    sku: str
    stage: Stage
    version: int
    reason: str
    actor: str
    changed_at: datetime
    product: ProductFacts
    pre_order: bool = False
    successor: str | None = None
    history: list[StageChange] = field(default_factory=list)
    """Changes made since loading, oldest first (the repository appends them to history)."""

    @property
    def product_version(self) -> int:
        return self.product.product_version

    @classmethod
    def enter(cls, product: ProductFacts, *, now: datetime) -> SkuStage:
        """The state of a SKU the catalog reports for the first time (its first change is
        in ``history``)."""
        if product.deleted:
            stage, reason, successor = Stage.DISCONTINUED, DELETED_IN_CATALOG, product.replacement
        else:
            stage, reason, successor = Stage.CONCEPT, NEW_IN_CATALOG, None
        state = cls(
            product.sku, stage, 1, reason, LIFECYCLE_ACTOR, now, product, successor=successor
        )
        state.history.append(state._change(None))
        return state

    def has_seen(self, product: ProductFacts) -> bool:
        """True when ``product`` is not newer than the last snapshot applied."""
        return product.product_version <= self.product.product_version

    def follow(self, product: ProductFacts, *, now: datetime) -> StageChange | None:
        """Apply a later product snapshot; the stage change it forces (deletion), if any.

        A snapshot not newer than the last applied one changes nothing.
        """
        if self.has_seen(product):
            return None
        self.product = product
        if product.deleted and self.stage not in END_OF_LIFE:
            self.successor = product.replacement
            self.pre_order = False
            return self._enter(Stage.DISCONTINUED, DELETED_IN_CATALOG, LIFECYCLE_ACTOR, now)
        return None

    def move(
        self,
        move: Move,
        unmet: list[str],
        *,
        now: datetime,
        expected_version: int | None = None,
    ) -> StageChange:
        """Move to ``move.target``, given the gate's unmet conditions (none: it holds).

        Raises:
            VersionConflictError: ``expected_version`` is given and is not the current version.
            ForbiddenTransitionError: the transition table does not allow the move.
            GateNotMetError: ``unmet`` is not empty.
        """
        if expected_version is not None and expected_version != self.version:
            raise VersionConflictError(
                f"{self.sku} is at stage version {self.version}, not {expected_version}; "
                "read its stage again"
            )
        check_transition(self.stage, move.target)
        if unmet:
            raise GateNotMetError(self.sku, move.target, unmet)
        self.pre_order = move.pre_order
        if move.target is Stage.DISCONTINUED:
            self.successor = move.successor
        elif move.target not in END_OF_LIFE:
            self.successor = None
        return self._enter(move.target, move.reason, move.actor, now)

    def _enter(self, target: Stage, reason: str, actor: str, now: datetime) -> StageChange:
        previous = self.stage
        self.stage = target
        self.version += 1
        self.reason = reason
        self.actor = actor
        self.changed_at = now
        change = self._change(previous)
        self.history.append(change)
        return change

    def _change(self, previous: Stage | None) -> StageChange:
        return StageChange(
            sku=self.sku,
            stage=self.stage,
            previous=previous,
            version=self.version,
            reason=self.reason,
            actor=self.actor,
            changed_at=self.changed_at,
            product_model=self.product.product_model,
            pre_order=self.pre_order and self.stage is Stage.PRE_LAUNCH,
            successor=self.successor if self.stage in END_OF_LIFE else None,
        )


def check_transition(current: Stage, target: Stage) -> None:
    """Raise unless the transition table allows ``current`` -> ``target``.

    Raises:
        ForbiddenTransitionError: with the moves that are allowed from ``current``.
    """
    allowed = TRANSITIONS[current]
    if target in allowed:
        return
    if current is target:
        raise ForbiddenTransitionError(f"already in stage {current}")
    options = ", ".join(s.value for s in ORDER if s in allowed) or "none; it is final"
    raise ForbiddenTransitionError(
        f"cannot move from {current} to {target}; allowed from {current}: {options}"
    )

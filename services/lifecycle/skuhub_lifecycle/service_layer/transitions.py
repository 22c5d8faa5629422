"""Use cases: move a SKU, or every variant of a product, to another stage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from skuhub_lifecycle.domain.gates import MAX_SUCCESSOR_CHAIN, unmet_conditions
from skuhub_lifecycle.domain.policy import InventoryPolicy
from skuhub_lifecycle.domain.stages import (
    END_OF_LIFE,
    GateNotMetError,
    LifecycleError,
    Move,
    SkuStage,
    StageChange,
    StageNotFoundError,
    check_transition,
)
from skuhub_lifecycle.service_layer.policies import refresh_policies
from skuhub_lifecycle.service_layer.ports import LifecycleUnitOfWork


@dataclass(frozen=True, slots=True)
class Transitioned:
    """The SKUs' states after the move, and the changes to publish."""

    states: list[SkuStage]
    changes: list[StageChange]
    policies: list[InventoryPolicy]


class ProductGateNotMetError(LifecycleError):
    """Some variants of a product cannot make the move; nothing moved."""


async def transition_stage(
    uow: LifecycleUnitOfWork,
    sku: str,
    move: Move,
    *,
    now: datetime,
    expected_version: int | None = None,
) -> Transitioned:
    """Move the SKU to ``move.target`` if the table allows it and its gate holds; save it.

    Raises:
        StageNotFoundError: the lifecycle has not seen the SKU.
        BadTransitionRequestError: the move's options do not fit its target.
        VersionConflictError: ``expected_version`` is not the current stage version.
        ForbiddenTransitionError: the transition table does not allow the move.
        GateNotMetError: with every unmet condition.
    """
    move.check_fits()
    state = await uow.stages.get(sku, for_update=True)
    if state is None:
        raise StageNotFoundError.for_sku(sku)
    unmet = await _unmet(uow, state, move)
    change = state.move(move, unmet, now=now, expected_version=expected_version)
    await uow.stages.save([state])
    policies = await refresh_policies(uow, [(sku, change.stage)], now=now)
    return Transitioned([state], [change], policies)


async def transition_product(
    uow: LifecycleUnitOfWork, product_model: str, move: Move, *, now: datetime
) -> Transitioned:
    """Move every variant of a product model that is not already in the target stage, all
    or none: when one variant cannot move, nothing moves and every variant's reasons are
    listed. Variants already discontinued or retired (they left before their siblings)
    take part only in a move to discontinued or retired.

    Raises:
        StageNotFoundError: the lifecycle knows no variant of the model.
        BadTransitionRequestError: the move's options do not fit its target.
        ProductGateNotMetError: some variants cannot move (each with its reasons).
    """
    move.check_fits()
    variants = await uow.stages.of_model(product_model, for_update=True)
    if not variants:
        raise StageNotFoundError(
            f"no variant of product model {product_model} is known to the lifecycle; "
            "variants enter when the catalog publishes them"
        )
    # A variant that left before its siblings stays out of a move that is not its own end.
    leaving = move.target in END_OF_LIFE
    moving = [
        v
        for v in variants
        if v.stage is not move.target and (leaving or v.stage not in END_OF_LIFE)
    ]
    refusals: list[str] = []
    for variant in moving:
        try:
            check_transition(variant.stage, move.target)
        except LifecycleError as refused:
            refusals.append(f"{variant.sku}: {refused.reason}")
            continue
        unmet = await _unmet(uow, variant, move)
        if unmet:
            refusals.append(f"{variant.sku}: " + "; ".join(unmet))
    if refusals:
        raise ProductGateNotMetError(
            f"{product_model} cannot move to {move.target}: " + " | ".join(refusals)
        )
    changes = [variant.move(move, [], now=now) for variant in moving]
    await uow.stages.save(moving)
    policies = await refresh_policies(uow, [(c.sku, c.stage) for c in changes], now=now)
    return Transitioned(variants, changes, policies)


async def _unmet(uow: LifecycleUnitOfWork, state: SkuStage, move: Move) -> list[str]:
    stock = await uow.flows.network(state.sku)
    links = (
        await uow.stages.successor_links(move.successor, depth=MAX_SUCCESSOR_CHAIN + 1)
        if move.successor is not None
        else {}
    )
    return unmet_conditions(state, move, stock, links)


__all__ = [
    "GateNotMetError",
    "ProductGateNotMetError",
    "Transitioned",
    "transition_product",
    "transition_stage",
]

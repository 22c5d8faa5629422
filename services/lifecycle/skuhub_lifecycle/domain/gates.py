"""Gates: the conditions a SKU must meet before it enters a stage.

Pure Python. A gate reads only this service's own projections: the catalog facts
kept with the SKU's stage, the network stock kept from stock-level-changed, and
the stages of other SKUs (successors). It returns every unmet condition, so an
operator sees all that is missing at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from skuhub_lifecycle.domain.stages import Move, SkuStage, Stage

MAX_SUCCESSOR_CHAIN = 32
"""How far a successor chain is followed to find a cycle (a longer chain is refused)."""


@dataclass(frozen=True, slots=True)
class NetworkStock:
    """A SKU's stock summed over every location and lot."""

    on_hand: Decimal = Decimal(0)
    reserved: Decimal = Decimal(0)
    available_to_promise: Decimal = Decimal(0)


NO_STOCK = NetworkStock()


@dataclass(frozen=True, slots=True)
class SuccessorLink:
    """What a gate needs to know of another SKU named as a successor."""

    stage: Stage
    successor: str | None


def unmet_conditions(
    state: SkuStage,
    move: Move,
    stock: NetworkStock,
    successors: Mapping[str, SuccessorLink],
) -> list[str]:
    """Every condition of ``move.target``'s gate that does not hold (empty: it holds).

    ``successors`` holds the SKUs reachable from ``move.successor`` by successor links
    (those the lifecycle knows).
    """
    unmet: list[str] = []
    if move.target in (Stage.PRE_LAUNCH, Stage.ACTIVE):
        unmet += _content_ready(state)
    pre_order = state.stage is Stage.PRE_LAUNCH and state.pre_order
    if move.target is Stage.ACTIVE and stock.available_to_promise <= 0 and not pre_order:
        unmet.append("no stock available to promise at any location, and pre-order is not enabled")
    if move.target is Stage.DISCONTINUED:
        unmet += _successor_fits(state.sku, move, successors)
    if move.target is Stage.RETIRED:
        if stock.on_hand != 0:
            unmet.append(f"{stock.on_hand} on hand across the network; it must be 0")
        if stock.reserved > 0:
            unmet.append(f"{stock.reserved} reserved for open orders; it must be 0")
    return unmet


def _content_ready(state: SkuStage) -> list[str]:
    product = state.product
    unmet: list[str] = []
    if product.deleted:
        return ["the product is deleted in the catalog"]
    if not product.approved:
        unmet.append("the product is not approved in the catalog (submit and approve it)")
    for channel in product.readiness:
        if not channel.complete:
            missing = ", ".join(channel.missing) or "values"
            unmet.append(f"not complete for {channel.channel}/{channel.locale}: missing {missing}")
    return unmet


def _successor_fits(sku: str, move: Move, successors: Mapping[str, SuccessorLink]) -> list[str]:
    if move.successor is None:
        if move.no_successor:
            return []
        return ["name a successor, or say no_successor to discontinue without one"]
    if move.successor == sku:
        return [f"{sku} cannot succeed itself"]
    link = successors.get(move.successor)
    if link is None:
        return [f"successor {move.successor} is unknown to the lifecycle (not in the catalog)"]
    if link.stage is Stage.RETIRED:
        return [f"successor {move.successor} is retired"]
    seen = [move.successor]
    while link is not None and link.successor is not None:
        if link.successor == sku:
            chain = " -> ".join([sku, *seen, sku])
            return [f"successor {move.successor} would form a cycle: {chain}"]
        if len(seen) >= MAX_SUCCESSOR_CHAIN:
            return [f"successor chain from {move.successor} is longer than {MAX_SUCCESSOR_CHAIN}"]
        seen.append(link.successor)
        link = successors.get(link.successor)
    return []

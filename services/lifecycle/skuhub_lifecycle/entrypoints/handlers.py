"""The lifecycle service's handlers: they decide; the runtime does the I/O around them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import ProductChanged, StockLevelChanged
from skuhub_lifecycle.domain.policy import InventoryPolicy
from skuhub_lifecycle.domain.stages import Move, SkuStage, StageChange
from skuhub_lifecycle.entrypoints.events import (
    to_policy_changed,
    to_position_report,
    to_product_facts,
    to_stage_changed,
)
from skuhub_lifecycle.service_layer.follow_products import ReportedProduct, follow_products
from skuhub_lifecycle.service_layer.follow_stock import follow_stock
from skuhub_lifecycle.service_layer.ports import LifecycleUnitOfWork
from skuhub_lifecycle.service_layer.review import Reviewed, review
from skuhub_lifecycle.service_layer.transitions import transition_product, transition_stage
from skuhub_runtime.handling import Decision, Incoming, Outcome
from skuhub_runtime.origin import Origin

REVIEW_SOURCE = "/skuhub/lifecycle/review"


async def on_product_changed(
    uow: LifecycleUnitOfWork, batch: Sequence[Incoming[ProductChanged]]
) -> Outcome:
    """Follow the catalog's snapshots; emit the stage and policy changes they cause."""
    by_id = {incoming.id: incoming for incoming in batch}
    reported = [ReportedProduct(i.id, to_product_facts(i.payload)) for i in batch]
    followed = await follow_products(uow, reported)
    emitted = [by_id[cause].derive(to_stage_changed(c)) for c, cause in followed.changes]
    emitted += [by_id[cause].derive(to_policy_changed(p)) for p, cause in followed.policies]
    return Outcome(emitted=emitted, ignored=frozenset(followed.already_seen))


async def on_stock_level_changed(
    uow: LifecycleUnitOfWork, batch: Sequence[Incoming[StockLevelChanged]]
) -> Outcome:
    """Fold stock positions into network stock and the day ledger (nothing to emit)."""
    followed = await follow_stock(uow.flows, [to_position_report(i.payload) for i in batch])
    return Outcome(ignored=frozenset(batch[i].id for i in followed.already_seen))


async def transition(
    uow: LifecycleUnitOfWork,
    sku: str,
    move: Move,
    origin: Origin,
    *,
    expected_version: int | None,
) -> Decision[SkuStage]:
    """An operator moves a SKU; emit the stage change (and the policy it brings)."""
    moved = await transition_stage(
        uow, sku, move, now=datetime.now(UTC), expected_version=expected_version
    )
    return Decision(moved.states[0], emitted=_emitted(moved.changes, moved.policies, origin))


async def transition_variants(
    uow: LifecycleUnitOfWork, product_model: str, move: Move, origin: Origin
) -> Decision[list[SkuStage]]:
    """An operator moves a product (every variant); emit each change."""
    moved = await transition_product(uow, product_model, move, now=datetime.now(UTC))
    return Decision(moved.states, emitted=_emitted(moved.changes, moved.policies, origin))


async def run_review(uow: LifecycleUnitOfWork, now: datetime) -> Decision[Reviewed]:
    """Classify SKUs, refresh policies and run the rules; emit what changed."""
    reviewed = await review(uow, now=now)
    origin = Origin(None, None, source=REVIEW_SOURCE)
    return Decision(reviewed, emitted=_emitted(reviewed.changes, reviewed.policies, origin))


def _emitted(
    changes: Sequence[StageChange], policies: Sequence[InventoryPolicy], origin: Origin
) -> list[Envelope[Any]]:
    """The events of stage and policy changes a request or a review caused."""
    emitted = [origin.envelope(to_stage_changed(c), time=c.changed_at) for c in changes]
    return emitted + [origin.envelope(to_policy_changed(p)) for p in policies]

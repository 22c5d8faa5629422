"""The lifecycle's handlers on the fake unit of work: what they save, emit, refuse and ignore.

The rules (docs/decisions.md, lifecycle; domain/stages.py): a new product enters at
``active`` when the catalog created it enabled, otherwise at ``concept``; enabling it in
concept, development or pre-launch moves it to ``active``; deleting it moves it to
``discontinued``; a snapshot not newer than the last one applied changes nothing.
Operators move a SKU forward, or from phase-out back to active.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import (
    LifecycleStage,
    LifecycleStageChanged,
    ProductChanged,
    ProductStatus,
)
from skuhub_lifecycle.domain.stages import (
    ForbiddenTransitionError,
    SkuStage,
    Stage,
    StageNotFoundError,
    VersionConflictError,
)
from skuhub_lifecycle.entrypoints.handlers import on_product_changed, transition
from skuhub_runtime.handling import Incoming, Outcome
from skuhub_runtime.origin import Origin
from tests.fakes.lifecycle import FakeLifecycleUnitOfWork

SKU = "MUG-1"
SOURCE = "/skuhub/lifecycle"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
ORIGIN = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def product(
    version: int, status: ProductStatus = ProductStatus.DRAFT, *, sku: str = SKU, **fields: Any
) -> Incoming[ProductChanged]:
    """A product-changed snapshot from the catalog, as the consumer decodes it."""
    payload = ProductChanged(
        sku=sku, product_version=version, status=status, title={}, changed_at=ORIGIN, **fields
    )
    return Incoming(Envelope(payload, origin_time=ORIGIN), SOURCE, traceparent=TRACEPARENT)


def stages(outcome: Outcome) -> list[tuple[str, LifecycleStage | None, LifecycleStage, int]]:
    """(sku, previous stage, stage, stage version) of each emitted stage change."""
    changes = [envelope.payload for envelope in outcome.emitted]
    assert all(isinstance(c, LifecycleStageChanged) for c in changes)
    return [(c.sku, c.previous_stage, c.stage, c.stage_version) for c in changes]


async def in_stage(uow: FakeLifecycleUnitOfWork, stage: Stage, *, product_version: int) -> None:
    await uow.stages.save([SkuStage(SKU, stage, 3, product_version, "operator", T0)])


@pytest.mark.parametrize(
    ("status", "first"),
    [
        (ProductStatus.DRAFT, LifecycleStage.CONCEPT),
        (ProductStatus.DISABLED, LifecycleStage.CONCEPT),
        (ProductStatus.ENABLED, LifecycleStage.ACTIVE),
    ],
)
async def test_a_new_product_enters_at_its_first_stage(
    status: ProductStatus, first: LifecycleStage
) -> None:
    uow = FakeLifecycleUnitOfWork()
    snapshot = product(1, status)

    outcome = await on_product_changed(uow, [snapshot])

    assert stages(outcome) == [(SKU, None, first, 1)]
    [envelope] = outcome.emitted
    assert (envelope.source, envelope.origin_time, envelope.traceparent) == (
        SOURCE,
        ORIGIN,
        TRACEPARENT,
    )
    assert envelope.id != snapshot.id
    stored = await uow.stages.get(SKU)
    assert stored is not None
    assert (stored.stage.value, stored.version, stored.product_version) == (first.value, 1, 1)


@pytest.mark.parametrize("stage", [Stage.CONCEPT, Stage.DEVELOPMENT, Stage.PRE_LAUNCH])
async def test_enabling_before_launch_moves_to_active(stage: Stage) -> None:
    uow = FakeLifecycleUnitOfWork()
    await in_stage(uow, stage, product_version=1)

    outcome = await on_product_changed(uow, [product(2, ProductStatus.ENABLED)])

    assert stages(outcome) == [(SKU, LifecycleStage(stage.value), LifecycleStage.ACTIVE, 4)]
    assert (outcome.rejected, outcome.ignored) == ({}, frozenset())


@pytest.mark.parametrize("stage", [Stage.CONCEPT, Stage.ACTIVE, Stage.PHASE_OUT])
async def test_deleting_discontinues(stage: Stage) -> None:
    uow = FakeLifecycleUnitOfWork()
    await in_stage(uow, stage, product_version=1)

    outcome = await on_product_changed(uow, [product(2, deleted=True)])

    assert stages(outcome) == [(SKU, LifecycleStage(stage.value), LifecycleStage.DISCONTINUED, 4)]


async def test_a_snapshot_that_moves_no_stage_emits_nothing_but_counts_as_seen() -> None:
    uow = FakeLifecycleUnitOfWork()
    await in_stage(uow, Stage.ACTIVE, product_version=1)

    outcome = await on_product_changed(uow, [product(2, ProductStatus.DISABLED)])
    older = product(1, ProductStatus.DISABLED)
    after = await on_product_changed(uow, [older])

    assert outcome == Outcome(emitted=[], rejected={}, ignored=frozenset())
    assert after == Outcome(emitted=[], rejected={}, ignored=frozenset({older.id}))
    assert await uow.stages.get(SKU) == SkuStage(SKU, Stage.ACTIVE, 3, 2, "operator", T0)


async def test_an_older_or_repeated_snapshot_is_ignored() -> None:
    uow = FakeLifecycleUnitOfWork()
    await in_stage(uow, Stage.CONCEPT, product_version=5)
    late, repeated = product(4, ProductStatus.ENABLED), product(5, ProductStatus.ENABLED)

    outcome = await on_product_changed(uow, [late, repeated])

    assert outcome == Outcome(emitted=[], rejected={}, ignored=frozenset({late.id, repeated.id}))
    assert await uow.stages.get(SKU) == SkuStage(SKU, Stage.CONCEPT, 3, 5, "operator", T0)


async def test_a_batch_is_followed_in_order_and_saved_in_one_go() -> None:
    uow = FakeLifecycleUnitOfWork()
    batch = [
        product(1),
        product(1, ProductStatus.ENABLED, sku="MUG-2"),
        product(2, ProductStatus.ENABLED),
        product(3, deleted=True),
    ]

    outcome = await on_product_changed(uow, batch)

    assert stages(outcome) == [
        (SKU, None, LifecycleStage.CONCEPT, 1),
        ("MUG-2", None, LifecycleStage.ACTIVE, 1),
        (SKU, LifecycleStage.CONCEPT, LifecycleStage.ACTIVE, 2),
        (SKU, LifecycleStage.ACTIVE, LifecycleStage.DISCONTINUED, 3),
    ]
    assert [sorted(saved) for saved in uow.stages.saves] == [["MUG-1", "MUG-2"]]


def request() -> Origin:
    return Origin(TRACEPARENT, None, source=SOURCE)


async def test_an_operator_move_is_saved_and_published_as_caused_by_the_request() -> None:
    uow = FakeLifecycleUnitOfWork()
    await in_stage(uow, Stage.ACTIVE, product_version=1)
    origin = request()

    decision = await transition(
        uow, SKU, Stage.MATURE, "sales plateaued", origin, expected_version=3
    )

    state = decision.value
    assert (state.stage, state.version, state.reason) == (Stage.MATURE, 4, "sales plateaued")
    assert await uow.stages.get(SKU) == state
    [envelope] = decision.emitted
    assert envelope.payload == LifecycleStageChanged(
        sku=SKU,
        stage=LifecycleStage.MATURE,
        previous_stage=LifecycleStage.ACTIVE,
        stage_version=4,
        reason="sales plateaued",
        changed_at=state.changed_at,
    )
    assert (envelope.origin_time, envelope.traceparent) == (origin.at, TRACEPARENT)


async def test_phase_out_may_go_back_to_active() -> None:
    uow = FakeLifecycleUnitOfWork()
    await in_stage(uow, Stage.PHASE_OUT, product_version=1)

    decision = await transition(
        uow, SKU, Stage.ACTIVE, "demand is back", request(), expected_version=None
    )

    assert decision.value.stage is Stage.ACTIVE


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Stage.MATURE, Stage.ACTIVE),
        (Stage.DISCONTINUED, Stage.ACTIVE),
        (Stage.ACTIVE, Stage.ACTIVE),
    ],
)
async def test_a_move_the_table_forbids_is_refused_and_changes_nothing(
    current: Stage, target: Stage
) -> None:
    uow = FakeLifecycleUnitOfWork()
    await in_stage(uow, current, product_version=1)

    with pytest.raises(ForbiddenTransitionError):
        await transition(uow, SKU, target, "oops", request(), expected_version=None)
    assert await uow.stages.get(SKU) == SkuStage(SKU, current, 3, 1, "operator", T0)


async def test_a_move_meant_for_another_stage_version_is_a_conflict() -> None:
    uow = FakeLifecycleUnitOfWork()
    await in_stage(uow, Stage.ACTIVE, product_version=1)

    with pytest.raises(VersionConflictError):
        await transition(uow, SKU, Stage.MATURE, "x", request(), expected_version=2)
    assert await uow.stages.get(SKU) == SkuStage(SKU, Stage.ACTIVE, 3, 1, "operator", T0)


async def test_moving_a_sku_the_catalog_never_reported_is_not_found() -> None:
    with pytest.raises(StageNotFoundError):
        await transition(
            FakeLifecycleUnitOfWork(), SKU, Stage.ACTIVE, "x", request(), expected_version=None
        )

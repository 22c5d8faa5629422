"""Lifecycle stage rules: entry, following the catalog, transitions, ordering (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from skuhub_contracts.events import LifecycleStage, ProductChanged, ProductStatus
from skuhub_lifecycle.domain.stages import (
    ALLOWED,
    ForbiddenTransitionError,
    ProductFacts,
    SkuStage,
    Stage,
    StageNotFoundError,
    VersionConflictError,
    check_transition,
)
from skuhub_lifecycle.entrypoints.events import to_product_facts, to_stage_changed
from skuhub_lifecycle.service_layer.follow_products import ReportedProduct, follow_products
from skuhub_lifecycle.service_layer.transitions import transition_stage
from tests.fakes.lifecycle import FakeStageRepository

T0 = datetime(2025, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)
SKU = "TSHIRT-RED-M"


def facts(version: int, *, enabled: bool = False, deleted: bool = False) -> ProductFacts:
    return ProductFacts(sku=SKU, product_version=version, enabled=enabled, deleted=deleted)


def in_stage(stage: Stage, *, product_version: int = 1, version: int = 1) -> SkuStage:
    return SkuStage(SKU, stage, version, product_version, "test", T0)


def test_a_new_draft_product_enters_at_concept() -> None:
    state, change = SkuStage.enter(facts(1), now=T0)

    assert state.stage is Stage.CONCEPT
    assert change.stage is Stage.CONCEPT
    assert change.previous is None
    assert change.version == 1


def test_a_new_enabled_product_enters_at_active() -> None:
    state, change = SkuStage.enter(facts(1, enabled=True), now=T0)

    assert state.stage is Stage.ACTIVE
    assert change.reason == "enabled in catalog"


def test_a_product_first_seen_deleted_enters_discontinued() -> None:
    state, _ = SkuStage.enter(facts(3, deleted=True), now=T0)

    assert state.stage is Stage.DISCONTINUED


@pytest.mark.parametrize("stage", [Stage.CONCEPT, Stage.DEVELOPMENT, Stage.PRE_LAUNCH])
def test_enabling_before_launch_moves_to_active(stage: Stage) -> None:
    state = in_stage(stage)

    change = state.follow(facts(2, enabled=True), now=T1)

    assert change is not None
    assert (change.previous, change.stage) == (stage, Stage.ACTIVE)
    assert change.reason == "enabled in catalog"
    assert change.version == 2
    assert state.stage is Stage.ACTIVE


@pytest.mark.parametrize("stage", [Stage.ACTIVE, Stage.MATURE, Stage.PHASE_OUT])
def test_an_enabled_product_after_launch_stays_where_it_is(stage: Stage) -> None:
    state = in_stage(stage)

    assert state.follow(facts(2, enabled=True), now=T1) is None
    assert state.stage is stage
    assert state.product_version == 2


@pytest.mark.parametrize("stage", [s for s in Stage if s is not Stage.DISCONTINUED])
def test_deleting_a_product_discontinues_it(stage: Stage) -> None:
    state = in_stage(stage)

    change = state.follow(facts(2, deleted=True), now=T1)

    assert change is not None
    assert change.stage is Stage.DISCONTINUED
    assert change.reason == "deleted in catalog"


def test_a_discontinued_product_deleted_again_does_not_change() -> None:
    state = in_stage(Stage.DISCONTINUED)

    assert state.follow(facts(2, deleted=True), now=T1) is None


def test_disabling_a_product_does_not_change_its_stage() -> None:
    state = in_stage(Stage.ACTIVE)

    assert state.follow(facts(2, enabled=False), now=T1) is None
    assert state.stage is Stage.ACTIVE


def test_an_older_product_version_is_ignored() -> None:
    state = in_stage(Stage.CONCEPT, product_version=5)

    assert state.follow(facts(4, enabled=True), now=T1) is None
    assert state.follow(facts(5, enabled=True), now=T1) is None
    assert state.stage is Stage.CONCEPT
    assert state.product_version == 5


def test_every_forward_move_is_allowed() -> None:
    order = list(Stage)
    for i, current in enumerate(order):
        for target in order[i + 1 :]:
            check_transition(current, target)


def test_phase_out_may_be_reactivated() -> None:
    check_transition(Stage.PHASE_OUT, Stage.ACTIVE)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Stage.ACTIVE, Stage.CONCEPT),
        (Stage.MATURE, Stage.ACTIVE),
        (Stage.DISCONTINUED, Stage.ACTIVE),
        (Stage.PHASE_OUT, Stage.MATURE),
    ],
)
def test_backward_moves_are_forbidden(current: Stage, target: Stage) -> None:
    with pytest.raises(ForbiddenTransitionError, match=f"cannot move from {current} to {target}"):
        check_transition(current, target)


def test_staying_in_the_same_stage_is_not_a_transition() -> None:
    with pytest.raises(ForbiddenTransitionError, match="already in stage active"):
        check_transition(Stage.ACTIVE, Stage.ACTIVE)


def test_discontinued_is_final() -> None:
    assert ALLOWED[Stage.DISCONTINUED] == frozenset()
    with pytest.raises(ForbiddenTransitionError, match="none; it is final"):
        check_transition(Stage.DISCONTINUED, Stage.PHASE_OUT)


def test_an_operator_move_increments_the_stage_version() -> None:
    state = in_stage(Stage.ACTIVE, version=3)

    change = state.move(Stage.MATURE, "sales plateaued", now=T1)

    assert (change.previous, change.stage, change.version) == (Stage.ACTIVE, Stage.MATURE, 4)
    assert (state.stage, state.version, state.reason) == (Stage.MATURE, 4, "sales plateaued")


def test_a_forbidden_move_leaves_the_state_unchanged() -> None:
    state = in_stage(Stage.MATURE, version=2)

    with pytest.raises(ForbiddenTransitionError):
        state.move(Stage.CONCEPT, "oops", now=T1)
    assert (state.stage, state.version) == (Stage.MATURE, 2)


def test_a_move_with_a_stale_expected_version_is_a_conflict() -> None:
    state = in_stage(Stage.ACTIVE, version=2)

    with pytest.raises(VersionConflictError):
        state.move(Stage.MATURE, "x", now=T1, expected_version=1)


def test_an_enabled_snapshot_becomes_enabled_facts() -> None:
    event = ProductChanged(
        sku=SKU, product_version=7, status=ProductStatus.ENABLED, title={}, changed_at=T0
    )

    assert to_product_facts(event) == ProductFacts(SKU, 7, enabled=True, deleted=False)


def test_a_stage_change_becomes_the_wire_event() -> None:
    _, change = SkuStage.enter(facts(1, enabled=True), now=T0)

    event = to_stage_changed(change)

    assert event.stage is LifecycleStage.ACTIVE
    assert event.previous_stage is None
    assert event.stage_version == 1


async def test_a_batch_enters_new_skus_and_follows_later_snapshots_in_order() -> None:
    repo = FakeStageRepository()
    batch = [
        ReportedProduct("e1", facts(1)),
        ReportedProduct("e2", facts(2, enabled=True)),
        ReportedProduct("e3", facts(3, deleted=True)),
    ]

    followed = await follow_products(repo, batch, now=T1)

    assert [(c.stage, cause) for c, cause in followed.changes] == [
        (Stage.CONCEPT, "e1"),
        (Stage.ACTIVE, "e2"),
        (Stage.DISCONTINUED, "e3"),
    ]
    assert await repo.get(SKU) == SkuStage(SKU, Stage.DISCONTINUED, 3, 3, "deleted in catalog", T1)
    assert repo.saves == [[SKU]]


async def test_a_redelivered_or_late_snapshot_changes_nothing() -> None:
    repo = FakeStageRepository(in_stage(Stage.ACTIVE, product_version=4))

    followed = await follow_products(repo, [ReportedProduct("old", facts(3, deleted=True))])

    assert followed.changes == []
    assert followed.already_seen == {"old"}
    assert await repo.get(SKU) == in_stage(Stage.ACTIVE, product_version=4)
    assert repo.saves == []


async def test_a_newer_snapshot_without_a_stage_change_still_records_its_version() -> None:
    repo = FakeStageRepository(in_stage(Stage.ACTIVE, product_version=1))

    followed = await follow_products(repo, [ReportedProduct("e", facts(2, enabled=False))])

    assert followed.changes == []
    assert await repo.get(SKU) == in_stage(Stage.ACTIVE, product_version=2)


async def test_an_operator_transition_is_saved() -> None:
    repo = FakeStageRepository(in_stage(Stage.ACTIVE))

    moved = await transition_stage(repo, SKU, Stage.PHASE_OUT, "successor launched", now=T1)

    assert moved.change.stage is Stage.PHASE_OUT
    assert await repo.get(SKU) == SkuStage(SKU, Stage.PHASE_OUT, 2, 1, "successor launched", T1)


async def test_an_operator_transition_of_an_unknown_sku_is_not_found() -> None:
    with pytest.raises(StageNotFoundError, match="catalog publishes"):
        await transition_stage(FakeStageRepository(), SKU, Stage.ACTIVE, "x")

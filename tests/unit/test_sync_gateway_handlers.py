"""The gateway's projection handler on the fake unit of work.

The rules (docs/decisions.md, sync gateway; contracts: derived events carry state, so the
highest version wins): product, stock-level and stage facts are kept per key at their
newest version, whatever order they arrive in; offers are computed on read from them,
so the handler emits nothing (publishing channel-offer-changed comes with the gateway
issue) and refuses nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import (
    LifecycleStage,
    LifecycleStageChanged,
    ProductChanged,
    ProductStatus,
    PublishedContent,
    StockLevelChanged,
    WorkflowState,
)
from skuhub_contracts.subscriptions import OfferFact
from skuhub_runtime.handling import Incoming
from skuhub_sync_gateway.domain.offers import Channel, PositionFacts, StageFacts, build_offer
from skuhub_sync_gateway.entrypoints.handlers import project
from tests.fakes.sync_gateway import FakeGatewayUnitOfWork

SKU = "MUG-1"
GLN = "4012345000009"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
ORIGIN = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
WEB = Channel(id="web", name="Web shop", locale="en_US")


def fact(payload: OfferFact, *, traceparent: str | None = None) -> Incoming[OfferFact]:
    """A state event as the gateway's consumer decodes it; the trace is the event's own."""
    envelope = Envelope(payload, origin_time=ORIGIN, traceparent=traceparent)
    return Incoming(envelope, "/skuhub/sync_gateway")


def product(version: int, **fields: Any) -> Incoming[OfferFact]:
    """MUG-1 at ``version``, published as it is (unless ``fields`` say otherwise)."""
    title = {"en_US": f"Mug v{version}"}
    values: dict[str, Any] = {
        "status": ProductStatus.ENABLED,
        "title": title,
        "workflow": WorkflowState.PUBLISHED,
        "published": PublishedContent(version=version, title=title),
        "changed_at": ORIGIN,
    }
    return fact(ProductChanged(sku=SKU, product_version=version, **(values | fields)))


def level(version: int, available: str, *, lot: str | None = None) -> Incoming[OfferFact]:
    quantity = Decimal(available)
    payload = StockLevelChanged(
        sku=SKU,
        location=GLN,
        lot=lot,
        unit="EA",
        on_hand=quantity,
        reserved=Decimal(0),
        quality_hold=Decimal(0),
        expired=Decimal(0),
        in_transit=Decimal(0),
        incoming=Decimal(0),
        available_to_promise=quantity,
        location_available_to_promise=quantity,
        received=quantity,
        shipped=Decimal(0),
        returned=Decimal(0),
        scrapped=Decimal(0),
        lost_sales=Decimal(0),
        position_version=version,
        caused_by=f"movement-{version}",
        changed_at=ORIGIN,
    )
    return fact(payload)


def stage(version: int, entered: LifecycleStage, **fields: Any) -> Incoming[OfferFact]:
    payload = LifecycleStageChanged(
        sku=SKU, stage=entered, stage_version=version, reason="r", changed_at=ORIGIN, **fields
    )
    return fact(payload)


async def test_each_kind_of_fact_is_projected_with_its_provenance() -> None:
    uow = FakeGatewayUnitOfWork()
    traced = fact(
        ProductChanged(
            sku=SKU,
            product_version=1,
            status=ProductStatus.ENABLED,
            title={"en_US": "Mug"},
            workflow=WorkflowState.PUBLISHED,
            published=PublishedContent(version=1, title={"en_US": "Mug"}),
            changed_at=ORIGIN,
        ),
        traceparent=f"00-{TRACE_ID}-00f067aa0ba902b7-01",
    )

    outcome = await project(
        uow, [traced, level(1, "3"), stage(1, LifecycleStage.ACTIVE), level(1, "2", lot="L1")]
    )

    assert (list(outcome.emitted), dict(outcome.rejected), outcome.ignored) == ([], {}, frozenset())
    found, positions, stage_facts, provenance = await uow.projection.facts_of(SKU)
    assert found is not None
    assert (found.version, found.status, found.title) == (1, "enabled", {"en_US": "Mug"})
    assert positions == [
        PositionFacts(GLN, "", 1, "EA", Decimal(3)),
        PositionFacts(GLN, "L1", 1, "EA", Decimal(2)),
    ]
    assert stage_facts == StageFacts("active", 1)
    assert provenance["product"]["trace_id"] == TRACE_ID
    assert provenance["product"]["origin_time"] == ORIGIN.isoformat()
    assert provenance["stage"]["trace_id"] is None


async def test_within_a_batch_the_newest_version_of_each_key_wins_in_any_order() -> None:
    uow = FakeGatewayUnitOfWork()
    older = [product(2), level(4, "1"), stage(2, LifecycleStage.MATURE)]

    outcome = await project(
        uow,
        [
            product(3),
            older[0],
            level(5, "7"),
            older[1],
            older[2],
            stage(3, LifecycleStage.PHASE_OUT),
        ],
    )

    assert outcome.ignored == {i.id for i in older}, "facts a newer one replaced: duplicates"
    found, positions, stage_facts, _ = await uow.projection.facts_of(SKU)
    assert found is not None
    assert (found.version, found.title) == (3, {"en_US": "Mug v3"})
    assert positions == [PositionFacts(GLN, "", 5, "EA", Decimal(7))]
    assert stage_facts == StageFacts("phase-out", 3)


async def test_a_fact_older_than_the_projected_one_changes_nothing() -> None:
    uow = FakeGatewayUnitOfWork()
    await project(uow, [product(2), level(2, "4"), stage(2, LifecycleStage.ACTIVE)])
    before = await uow.projection.facts_of(SKU)

    late = [product(1, deleted=True), level(1, "0"), stage(1, LifecycleStage.CONCEPT)]
    outcome = await project(uow, late)

    assert list(outcome.emitted) == []
    assert outcome.ignored == {i.id for i in late}, "facts the projection had: duplicates"
    assert await uow.projection.facts_of(SKU) == before


async def test_the_projection_is_what_offers_are_built_from() -> None:
    uow = FakeGatewayUnitOfWork()
    await project(uow, [product(1), level(1, "3"), stage(1, LifecycleStage.ACTIVE)])

    offer = build_offer(WEB, SKU, *(await uow.projection.facts_of(SKU))[:3])
    # Enabled, active and available: sellable; 0 < 3 <= the default threshold 5: low stock.
    assert (offer.sellable, offer.low_stock, offer.available) == (True, True, Decimal(3))

    await project(uow, [product(2, deleted=True)])

    offer = build_offer(WEB, SKU, *(await uow.projection.facts_of(SKU))[:3])
    assert (offer.sellable, offer.reasons) == (False, ("product deleted",))


async def test_a_channel_sells_only_published_content() -> None:
    uow = FakeGatewayUnitOfWork()
    never = product(1, workflow=WorkflowState.APPROVED, published=None)
    await project(uow, [never, level(1, "3"), stage(1, LifecycleStage.ACTIVE)])

    offer = build_offer(WEB, SKU, *(await uow.projection.facts_of(SKU))[:3])
    assert (offer.sellable, offer.title, offer.reasons) == (
        False,
        None,
        ("product content not published yet",),
    )

    await project(uow, [product(2)])
    # A new draft after publishing: its title is not the channel's, version 2's stays.
    draft = product(
        3,
        title={"en_US": "Mug (draft wording)"},
        workflow=WorkflowState.DRAFT,
        published=PublishedContent(version=2, title={"en_US": "Mug v2"}),
    )
    await project(uow, [draft])

    offer = build_offer(WEB, SKU, *(await uow.projection.facts_of(SKU))[:3])
    assert (offer.sellable, offer.title) == (True, "Mug v2")


async def test_a_stage_is_kept_with_its_pre_order_flag_and_successor() -> None:
    uow = FakeGatewayUnitOfWork()
    await project(uow, [product(1), stage(1, LifecycleStage.PRE_LAUNCH, pre_order=True)])

    _, positions, stage_facts, _ = await uow.projection.facts_of(SKU)
    assert stage_facts == StageFacts("pre-launch", 1, pre_order=True, successor=None)
    offer = build_offer(WEB, SKU, *(await uow.projection.facts_of(SKU))[:3])
    # No position at all: a pre-order sells before stock.
    assert (positions, offer.sellable, offer.pre_order) == ([], True, True)

    await project(
        uow,
        [
            stage(3, LifecycleStage.DISCONTINUED, successor="MUG-2"),
            stage(2, LifecycleStage.ACTIVE),
        ],
    )

    _, _, stage_facts, _ = await uow.projection.facts_of(SKU)
    assert stage_facts == StageFacts("discontinued", 3, pre_order=False, successor="MUG-2")
    offer = build_offer(WEB, SKU, *(await uow.projection.facts_of(SKU))[:3])
    assert (offer.sellable, offer.pre_order, offer.successor) == (False, False, "MUG-2")

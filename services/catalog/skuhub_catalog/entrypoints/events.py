"""Translation at the edge: a saved product, resolved through its models, becomes the
product-changed wire snapshot; the stock and lifecycle events the catalog shows beside its
content become facts of its projection."""

from __future__ import annotations

import functools

from skuhub_catalog.domain import product as domain
from skuhub_catalog.domain.availability import PositionFact, StageFact
from skuhub_catalog.domain.product import Product
from skuhub_catalog.domain.product_model import Lineage, resolve
from skuhub_contracts.events import (
    ChannelCompleteness,
    KitComponent,
    LifecycleStageChanged,
    ProductChanged,
    ProductStatus,
    PublishedContent,
    RelationKind,
    StockLevelChanged,
    WorkflowState,
)


def to_product_changed(stored: Product, lineage: Lineage | None) -> ProductChanged:
    """The per-SKU snapshot: the product resolved through its models (``lineage``), with its
    completeness per channel x locale."""
    product = resolve(stored, lineage)
    return ProductChanged(
        sku=product.sku,
        product_version=product.version,
        gtin=product.gtin,
        status=ProductStatus(product.status.value),
        workflow=WorkflowState(product.workflow.value),
        published=_published(product.published),
        family=product.family,
        product_model=product.product_model,
        variant_axes=list(lineage.axes) if lineage is not None else [],
        unit=product.unit,
        packs=dict(product.packs),
        lot_tracked=product.lot_tracked,
        shelf_life_days=product.shelf_life_days,
        kit_components=[
            KitComponent(sku=c.sku, quantity=c.quantity) for c in product.kit_components
        ],
        categories=list(product.categories),
        completeness=[_channel_completeness(c) for c in stored.completeness or ()],
        relations={
            RelationKind(kind.value): list(skus) for kind, skus in product.relations.items()
        },
        title=dict(product.title),
        description=dict(product.description),
        attributes=dict(product.attributes),
        deleted=product.deleted,
        changed_at=product.updated_at,
    )


@functools.lru_cache(maxsize=4_096)
def _channel_completeness(measured: domain.Completeness) -> ChannelCompleteness:
    """One channel x locale's completeness on the wire. Most products of an import share
    theirs (complete, or missing the same few), and the model is frozen: each is built once,
    not once per snapshot."""
    return ChannelCompleteness(
        channel=measured.channel,
        locale=measured.locale,
        ratio=measured.ratio,
        complete=measured.complete,
        missing=list(measured.missing),
    )


def _published(content: domain.PublishedContent | None) -> PublishedContent | None:
    if content is None:
        return None
    return PublishedContent(
        version=content.version,
        gtin=content.gtin,
        title=dict(content.title),
        description=dict(content.description),
        attributes=dict(content.attributes),
        categories=list(content.categories),
    )


def to_position_fact(event: StockLevelChanged) -> PositionFact:
    return PositionFact(
        sku=event.sku,
        location=event.location,
        lot=event.lot or "",
        unit=event.unit,
        on_hand=event.on_hand,
        quality_hold=event.quality_hold,
        expired=event.expired,
        reserved=event.reserved,
        available_to_promise=event.available_to_promise,
        kit=event.kit,
        position_version=event.position_version,
        changed_at=event.changed_at,
    )


def to_stage_fact(event: LifecycleStageChanged) -> StageFact:
    return StageFact(
        sku=event.sku,
        stage=event.stage.value,
        stage_version=event.stage_version,
        changed_at=event.changed_at,
    )

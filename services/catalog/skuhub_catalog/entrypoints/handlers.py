"""The catalog's command handlers: they decide; the runtime does the I/O around them.

Each runs a use case on the unit of work and returns what it saved, with the
product-changed snapshots to publish: one for a product that got a new version, one per
variant whose resolved snapshot a model change altered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from skuhub_catalog.domain.attributes import Attribute, AttributeChange
from skuhub_catalog.domain.category import Category, CategoryChange
from skuhub_catalog.domain.completeness import Family, FamilyChange, NewFamily
from skuhub_catalog.domain.history import ANONYMOUS
from skuhub_catalog.domain.imports import ImportCounts, ImportRow, RowProblem
from skuhub_catalog.domain.product import NewProduct, Product, ProductChange
from skuhub_catalog.domain.product_model import NewProductModel, ProductModel, ProductModelChange
from skuhub_catalog.domain.workflow import WorkflowAction
from skuhub_catalog.entrypoints.events import to_position_fact, to_product_changed, to_stage_fact
from skuhub_catalog.service_layer import (
    attributes,
    categories,
    families,
    imports,
    product_models,
    projection,
)
from skuhub_catalog.service_layer.ports import CatalogUnitOfWork
from skuhub_catalog.service_layer.products import (
    Saved,
    create_product,
    delete_product,
    take_workflow_step,
    update_product,
)
from skuhub_catalog.service_layer.snapshots import NO_CHANNELS, Channels, Republished
from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import LifecycleStageChanged, StockLevelChanged
from skuhub_contracts.subscriptions import CatalogFact
from skuhub_runtime.handling import Decision, Incoming, Outcome
from skuhub_runtime.origin import Origin


async def create(
    uow: CatalogUnitOfWork,
    data: NewProduct,
    origin: Origin,
    *,
    actor: str = ANONYMOUS,
    channels: Channels = NO_CHANNELS,
) -> Decision[Product]:
    return _published(await create_product(uow, data, actor=actor, channels=channels), origin)


async def update(
    uow: CatalogUnitOfWork,
    sku: str,
    change: ProductChange,
    origin: Origin,
    *,
    expected_version: int | None,
    actor: str = ANONYMOUS,
    channels: Channels = NO_CHANNELS,
) -> Decision[Product]:
    saved = await update_product(
        uow, sku, change, expected_version=expected_version, actor=actor, channels=channels
    )
    return _published(saved, origin)


async def delete(
    uow: CatalogUnitOfWork,
    sku: str,
    origin: Origin,
    *,
    expected_version: int | None,
    actor: str = ANONYMOUS,
    channels: Channels = NO_CHANNELS,
) -> Decision[Product]:
    saved = await delete_product(
        uow, sku, expected_version=expected_version, actor=actor, channels=channels
    )
    return _published(saved, origin)


async def step(
    uow: CatalogUnitOfWork,
    sku: str,
    action: WorkflowAction,
    origin: Origin,
    *,
    comment: str | None,
    expected_version: int | None,
    actor: str = ANONYMOUS,
    channels: Channels = NO_CHANNELS,
) -> Decision[Product]:
    saved = await take_workflow_step(
        uow,
        sku,
        action,
        comment=comment,
        expected_version=expected_version,
        actor=actor,
        channels=channels,
    )
    return _published(saved, origin)


async def import_chunk(
    uow: CatalogUnitOfWork,
    job_id: str,
    rows: Sequence[ImportRow],
    unreadable: Sequence[RowProblem],
    origin: Origin,
    *,
    unreadable_rows: int,
    actor: str = ANONYMOUS,
    channels: Channels = NO_CHANNELS,
) -> Decision[ImportCounts]:
    """One chunk of a supplier file: a snapshot per product it created or changed."""
    result = await imports.import_rows(
        uow,
        job_id,
        rows,
        unreadable,
        unreadable_rows=unreadable_rows,
        channels=channels,
        actor=actor,
    )
    emitted = [envelope for saved in result.saved for envelope in _published(saved, origin).emitted]
    return Decision(result.counts, emitted=emitted)


async def create_model(
    uow: CatalogUnitOfWork, data: NewProductModel, origin: Origin
) -> Decision[ProductModel]:
    """A new model has no variants yet: nothing to publish."""
    return Decision((await product_models.create_model(uow, data)).model)


async def update_model(
    uow: CatalogUnitOfWork,
    code: str,
    change: ProductModelChange,
    origin: Origin,
    *,
    expected_version: int | None,
    actor: str = ANONYMOUS,
    channels: Channels = NO_CHANNELS,
) -> Decision[ProductModel]:
    saved = await product_models.update_model(
        uow, code, change, expected_version=expected_version, channels=channels, actor=actor
    )
    return Decision(saved.model, emitted=_republished(saved.republished, origin))


async def delete_model(
    uow: CatalogUnitOfWork, code: str, origin: Origin, *, expected_version: int | None
) -> Decision[ProductModel]:
    """Only a model with nothing below it is deleted: nothing to publish."""
    saved = await product_models.delete_model(uow, code, expected_version=expected_version)
    return Decision(saved.model)


async def on_catalog_fact(
    uow: CatalogUnitOfWork, batch: Sequence[Incoming[CatalogFact]]
) -> Outcome:
    """Keep the stock positions and stages reported; nothing is emitted."""
    payloads = [incoming.payload for incoming in batch]
    await projection.keep(
        uow.projection,
        [to_position_fact(p) for p in payloads if isinstance(p, StockLevelChanged)],
        [to_stage_fact(p) for p in payloads if isinstance(p, LifecycleStageChanged)],
    )
    return Outcome()


def _published(saved: Saved, origin: Origin) -> Decision[Product]:
    """The product, with its new snapshot when the use case made a new version."""
    if not saved.changed:
        return Decision(saved.product)
    snapshot = origin.envelope(
        to_product_changed(saved.product, saved.lineage),
        time=saved.product.updated_at,
    )
    return Decision(saved.product, emitted=[snapshot])


async def create_category(
    uow: CatalogUnitOfWork, code: str, parent: str | None, labels: dict[str, str]
) -> Decision[Category]:
    """Categories publish nothing of their own: products carry their category codes."""
    return Decision(await categories.create_category(uow, code, parent, labels))


async def update_category(
    uow: CatalogUnitOfWork, code: str, change: CategoryChange, *, expected_version: int | None
) -> Decision[Category]:
    """A move or relabel leaves each product's category codes as they are: nothing to
    publish."""
    return Decision(
        await categories.update_category(uow, code, change, expected_version=expected_version)
    )


async def delete_category(
    uow: CatalogUnitOfWork, code: str, *, expected_version: int | None
) -> Decision[Category]:
    return Decision(await categories.delete_category(uow, code, expected_version=expected_version))


async def create_family(
    uow: CatalogUnitOfWork, data: NewFamily, origin: Origin, *, actor: str, channels: Channels
) -> Decision[Family]:
    """Products that already name the family get their completeness, published."""
    saved = await families.create_family(uow, data, channels, actor=actor)
    return _family_published(saved, origin)


async def update_family(
    uow: CatalogUnitOfWork,
    code: str,
    change: FamilyChange,
    origin: Origin,
    *,
    expected_version: int | None,
    actor: str,
    channels: Channels,
) -> Decision[Family]:
    saved = await families.update_family(
        uow, code, change, channels, expected_version=expected_version, actor=actor
    )
    return _family_published(saved, origin)


def _family_published(saved: families.FamilySaved, origin: Origin) -> Decision[Family]:
    """The family, with a new snapshot of each product whose completeness it changed."""
    return Decision(saved.family, emitted=_republished(saved.republished, origin))


def _republished(republished: Sequence[Republished], origin: Origin) -> list[Envelope[Any]]:
    """The snapshot of each product a model or family change gave a new version."""
    return [
        origin.envelope(to_product_changed(r.product, r.lineage), time=r.product.updated_at)
        for r in republished
    ]


async def create_attribute(uow: CatalogUnitOfWork, attribute: Attribute) -> Decision[Attribute]:
    """Definitions publish nothing: they rule which values saves take from now on."""
    return Decision(await attributes.create_attribute(uow, attribute))


async def update_attribute(
    uow: CatalogUnitOfWork, code: str, change: AttributeChange, *, expected_version: int | None
) -> Decision[Attribute]:
    return Decision(
        await attributes.update_attribute(uow, code, change, expected_version=expected_version)
    )

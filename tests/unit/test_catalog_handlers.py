"""The catalog's command handlers on the fake unit of work: what they save, emit and refuse.

Every change that alters a product is a new version published as a whole product-changed
snapshot, caused by the request (its trace, its arrival as origin time); a change that
alters nothing publishes nothing; a deleted product stays as a tombstone whose SKU and
GTIN stay taken (domain/product.py, docs/decisions.md HTTP).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from skuhub_catalog.domain.product import (
    GtinInUseError,
    InvalidProductError,
    KitComponent,
    NewProduct,
    Product,
    ProductAlreadyExistsError,
    ProductChange,
    ProductDeletedError,
    ProductNotFoundError,
    ProductStatus,
    VersionConflictError,
)
from skuhub_catalog.entrypoints.handlers import create, delete, update
from skuhub_contracts.events import KitComponent as WireKitComponent
from skuhub_contracts.events import ProductChanged
from skuhub_runtime.handling import Decision
from skuhub_runtime.origin import Origin
from tests.fakes.catalog import FakeCatalogUnitOfWork

SKU = "MUG-1"
GTIN = "4006381333931"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
NEW = NewProduct(sku=SKU, title={"en_US": "Mug"}, gtin=GTIN, attributes={"color": "red"})


def request() -> Origin:
    return Origin(TRACEPARENT, None, source="/skuhub/catalog")


def snapshot(decision: Decision[Product]) -> ProductChanged:
    [envelope] = decision.emitted
    assert isinstance(envelope.payload, ProductChanged)
    return envelope.payload


async def created(uow: FakeCatalogUnitOfWork) -> Product:
    return (await create(uow, NEW, request())).value


async def test_creating_saves_version_1_and_publishes_it_as_caused_by_the_request() -> None:
    uow = FakeCatalogUnitOfWork()
    origin = request()

    decision = await create(uow, NEW, origin)

    product = decision.value
    assert (product.sku, product.version, product.status) == (SKU, 1, ProductStatus.DRAFT)
    assert await uow.products.get(SKU) == product
    [envelope] = decision.emitted
    assert envelope.payload == ProductChanged(
        sku=SKU,
        product_version=1,
        gtin=GTIN,
        status="draft",
        title={"en_US": "Mug"},
        attributes={"color": "red"},
        changed_at=product.updated_at,
    )
    assert (envelope.source, envelope.traceparent) == ("/skuhub/catalog", TRACEPARENT)
    assert (envelope.origin_time, envelope.time) == (origin.at, product.updated_at)


async def test_creating_a_taken_sku_is_refused_and_changes_nothing() -> None:
    uow = FakeCatalogUnitOfWork()
    first = await created(uow)

    with pytest.raises(ProductAlreadyExistsError):
        await create(uow, NewProduct(sku=SKU, title={"en_US": "Other"}), request())
    assert await uow.products.get(SKU) == first


async def test_creating_a_product_with_a_gtin_another_carries_is_refused() -> None:
    uow = FakeCatalogUnitOfWork()
    await created(uow)

    with pytest.raises(GtinInUseError, match=SKU):
        await create(uow, NewProduct(sku="MUG-2", title={"en_US": "x"}, gtin=GTIN), request())
    assert await uow.products.get("MUG-2") is None


async def test_a_change_saves_and_publishes_the_next_version() -> None:
    uow = FakeCatalogUnitOfWork()
    await created(uow)

    decision = await update(
        uow, SKU, ProductChange(status=ProductStatus.ENABLED), request(), expected_version=1
    )

    assert (decision.value.version, decision.value.status) == (2, ProductStatus.ENABLED)
    assert await uow.products.get(SKU) == decision.value
    published = snapshot(decision)
    assert (published.product_version, published.status.value) == (2, "enabled")
    assert (published.gtin, published.title) == (GTIN, {"en_US": "Mug"})


async def test_a_change_that_alters_nothing_keeps_the_version_and_publishes_nothing() -> None:
    uow = FakeCatalogUnitOfWork()
    product = await created(uow)

    decision = await update(
        uow, SKU, ProductChange(title={"en_US": "Mug"}), request(), expected_version=None
    )

    assert decision == Decision(product)
    assert await uow.products.get(SKU) == product


async def test_a_change_meant_for_an_older_version_is_a_conflict() -> None:
    uow = FakeCatalogUnitOfWork()
    await created(uow)
    await update(uow, SKU, ProductChange(family="mugs"), request(), expected_version=None)

    with pytest.raises(VersionConflictError):
        await update(uow, SKU, ProductChange(family="cups"), request(), expected_version=1)
    stored = await uow.products.get(SKU)
    assert stored is not None
    assert (stored.version, stored.family) == (2, "mugs")


async def test_changing_an_unknown_sku_is_not_found() -> None:
    with pytest.raises(ProductNotFoundError):
        await update(
            FakeCatalogUnitOfWork(),
            SKU,
            ProductChange(family="x"),
            request(),
            expected_version=None,
        )


async def test_taking_the_gtin_of_another_product_is_refused() -> None:
    uow = FakeCatalogUnitOfWork()
    await created(uow)
    await create(uow, NewProduct(sku="MUG-2", title={"en_US": "x"}), request())

    with pytest.raises(GtinInUseError):
        await update(uow, "MUG-2", ProductChange(gtin=GTIN), request(), expected_version=None)
    assert await uow.products.sku_with_gtin(GTIN) == SKU


async def test_deleting_publishes_a_tombstone_at_the_next_version() -> None:
    uow = FakeCatalogUnitOfWork()
    await created(uow)

    decision = await delete(uow, SKU, request(), expected_version=1)

    assert (decision.value.version, decision.value.deleted) == (2, True)
    published = snapshot(decision)
    assert (published.product_version, published.deleted) == (2, True)
    assert await uow.products.get(SKU) == decision.value


async def test_a_deleted_product_cannot_change_and_keeps_its_sku_and_gtin() -> None:
    uow = FakeCatalogUnitOfWork()
    await created(uow)
    await delete(uow, SKU, request(), expected_version=None)

    with pytest.raises(ProductDeletedError):
        await update(uow, SKU, ProductChange(family="x"), request(), expected_version=None)
    with pytest.raises(ProductDeletedError):
        await delete(uow, SKU, request(), expected_version=None)
    with pytest.raises(ProductAlreadyExistsError):
        await create(uow, NewProduct(sku=SKU, title={"en_US": "again"}), request())
    with pytest.raises(GtinInUseError):
        await create(uow, NewProduct(sku="MUG-2", title={"en_US": "x"}, gtin=GTIN), request())


async def test_deleting_an_unknown_sku_is_not_found() -> None:
    with pytest.raises(ProductNotFoundError):
        await delete(FakeCatalogUnitOfWork(), SKU, request(), expected_version=None)


KIT = NewProduct(
    sku="MUG-GIFT-SET",
    title={"en_US": "Mug gift set"},
    unit="EA",
    packs={"CS": Decimal(6)},
    lot_tracked=True,
    shelf_life_days=730,
    kit_components=(KitComponent(SKU, Decimal(2)), KitComponent("SPOON-1", Decimal("0.5"))),
)


async def test_creating_publishes_the_stock_facts_in_the_snapshot() -> None:
    uow = FakeCatalogUnitOfWork()

    decision = await create(uow, KIT, request())

    assert snapshot(decision) == ProductChanged(
        sku="MUG-GIFT-SET",
        product_version=1,
        status="draft",
        unit="EA",
        packs={"CS": Decimal(6)},
        lot_tracked=True,
        shelf_life_days=730,
        kit_components=[
            WireKitComponent(sku=SKU, quantity=Decimal(2)),
            WireKitComponent(sku="SPOON-1", quantity=Decimal("0.5")),
        ],
        title={"en_US": "Mug gift set"},
        changed_at=decision.value.updated_at,
    )
    assert await uow.products.get("MUG-GIFT-SET") == decision.value


async def test_a_change_of_stock_facts_alone_publishes_the_next_version() -> None:
    uow = FakeCatalogUnitOfWork()
    await create(uow, KIT, request())

    decision = await update(
        uow,
        "MUG-GIFT-SET",
        ProductChange(packs={"CS": None, "PF": Decimal(240)}, shelf_life_days=None),
        request(),
        expected_version=1,
    )

    published = snapshot(decision)
    assert published.product_version == 2
    assert (published.packs, published.shelf_life_days) == ({"PF": Decimal(240)}, None)
    assert published.lot_tracked is True
    assert [c.sku for c in published.kit_components] == [SKU, "SPOON-1"]


async def test_resending_the_stock_facts_publishes_nothing() -> None:
    uow = FakeCatalogUnitOfWork()
    kit = (await create(uow, KIT, request())).value

    decision = await update(
        uow,
        "MUG-GIFT-SET",
        ProductChange(
            packs={"CS": Decimal("6.0")},
            lot_tracked=True,
            shelf_life_days=730,
            kit_components=(
                KitComponent(SKU, Decimal("2.000")),
                KitComponent("SPOON-1", Decimal("0.50")),
            ),
        ),
        request(),
        expected_version=1,
    )

    assert decision == Decision(kit)
    assert await uow.products.get("MUG-GIFT-SET") == kit


async def test_a_change_that_breaks_a_stock_rule_saves_and_publishes_nothing() -> None:
    uow = FakeCatalogUnitOfWork()
    kit = (await create(uow, KIT, request())).value

    with pytest.raises(InvalidProductError) as refused:
        await update(
            uow,
            "MUG-GIFT-SET",
            ProductChange(kit_components=(KitComponent("MUG-GIFT-SET", Decimal(1)),)),
            request(),
            expected_version=None,
        )
    assert refused.value.field == "kit_components"
    assert await uow.products.get("MUG-GIFT-SET") == kit

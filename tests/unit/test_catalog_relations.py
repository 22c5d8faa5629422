"""Relations between products (domain/product.py, service_layer/relations.py): they point
at products that exist, a successor chain and a kit never come back to the product."""

from __future__ import annotations

from decimal import Decimal

import pytest

from skuhub_catalog.domain.product import (
    InvalidProductError,
    KitComponent,
    NewProduct,
    ProductChange,
    RelationKind,
)
from skuhub_catalog.entrypoints.handlers import create, update
from skuhub_contracts.events import ProductChanged
from skuhub_runtime.origin import Origin
from tests.fakes.catalog import FakeCatalogUnitOfWork

ACCESSORY, REPLACEMENT, UP_SELL = (
    RelationKind.ACCESSORY,
    RelationKind.REPLACEMENT,
    RelationKind.UP_SELL,
)


def request() -> Origin:
    return Origin(None, None, source="/skuhub/catalog")


def product(sku: str, **fields: object) -> NewProduct:
    return NewProduct(sku=sku, title={"en_US": sku}, **fields)  # type: ignore[arg-type]


async def catalog(*skus: str) -> FakeCatalogUnitOfWork:
    uow = FakeCatalogUnitOfWork()
    for sku in skus:
        await create(uow, product(sku), request())
    return uow


async def change(uow: FakeCatalogUnitOfWork, sku: str, **fields: object) -> None:
    await update(uow, sku, ProductChange(**fields), request(), expected_version=None)  # type: ignore[arg-type]


async def test_relations_are_published_per_kind_sorted() -> None:
    uow = await catalog("LID", "SPOON", "MUG-2")

    decision = await create(
        uow,
        product("MUG", relations={ACCESSORY: ["SPOON", "LID"], REPLACEMENT: ["MUG-2"]}),
        request(),
    )

    [envelope] = decision.emitted
    assert isinstance(envelope.payload, ProductChanged)
    assert envelope.payload.relations == {
        "accessory": ["LID", "SPOON"],
        "replacement": ["MUG-2"],
    }


async def test_a_related_product_exists_and_is_not_the_product_itself() -> None:
    uow = await catalog("MUG")

    with pytest.raises(InvalidProductError, match="no product NOPE") as refused:
        await change(uow, "MUG", relations={UP_SELL: ["NOPE"]})
    assert refused.value.field == "relations.up_sell"
    with pytest.raises(InvalidProductError, match="its own accessory"):
        await change(uow, "MUG", relations={ACCESSORY: ["MUG"]})
    with pytest.raises(InvalidProductError, match="at most 1 replacement"):
        await change(uow, "MUG", relations={REPLACEMENT: ["A", "B"]})


async def test_a_chain_of_successors_never_comes_back() -> None:
    uow = await catalog("MUG-1", "MUG-2", "MUG-3")
    await change(uow, "MUG-1", relations={REPLACEMENT: ["MUG-2"]})
    await change(uow, "MUG-2", relations={REPLACEMENT: ["MUG-3"]})

    with pytest.raises(InvalidProductError, match="MUG-3 → MUG-1 → MUG-2 → MUG-3") as refused:
        await change(uow, "MUG-3", relations={REPLACEMENT: ["MUG-1"]})
    assert refused.value.field == "relations.replacement"


async def test_a_kit_never_contains_itself_through_its_components() -> None:
    uow = await catalog("SPOON")
    await create(uow, product("SET", kit_components=(KitComponent("BOX", Decimal(1)),)), request())
    await create(
        uow, product("BOX", kit_components=(KitComponent("SPOON", Decimal(2)),)), request()
    )

    with pytest.raises(InvalidProductError, match="SPOON would contain itself") as refused:
        await change(uow, "SPOON", kit_components=(KitComponent("SET", Decimal(1)),))
    assert refused.value.field == "kit_components"


async def test_a_kind_sent_empty_or_null_is_removed() -> None:
    uow = await catalog("LID", "MUG")
    await change(uow, "MUG", relations={ACCESSORY: ["LID"], UP_SELL: ["LID"]})

    await change(uow, "MUG", relations={ACCESSORY: None, UP_SELL: []})

    stored = await uow.products.get("MUG")
    assert stored is not None
    assert stored.relations == {}

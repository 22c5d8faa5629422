"""Product models and their variants on the fake unit of work (domain/product_model.py):
integrity of the hierarchy, values set at one level and inherited downwards, axes that
tell siblings apart, and the resolved snapshot each variant publishes."""

from __future__ import annotations

from typing import Any

import pytest

from skuhub_catalog.domain.product import (
    InvalidProductError,
    NewProduct,
    ProductChange,
    ProductStatus,
)
from skuhub_catalog.domain.product_model import (
    InvalidProductModelError,
    InvalidVariantError,
    NewProductModel,
    ProductModel,
    ProductModelChange,
    ProductModelExistsError,
    ProductModelInUseError,
)
from skuhub_catalog.entrypoints.handlers import (
    create,
    create_model,
    delete,
    delete_model,
    update,
    update_model,
)
from skuhub_contracts.events import ProductChanged
from skuhub_runtime.handling import Decision
from skuhub_runtime.origin import Origin
from tests.fakes.catalog import FakeCatalogUnitOfWork

SHIRT = NewProductModel(
    code="TSHIRT",
    axes=("colour",),
    family="apparel",
    title={"en_US": "Crew T-shirt", "de_DE": "T-Shirt"},
    attributes={"brand": "Acme", "material": "cotton"},
)


def request() -> Origin:
    return Origin(None, None, source="/skuhub/catalog")


def variant(sku: str, **attributes: Any) -> NewProduct:
    return NewProduct(
        sku=sku,
        title={"en_US": f"T-shirt {sku}"},
        status=ProductStatus.ENABLED,
        product_model="TSHIRT",
        attributes=attributes,
    )


def snapshots(decision: Decision[Any]) -> list[ProductChanged]:
    payloads = [e.payload for e in decision.emitted]
    assert all(isinstance(p, ProductChanged) for p in payloads)
    return payloads


async def with_model(*models: NewProductModel) -> FakeCatalogUnitOfWork:
    uow = FakeCatalogUnitOfWork()
    for model in models or (SHIRT,):
        await create_model(uow, model, request())
    return uow


# ------------------------------------------------------------------- hierarchy integrity


async def test_a_variant_of_a_model_that_does_not_exist_is_refused() -> None:
    uow = FakeCatalogUnitOfWork()

    with pytest.raises(InvalidProductError, match="no product model TSHIRT") as refused:
        await create(uow, variant("TS-RED", colour="red"), request())
    assert refused.value.field == "product_model"
    assert await uow.products.get("TS-RED") is None


async def test_a_variant_cannot_move_to_a_model_that_does_not_exist() -> None:
    uow = await with_model()
    await create(uow, variant("TS-RED", colour="red"), request())

    with pytest.raises(InvalidProductError, match="no product model NOPE"):
        await update(
            uow, "TS-RED", ProductChange(product_model="NOPE"), request(), expected_version=None
        )


async def test_models_have_two_levels_at_most_so_no_chain_or_cycle_forms() -> None:
    uow = await with_model()
    red = NewProductModel(
        code="TSHIRT-RED", parent="TSHIRT", axes=("size",), attributes={"colour": "red"}
    )
    await create_model(uow, red, request())

    deeper = NewProductModel(
        code="TSHIRT-RED-X", parent="TSHIRT-RED", axes=("fit",), attributes={"size": "M"}
    )
    with pytest.raises(InvalidProductModelError, match="two levels") as refused:
        await create_model(uow, deeper, request())
    assert refused.value.field == "parent"
    itself = NewProductModel(code="LOOP", parent="LOOP", axes=("size",))
    with pytest.raises(InvalidProductModelError, match="own parent"):
        await create_model(uow, itself, request())
    orphan = NewProductModel(code="ORPHAN", parent="NOPE", axes=("size",))
    with pytest.raises(InvalidProductModelError, match="no product model NOPE"):
        await create_model(uow, orphan, request())


async def test_a_model_code_is_taken_once() -> None:
    uow = await with_model()

    with pytest.raises(ProductModelExistsError):
        await create_model(uow, SHIRT, request())


async def test_a_model_with_sub_models_takes_its_products_through_them() -> None:
    uow = await with_model()
    red = NewProductModel(
        code="TSHIRT-RED", parent="TSHIRT", axes=("size",), attributes={"colour": "red"}
    )
    await create_model(uow, red, request())

    with pytest.raises(InvalidProductError, match="attach the product to one of them"):
        await create(uow, variant("TS-X", colour="blue"), request())


# ------------------------------------------------------------------ values and axes


async def test_a_variant_sets_every_axis_of_its_model() -> None:
    uow = await with_model()

    with pytest.raises(InvalidVariantError, match="set attributes colour") as refused:
        await create(uow, variant("TS-RED", size="M"), request())
    assert refused.value.field == "attributes"


async def test_no_two_variants_share_their_axis_values() -> None:
    uow = await with_model()
    await create(uow, variant("TS-RED", colour="red"), request())

    with pytest.raises(InvalidVariantError, match="colour='red'"):
        await create(uow, variant("TS-RED-2", colour="red"), request())
    await create(uow, variant("TS-BLUE", colour="blue"), request())
    with pytest.raises(InvalidVariantError, match="colour='red'"):
        await update(
            uow,
            "TS-BLUE",
            ProductChange(attributes={"colour": "red"}),
            request(),
            expected_version=None,
        )


async def test_a_value_the_model_sets_is_not_set_again_below() -> None:
    uow = await with_model()

    with pytest.raises(InvalidVariantError, match="brand is set on product model TSHIRT"):
        await create(uow, variant("TS-RED", colour="red", brand="Other"), request())


async def test_a_model_does_not_set_its_own_axis_nor_what_a_variant_sets() -> None:
    uow = await with_model()
    await create(uow, variant("TS-RED", colour="red", print="logo"), request())
    on_axis = ProductModelChange(attributes={"colour": "green"})
    below = ProductModelChange(attributes={"print": "plain"})

    with pytest.raises(InvalidProductModelError, match="colour is an axis"):
        await update_model(uow, "TSHIRT", on_axis, request(), expected_version=None)
    with pytest.raises(InvalidProductModelError, match="print is set on product TS-RED"):
        await update_model(uow, "TSHIRT", below, request(), expected_version=None)


# ---------------------------------------------------------------- resolved snapshots


async def test_a_variant_publishes_what_it_inherits_with_its_own_values_winning() -> None:
    uow = await with_model()

    decision = await create(uow, variant("TS-RED", colour="red"), request())

    [published] = snapshots(decision)
    assert published.attributes == {"brand": "Acme", "material": "cotton", "colour": "red"}
    assert published.title == {"en_US": "T-shirt TS-RED", "de_DE": "T-Shirt"}
    assert (published.family, published.product_model) == ("apparel", "TSHIRT")
    assert published.variant_axes == ["colour"]
    stored = await uow.products.get("TS-RED")
    assert stored is not None
    assert stored.attributes == {"colour": "red"}


async def test_a_two_level_variant_inherits_from_both_models() -> None:
    uow = await with_model()
    red = NewProductModel(
        code="TSHIRT-RED",
        parent="TSHIRT",
        axes=("size",),
        attributes={"colour": "red"},
        title={"fr_FR": "T-shirt rouge"},
    )
    await create_model(uow, red, request())
    size_m = NewProduct(
        sku="TS-RED-M",
        title={"en_US": "Red T-shirt M"},
        product_model="TSHIRT-RED",
        attributes={"size": "M"},
    )

    [published] = snapshots(await create(uow, size_m, request()))

    assert published.attributes == {
        "brand": "Acme",
        "material": "cotton",
        "colour": "red",
        "size": "M",
    }
    assert published.title == {
        "en_US": "Red T-shirt M",
        "de_DE": "T-Shirt",
        "fr_FR": "T-shirt rouge",
    }
    assert published.variant_axes == ["colour", "size"]


async def test_a_model_change_publishes_a_new_version_of_each_variant_it_alters() -> None:
    uow = await with_model()
    await create(uow, variant("TS-RED", colour="red"), request())
    await create(uow, variant("TS-BLUE", colour="blue"), request())

    decision = await update_model(
        uow,
        "TSHIRT",
        ProductModelChange(attributes={"material": "linen"}),
        request(),
        expected_version=None,
    )

    published = {p.sku: p for p in snapshots(decision)}
    assert set(published) == {"TS-RED", "TS-BLUE"}
    assert all(p.product_version == 2 for p in published.values())
    assert published["TS-RED"].attributes["material"] == "linen"
    assert decision.value.version == 2
    red = await uow.products.get("TS-RED")
    assert red is not None
    assert red.version == 2
    assert "material" not in red.attributes


async def test_a_model_change_no_variant_sees_publishes_nothing() -> None:
    uow = await with_model()
    await create(uow, variant("TS-RED", colour="red"), request())

    # Every variant has its own en_US title: the model's is not what they show.
    decision = await update_model(
        uow,
        "TSHIRT",
        ProductModelChange(title={"en_US": "Classic T-shirt"}),
        request(),
        expected_version=None,
    )

    assert decision.emitted == []
    assert decision.value.version == 2
    red = await uow.products.get("TS-RED")
    assert red is not None
    assert red.version == 1


async def test_a_model_is_deleted_only_when_nothing_is_below_it() -> None:
    uow = await with_model()
    await create(uow, variant("TS-RED", colour="red"), request())

    with pytest.raises(ProductModelInUseError, match="product TS-RED"):
        await delete_model(uow, "TSHIRT", request(), expected_version=None)
    await delete(uow, "TS-RED", request(), expected_version=None)
    deleted = (await delete_model(uow, "TSHIRT", request(), expected_version=None)).value

    assert isinstance(deleted, ProductModel)
    assert deleted.deleted
    assert deleted.version == 2
    with pytest.raises(InvalidProductError, match="no product model TSHIRT"):
        await create(uow, variant("TS-BLUE", colour="blue"), request())


async def test_a_deleted_variant_publishes_its_resolved_tombstone() -> None:
    uow = await with_model()
    await create(uow, variant("TS-RED", colour="red"), request())

    [tombstone] = snapshots(await delete(uow, "TS-RED", request(), expected_version=None))

    assert tombstone.deleted
    assert tombstone.product_version == 2
    assert tombstone.attributes["brand"] == "Acme"

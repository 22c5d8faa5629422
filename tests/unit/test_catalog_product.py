"""Catalog product rules: creation, partial updates, versions, deletion (no I/O)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from skuhub_catalog.domain.product import (
    UNSET,
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
    apply_change,
    mark_deleted,
    new_product,
)
from skuhub_catalog.entrypoints.events import to_product_changed
from skuhub_catalog.service_layer.products import create_product, delete_product, update_product
from skuhub_contracts.events import KitComponent as WireKitComponent
from tests.fakes.catalog import FakeCatalogUnitOfWork, FakeProductRepository

T0 = datetime(2025, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)


def a_product(**overrides: object) -> Product:
    data = NewProduct(sku="TSHIRT-RED-M", title={"en_US": "T-shirt red M"}, gtin="4006381333931")
    return new_product(dataclasses.replace(data, **overrides), now=T0)  # type: ignore[arg-type]


def test_a_new_product_starts_at_version_1_as_a_draft() -> None:
    product = a_product()

    assert product.version == 1
    assert product.status is ProductStatus.DRAFT
    assert product.updated_at == T0
    assert not product.deleted


def test_an_enabled_product_needs_a_title() -> None:
    with pytest.raises(InvalidProductError, match="title"):
        a_product(status=ProductStatus.ENABLED, title={"en_US": "  "})


def test_a_change_bumps_the_version_and_the_time() -> None:
    changed = apply_change(a_product(), ProductChange(status=ProductStatus.ENABLED), now=T1)

    assert changed.status is ProductStatus.ENABLED
    assert changed.version == 2
    assert changed.updated_at == T1


def test_a_change_leaves_fields_it_does_not_mention() -> None:
    product = a_product(family="tshirts", unit="EA")

    changed = apply_change(product, ProductChange(unit="PCE"), now=T1)

    assert changed.unit == "PCE"
    assert changed.family == "tshirts"
    assert changed.gtin == product.gtin
    assert changed.title == product.title


def test_none_clears_an_optional_field() -> None:
    changed = apply_change(a_product(), ProductChange(gtin=None), now=T1)

    assert changed.gtin is None


def test_localized_texts_merge_per_locale_and_null_removes_a_locale() -> None:
    product = a_product(title={"en_US": "T-shirt", "fr_FR": "Tee-shirt"})

    changed = apply_change(
        product, ProductChange(title={"de_DE": "T-Shirt", "fr_FR": None}), now=T1
    )

    assert changed.title == {"en_US": "T-shirt", "de_DE": "T-Shirt"}


def test_attributes_merge_per_key() -> None:
    product = a_product(attributes={"color": "red", "size": "M"})

    changed = apply_change(product, ProductChange(attributes={"size": None, "fit": "slim"}), now=T1)

    assert changed.attributes == {"color": "red", "fit": "slim"}


def test_a_change_that_alters_nothing_keeps_the_version() -> None:
    product = a_product()

    same = apply_change(product, ProductChange(title={"en_US": "T-shirt red M"}), now=T1)

    assert same is product
    assert same.version == 1


def test_a_change_does_not_modify_the_product_it_was_applied_to() -> None:
    product = a_product()

    apply_change(product, ProductChange(title={"en_US": "new"}), now=T1)

    assert product.title == {"en_US": "T-shirt red M"}


def test_a_stale_expected_version_is_a_conflict() -> None:
    product = apply_change(a_product(), ProductChange(family="tshirts"), now=T1)

    with pytest.raises(VersionConflictError, match="version 2, not 1"):
        apply_change(product, ProductChange(family="shirts"), now=T1, expected_version=1)


def test_the_current_expected_version_is_accepted() -> None:
    changed = apply_change(a_product(), ProductChange(family="shirts"), now=T1, expected_version=1)

    assert changed.family == "shirts"


def test_enabling_without_any_title_is_refused() -> None:
    product = a_product()

    with pytest.raises(InvalidProductError):
        apply_change(
            product,
            ProductChange(status=ProductStatus.ENABLED, title={"en_US": None}),
            now=T1,
        )


def test_deleting_makes_a_tombstone_at_the_next_version() -> None:
    deleted = mark_deleted(a_product(), now=T1)

    assert deleted.deleted
    assert deleted.version == 2


def test_a_deleted_product_cannot_be_changed() -> None:
    deleted = mark_deleted(a_product(), now=T1)

    with pytest.raises(ProductDeletedError):
        apply_change(deleted, ProductChange(family="x"), now=T1)
    with pytest.raises(ProductDeletedError):
        mark_deleted(deleted, now=T1)


def test_an_empty_change_is_recognised() -> None:
    assert ProductChange().is_empty
    assert not ProductChange(gtin=None).is_empty
    assert ProductChange(gtin=UNSET).is_empty


def test_the_snapshot_carries_the_whole_product_and_its_version() -> None:
    product = apply_change(a_product(), ProductChange(status=ProductStatus.ENABLED), now=T1)

    snapshot = to_product_changed(product, None)

    assert snapshot.sku == "TSHIRT-RED-M"
    assert snapshot.product_version == 2
    assert snapshot.status.value == "enabled"
    assert snapshot.title == {"en_US": "T-shirt red M"}
    assert snapshot.changed_at == T1


async def test_creating_a_taken_sku_is_refused() -> None:
    repo = FakeCatalogUnitOfWork(FakeProductRepository(a_product()))

    with pytest.raises(ProductAlreadyExistsError, match="exists already"):
        await create_product(repo, NewProduct(sku="TSHIRT-RED-M", title={"en_US": "other"}))


async def test_a_gtin_identifies_only_one_product() -> None:
    repo = FakeCatalogUnitOfWork(FakeProductRepository(a_product()))

    with pytest.raises(GtinInUseError, match="TSHIRT-RED-M"):
        await create_product(
            repo, NewProduct(sku="OTHER", title={"en_US": "x"}, gtin="4006381333931")
        )
    assert await repo.products.get("OTHER") is None


async def test_updating_saves_the_new_version() -> None:
    repo = FakeCatalogUnitOfWork(FakeProductRepository(a_product()))

    saved = await update_product(repo, "TSHIRT-RED-M", ProductChange(family="shirts"), now=T1)

    assert saved.changed
    assert await repo.products.get("TSHIRT-RED-M") == saved.product
    assert saved.product.version == 2


async def test_an_update_that_alters_nothing_reports_no_change() -> None:
    repo = FakeCatalogUnitOfWork(FakeProductRepository(a_product()))

    saved = await update_product(repo, "TSHIRT-RED-M", ProductChange(unit="EA"), now=T1)

    assert not saved.changed
    assert saved.product.version == 1


async def test_updating_an_unknown_sku_is_not_found() -> None:
    with pytest.raises(ProductNotFoundError, match="POST /v1/products"):
        await update_product(FakeCatalogUnitOfWork(), "NOPE", ProductChange(family="x"))


async def test_deleting_saves_the_tombstone() -> None:
    repo = FakeCatalogUnitOfWork(FakeProductRepository(a_product()))

    saved = await delete_product(repo, "TSHIRT-RED-M", now=T1)

    assert saved.changed
    assert saved.product.deleted
    assert await repo.products.get("TSHIRT-RED-M") == saved.product


# ------------------------------------------------------------------------------- stock facts

COFFEE_FACTS = {
    "packs": {"CS": Decimal(12), "PF": Decimal(480)},
    "lot_tracked": True,
    "shelf_life_days": 365,
}
GIFT_SET = (KitComponent("COFFEE-500G", Decimal(2)), KitComponent("MUG-WHITE", Decimal(1)))


def refusal(error: pytest.ExceptionInfo[InvalidProductError]) -> tuple[str | None, str]:
    return error.value.field, error.value.reason


def test_a_new_product_has_no_stock_facts_unless_given() -> None:
    product = a_product()

    assert product.unit == "EA"
    assert (product.packs, product.lot_tracked) == ({}, False)
    assert (product.shelf_life_days, product.kit_components) == (None, ())


def test_a_new_product_keeps_the_stock_facts_it_is_given() -> None:
    coffee = a_product(**COFFEE_FACTS)
    kit = a_product(sku="GIFT-SET", gtin=None, kit_components=GIFT_SET)

    assert coffee.packs == {"CS": Decimal(12), "PF": Decimal(480)}
    assert (coffee.lot_tracked, coffee.shelf_life_days) == (True, 365)
    assert kit.kit_components == (
        KitComponent("COFFEE-500G", Decimal(2)),
        KitComponent("MUG-WHITE", Decimal(1)),
    )


@pytest.mark.parametrize("unit", ["EA", "CS"])
def test_a_pack_in_the_stock_unit_is_refused_naming_packs(unit: str) -> None:
    with pytest.raises(InvalidProductError) as refused:
        a_product(unit=unit, packs={unit: Decimal(12)})

    assert refusal(refused) == (
        "packs",
        f"{unit} is the stock unit (unit) of product TSHIRT-RED-M and cannot also be a pack "
        f"unit: remove {unit} from packs (a pack holds a number of stock units), or change unit",
    )


def test_a_pack_must_hold_more_than_zero_stock_units() -> None:
    with pytest.raises(InvalidProductError) as refused:
        a_product(packs={"CS": Decimal(0)})

    assert refusal(refused) == (
        "packs",
        "a CS pack must hold more than zero EA; send a positive number",
    )


def test_changing_the_stock_unit_to_a_pack_unit_is_refused_unless_the_pack_goes() -> None:
    product = a_product(packs={"CS": Decimal(12)})

    with pytest.raises(InvalidProductError) as refused:
        apply_change(product, ProductChange(unit="CS"), now=T1)
    changed = apply_change(product, ProductChange(unit="CS", packs={"CS": None}), now=T1)

    assert refused.value.field == "packs"
    assert (changed.unit, changed.packs, changed.version) == ("CS", {}, 2)


def test_packs_merge_per_pack_unit_and_null_removes_one() -> None:
    product = a_product(packs={"CS": Decimal(12), "PF": Decimal(480)})

    changed = apply_change(
        product, ProductChange(packs={"CS": Decimal(24), "PF": None, "PA": Decimal(4)}), now=T1
    )

    assert changed.packs == {"CS": Decimal(24), "PA": Decimal(4)}
    assert changed.version == 2


@pytest.mark.parametrize("days", [0, -1, 36_501])
def test_a_shelf_life_outside_1_to_36500_days_is_refused(days: int) -> None:
    with pytest.raises(InvalidProductError) as refused:
        a_product(shelf_life_days=days)

    assert refusal(refused) == (
        "shelf_life_days",
        f"shelf life must be 1 to 36500 days, not {days}",
    )


@pytest.mark.parametrize("days", [1, 36_500])
def test_a_shelf_life_of_1_to_36500_days_is_taken(days: int) -> None:
    assert a_product(shelf_life_days=days).shelf_life_days == days


def test_none_clears_the_shelf_life_and_lot_tracking_is_switched_off_with_false() -> None:
    product = a_product(**COFFEE_FACTS)

    changed = apply_change(product, ProductChange(shelf_life_days=None, lot_tracked=False), now=T1)

    assert (changed.shelf_life_days, changed.lot_tracked) == (None, False)
    assert changed.packs == {"CS": Decimal(12), "PF": Decimal(480)}


def test_a_kit_cannot_be_a_component_of_itself() -> None:
    components = (KitComponent("MUG-WHITE", Decimal(1)), KitComponent("GIFT-SET", Decimal(1)))

    with pytest.raises(InvalidProductError) as refused:
        a_product(sku="GIFT-SET", gtin=None, kit_components=components)

    assert refusal(refused) == (
        "kit_components",
        "a kit cannot be a component of itself: remove GIFT-SET (item 1) from kit_components",
    )


def test_a_kit_lists_each_component_sku_once() -> None:
    components = (
        KitComponent("MUG-WHITE", Decimal(1)),
        KitComponent("COFFEE-500G", Decimal(2)),
        KitComponent("MUG-WHITE", Decimal(1)),
    )

    with pytest.raises(InvalidProductError) as refused:
        a_product(sku="GIFT-SET", gtin=None, kit_components=components)

    assert refusal(refused) == (
        "kit_components",
        "MUG-WHITE is listed twice in kit_components (items 0 and 2): list each component SKU "
        "once, with the total quantity",
    )


def test_a_kit_holds_at_most_100_components() -> None:
    hundred = tuple(KitComponent(f"PART-{n}", Decimal(1)) for n in range(100))

    kit = a_product(sku="BIG-KIT", gtin=None, kit_components=hundred)
    with pytest.raises(InvalidProductError) as refused:
        apply_change(
            kit,
            ProductChange(kit_components=(*hundred, KitComponent("PART-100", Decimal(1)))),
            now=T1,
        )

    assert len(kit.kit_components) == 100
    assert refusal(refused) == (
        "kit_components",
        "a kit holds at most 100 components, not 101; make it smaller",
    )


def test_kit_components_are_replaced_whole_and_an_empty_list_ends_the_kit() -> None:
    kit = a_product(sku="GIFT-SET", gtin=None, kit_components=GIFT_SET)

    replaced = apply_change(
        kit, ProductChange(kit_components=(KitComponent("TEA-250G", Decimal(3)),)), now=T1
    )
    ended = apply_change(replaced, ProductChange(kit_components=()), now=T1)

    assert replaced.kit_components == (KitComponent("TEA-250G", Decimal(3)),)
    assert (ended.kit_components, ended.version) == ((), 3)


def test_resending_the_same_stock_facts_keeps_the_version() -> None:
    product = a_product(**COFFEE_FACTS, kit_components=GIFT_SET)
    written_otherwise = ProductChange(
        packs={"CS": Decimal("12.000"), "PF": Decimal("480.0")},
        lot_tracked=True,
        shelf_life_days=365,
        kit_components=(
            KitComponent("COFFEE-500G", Decimal("2.0")),
            KitComponent("MUG-WHITE", Decimal(1)),
        ),
        unit="EA",
    )

    same = apply_change(product, written_otherwise, now=T1)

    assert same is product
    assert same.version == 1


def test_reordering_kit_components_is_a_change() -> None:
    kit = a_product(sku="GIFT-SET", gtin=None, kit_components=GIFT_SET)

    changed = apply_change(kit, ProductChange(kit_components=GIFT_SET[::-1]), now=T1)

    assert changed.version == 2


def test_a_change_of_stock_facts_alone_is_not_empty() -> None:
    assert not ProductChange(lot_tracked=False).is_empty
    assert not ProductChange(shelf_life_days=None).is_empty
    assert not ProductChange(kit_components=()).is_empty
    assert not ProductChange(packs={"CS": None}).is_empty
    assert ProductChange(packs={}, lot_tracked=UNSET, shelf_life_days=UNSET).is_empty


def test_the_snapshot_carries_the_stock_facts() -> None:
    product = a_product(
        sku="GIFT-SET", gtin=None, unit="EA", kit_components=GIFT_SET, **COFFEE_FACTS
    )

    snapshot = to_product_changed(product, None)

    assert snapshot.unit == "EA"
    assert snapshot.packs == {"CS": Decimal(12), "PF": Decimal(480)}
    assert (snapshot.lot_tracked, snapshot.shelf_life_days) == (True, 365)
    assert snapshot.kit_components == [
        WireKitComponent(sku="COFFEE-500G", quantity=Decimal(2)),
        WireKitComponent(sku="MUG-WHITE", quantity=Decimal(1)),
    ]


async def test_an_update_resending_the_stock_facts_reports_no_change() -> None:
    repo = FakeCatalogUnitOfWork(FakeProductRepository(a_product(**COFFEE_FACTS)))

    saved = await update_product(
        repo, "TSHIRT-RED-M", ProductChange(packs={"CS": Decimal(12)}, lot_tracked=True), now=T1
    )

    assert not saved.changed
    assert saved.product.version == 1

"""Catalog product rules: creation, partial updates, versions, deletion (no I/O)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from skuhub_catalog.domain.product import (
    UNSET,
    GtinInUseError,
    InvalidProductError,
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
from tests.fakes.catalog import FakeProductRepository

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


def test_a_product_cannot_be_its_own_parent() -> None:
    with pytest.raises(InvalidProductError, match="own parent_sku"):
        a_product(parent_sku="TSHIRT-RED-M")


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

    snapshot = to_product_changed(product)

    assert snapshot.sku == "TSHIRT-RED-M"
    assert snapshot.product_version == 2
    assert snapshot.status.value == "enabled"
    assert snapshot.title == {"en_US": "T-shirt red M"}
    assert snapshot.changed_at == T1


async def test_creating_a_taken_sku_is_refused() -> None:
    repo = FakeProductRepository(a_product())

    with pytest.raises(ProductAlreadyExistsError, match="exists already"):
        await create_product(repo, NewProduct(sku="TSHIRT-RED-M", title={"en_US": "other"}))


async def test_a_gtin_identifies_only_one_product() -> None:
    repo = FakeProductRepository(a_product())

    with pytest.raises(GtinInUseError, match="TSHIRT-RED-M"):
        await create_product(
            repo, NewProduct(sku="OTHER", title={"en_US": "x"}, gtin="4006381333931")
        )
    assert await repo.get("OTHER") is None


async def test_updating_saves_the_new_version() -> None:
    repo = FakeProductRepository(a_product())

    saved = await update_product(repo, "TSHIRT-RED-M", ProductChange(family="shirts"), now=T1)

    assert saved.changed
    assert await repo.get("TSHIRT-RED-M") == saved.product
    assert saved.product.version == 2


async def test_an_update_that_alters_nothing_reports_no_change() -> None:
    repo = FakeProductRepository(a_product())

    saved = await update_product(repo, "TSHIRT-RED-M", ProductChange(unit="EA"), now=T1)

    assert not saved.changed
    assert saved.product.version == 1


async def test_updating_an_unknown_sku_is_not_found() -> None:
    with pytest.raises(ProductNotFoundError, match="POST /v1/products"):
        await update_product(FakeProductRepository(), "NOPE", ProductChange(family="x"))


async def test_deleting_saves_the_tombstone() -> None:
    repo = FakeProductRepository(a_product())

    saved = await delete_product(repo, "TSHIRT-RED-M", now=T1)

    assert saved.changed
    assert saved.product.deleted
    assert await repo.get("TSHIRT-RED-M") == saved.product

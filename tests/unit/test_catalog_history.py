"""A product's history (domain/history.py): one entry per version, naming the actor and
each changed field, maps key by key, with old and new values as JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from skuhub_catalog.domain.history import FieldChange, changes_between
from skuhub_catalog.domain.product import (
    KitComponent,
    NewProduct,
    Product,
    ProductChange,
    ProductStatus,
)
from skuhub_catalog.domain.product_model import NewProductModel, ProductModelChange
from skuhub_catalog.entrypoints.handlers import create, create_model, delete, update, update_model
from skuhub_runtime.origin import Origin
from tests.fakes.catalog import FakeCatalogUnitOfWork

T0 = datetime(2026, 3, 1, tzinfo=UTC)
MUG = Product(
    sku="MUG-1",
    status=ProductStatus.DRAFT,
    title={"en_US": "Mug"},
    version=1,
    updated_at=T0,
    attributes={"colour": "red", "capacity_ml": 350},
    packs={"CS": Decimal("12")},
)


def request() -> Origin:
    return Origin(None, None, source="/skuhub/catalog")


def test_a_new_product_lists_every_field_it_sets() -> None:
    changes = {c.field: (c.old, c.new) for c in changes_between(None, MUG)}

    assert changes["status"] == (None, "draft")
    assert changes["title.en_US"] == (None, "Mug")
    assert changes["attributes.colour"] == (None, "red")
    assert changes["attributes.capacity_ml"] == (None, 350)
    assert changes["packs.CS"] == (None, "12")
    assert "gtin" not in changes  # not set: None before and after


def test_a_change_lists_only_what_differs_key_by_key() -> None:
    after = Product(
        sku="MUG-1",
        status=ProductStatus.ENABLED,
        title={"en_US": "Mug", "de_DE": "Becher"},
        version=2,
        updated_at=T0,
        attributes={"colour": "blue", "capacity_ml": 350},
        packs={"CS": Decimal("12.0")},
        kit_components=(KitComponent("SPOON-1", Decimal("2")),),
    )

    assert changes_between(MUG, after) == (
        FieldChange("status", "draft", "enabled"),
        FieldChange("kit_components", [], [{"sku": "SPOON-1", "quantity": "2"}]),
        FieldChange("title.de_DE", None, "Becher"),
        FieldChange("attributes.colour", "red", "blue"),
    )


async def test_each_version_has_one_entry_with_its_actor_newest_first() -> None:
    uow = FakeCatalogUnitOfWork()
    new = NewProduct(sku="MUG-1", title={"en_US": "Mug"}, attributes={"colour": "red"})
    await create(uow, new, request(), actor="pim-import")
    change = ProductChange(attributes={"colour": "blue"})
    await update(uow, "MUG-1", change, request(), expected_version=None, actor="ana@shop")
    await update(uow, "MUG-1", change, request(), expected_version=None, actor="ana@shop")
    await delete(uow, "MUG-1", request(), expected_version=None)

    entries = await uow.history.of("MUG-1", before=None, limit=10)

    assert [(e.version, e.actor) for e in entries] == [
        (3, "anonymous"),
        (2, "ana@shop"),
        (1, "pim-import"),
    ], "the repeated change made no version and no entry"
    assert entries[0].changes == (FieldChange("deleted", False, True),)
    assert entries[1].changes == (FieldChange("attributes.colour", "red", "blue"),)
    assert [e.version for e in await uow.history.of("MUG-1", before=3, limit=1)] == [2]


async def test_a_model_change_records_what_each_variant_now_inherits() -> None:
    uow = FakeCatalogUnitOfWork()
    model = NewProductModel(code="MUG", axes=("colour",), attributes={"material": "stone"})
    await create_model(uow, model, request())
    variant = NewProduct(
        sku="MUG-RED", title={"en_US": "Red mug"}, product_model="MUG", attributes={"colour": "red"}
    )
    await create(uow, variant, request())

    change = ProductModelChange(attributes={"material": "porcelain"})
    await update_model(uow, "MUG", change, request(), expected_version=None, actor="ana@shop")

    [latest, _] = await uow.history.of("MUG-RED", before=None, limit=10)
    assert (latest.version, latest.actor, latest.via) == (2, "ana@shop", "MUG")
    assert latest.changes == (FieldChange("attributes.material", "stone", "porcelain"),)

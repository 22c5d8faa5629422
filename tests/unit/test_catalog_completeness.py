"""Families and completeness (domain/completeness.py): per channel x locale, the share of a
family's requirements a product meets and what it misses, kept current on every save of the
product and of its family."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from skuhub_catalog.domain.completeness import (
    Condition,
    Family,
    FamilyChange,
    InvalidFamilyError,
    NewFamily,
    completeness,
)
from skuhub_catalog.domain.product import (
    Completeness,
    NewProduct,
    Product,
    ProductChange,
    ProductStatus,
)
from skuhub_catalog.domain.product_model import NewProductModel
from skuhub_catalog.entrypoints.handlers import (
    create,
    create_family,
    create_model,
    update,
    update_family,
)
from skuhub_contracts.events import ProductChanged
from skuhub_runtime.origin import Origin
from tests.fakes.catalog import FakeCatalogUnitOfWork

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CHANNELS = {"web": ("en_US", "de_DE"), "pos": ("de_DE",)}
MUGS = Family(
    code="mugs",
    version=1,
    updated_at=T0,
    attributes=("brand", "capacity_ml"),
    requirements={"web": ("title", "description", "brand"), "pos": ("title",)},
)


def request() -> Origin:
    return Origin(None, None, source="/skuhub/catalog")


def mug(**fields: object) -> Product:
    values: dict[str, object] = {
        "sku": "MUG-1",
        "status": ProductStatus.DRAFT,
        "title": {"en_US": "Mug", "de_DE": " "},
        "version": 1,
        "updated_at": T0,
        "family": "mugs",
        "description": {"en_US": "Stoneware."},
        "attributes": {"brand": "Acme"},
    }
    return Product(**(values | fields))  # type: ignore[arg-type]


def test_each_channel_and_locale_counts_its_own_requirements() -> None:
    found = completeness(mug(), MUGS, CHANNELS)

    # web requires 3 per locale; en_US has all, de_DE only brand (a blank title is none).
    assert found == (
        Completeness("pos", "de_DE", 1, ("title",)),
        Completeness("web", "en_US", 3, ()),
        Completeness("web", "de_DE", 3, ("title", "description")),
    )
    assert [c.ratio for c in found] == [Decimal(0), Decimal(1), Decimal("0.33")]
    assert [c.complete for c in found] == [False, True, False]


def test_an_empty_value_is_missing() -> None:
    empties: tuple[object, ...] = (None, "", "  ", [], {})
    for empty in empties:
        [_, en, _] = completeness(mug(attributes={"brand": empty}), MUGS, CHANNELS)
        assert en.missing == ("brand",), empty
    for filled in (0, False, ["x"], {"EUR": 1}):
        [_, en, _] = completeness(mug(attributes={"brand": filled}), MUGS, CHANNELS)
        assert en.missing == (), filled


def test_without_a_family_nothing_is_required() -> None:
    assert completeness(mug(family=None), None, CHANNELS) == ()


async def test_a_requirement_is_an_attribute_of_the_family_in_a_known_channel() -> None:
    uow = FakeCatalogUnitOfWork()
    outside = NewFamily(code="mugs", attributes=("brand",), requirements={"web": ["colour"]})
    unknown = NewFamily(code="mugs", requirements={"app": ["title"]})

    with pytest.raises(InvalidFamilyError, match="colour is required in channel web") as refused:
        await create_family(uow, outside, request(), actor="ana", channels=CHANNELS)
    assert refused.value.field == "requirements.web"
    with pytest.raises(InvalidFamilyError, match="no channel app"):
        await create_family(uow, unknown, request(), actor="ana", channels=CHANNELS)


async def test_a_save_publishes_the_completeness_of_the_resolved_product() -> None:
    uow = FakeCatalogUnitOfWork()
    family = NewFamily(
        code="mugs", attributes=("brand", "colour"), requirements={"web": ["title", "brand"]}
    )
    await create_family(uow, family, request(), actor="ana", channels=CHANNELS)
    model = NewProductModel(
        code="MUG", axes=("colour",), family="mugs", attributes={"brand": "Acme"}
    )
    await create_model(uow, model, request())
    variant = NewProduct(
        sku="MUG-RED", title={"en_US": "Red mug"}, product_model="MUG", attributes={"colour": "red"}
    )

    [envelope] = (await create(uow, variant, request(), channels=CHANNELS)).emitted

    assert isinstance(envelope.payload, ProductChanged)
    assert [(c.channel, c.locale, c.ratio, c.missing) for c in envelope.payload.completeness] == [
        ("web", "en_US", Decimal(1), []),
        ("web", "de_DE", Decimal("0.50"), ["title"]),
    ]


async def test_a_family_change_republishes_exactly_the_products_whose_completeness_moved() -> None:
    uow = FakeCatalogUnitOfWork()
    family = NewFamily(code="mugs", attributes=("brand",), requirements={"pos": ["title"]})
    await create_family(uow, family, request(), actor="ana", channels=CHANNELS)
    for sku, brand in (("MUG-1", "Acme"), ("MUG-2", None)):
        new = NewProduct(
            sku=sku,
            title={"de_DE": "Becher"},
            family="mugs",
            attributes={"brand": brand} if brand else {},
        )
        await create(uow, new, request(), channels=CHANNELS)
    await create(uow, NewProduct(sku="CUP-1", title={"de_DE": "Tasse"}), request())

    decision = await update_family(
        uow,
        "mugs",
        FamilyChange(requirements={"pos": ["title", "brand"]}),
        request(),
        expected_version=None,
        actor="ana",
        channels=CHANNELS,
    )

    published = {e.payload.sku: e.payload for e in decision.emitted}
    assert set(published) == {"MUG-1", "MUG-2"}  # both moved: 1/1 -> 2/2, 1/1 -> 1/2
    assert [c.missing for c in published["MUG-2"].completeness] == [["brand"]]
    again = await update_family(
        uow,
        "mugs",
        FamilyChange(labels={"en_US": "Mugs"}),
        request(),
        expected_version=None,
        actor="ana",
        channels=CHANNELS,
    )
    assert again.emitted == [], "a label changes no product's completeness"
    [latest, *_] = await uow.history.of("MUG-2", before=None, limit=5)
    assert (latest.version, latest.via, latest.actor) == (2, "family mugs", "ana")
    filled = await update(
        uow,
        "MUG-2",
        ProductChange(attributes={"brand": "Acme"}),
        request(),
        expected_version=None,
        channels=CHANNELS,
    )
    [envelope] = filled.emitted
    assert isinstance(envelope.payload, ProductChanged)
    assert envelope.payload.completeness[0].complete


CLEANING = Family(
    code="cleaning",
    version=1,
    updated_at=T0,
    attributes=("brand", "hazardous", "un_number", "safety_data_sheet"),
    requirements={"pos": ("title", "brand")},
    conditions=(Condition("hazardous", True, ("un_number", "safety_data_sheet")),),
)


def test_a_value_makes_more_attributes_required() -> None:
    hazardous = mug(
        family="cleaning",
        attributes={"brand": "Acme", "hazardous": True},
        title={"de_DE": "Reiniger"},
    )
    labelled = mug(
        family="cleaning",
        title={"de_DE": "Reiniger"},
        attributes={
            "brand": "Acme",
            "hazardous": True,
            "un_number": "UN1993",
            "safety_data_sheet": "sds/123.pdf",
        },
    )
    harmless = mug(
        family="cleaning",
        attributes={"brand": "Acme", "hazardous": False},
        title={"de_DE": "Reiniger"},
    )

    assert completeness(hazardous, CLEANING, CHANNELS) == (
        Completeness("pos", "de_DE", 4, ("un_number", "safety_data_sheet")),
    )
    assert completeness(labelled, CLEANING, CHANNELS)[0].complete
    assert completeness(harmless, CLEANING, CHANNELS) == (Completeness("pos", "de_DE", 2, ()),)


async def test_a_condition_names_attributes_of_the_family() -> None:
    uow = FakeCatalogUnitOfWork()
    outside = NewFamily(
        code="cleaning",
        attributes=("hazardous",),
        conditions=(Condition("hazardous", True, ("un_number",)),),
    )

    with pytest.raises(InvalidFamilyError, match="un_number") as refused:
        await create_family(uow, outside, request(), actor="ana", channels=CHANNELS)
    assert refused.value.field == "conditions.0"

"""Attribute definitions (domain/attributes.py): each type takes its values and refuses
others with the rule; a product of a family the catalog holds takes only its attributes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from skuhub_catalog.domain.attributes import (
    Attribute,
    AttributeType,
    Column,
    ColumnType,
    InvalidAttributeError,
    Option,
    broken_rule,
    new_attribute,
)
from skuhub_catalog.domain.completeness import NewFamily
from skuhub_catalog.domain.product import InvalidProductError, NewProduct
from skuhub_catalog.domain.product_model import NewProductModel
from skuhub_catalog.entrypoints.handlers import (
    create,
    create_attribute,
    create_family,
    create_model,
)
from skuhub_runtime.origin import Origin
from tests.fakes.catalog import FakeCatalogUnitOfWork

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def attribute(kind: AttributeType, **rules: Any) -> Attribute:
    return Attribute(code="a", type=kind, version=1, updated_at=T0, **rules)


MATERIAL = attribute(AttributeType.SIMPLE_SELECT, options=(Option("stone"), Option("porcelain")))
CASES: list[tuple[Attribute, Any, str | None]] = [
    (attribute(AttributeType.TEXT), "Mug", None),
    (attribute(AttributeType.TEXT), "two\nlines", "must be one line"),
    (attribute(AttributeType.TEXT, max_length=3), "Mugs", "must be at most 3 characters, not 4"),
    (attribute(AttributeType.TEXT), 5, "must be text"),
    (attribute(AttributeType.TEXTAREA), "two\nlines", None),
    (attribute(AttributeType.IDENTIFIER, pattern=r"[A-Z]{2}\d+"), "AB12", None),
    (
        attribute(AttributeType.IDENTIFIER, pattern=r"[A-Z]{2}\d+"),
        "ab12",
        r"must match [A-Z]{2}\d+",
    ),
    (attribute(AttributeType.NUMBER, minimum=Decimal(0)), "12.5", None),
    (attribute(AttributeType.NUMBER, minimum=Decimal(0)), -1, "must be at least 0"),
    (attribute(AttributeType.NUMBER, decimals=False), 2.5, "must be a whole number"),
    (attribute(AttributeType.NUMBER), True, "must be a number"),
    (attribute(AttributeType.NUMBER), "1e3", "must be a number"),
    (
        attribute(AttributeType.MEASUREMENT, unit_family="volume"),
        {"amount": "350", "unit": "MLT"},
        None,
    ),
    (
        attribute(AttributeType.MEASUREMENT, unit_family="volume"),
        {"amount": 1, "unit": "KGM"},
        "unit KGM is not a unit of volume (UN/ECE code, e.g. LTR)",
    ),
    (
        attribute(AttributeType.MEASUREMENT, unit_family="length"),
        {"amount": 1},
        'must be {"amount": number, "unit": UN/ECE code}',
    ),
    (attribute(AttributeType.BOOLEAN), False, None),
    (attribute(AttributeType.BOOLEAN), "yes", "must be true or false"),
    (attribute(AttributeType.DATE), "2026-02-28", None),
    (attribute(AttributeType.DATE), "2026-02-30", "must be a date YYYY-MM-DD"),
    (MATERIAL, "stone", None),
    (MATERIAL, "glass", "must be one of the options stone, porcelain"),
    (
        attribute(AttributeType.MULTI_SELECT, options=MATERIAL.options),
        ["stone", "porcelain"],
        None,
    ),
    (
        attribute(AttributeType.MULTI_SELECT, options=MATERIAL.options),
        ["stone", "stone"],
        "must be a list of option codes, each once",
    ),
    (attribute(AttributeType.PRICE_COLLECTION), {"EUR": "9.99", "USD": 10}, None),
    (
        attribute(AttributeType.PRICE_COLLECTION),
        {"EURO": "9.99"},
        "EURO is not an ISO 4217 currency code",
    ),
    (
        attribute(AttributeType.PRICE_COLLECTION),
        {"EUR": "-1"},
        "the EUR amount must be a number of at least 0",
    ),
    (attribute(AttributeType.ASSET), "assets/mug-front.jpg", None),
    (
        attribute(
            AttributeType.TABLE,
            columns=(Column("nutrient", ColumnType.TEXT), Column("per_100g", ColumnType.NUMBER)),
        ),
        [{"nutrient": "fat", "per_100g": "3.5"}],
        None,
    ),
    (
        attribute(AttributeType.TABLE, columns=(Column("nutrient", ColumnType.TEXT),)),
        [{"sugar": 1}],
        "row 0 has no column sugar; columns are nutrient",
    ),
    (attribute(AttributeType.NUMBER), None, None),
]


@pytest.mark.parametrize(("definition", "value", "rule"), CASES)
def test_each_type_takes_its_values_and_names_the_rule_of_others(
    definition: Attribute, value: Any, rule: str | None
) -> None:
    assert broken_rule(definition, value) == rule


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        (attribute(AttributeType.MEASUREMENT), "unit_family"),
        (attribute(AttributeType.SIMPLE_SELECT), "options"),
        (attribute(AttributeType.TABLE), "columns"),
        (attribute(AttributeType.TEXT, pattern="("), "pattern"),
        (attribute(AttributeType.NUMBER, minimum=Decimal(2), maximum=Decimal(1)), "minimum"),
    ],
)
def test_a_definition_is_consistent_for_its_type(definition: Attribute, field: str) -> None:
    with pytest.raises(InvalidAttributeError) as refused:
        new_attribute(definition)
    assert refused.value.field == field


def request() -> Origin:
    return Origin(None, None, source="/skuhub/catalog")


async def test_a_product_of_a_held_family_takes_its_attributes_and_their_rules() -> None:
    uow = FakeCatalogUnitOfWork()
    await create_attribute(
        uow,
        Attribute("capacity", AttributeType.MEASUREMENT, 1, T0, unit_family="volume"),
    )
    family = NewFamily(code="mugs", attributes=("capacity", "brand"))
    await create_family(uow, family, request(), actor="ana", channels={})

    def mug(sku: str, **values: Any) -> NewProduct:
        return NewProduct(sku=sku, title={"en_US": "Mug"}, family="mugs", attributes=values)

    await create(
        uow, mug("MUG-1", capacity={"amount": "0.35", "unit": "LTR"}, brand="Acme"), request()
    )
    with pytest.raises(InvalidProductError, match="not an attribute of family mugs") as refused:
        await create(uow, mug("MUG-2", colour="red"), request())
    assert refused.value.field == "attributes.colour"
    with pytest.raises(
        InvalidProductError, match=r"capacity of product MUG-3 \(measurement\) unit"
    ):
        await create(uow, mug("MUG-3", capacity={"amount": 1, "unit": "MMT"}), request())
    free = NewProduct(sku="CUP-1", title={"en_US": "Cup"}, attributes={"anything": [1, "x"]})
    await create(uow, free, request())  # no family held: undefined attributes stay free


async def test_a_models_own_values_follow_the_same_rules() -> None:
    uow = FakeCatalogUnitOfWork()
    await create_attribute(uow, Attribute("launched", AttributeType.DATE, 1, T0))
    model = NewProductModel(code="MUG", axes=("colour",), attributes={"launched": "soon"})

    with pytest.raises(InvalidProductError, match=r"launched of product model MUG \(date\)"):
        await create_model(uow, model, request())

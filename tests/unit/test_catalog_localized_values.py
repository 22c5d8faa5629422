"""Values per locale and per channel (domain/attributes.py, docs/catalog.md "Attributes"):
a localizable attribute holds one value per locale CLDR knows, a scopable one a value per
channel, both a value per channel and locale; each value is checked by the attribute's
type, and completeness counts a value only where it is set for that channel and locale."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from skuhub_catalog.domain.attributes import Attribute, AttributeType, broken_rule
from skuhub_catalog.domain.completeness import Family, NewFamily, completeness
from skuhub_catalog.domain.product import InvalidProductError, NewProduct, Product, ProductStatus
from skuhub_catalog.entrypoints.handlers import create, create_attribute, create_family
from skuhub_contracts.events import ProductChanged
from skuhub_runtime.origin import Origin
from tests.fakes.catalog import FakeCatalogUnitOfWork

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CHANNELS = {"web": ("en_US", "de_DE"), "pos": ("de_DE",)}


def claim(*, localizable: bool = False, scopable: bool = False) -> Attribute:
    return Attribute(
        "claim",
        AttributeType.TEXT,
        1,
        T0,
        max_length=20,
        localizable=localizable,
        scopable=scopable,
    )


@pytest.mark.parametrize(
    ("flags", "value", "broken"),
    [
        ({"localizable": True}, {"en_US": "Strong", "de_DE": "Stark"}, None),
        ({"localizable": True}, {"en_US": "Strong", "de_DE": None}, None),
        ({"localizable": True}, "Strong", 'must be values per locale, e.g. {"en_US": …}'),
        ({"localizable": True}, {}, 'must be values per locale, e.g. {"en_US": …}'),
        (
            {"localizable": True},
            {"en_ZZ": "x"},
            "has a key 'en_ZZ' that is not a locale CLDR knows (en_US, de_DE)",
        ),
        ({"localizable": True}, {"de_DE": 5}, "in de_DE must be text"),
        (
            {"localizable": True},
            {"de_DE": "x" * 21},
            "in de_DE must be at most 20 characters, not 21",
        ),
        ({"scopable": True}, {"web": "Strong", "pos": "Stark"}, None),
        ({"scopable": True}, {"Web": "x"}, "has a key 'Web' that is not a channel code (web, pos)"),
        ({"scopable": True, "localizable": True}, {"web": {"en_US": "Strong"}}, None),
        (
            {"scopable": True, "localizable": True},
            {"web": "Strong"},
            'in channel web must be values per locale, e.g. {"en_US": …}',
        ),
        ({}, {"en_US": "Strong"}, "must be text"),
    ],
)
def test_a_value_is_checked_per_locale_and_channel(
    flags: dict[str, bool], value: Any, broken: str | None
) -> None:
    assert broken_rule(claim(**flags), value) == broken


def test_completeness_counts_a_localized_value_only_in_its_locale_and_channel() -> None:
    family = Family(
        "mugs", 1, T0, attributes=("claim",), requirements={"web": ("claim",), "pos": ("claim",)}
    )
    product = Product(
        sku="MUG-1",
        status=ProductStatus.DRAFT,
        title={},
        version=1,
        updated_at=T0,
        family="mugs",
        attributes={"claim": {"web": {"en_US": "Strong"}, "pos": {"de_DE": "Stark"}}},
    )

    found = completeness(
        product, family, CHANNELS, {"claim": claim(scopable=True, localizable=True)}
    )

    assert [(c.channel, c.locale, c.missing) for c in found] == [
        ("pos", "de_DE", ()),
        ("web", "en_US", ()),
        ("web", "de_DE", ("claim",)),
    ]


async def test_a_save_checks_and_measures_localized_values_by_their_definition() -> None:
    uow = FakeCatalogUnitOfWork()
    origin = Origin(None, None, source="/skuhub/catalog")
    await create_attribute(uow, claim(localizable=True))
    family = NewFamily(code="mugs", attributes=("claim",), requirements={"web": ("claim",)})
    await create_family(uow, family, origin, actor="ana", channels=CHANNELS)

    bad = NewProduct(sku="MUG-0", title={}, family="mugs", attributes={"claim": "Strong"})
    with pytest.raises(InvalidProductError, match=r"claim of product MUG-0 .* values per locale"):
        await create(uow, bad, origin, channels=CHANNELS)
    good = NewProduct(
        sku="MUG-1", title={}, family="mugs", attributes={"claim": {"de_DE": "Stark"}}
    )
    [envelope] = (await create(uow, good, origin, channels=CHANNELS)).emitted

    assert isinstance(envelope.payload, ProductChanged)
    assert [(c.locale, c.missing) for c in envelope.payload.completeness] == [
        ("en_US", ["claim"]),
        ("de_DE", []),
    ]

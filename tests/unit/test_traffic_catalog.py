"""The synthetic catalog of the traffic generator (libs/skuhub_traffic/catalog.py)."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from stdnum import ean

from skuhub_contracts.events import ProductChanged
from skuhub_traffic import Catalog, TrafficConfig, build_catalog, catalog_to_json

SKU_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]*$")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return build_catalog(TrafficConfig(seed=7))


def test_same_seed_gives_the_same_catalog_and_another_seed_another() -> None:
    assert build_catalog(TrafficConfig(seed=7)) == build_catalog(TrafficConfig(seed=7))
    assert build_catalog(TrafficConfig(seed=7)) != build_catalog(TrafficConfig(seed=8))


def test_every_gtin_and_gln_is_valid_and_unique(catalog: Catalog) -> None:
    gtins = [p.gtin for p in catalog.products]
    glns = [loc.gln for loc in catalog.locations]
    assert all(len(g) == 13 and ean.is_valid(g) for g in gtins)
    assert all(len(g) == 13 and ean.is_valid(g) for g in glns)
    assert len(set(gtins)) == len(gtins)
    assert len(set(glns)) == len(glns)


def test_gtins_stay_valid_beyond_ten_thousand_items() -> None:
    big = build_catalog(TrafficConfig(families=6, product_models=5_000, max_variants=6, kits=0))
    assert len(big.products) > 10_000
    assert all(ean.is_valid(p.gtin) for p in big.products)
    assert len({p.gtin for p in big.products}) == len(big.products)


def test_skus_match_the_contract_and_are_unique(catalog: Catalog) -> None:
    skus = catalog.skus
    assert all(SKU_PATTERN.match(s) and len(s) <= 64 for s in skus)
    assert len(set(skus)) == len(skus)


def test_products_are_valid_catalog_snapshots(catalog: Catalog) -> None:
    for product in catalog.products:
        ProductChanged.model_validate(
            {**product.to_http(), "product_version": 1, "changed_at": datetime.now(UTC)}
        )


def test_models_have_variants_that_differ_by_a_variant_attribute(catalog: Catalog) -> None:
    by_parent: dict[str, list[dict[str, object]]] = defaultdict(list)
    for product in catalog.products:
        if product.parent_sku is not None:
            by_parent[product.parent_sku].append(product.attributes)
    multi = {parent: attrs for parent, attrs in by_parent.items() if len(attrs) > 1}
    assert len(multi) >= 5
    assert set(by_parent) == set(catalog.product_models)
    for attrs in multi.values():
        differing = {k for a in attrs for k in a if len({str(b.get(k)) for b in attrs}) > 1}
        assert differing, "variants of one model must differ by a variant attribute"
        assert differing <= {"size", "storage", "colour", "volume_ml"}
    assert not set(catalog.product_models) & set(catalog.skus)


def test_kits_are_made_of_existing_stocked_skus(catalog: Catalog) -> None:
    kits = [p for p in catalog.products if p.kit_components]
    assert len(kits) == 5
    skus = {p.sku: p for p in catalog.products}
    for kit in kits:
        assert len(kit.kit_components) >= 2
        for sku, qty in kit.kit_components:
            assert qty >= 1
            assert not skus[sku].kit_components


def test_every_product_is_titled_in_every_locale() -> None:
    locales = ("en_US", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "ja_JP")
    catalog = build_catalog(TrafficConfig(locales=locales))
    assert catalog.locales == locales
    for product in catalog.products:
        assert set(product.title) == set(locales)
        assert all(title.strip() for title in product.title.values())
    # Real translations where we have them, not the English title everywhere.
    shirt = next(p for p in catalog.products if p.family == "apparel")
    assert (
        shirt.title["de_DE"] != shirt.title["en_US"] or shirt.title["fr_FR"] != shirt.title["en_US"]
    )


def test_families_have_their_own_attributes(catalog: Catalog) -> None:
    by_family = {p.family: p for p in catalog.products}
    assert {"apparel", "footwear", "grocery", "electronics", "bundle"} <= set(by_family)
    assert {"size", "colour", "material"} <= set(by_family["apparel"].attributes)
    assert {"weight_g", "shelf_life_days"} <= set(by_family["grocery"].attributes)
    assert all(p.lot_tracked == (p.family == "grocery") for p in catalog.products)


def test_locations_and_channels(catalog: Catalog) -> None:
    kinds = [loc.kind for loc in catalog.locations]
    assert "warehouse" in kinds
    assert "store" in kinds
    channels = {c.id: c for c in catalog.channels}
    assert set(channels) == {"web", "marketplace"}
    assert set(channels["web"].locations) == {loc.gln for loc in catalog.locations}
    assert set(channels["marketplace"].locations) == {
        loc.gln for loc in catalog.locations if loc.kind == "warehouse"
    }
    assert all(c.locale in catalog.locales for c in catalog.channels)


def test_daily_demand_is_skewed(catalog: Catalog) -> None:
    demand = sorted((p.daily_demand for p in catalog.products), reverse=True)
    top = demand[: max(1, len(demand) // 10)]
    assert sum(top) > 0.5 * sum(demand)
    assert min(demand) > 0
    assert demand[len(demand) // 2] < 1.0  # the long tail sells sporadically


def test_catalog_json_is_complete(catalog: Catalog) -> None:
    data = catalog_to_json(catalog)
    assert len(data["products"]) == len(catalog.products)
    assert {c["id"] for c in data["channels"]} == {c.id for c in catalog.channels}
    kit = next(p for p in data["products"] if p["kit_components"])
    assert kit["kit_components"][0]["quantity"] >= 1

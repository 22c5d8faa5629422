"""The synthetic catalog of the traffic generator (libs/skuhub_traffic/catalog.py)."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from stdnum import ean

from skuhub_catalog.domain.product import new_product
from skuhub_catalog.entrypoints.http import ProductCreate
from skuhub_contracts.events import ProductChanged
from skuhub_sync_gateway.settings import SyncGatewaySettings
from skuhub_traffic import Catalog, TrafficConfig, build_catalog, catalog_to_json
from skuhub_traffic.model import ProductSpec

SKU_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]*$")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return build_catalog(TrafficConfig(seed=7))


@pytest.fixture(scope="module")
def large() -> Catalog:
    """Enough product models of every family for shares to mean something."""
    return build_catalog(TrafficConfig(seed=11, families=6, product_models=600, kits=20))


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


def test_products_are_valid_catalog_snapshots(large: Catalog) -> None:
    for product in large.products:
        snapshot = ProductChanged.model_validate(
            {**product.to_http(), "product_version": 1, "changed_at": datetime.now(UTC)}
        )
        assert {code: int(n) for code, n in snapshot.packs.items()} == dict(product.packs)
        assert [(c.sku, int(c.quantity)) for c in snapshot.kit_components] == list(
            product.kit_components
        )


def test_every_product_is_a_body_the_catalog_takes(large: Catalog) -> None:
    """What the demo and the bench POST: refused nowhere, from the HTTP model to the domain."""
    for product in large.products:
        body = ProductCreate.model_validate(product.to_http())
        created = new_product(body.to_new_product(), now=datetime(2025, 1, 6, tzinfo=UTC))
        assert dict(created.packs) == dict(product.packs)
        assert (created.lot_tracked, created.shelf_life_days) == (
            product.lot_tracked,
            product.shelf_life_days,
        )


def test_models_have_variants_that_differ_by_a_variant_attribute(catalog: Catalog) -> None:
    by_parent: dict[str, list[dict[str, object]]] = defaultdict(list)
    for product in catalog.products:
        if product.product_model is not None:
            by_parent[product.product_model].append(product.attributes)
    multi = {parent: attrs for parent, attrs in by_parent.items() if len(attrs) > 1}
    assert len(multi) >= 5
    assert set(by_parent) == {m.code for m in catalog.product_models}
    for attrs in multi.values():
        differing = {k for a in attrs for k in a if len({str(b.get(k)) for b in attrs}) > 1}
        assert differing, "variants of one model must differ by a variant attribute"
        assert differing <= {"size", "storage", "colour", "volume_ml"}
    assert not {m.code for m in catalog.product_models} & set(catalog.skus)


def test_a_variant_sends_its_axis_and_own_values_and_inherits_the_models(
    catalog: Catalog,
) -> None:
    models = {m.code: m for m in catalog.product_models}
    variants = [p for p in catalog.products if p.product_model is not None]
    assert variants
    for product in variants:
        assert product.product_model is not None
        model = models[product.product_model]
        sent = product.to_http()["attributes"]
        assert set(model.axes) <= set(sent)
        assert not set(sent) & set(model.attributes)
        assert {**model.attributes, **sent} == product.attributes


def test_kits_are_made_of_existing_stocked_skus(catalog: Catalog) -> None:
    kits = [p for p in catalog.products if p.kit_components]
    assert len(kits) == 5
    skus = {p.sku: p for p in catalog.products}
    for kit in kits:
        assert len(kit.kit_components) >= 2
        for sku, qty in kit.kit_components:
            assert qty >= 1
            assert not skus[sku].kit_components


def test_a_kit_lists_other_skus_once_each_and_is_not_lot_tracked_or_packed(
    large: Catalog,
) -> None:
    kits = [p for p in large.products if p.kit_components]
    assert len(kits) == 20
    for kit in kits:
        components = [sku for sku, _ in kit.kit_components]
        assert kit.sku not in components
        assert len(set(components)) == len(components)
        assert 2 <= len(components) <= 4
        assert {qty for _, qty in kit.kit_components} <= {1, 2}
        assert (kit.packs, kit.lot_tracked, kit.shelf_life_days) == ((), False, None)


def test_adding_stock_facts_left_the_catalog_of_a_seed_as_it_was(catalog: Catalog) -> None:
    """Values from the generator before products had packs: the movements generated from
    a seed, the bench and the oracle still see the same world."""
    by_sku = {p.sku: p for p in catalog.products}
    assert len(catalog.products) == 77
    kit = by_sku["KIT-00003"]
    assert kit.kit_components == (
        ("FTW-00019-45", 1),
        ("ELE-00027-64GB", 1),
        ("FTW-00002-43", 2),
        ("ELE-00009-512GB", 2),
    )
    assert kit.daily_demand == 0.1678
    oil = by_sku["GRO-00006"]
    assert (oil.title["en_US"], oil.unit, oil.daily_demand) == (
        "Verdelli Olive Oil 1 kg",
        "KGM",
        0.6178,
    )
    assert oil.attributes["shelf_life_days"] == 365


def test_packs_are_cases_of_6_12_or_24_and_pallets_of_whole_cases(large: Catalog) -> None:
    packed = [p for p in large.products if p.packs]
    assert packed
    for product in packed:
        packs = dict(product.packs)
        assert product.unit not in packs
        if product.unit == "KGM":
            assert set(packs) == {"CS"}
            assert packs["CS"] in {5, 10}, "loose goods come in crates of 5 or 10 kg"
            continue
        assert set(packs) in ({"CS"}, {"CS", "PF"})
        assert packs["CS"] in {6, 12, 24}
        if "PF" in packs:
            assert product.family == "grocery"
            assert packs["PF"] // packs["CS"] in {40, 60, 80}
            assert packs["PF"] % packs["CS"] == 0


def test_a_realistic_share_of_products_ships_in_packs(large: Catalog) -> None:
    stocked = [p for p in large.products if not p.kit_components]
    by_piece = [p for p in stocked if p.family == "grocery" and p.unit == "EA"]
    by_weight = [p for p in stocked if p.family == "grocery" and p.unit == "KGM"]
    others = [p for p in stocked if p.family != "grocery"]
    assert min(len(by_piece), len(by_weight)) >= 30

    def share(products: list[ProductSpec], code: str) -> float:
        return sum(1 for p in products if code in dict(p.packs)) / len(products)

    assert 0.8 <= share(by_piece, "CS") <= 0.97, "most grocery ships in cases"
    assert 0.3 <= share(by_piece, "PF") <= 0.6, "about half of that on pallets too"
    assert 0.8 <= share(by_weight, "CS") <= 0.97
    assert 0.35 <= share(others, "CS") <= 0.65
    assert share(others, "PF") == share(by_weight, "PF") == 0


def test_the_variants_of_a_model_ship_in_the_same_packs(large: Catalog) -> None:
    packs_by_model: dict[str, set[tuple[tuple[str, int], ...]]] = defaultdict(set)
    for product in large.products:
        if product.product_model is not None:
            packs_by_model[product.product_model].add(product.packs)
    assert len(packs_by_model) >= 100
    assert all(len(packs) == 1 for packs in packs_by_model.values())


def test_food_is_lot_tracked_with_a_shelf_life_and_nothing_else_is(large: Catalog) -> None:
    for product in large.products:
        if product.family == "grocery":
            assert product.lot_tracked
            assert product.shelf_life_days in {7, 14, 30, 90, 180, 365}
            assert product.shelf_life_days == product.attributes["shelf_life_days"]
        else:
            assert (product.lot_tracked, product.shelf_life_days) == (False, None)


def test_the_catalog_body_carries_the_stock_facts() -> None:
    product = ProductSpec(
        sku="GRO-1",
        gtin="4006381333931",
        family="grocery",
        product_model=None,
        title={"en_US": "Coffee"},
        attributes={"weight_g": 500},
        packs=(("CS", 12), ("PF", 720)),
        lot_tracked=True,
        shelf_life_days=180,
    )
    kit = ProductSpec(
        sku="KIT-1",
        gtin="4006381333948",
        family="bundle",
        product_model=None,
        title={"en_US": "Set"},
        attributes={},
        kit_components=(("GRO-1", 2), ("MUG-1", 1)),
    )

    assert product.to_http() == {
        "sku": "GRO-1",
        "gtin": "4006381333931",
        "status": "enabled",
        "family": "grocery",
        "product_model": None,
        "unit": "EA",
        "packs": {"CS": "12", "PF": "720"},
        "lot_tracked": True,
        "shelf_life_days": 180,
        "kit_components": [],
        "title": {"en_US": "Coffee"},
        "attributes": {"weight_g": 500},
    }
    body = kit.to_http()
    assert (body["packs"], body["lot_tracked"], body["shelf_life_days"]) == ({}, False, None)
    assert body["kit_components"] == [
        {"sku": "GRO-1", "quantity": "2"},
        {"sku": "MUG-1", "quantity": "1"},
    ]


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
    # web sells everywhere and marketplace from the warehouses: two channels at a warehouse.
    assert {c["id"]: c["allocation"]["share"] for c in data["channels"]} == {
        "web": "0.5",
        "marketplace": "0.5",
    }
    configured = SyncGatewaySettings(channels=data["channels"])
    assert [c.code for c in configured.channels] == [c.id for c in catalog.channels]
    kit = next(p for p in data["products"] if p["kit_components"])
    assert kit["kit_components"][0]["quantity"] in {"1", "2"}
    assert {"packs", "lot_tracked", "shelf_life_days", "daily_demand"} <= set(kit)

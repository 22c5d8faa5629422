"""A deterministic synthetic catalog: families, product models with variants, kits, locations.

Everything comes from :class:`random.Random` instances seeded with ``config.seed``, so
the same config always gives the same catalog. Identifiers are real GS1 numbers with
valid check digits (python-stdnum), SKUs match the contract's pattern.

Each product carries the stock facts product-changed publishes: its stock unit, the
packs it comes in (cases, pallets), lot tracking with a shelf life (grocery), and what
a kit is made of.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from stdnum import ean

from skuhub_traffic.model import (
    Catalog,
    ChannelSpec,
    LocationSpec,
    ProductModelSpec,
    ProductSpec,
    TrafficConfig,
)

GTIN_PREFIX = "40063813"
"""GS1 company prefix of the synthetic items (GTIN-13 = prefix + item reference + check)."""
GLN_PREFIX = "4012345"
"""GS1 company prefix of the synthetic locations (GLN = prefix + location reference + check)."""

ZIPF_EXPONENT = 1.2
"""Demand of the SKU at rank r is proportional to r ** -ZIPF_EXPONENT."""
TOP_DAILY_DEMAND = 24.0
"""Mean units per day at one store of the best seller."""

CASE_SIZES = (6, 12, 24)
"""Units in a case (CS) of an item sold by the piece."""
CASES_PER_PALLET = (40, 60, 80)
"""Cases on a pallet (PF) of grocery."""
CRATE_KILOGRAMS = (5, 10)
"""Kilograms in a case (CS) of loose goods sold by weight."""
CASED_SHARE = {"grocery": 0.9}
"""Share of a family's product models shipped in cases; OTHERS_CASED_SHARE for the rest."""
OTHERS_CASED_SHARE = 0.5
PALLETISED_SHARE = 0.5
"""Share of cased grocery that also ships by the pallet."""


@dataclass(frozen=True, slots=True)
class _Family:
    name: str
    code: str
    nouns: dict[str, tuple[str, ...]]  # language -> nouns
    axis: str | None  # the variant attribute (size, storage …); None = no variants
    axis_values: tuple[str, ...]
    brands: tuple[str, ...]


_COLOURS: dict[str, tuple[str, ...]] = {
    "en": ("black", "white", "red", "navy", "green", "grey"),
    "de": ("schwarz", "weiß", "rot", "marineblau", "grün", "grau"),
    "fr": ("noir", "blanc", "rouge", "bleu marine", "vert", "gris"),
    "es": ("negro", "blanco", "rojo", "azul marino", "verde", "gris"),
    "it": ("nero", "bianco", "rosso", "blu navy", "verde", "grigio"),
    "nl": ("zwart", "wit", "rood", "marineblauw", "groen", "grijs"),
}

_FAMILIES: tuple[_Family, ...] = (
    _Family(
        "apparel",
        "APP",
        {
            "en": ("T-Shirt", "Hoodie", "Jacket", "Jeans", "Polo Shirt"),
            "de": ("T-Shirt", "Kapuzenpullover", "Jacke", "Jeans", "Poloshirt"),
            "fr": ("T-shirt", "Sweat à capuche", "Veste", "Jean", "Polo"),
            "es": ("Camiseta", "Sudadera", "Chaqueta", "Vaqueros", "Polo"),
            "it": ("Maglietta", "Felpa", "Giacca", "Jeans", "Polo"),
            "nl": ("T-shirt", "Hoodie", "Jas", "Spijkerbroek", "Poloshirt"),
        },
        "size",
        ("XS", "S", "M", "L", "XL", "XXL"),
        ("Northwind", "Fjellvik", "Urban Loom"),
    ),
    _Family(
        "footwear",
        "FTW",
        {
            "en": ("Sneaker", "Running Shoe", "Boot", "Sandal"),
            "de": ("Sneaker", "Laufschuh", "Stiefel", "Sandale"),
            "fr": ("Basket", "Chaussure de course", "Botte", "Sandale"),
            "es": ("Zapatilla", "Zapatilla de running", "Bota", "Sandalia"),
            "it": ("Sneaker", "Scarpa da corsa", "Stivale", "Sandalo"),
            "nl": ("Sneaker", "Hardloopschoen", "Laars", "Sandaal"),
        },
        "size",
        ("38", "39", "40", "41", "42", "43", "44", "45", "46"),
        ("Strider", "Kettle Peak", "Solena"),
    ),
    _Family(
        "grocery",
        "GRO",
        {
            "en": ("Coffee Beans", "Olive Oil", "Pasta", "Apples", "Dark Chocolate"),
            "de": ("Kaffeebohnen", "Olivenöl", "Nudeln", "Äpfel", "Zartbitterschokolade"),
            "fr": ("Café en grains", "Huile d'olive", "Pâtes", "Pommes", "Chocolat noir"),
            "es": ("Café en grano", "Aceite de oliva", "Pasta", "Manzanas", "Chocolate negro"),
            "it": ("Caffè in grani", "Olio d'oliva", "Pasta", "Mele", "Cioccolato fondente"),
            "nl": ("Koffiebonen", "Olijfolie", "Pasta", "Appels", "Pure chocolade"),
        },
        None,
        (),
        ("Verdelli", "Hofgut", "Maison Clair"),
    ),
    _Family(
        "electronics",
        "ELE",
        {
            "en": ("Smartphone", "Tablet", "Headphones", "Power Bank"),
            "de": ("Smartphone", "Tablet", "Kopfhörer", "Powerbank"),
            "fr": ("Smartphone", "Tablette", "Casque", "Batterie externe"),
            "es": ("Smartphone", "Tableta", "Auriculares", "Batería externa"),
            "it": ("Smartphone", "Tablet", "Cuffie", "Power bank"),
            "nl": ("Smartphone", "Tablet", "Koptelefoon", "Powerbank"),
        },
        "storage",
        ("64GB", "128GB", "256GB", "512GB"),
        ("Voltix", "Aurion", "Kestrel"),
    ),
    _Family(
        "home",
        "HOM",
        {
            "en": ("Mug", "Cushion", "Table Lamp", "Towel"),
            "de": ("Tasse", "Kissen", "Tischlampe", "Handtuch"),
            "fr": ("Tasse", "Coussin", "Lampe de table", "Serviette"),
            "es": ("Taza", "Cojín", "Lámpara de mesa", "Toalla"),
            "it": ("Tazza", "Cuscino", "Lampada da tavolo", "Asciugamano"),
            "nl": ("Mok", "Kussen", "Tafellamp", "Handdoek"),
        },
        "colour",
        ("black", "white", "red", "navy", "green", "grey"),
        ("Hjem", "Casa Lume", "Oakridge"),
    ),
    _Family(
        "beauty",
        "BEA",
        {
            "en": ("Face Cream", "Shampoo", "Lip Balm", "Body Lotion"),
            "de": ("Gesichtscreme", "Shampoo", "Lippenbalsam", "Körperlotion"),
            "fr": ("Crème visage", "Shampooing", "Baume à lèvres", "Lait corporel"),
            "es": ("Crema facial", "Champú", "Bálsamo labial", "Loción corporal"),
            "it": ("Crema viso", "Shampoo", "Balsamo labbra", "Lozione corpo"),
            "nl": ("Gezichtscrème", "Shampoo", "Lippenbalsem", "Bodylotion"),
        },
        "volume_ml",
        ("50", "100", "250", "500"),
        ("Lumea", "Sorelle", "Pure Fjord"),
    ),
)

_LOCATION_NAMES = ("Hamburg", "Berlin", "Munich", "Cologne", "Frankfurt", "Leipzig", "Stuttgart")
_CHANNELS = (
    ("web", "Web shop"),
    ("marketplace", "Marketplace"),
    ("app", "Mobile app"),
    ("b2b", "B2B portal"),
    ("pos", "Store POS"),
    ("print", "Print catalog"),
)
_KIT_NOUNS = {
    "en": "Bundle",
    "de": "Set",
    "fr": "Coffret",
    "es": "Pack",
    "it": "Confezione",
    "nl": "Bundel",
}


def gtin13(item_reference: int) -> str:
    """A GTIN-13 of the synthetic company prefix with a valid check digit."""
    first12 = f"{GTIN_PREFIX}{item_reference:04d}" if item_reference < 10_000 else None
    if first12 is None:  # beyond 9,999 items: borrow the next prefixes (synthetic data)
        first12 = f"{int(GTIN_PREFIX + '0000') + item_reference:012d}"
    return first12 + ean.calc_check_digit(first12)


def gln(location_reference: int) -> str:
    """A GLN of the synthetic company prefix with a valid check digit."""
    first12 = f"{GLN_PREFIX}{location_reference:05d}"
    return first12 + ean.calc_check_digit(first12)


def _lang(locale: str) -> str:
    return locale.split("_", 1)[0]


def _localised(table: dict[str, tuple[str, ...]], locale: str, index: int) -> str:
    words = table.get(_lang(locale))
    if words is None:
        return f"{table['en'][index % len(table['en'])]} ({locale})"
    return words[index % len(words)]


def _colour(locale: str, colour: str) -> str:
    index = _COLOURS["en"].index(colour)
    return _localised(_COLOURS, locale, index)


def _family_attributes(family: _Family, rng: random.Random) -> tuple[dict[str, Any], str | None]:
    """Attributes shared by the variants of one model, and the model's colour (if any)."""
    colour = rng.choice(_COLOURS["en"])
    brand = rng.choice(family.brands)
    if family.name == "apparel":
        material = rng.choice(("cotton", "organic cotton", "wool", "polyester", "linen"))
        return {"brand": brand, "colour": colour, "material": material}, colour
    if family.name == "footwear":
        material = rng.choice(("leather", "canvas", "synthetic", "suede"))
        return {"brand": brand, "colour": colour, "material": material}, colour
    if family.name == "grocery":
        return {
            "brand": brand,
            "weight_g": rng.choice((125, 250, 500, 750, 1000)),
            "shelf_life_days": rng.choice((7, 14, 30, 90, 180, 365)),
            "organic": rng.random() < 0.3,
            "storage": rng.choice(("ambient", "chilled")),
        }, None
    if family.name == "electronics":
        return {
            "brand": brand,
            "colour": colour,
            "warranty_months": rng.choice((12, 24, 36)),
            "power_w": rng.choice((5, 10, 18, 25, 45)),
        }, colour
    if family.name == "home":
        return {
            "brand": brand,
            "material": rng.choice(("ceramic", "cotton", "glass", "oak")),
            "width_cm": rng.randint(8, 60),
        }, None
    return {
        "brand": brand,
        "skin_type": rng.choice(("all", "dry", "sensitive", "oily")),
        "vegan": rng.random() < 0.5,
    }, None


def build_catalog(config: TrafficConfig) -> Catalog:
    """Build the synthetic world of ``config``: deterministic from ``config.seed``."""
    if not config.locales:
        raise ValueError("at least one locale is needed")
    rng = random.Random(f"catalog:{config.seed}")
    families = _FAMILIES[: max(1, min(config.families, len(_FAMILIES)))]

    products: list[ProductSpec] = []
    models: list[ProductModelSpec] = []
    item_reference = 1
    for m in range(config.product_models):
        family = families[m % len(families)] if m < len(families) else rng.choice(families)
        noun_index = rng.randrange(len(family.nouns["en"]))
        model_sku = f"{family.code}-{m + 1:05d}"
        shared, colour = _family_attributes(family, rng)
        brand = str(shared["brand"])
        if family.axis is None or config.max_variants <= 1:
            variant_values: list[str | None] = [None]
        else:
            count = rng.randint(1, min(config.max_variants, len(family.axis_values)))
            start = rng.randrange(len(family.axis_values) - count + 1)
            variant_values = list(family.axis_values[start : start + count])
            if family.axis == "colour" and colour is not None:
                shared.pop("colour", None)
        has_variants = variant_values != [None]
        if has_variants and family.axis is not None:
            models.append(
                ProductModelSpec(
                    code=model_sku,
                    family=family.name,
                    axes=(family.axis,),
                    title={
                        locale: f"{brand} {_localised(family.nouns, locale, noun_index)}"
                        for locale in config.locales
                    },
                    attributes=dict(shared),
                )
            )
        # Grocery: a third sold loose by weight (KGM); every grocery item is lot-tracked.
        loose = family.name == "grocery" and rng.random() < 0.34
        for value in variant_values:
            sku = model_sku if value is None else f"{model_sku}-{value}"
            attributes = dict(shared)
            if value is not None and family.axis is not None:
                attributes[family.axis] = int(value) if value.isdigit() else value
            title: dict[str, str] = {}
            for locale in config.locales:
                noun = _localised(family.nouns, locale, noun_index)
                parts = [brand, noun]
                if family.axis == "colour" and value is not None:
                    parts.append(_colour(locale, value))
                elif colour is not None and family.name != "electronics":
                    parts.append(_colour(locale, colour))
                if value is not None and family.axis != "colour":
                    parts.append(f"{value} ml" if family.axis == "volume_ml" else value)
                if family.name == "grocery":
                    parts.append("1 kg" if loose else f"{attributes['weight_g']} g")
                title[locale] = " ".join(parts)
            products.append(
                ProductSpec(
                    sku=sku,
                    gtin=gtin13(item_reference),
                    family=family.name,
                    product_model=model_sku if has_variants else None,
                    inherited=frozenset(shared) if has_variants else frozenset(),
                    title=title,
                    attributes=attributes,
                    unit="KGM" if loose else "EA",
                    lot_tracked=family.name == "grocery",
                    shelf_life_days=(
                        int(attributes["shelf_life_days"]) if family.name == "grocery" else None
                    ),
                )
            )
            item_reference += 1

    kits: list[ProductSpec] = []
    sellable = [p for p in products if p.unit == "EA"]
    for k in range(config.kits if len(sellable) >= 2 else 0):
        size = min(len(sellable), rng.randint(2, 4))
        components = rng.sample(sellable, size)
        kit_components = tuple((c.sku, rng.choice((1, 1, 1, 2))) for c in components)
        title = {}
        for locale in config.locales:
            noun = _KIT_NOUNS.get(_lang(locale), f"Bundle ({locale})")
            first = components[0].title[locale]
            title[locale] = f"{noun}: {first} + {size - 1}"
        kits.append(
            ProductSpec(
                sku=f"KIT-{k + 1:05d}",
                gtin=gtin13(item_reference),
                family="bundle",
                product_model=None,
                title=title,
                attributes={"components": len(kit_components)},
                kit_components=kit_components,
            )
        )
        item_reference += 1

    # Skewed demand: a random rank per SKU, Zipf over the rank, a little noise.
    everything = products + kits
    ranks = list(range(1, len(everything) + 1))
    rng.shuffle(ranks)
    with_demand: list[ProductSpec] = []
    for product, rank in zip(everything, ranks, strict=True):
        demand = TOP_DAILY_DEMAND * rank**-ZIPF_EXPONENT * rng.uniform(0.8, 1.25)
        if product.kit_components:
            demand *= 0.3  # bundles sell less than their parts
        with_demand.append(dataclasses.replace(product, daily_demand=round(demand, 4)))

    locations = _locations(config)
    channels = _channels(config, locations)
    return Catalog(
        families=tuple(f.name for f in families) + (("bundle",) if kits else ()),
        products=_with_packs(with_demand, config.seed),
        locations=locations,
        channels=channels,
        locales=tuple(config.locales),
        product_models=tuple(models),
    )


def _with_packs(products: list[ProductSpec], seed: int) -> tuple[ProductSpec, ...]:
    """``products`` with the packs they ship in, decided once per product model (its variants
    ship alike). Drawn from a stream of their own, so the rest of the catalog (and every
    movement generated from it) is what the seed gave before products had packs."""
    rng = random.Random(f"packs:{seed}")
    by_model: dict[str, tuple[tuple[str, int], ...]] = {}
    out: list[ProductSpec] = []
    for product in products:
        model = product.product_model or product.sku
        if model not in by_model:
            by_model[model] = _packs(product, rng)
        out.append(dataclasses.replace(product, packs=by_model[model]))
    return tuple(out)


def _packs(product: ProductSpec, rng: random.Random) -> tuple[tuple[str, int], ...]:
    """Most grocery comes in cases, half of those on pallets too; loose goods (KGM) in crates
    by weight; half of every other family in cases; kits in none (they are never stocked)."""
    if product.kit_components:
        return ()
    share = CASED_SHARE.get(product.family, OTHERS_CASED_SHARE)
    if rng.random() >= share:
        return ()
    if product.unit != "EA":
        return (("CS", rng.choice(CRATE_KILOGRAMS)),)
    case = rng.choice(CASE_SIZES)
    if product.family == "grocery" and rng.random() < PALLETISED_SHARE:
        return (("CS", case), ("PF", case * rng.choice(CASES_PER_PALLET)))
    return (("CS", case),)


def _locations(config: TrafficConfig) -> tuple[LocationSpec, ...]:
    count = max(2, config.locations)
    warehouses = max(1, round(count / 4))
    out: list[LocationSpec] = []
    for i in range(count):
        city = _LOCATION_NAMES[i % len(_LOCATION_NAMES)]
        suffix = "" if i < len(_LOCATION_NAMES) else f" {i // len(_LOCATION_NAMES) + 1}"
        if i < warehouses:
            out.append(LocationSpec(gln(i + 1), f"Warehouse {city}{suffix}", "warehouse"))
        else:
            out.append(LocationSpec(gln(i + 1), f"Store {city}{suffix}", "store"))
    return tuple(out)


def _channels(
    config: TrafficConfig, locations: tuple[LocationSpec, ...]
) -> tuple[ChannelSpec, ...]:
    every = tuple(loc.gln for loc in locations)
    warehouses = tuple(loc.gln for loc in locations if loc.kind == "warehouse")
    stores = tuple(loc.gln for loc in locations if loc.kind == "store")
    out: list[ChannelSpec] = []
    for i in range(max(1, config.channels)):
        ident, name = _CHANNELS[i % len(_CHANNELS)]
        if i >= len(_CHANNELS):
            ident, name = f"{ident}-{i // len(_CHANNELS) + 1}", f"{name} {i // len(_CHANNELS) + 1}"
        base = ident.split("-", 1)[0]
        feeds = (
            warehouses
            if base in ("marketplace", "b2b")
            else stores
            if base == "pos" and stores
            else every
        )
        locale = config.locales[i % len(config.locales)]
        out.append(ChannelSpec(ident, name, locale, feeds))
    return tuple(out)


def _shares(catalog: Catalog) -> dict[str, str]:
    """Each channel's share of ATP: 1 / the most channels selling at any of its locations
    (rounded down), so the shares at every location add up to at most 1."""
    every = tuple(loc.gln for loc in catalog.locations)
    sellers: dict[str, int] = {}
    for channel in catalog.channels:
        for gln in channel.locations or every:
            sellers[gln] = sellers.get(gln, 0) + 1
    return {
        c.id: format(
            (Decimal(1) / max(sellers[g] for g in c.locations or every))
            .quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
            .normalize(),
            "f",
        )
        for c in catalog.channels
    }


def catalog_to_json(catalog: Catalog) -> dict[str, Any]:
    """The catalog as JSON: products in the catalog API's shape (stock facts included), plus
    each one's daily demand.

    ``channels`` has the shape of ``SKUHUB_CHANNELS`` (the sync gateway's config), with
    shares of ATP that never promise a unit twice (:func:`_shares`).
    """
    shares = _shares(catalog)
    return {
        "families": list(catalog.families),
        "locales": list(catalog.locales),
        "product_models": [m.to_http() for m in catalog.product_models],
        "locations": [
            {"gln": loc.gln, "name": loc.name, "kind": loc.kind} for loc in catalog.locations
        ],
        "channels": [
            {
                "id": c.id,
                "name": c.name,
                "locale": c.locale,
                "locations": list(c.locations),
                "allocation": {"rule": "share", "share": shares[c.id]},
            }
            for c in catalog.channels
        ],
        "products": [{**p.to_http(), "daily_demand": p.daily_demand} for p in catalog.products],
    }

"""Realistic, deterministic upstream traffic for the demo, the tests and the benchmarks.

One seeded generator builds a catalog (families, attributes, product models with
variants, kits, locales, channels, locations with valid GLNs, SKUs with valid
GTINs) and a stream of stock movements shaped like the real world. An
independent oracle computes the positions that stream must produce.

API (stable; the demo, tests and ``skuhub bench`` use it):

- :class:`TrafficConfig` — every knob, with a seed.
- :func:`build_catalog` → :class:`Catalog`.
- :func:`generate_deliveries` → list of :class:`Delivery` (what goes on the wire, in order).
- :class:`Oracle` — expected positions from the deliveries, computed without skuhub code
  (:class:`StockModel`, docs/stock.md; the SKUs' :class:`StockFacts` from :func:`stock_facts`).
- ``TrafficConfig(profile="hard")`` adds docs/stock.md's hard cases (:class:`HardCases`).
- :func:`publish` — send deliveries through a real Kafka client at a fixed rate or flat out.
"""

from skuhub_traffic.catalog import build_catalog, catalog_to_json
from skuhub_traffic.model import (
    Catalog,
    ChannelSpec,
    Delivery,
    DeliveryKind,
    ExpectedPosition,
    HardCases,
    LocationSpec,
    ProductModelSpec,
    ProductSpec,
    PublishStats,
    StockFacts,
    TrafficConfig,
)
from skuhub_traffic.movements import generate_deliveries, stock_facts
from skuhub_traffic.oracle import Oracle, StockModel
from skuhub_traffic.publish import PublishError, publish

__all__ = [
    "Catalog",
    "ChannelSpec",
    "Delivery",
    "DeliveryKind",
    "ExpectedPosition",
    "HardCases",
    "LocationSpec",
    "Oracle",
    "ProductModelSpec",
    "ProductSpec",
    "PublishError",
    "PublishStats",
    "StockFacts",
    "StockModel",
    "TrafficConfig",
    "build_catalog",
    "catalog_to_json",
    "generate_deliveries",
    "publish",
    "stock_facts",
]

"""Data the generator produces. Plain dataclasses: no I/O, no skuhub service code."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

DeliveryKind = Literal["valid", "duplicate", "malformed"]


@dataclass(frozen=True, slots=True)
class TrafficConfig:
    """Every knob of a generated world. The same config always gives the same traffic."""

    seed: int = 42
    families: int = 4
    product_models: int = 40
    max_variants: int = 4
    kits: int = 5
    locations: int = 4
    channels: int = 2
    locales: tuple[str, ...] = ("en_US", "de_DE", "fr_FR")
    days: int = 28
    movements: int = 5_000
    duplicate_share: float = 0.02
    late_share: float = 0.03
    malformed_share: float = 0.01
    source_system: str = "wms-gen"
    sequence_start: int = 1  # first source_sequence; vary it to publish twice to one stack
    start: datetime = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday; day 0 of the stream


@dataclass(frozen=True, slots=True)
class LocationSpec:
    gln: str
    name: str
    kind: Literal["warehouse", "store"]


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    id: str
    name: str
    locale: str
    locations: tuple[str, ...]  # GLNs; empty = every location


@dataclass(frozen=True, slots=True)
class ProductSpec:
    sku: str
    gtin: str
    family: str
    parent_sku: str | None
    title: dict[str, str]
    attributes: dict[str, Any]
    unit: str = "EA"  # the stock unit
    kit_components: tuple[tuple[str, int], ...] = ()  # (component SKU, units per kit)
    daily_demand: float = 0.0  # mean units per day at one store; drives the skew
    lot_tracked: bool = False  # stock of this SKU carries a lot (and an expiry date)
    packs: tuple[tuple[str, int], ...] = ()  # (pack unit code, stock units per pack)
    shelf_life_days: int | None = None  # receipt to expiry, for lots without an expiry date

    def to_http(self) -> dict[str, Any]:
        """Body for the catalog's ``POST /v1/products``, stock facts included."""
        return {
            "sku": self.sku,
            "gtin": self.gtin,
            "status": "enabled",
            "family": self.family,
            "parent_sku": self.parent_sku,
            "unit": self.unit,
            "packs": {code: str(count) for code, count in self.packs},
            "lot_tracked": self.lot_tracked,
            "shelf_life_days": self.shelf_life_days,
            "kit_components": [
                {"sku": sku, "quantity": str(quantity)} for sku, quantity in self.kit_components
            ],
            "title": self.title,
            "attributes": self.attributes,
        }


@dataclass(frozen=True, slots=True)
class Catalog:
    families: tuple[str, ...]
    products: tuple[ProductSpec, ...]
    locations: tuple[LocationSpec, ...]
    channels: tuple[ChannelSpec, ...]
    locales: tuple[str, ...]
    product_models: tuple[str, ...] = ()  # parent SKUs of variants (not sellable themselves)

    @property
    def skus(self) -> tuple[str, ...]:
        return tuple(p.sku for p in self.products)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One Kafka record as upstream sends it (in this order)."""

    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    kind: DeliveryKind
    event_id: str | None = None  # CloudEvents id; None for malformed records
    late: bool = False  # delivered after records that happened later (same SKU)
    defect: str | None = None  # what is wrong with a malformed record


@dataclass(frozen=True, slots=True)
class ExpectedPosition:
    sku: str
    location: str
    lot: str
    on_hand: Decimal
    reserved: Decimal
    in_transit: Decimal

    @property
    def available_to_promise(self) -> Decimal:
        """docs/decisions.md: on hand less reserved (never below zero), never below zero."""
        return max(self.on_hand - self.reserved, Decimal(0))


@dataclass
class PublishStats:
    records: int = 0
    seconds: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

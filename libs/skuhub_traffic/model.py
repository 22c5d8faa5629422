"""Data the generator produces. Plain dataclasses: no I/O, no skuhub service code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

DeliveryKind = Literal["valid", "duplicate", "malformed"]
Profile = Literal["classic", "hard"]


@dataclass(frozen=True, slots=True)
class HardCases:
    """Shares of the hard cases of docs/stock.md in a ``profile="hard"`` stream.

    Each share is small on purpose: the stream stays mostly ordinary traffic.
    """

    late_count_share: float = 0.2
    """Of cycle counts: delivered after movements of their position that happened later."""
    early_count_share: float = 0.1
    """Of cycle counts: followed by movements of their position that happened earlier."""
    expiring_lot_share: float = 0.3
    """Of lot-tracked SKUs: an extra lot received on day 0 that expires on ``expiry_day`` or the
    day after."""
    expiry_day: date | None = None
    """The day those lots expire (the day the run happens); None: the stream's last day."""
    lotless_outbound_share: float = 0.1
    """Of store sales of lot-tracked SKUs: shipped without a lot (the ledger picks FEFO)."""
    pack_share: float = 0.25
    """Of receipts, returns and shipments of SKUs with a pack, in whole packs: reported in the
    pack (``CS``)."""
    gram_share: float = 0.05
    """Of receipts, returns, shipments and scrap of KGM SKUs: reported in grams (``GRM``)."""
    early_release_share: float = 0.1
    """Of web orders (which all carry a reservation_id here): release delivered before the
    reservation."""
    early_transfer_in_share: float = 0.1
    """Of transfers (which all carry a transfer_ref here): transfer-in delivered before the
    transfer-out."""
    packed_sku_share: float = 0.3
    """Of EA SKUs: those with a case (``CS`` of 6, 12 or 24)."""


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
    profile: Profile = "classic"
    """``classic``: the streams of the benchmark so far. ``hard``: adds ``hard_cases``."""
    hard_cases: HardCases = HardCases()


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
class ProductModelSpec:
    """What the variants of one product share: their model in the catalog."""

    code: str
    family: str
    axes: tuple[str, ...]
    title: dict[str, str]
    attributes: dict[str, Any]

    def to_http(self) -> dict[str, Any]:
        """Body for the catalog's ``POST /v1/product-models``."""
        return {
            "code": self.code,
            "family": self.family,
            "axes": list(self.axes),
            "title": self.title,
            "attributes": self.attributes,
        }


@dataclass(frozen=True, slots=True)
class ProductSpec:
    sku: str
    gtin: str
    family: str
    product_model: str | None
    title: dict[str, str]
    attributes: dict[str, Any]  # as channels see them: the model's included
    unit: str = "EA"  # the stock unit
    kit_components: tuple[tuple[str, int], ...] = ()  # (component SKU, units per kit)
    daily_demand: float = 0.0  # mean units per day at one store; drives the skew
    lot_tracked: bool = False  # stock of this SKU carries a lot (and an expiry date)
    packs: tuple[tuple[str, int], ...] = ()  # (pack unit code, stock units per pack)
    shelf_life_days: int | None = None  # receipt to expiry, for lots without an expiry date
    inherited: frozenset[str] = frozenset()  # attributes its product model sets

    def to_http(self) -> dict[str, Any]:
        """Body for the catalog's ``POST /v1/products``, stock facts included."""
        return {
            "sku": self.sku,
            "gtin": self.gtin,
            "status": "enabled",
            "family": self.family,
            "product_model": self.product_model,
            "unit": self.unit,
            "packs": {code: str(count) for code, count in self.packs},
            "lot_tracked": self.lot_tracked,
            "shelf_life_days": self.shelf_life_days,
            "kit_components": [
                {"sku": sku, "quantity": str(quantity)} for sku, quantity in self.kit_components
            ],
            "title": self.title,
            "attributes": {k: v for k, v in self.attributes.items() if k not in self.inherited},
        }


@dataclass(frozen=True, slots=True)
class Catalog:
    families: tuple[str, ...]
    products: tuple[ProductSpec, ...]
    locations: tuple[LocationSpec, ...]
    channels: tuple[ChannelSpec, ...]
    locales: tuple[str, ...]
    product_models: tuple[ProductModelSpec, ...] = ()  # of the variants (not sellable)

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
class StockFacts:
    """What the catalog says about a SKU's stock (docs/stock.md, "Keys and units")."""

    unit: str
    packs: Mapping[str, Decimal] = field(default_factory=dict)
    """Pack unit -> how many stock units one holds (``{"CS": Decimal(12)}``)."""
    lot_tracked: bool = False
    shelf_life_days: int | None = None


ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ExpectedPosition:
    """Every bucket and counter of one position (docs/stock.md), as of the oracle's ``now``."""

    sku: str
    location: str
    lot: str
    on_hand: Decimal
    reserved: Decimal
    in_transit: Decimal
    quality_hold: Decimal = ZERO
    expired: Decimal = ZERO
    incoming: Decimal = ZERO
    location_available_to_promise: Decimal = ZERO
    """The SKU's at this location over all its lots (the same on each of its positions)."""
    received: Decimal = ZERO
    shipped: Decimal = ZERO
    returned: Decimal = ZERO
    scrapped: Decimal = ZERO
    lost_sales: Decimal = ZERO
    expires_on: date | None = None
    counted_at: datetime | None = None
    unit: str = ""
    anomalies: tuple[str, ...] = ()
    """States the position is in now: negative_on_hand, oversold, negative_in_transit."""

    @property
    def sellable(self) -> Decimal:
        return self.on_hand - self.quality_hold - self.expired

    @property
    def available_to_promise(self) -> Decimal:
        """docs/stock.md: max(sellable - reserved, 0)."""
        return max(self.sellable - self.reserved, ZERO)

    @property
    def projected(self) -> Decimal:
        return self.on_hand + self.in_transit + self.incoming - self.reserved


@dataclass
class PublishStats:
    records: int = 0
    seconds: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

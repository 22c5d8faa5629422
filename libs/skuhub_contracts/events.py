"""Version 1 event payloads exchanged between upstream systems and skuhub services.

Payload models carry domain facts only. Envelope attributes (event id, source,
origin time, trace context) live in the CloudEvents envelope; see
:mod:`skuhub_contracts.codec`.

Derived events carry state, not deltas: a consumer can apply them in any order
and any number of times by keeping the highest version it has seen.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from skuhub_contracts.identifiers import Gln, Gtin, Locale, Sku, UnitCode


class EventPayload(BaseModel):
    """Base of every event payload: immutable, keyed by SKU.

    Tolerant reader: unknown fields are ignored, so a producer may add an
    optional field within a major version before every consumer knows it.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", use_enum_values=False)

    event_type: ClassVar[str]
    """CloudEvents ``type``; carries the major version."""

    sku: Sku

    @property
    def key(self) -> str:
        """Kafka record key: every event about one SKU lands on one partition, in order."""
        return self.sku


class MovementKind(StrEnum):
    """What physically or logically happened to stock at a location."""

    RECEIPT = "receipt"
    SHIPMENT = "shipment"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    ADJUSTMENT = "adjustment"
    RETURN = "return"
    SCRAP = "scrap"
    RESERVATION = "reservation"
    RESERVATION_RELEASE = "reservation_release"
    CYCLE_COUNT = "cycle_count"


class StockMoved(EventPayload):
    """A stock movement reported by an upstream system (WMS, ERP, POS, 3PL).

    ``quantity`` is positive for every kind except ``adjustment`` (signed, not
    zero) and ``cycle_count`` (the counted quantity, zero or more).
    """

    event_type: ClassVar[str] = "skuhub.stock-moved.v1"

    kind: MovementKind
    location: Gln = Field(description="Where the movement happened.")
    destination: Gln | None = Field(
        default=None, description="Receiving location; required for transfer_out."
    )
    quantity: Decimal = Field(max_digits=18, decimal_places=6)
    unit: UnitCode = "EA"
    lot: str | None = Field(default=None, min_length=1, max_length=64)
    expires_on: date | None = None
    source_system: str = Field(
        min_length=1, max_length=64, description="Upstream system that reported the movement."
    )
    source_sequence: int = Field(
        ge=0, description="Monotonic sequence within source_system; duplicates are ignored."
    )
    occurred_at: AwareDatetime
    reason: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _quantity_fits_kind(self) -> Self:
        if self.kind is MovementKind.ADJUSTMENT:
            if self.quantity == 0:
                raise ValueError("an adjustment must change the quantity (non-zero)")
        elif self.kind is MovementKind.CYCLE_COUNT:
            if self.quantity < 0:
                raise ValueError("a cycle count cannot be negative")
        elif self.quantity <= 0:
            raise ValueError(f"quantity must be positive for {self.kind.value}")
        if self.kind is MovementKind.TRANSFER_OUT and self.destination is None:
            raise ValueError("transfer_out needs a destination GLN")
        if self.kind is not MovementKind.TRANSFER_OUT and self.destination is not None:
            raise ValueError("destination is only for transfer_out")
        if self.destination is not None and self.destination == self.location:
            raise ValueError("destination must differ from location")
        return self


class StockLevelChanged(EventPayload):
    """The whole stock position of one SKU at one location (and lot) after a change."""

    event_type: ClassVar[str] = "skuhub.stock-level-changed.v1"

    location: Gln
    lot: str | None = None
    unit: UnitCode
    on_hand: Decimal
    reserved: Decimal
    in_transit: Decimal
    available_to_promise: Decimal = Field(description="on_hand minus reserved, never below zero.")
    expires_on: date | None = None
    position_version: int = Field(ge=1, description="Increases by one with every change.")
    caused_by: str = Field(description="Event id of the movement that caused this change.")
    changed_at: AwareDatetime


class ProductStatus(StrEnum):
    DRAFT = "draft"
    ENABLED = "enabled"
    DISABLED = "disabled"


class ProductChanged(EventPayload):
    """Full snapshot of one product (SKU) after any change in the catalog."""

    event_type: ClassVar[str] = "skuhub.product-changed.v1"

    product_version: int = Field(ge=1)
    gtin: Gtin | None = None
    status: ProductStatus
    family: str | None = Field(default=None, max_length=64)
    parent_sku: Sku | None = Field(
        default=None, description="Product model this variant belongs to."
    )
    unit: UnitCode = "EA"
    title: dict[Locale, str] = Field(description="Title per locale.")
    description: dict[Locale, str] = Field(default_factory=dict)
    attributes: dict[str, Any] = Field(default_factory=dict)
    deleted: bool = False
    changed_at: AwareDatetime


class LifecycleStage(StrEnum):
    CONCEPT = "concept"
    DEVELOPMENT = "development"
    PRE_LAUNCH = "pre-launch"
    ACTIVE = "active"
    MATURE = "mature"
    PHASE_OUT = "phase-out"
    DISCONTINUED = "discontinued"


class LifecycleStageChanged(EventPayload):
    """A product (SKU) entered a lifecycle stage."""

    event_type: ClassVar[str] = "skuhub.lifecycle-stage-changed.v1"

    stage: LifecycleStage
    previous_stage: LifecycleStage | None = None
    stage_version: int = Field(ge=1)
    reason: str = Field(max_length=200)
    changed_at: AwareDatetime


class ChannelOfferChanged(EventPayload):
    """What one sales channel should show and sell for one SKU."""

    event_type: ClassVar[str] = "skuhub.channel-offer-changed.v1"

    channel: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    offer_version: int = Field(ge=1)
    locale: Locale
    title: str | None
    gtin: Gtin | None = None
    available: Decimal
    unit: UnitCode
    stage: LifecycleStage | None
    sellable: bool
    low_stock: bool
    changed_at: AwareDatetime


class ReplenishmentProposed(EventPayload):
    """A proposal to reorder a SKU at a location that fell to its reorder point."""

    event_type: ClassVar[str] = "skuhub.replenishment-proposed.v1"

    location: Gln
    unit: UnitCode
    available_to_promise: Decimal
    reorder_point: Decimal
    safety_stock: Decimal
    proposed_quantity: Decimal = Field(gt=0)
    proposed_at: AwareDatetime


ALL_EVENTS: tuple[type[EventPayload], ...] = (
    StockMoved,
    StockLevelChanged,
    ProductChanged,
    LifecycleStageChanged,
    ChannelOfferChanged,
    ReplenishmentProposed,
)
EVENTS_BY_TYPE: dict[str, type[EventPayload]] = {e.event_type: e for e in ALL_EVENTS}

__all__ = [
    "ALL_EVENTS",
    "EVENTS_BY_TYPE",
    "ChannelOfferChanged",
    "EventPayload",
    "LifecycleStage",
    "LifecycleStageChanged",
    "MovementKind",
    "ProductChanged",
    "ProductStatus",
    "ReplenishmentProposed",
    "StockLevelChanged",
    "StockMoved",
]

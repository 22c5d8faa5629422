"""Settings of the stock service (env prefix ``SKUHUB_``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from skuhub_runtime.settings import ServiceSettings


class StockSettings(ServiceSettings):
    service_name: str = "stock"
    http_port: int = 8102
    expiry_check_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="How often the service looks for lots that have expired and reservations "
        "whose time to live has ended: each is handled at most this long after its instant.",
    )
    review_interval_s: float = Field(
        default=2.0,
        gt=0,
        description="How often the places the ledger changed are reviewed against their "
        "reorder points (replenishment-proposed follows at most this long after a change).",
    )
    parked_gauge_interval_s: float = Field(
        default=5.0, gt=0, description="How often the parked-movement gauges are refreshed."
    )

    # Replenishment: what applies to a SKU at a location until a planner sets a policy for
    # it (PUT /v1/policies/{sku}/{location}). The lifecycle service's policy of the SKU
    # (inventory-policy-changed) replaces the default service level and review period, scales
    # the safety stock, and may hold replenishment (docs/stock.md, "Lifecycle policy").
    replenishment_lead_time_days: int = Field(
        default=7, ge=0, le=3650, description="Default supplier lead time L, in days."
    )
    replenishment_review_period_days: int = Field(
        default=7,
        ge=0,
        le=3650,
        description="Default review period R, in days (the SKU's lifecycle policy replaces it).",
    )
    replenishment_service_level: float = Field(
        default=0.95,
        ge=0.5,
        le=0.999,
        description="Default cycle service level: the probability of no stock-out in a cycle "
        "(the SKU's lifecycle policy replaces it).",
    )
    replenishment_order_multiple: Decimal = Field(
        default=Decimal(1), gt=0, description="Default pack size proposals are rounded up to."
    )
    replenishment_history_days: int = Field(
        default=91, ge=1, le=3650, description="Days of daily demand behind each estimate."
    )
    unknown_sku: Literal["accept", "quarantine", "reject"] = Field(
        default="accept",
        description="Movements of a SKU the catalog has not described: accept (the first "
        "unit seen becomes its stock unit), quarantine (parked, listed, applied once its "
        "product-changed arrives) or reject (dead letter, or 422 over HTTP).",
    )

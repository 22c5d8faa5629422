"""Settings of the stock service (env prefix ``SKUHUB_``)."""

from __future__ import annotations

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
    parked_gauge_interval_s: float = Field(
        default=5.0, gt=0, description="How often the parked-movement gauges are refreshed."
    )

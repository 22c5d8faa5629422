"""Settings of the stock service (env prefix ``SKUHUB_``)."""

from __future__ import annotations

from skuhub_runtime.settings import ServiceSettings


class StockSettings(ServiceSettings):
    service_name: str = "stock"
    http_port: int = 8102

"""Settings of the catalog service (env prefix ``SKUHUB_``)."""

from __future__ import annotations

from skuhub_runtime.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    service_name: str = "catalog"
    http_port: int = 8101

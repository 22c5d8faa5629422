"""Settings of the lifecycle service (env prefix ``SKUHUB_``)."""

from __future__ import annotations

from skuhub_runtime.settings import ServiceSettings


class LifecycleSettings(ServiceSettings):
    service_name: str = "lifecycle"
    http_port: int = 8103

"""Settings of the lifecycle service (env prefix ``SKUHUB_``)."""

from __future__ import annotations

from pydantic import Field

from skuhub_runtime.reconcile_settings import ReconcilingSettings


class LifecycleSettings(ReconcilingSettings):
    service_name: str = "lifecycle"
    http_port: int = 8103
    review_interval_s: float = Field(
        default=300.0,
        gt=0,
        description="Seconds between reviews (classes, policies, rules); "
        "POST /v1/reviews runs one at once.",
    )

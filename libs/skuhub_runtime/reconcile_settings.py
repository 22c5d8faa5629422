"""Settings of a service that reconciles its projection of stock with the ledger
(docs/kpis.md); its settings class derives from :class:`ReconcilingSettings`."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr

from skuhub_runtime.settings import ServiceSettings

MAX_SKUS_PER_QUERY = 500
"""What the stock service answers in one positions query."""


class ReconcilingSettings(ServiceSettings):
    """Settings of a service that reconciles a projection of stock with the ledger."""

    stock_url: str = Field(
        default="http://127.0.0.1:8102",
        description="Base URL of the stock service the reconciler asks for positions "
        "(SKUHUB_STOCK_URL; `skuhub dev` and the test stacks set it to their stock instance).",
    )
    stock_token: SecretStr | None = Field(
        default=None,
        description="API token the reconciler sends to the stock service (SKUHUB_STOCK_TOKEN); "
        "reading needs no scope. `skuhub dev` and the test stacks create one.",
    )
    reconcile: bool = Field(
        default=True, description="Run the continuous reconciler (docs/kpis.md)."
    )
    reconcile_batch: int = Field(
        default=200,
        ge=1,
        le=MAX_SKUS_PER_QUERY,
        description="SKUs per reconciler step: one stock query, two transactions. A step "
        "takes the event loop of this service and of stock for a few tens of milliseconds "
        "per 100 SKUs (docs/kpis.md, cost), so steps stay small.",
    )
    reconcile_interval_s: float = Field(
        default=30.0,
        gt=0,
        description="Pause between two passes of the reconciler (POST /v1/accuracy/passes "
        "starts one at once). Passes back to back took most of a core of the stock service "
        "on a 2-core machine at 1,000 movements/s (docs/kpis.md).",
    )
    reconcile_step_pause_s: float = Field(
        default=0.05,
        ge=0,
        description="Pause between two steps of a pass, so a long pass leaves the event "
        "loop and the stock service to the event flow.",
    )
    reconcile_grace_s: float = Field(
        default=5.0,
        ge=0,
        description="How long stock may be ahead of the projection (in flight) before the "
        "difference counts as a mismatch.",
    )
    stock_timeout_s: float = Field(
        default=10.0, gt=0, description="Longest wait for the stock service's answer."
    )

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.reconcile_grace_s)

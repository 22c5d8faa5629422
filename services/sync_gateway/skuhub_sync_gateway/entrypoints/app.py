"""Composition root of the sync gateway."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from skuhub_contracts.subscriptions import OFFER_PROJECTION
from skuhub_runtime.handling import ConsumerSpec
from skuhub_runtime.http import create_app as create_http_app
from skuhub_runtime.service import ServiceRuntime, run_service
from skuhub_sync_gateway.adapters.projection_repository import sql_unit_of_work
from skuhub_sync_gateway.entrypoints.handlers import project
from skuhub_sync_gateway.entrypoints.http import build_router, configured_channels
from skuhub_sync_gateway.settings import SyncGatewaySettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
CONSUMERS = [ConsumerSpec(OFFER_PROJECTION, project)]
"""What this service consumes and the handler of each subscription."""


def create_app(settings: SyncGatewaySettings | None = None) -> FastAPI:
    settings = settings or SyncGatewaySettings()
    runtime = ServiceRuntime(
        settings,
        unit_of_work=sql_unit_of_work,
        migrations_dir=MIGRATIONS,
        consumers=CONSUMERS,
    )
    return create_http_app(
        runtime,
        title="skuhub sync gateway",
        description="Per-channel offers: content, allocated availability and sellable state.",
        routers=[build_router(configured_channels(settings))],
    )


def main() -> None:
    settings = SyncGatewaySettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()

"""Composition root of the lifecycle service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from skuhub_contracts.subscriptions import LIFECYCLE_PRODUCTS
from skuhub_lifecycle.adapters.stage_repository import sql_unit_of_work
from skuhub_lifecycle.entrypoints.handlers import on_product_changed
from skuhub_lifecycle.entrypoints.http import ERROR_STATUSES, router
from skuhub_lifecycle.settings import LifecycleSettings
from skuhub_runtime.handling import ConsumerSpec
from skuhub_runtime.http import create_app as create_http_app
from skuhub_runtime.service import ServiceRuntime, run_service

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
CONSUMERS = [ConsumerSpec(LIFECYCLE_PRODUCTS, on_product_changed)]
"""What this service consumes and the handler of each subscription."""


def create_app(settings: LifecycleSettings | None = None) -> FastAPI:
    settings = settings or LifecycleSettings()
    runtime = ServiceRuntime(
        settings,
        unit_of_work=sql_unit_of_work,
        migrations_dir=MIGRATIONS,
        consumers=CONSUMERS,
    )
    return create_http_app(
        runtime,
        title="skuhub lifecycle",
        description="Lifecycle stage per SKU (concept to discontinued), following the catalog "
        "and operators.",
        routers=[router],
        errors=ERROR_STATUSES,
    )


def main() -> None:
    settings = LifecycleSettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()

"""Composition root of the lifecycle service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from skuhub_lifecycle.entrypoints.consumers import product_changed_consumer
from skuhub_lifecycle.entrypoints.http import router
from skuhub_lifecycle.settings import LifecycleSettings
from skuhub_runtime.http import create_app as create_http_app
from skuhub_runtime.service import ServiceRuntime, run_service

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: LifecycleSettings | None = None) -> FastAPI:
    settings = settings or LifecycleSettings()
    runtime = ServiceRuntime(
        settings, migrations_dir=MIGRATIONS, consumers=[product_changed_consumer(settings)]
    )
    return create_http_app(
        runtime,
        title="skuhub lifecycle",
        description="Lifecycle stage per SKU (concept to discontinued), following the catalog "
        "and operators.",
        routers=[router],
    )


def main() -> None:
    settings = LifecycleSettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()

"""Composition root of the catalog service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from skuhub_catalog.entrypoints.http import router
from skuhub_catalog.settings import CatalogSettings
from skuhub_runtime.http import create_app as create_http_app
from skuhub_runtime.service import ServiceRuntime, run_service

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    settings = settings or CatalogSettings()
    runtime = ServiceRuntime(settings, migrations_dir=MIGRATIONS, consumers=[])
    return create_http_app(
        runtime,
        title="skuhub catalog",
        description="Product information (PIM): products per SKU, published as product-changed "
        "snapshots.",
        routers=[router],
    )


def main() -> None:
    settings = CatalogSettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()

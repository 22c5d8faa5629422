"""Composition root of the catalog service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from skuhub_catalog.adapters.product_repository import sql_unit_of_work
from skuhub_catalog.adapters.tables import stock_positions
from skuhub_catalog.entrypoints import (
    attributes_http,
    categories_http,
    families_http,
    imports_http,
    product_models_http,
    workflow_http,
)
from skuhub_catalog.entrypoints.handlers import on_catalog_fact
from skuhub_catalog.entrypoints.http import ERROR_STATUSES, router
from skuhub_catalog.settings import CatalogSettings
from skuhub_contracts.subscriptions import CATALOG_PROJECTION
from skuhub_runtime.dead_letters_http import dead_letters_router
from skuhub_runtime.handling import ConsumerSpec
from skuhub_runtime.http import create_app as create_http_app
from skuhub_runtime.reconcile_store import ProjectionSpec
from skuhub_runtime.reconciler import accuracy_router, projection_reconciler
from skuhub_runtime.service import ServiceRuntime, run_service

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
CONSUMERS = [ConsumerSpec(CATALOG_PROJECTION, on_catalog_fact, gather_ms=200)]
"""What this service consumes and the handler of each subscription. Availability and stage
beside a product's content may be up to 200 ms older, for larger batches (docs/runtime.md,
"Batches")."""
STOCK_PROJECTION = ProjectionSpec(
    stock_positions,
    {q: q for q in ("on_hand", "quality_hold", "expired", "reserved", "available_to_promise")},
    version="position_version",
)
"""Its projection of stock-level-changed, reconciled with the ledger (docs/kpis.md)."""


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    settings = settings or CatalogSettings()
    runtime = ServiceRuntime(
        settings,
        unit_of_work=sql_unit_of_work,
        migrations_dir=MIGRATIONS,
        consumers=CONSUMERS,
        workers=projection_reconciler("catalog", STOCK_PROJECTION, settings),
    )
    app = create_http_app(
        runtime,
        title="skuhub catalog",
        description="Product information (PIM): product models and products per SKU, published "
        "as product-changed snapshots resolved through their models.",
        routers=[
            router,
            product_models_http.router,
            categories_http.router,
            families_http.router,
            attributes_http.router,
            workflow_http.router,
            imports_http.router,
            accuracy_router,
            dead_letters_router,
        ],
        errors=ERROR_STATUSES,
    )
    app.state.catalog_channels = settings.channel_locales()
    app.state.catalog_settings = settings
    app.state.import_tasks = set()  # running import jobs, held until they end
    return app


def main() -> None:
    settings = CatalogSettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()

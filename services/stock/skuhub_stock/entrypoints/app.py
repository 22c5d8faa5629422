"""Composition root of the stock service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from skuhub_runtime.dead_letters_http import dead_letters_router
from skuhub_runtime.http import create_app as create_http_app
from skuhub_runtime.service import ServiceRuntime, run_service
from skuhub_stock.adapters.ledger_repository import sql_unit_of_work
from skuhub_stock.entrypoints import commands_http, cycle_counts_http, replenishment_http
from skuhub_stock.entrypoints.handlers import StockHandlers, consumers
from skuhub_stock.entrypoints.http import router
from skuhub_stock.entrypoints.reservation_desk import ReservationDesk
from skuhub_stock.entrypoints.schedules import periodic_jobs
from skuhub_stock.settings import StockSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
CONSUMERS = consumers(StockHandlers())
"""What this service consumes and the handler of each subscription (default settings)."""


def create_app(settings: StockSettings | None = None) -> FastAPI:
    settings = settings or StockSettings()
    runtime = ServiceRuntime(
        settings,
        unit_of_work=sql_unit_of_work,
        migrations_dir=MIGRATIONS,
        consumers=consumers(StockHandlers(settings.unknown_sku)),
        periodic=periodic_jobs(settings),
    )
    app = create_http_app(
        runtime,
        title="skuhub stock",
        description="Inventory ledger per SKU x location (GLN) x lot: movements in, positions out; "
        "replenishment proposals and policies per SKU x location.",
        routers=[
            router,
            commands_http.router,
            cycle_counts_http.router,
            replenishment_http.router,
            dead_letters_router,
        ],
        errors={**commands_http.ERROR_STATUSES, **replenishment_http.ERROR_STATUSES},
    )
    app.state.reservation_desk = ReservationDesk(runtime)
    return app


def main() -> None:
    settings = StockSettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()

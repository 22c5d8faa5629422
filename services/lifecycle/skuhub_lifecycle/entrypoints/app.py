"""Composition root of the lifecycle service."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from skuhub_contracts.subscriptions import LIFECYCLE_PRODUCTS, LIFECYCLE_STOCK
from skuhub_lifecycle.adapters.tables import COUNTER_COLUMNS, positions
from skuhub_lifecycle.adapters.unit_of_work import sql_unit_of_work
from skuhub_lifecycle.entrypoints import rules_http
from skuhub_lifecycle.entrypoints.handlers import (
    on_product_changed,
    on_stock_level_changed,
    run_review,
)
from skuhub_lifecycle.entrypoints.http import ERROR_STATUSES, router
from skuhub_lifecycle.service_layer.ports import LifecycleUnitOfWork
from skuhub_lifecycle.settings import LifecycleSettings
from skuhub_runtime.dead_letters_http import dead_letters_router
from skuhub_runtime.handling import ConsumerSpec, Decision
from skuhub_runtime.http import create_app as create_http_app
from skuhub_runtime.periodic import PeriodicJob
from skuhub_runtime.reconcile_store import ProjectionSpec
from skuhub_runtime.reconciler import accuracy_router, projection_reconciler
from skuhub_runtime.service import ServiceRuntime, run_service

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
CONSUMERS: list[ConsumerSpec[Any, LifecycleUnitOfWork]] = [
    ConsumerSpec(LIFECYCLE_PRODUCTS, on_product_changed),
    ConsumerSpec(LIFECYCLE_STOCK, on_stock_level_changed, gather_ms=200),
]
"""What this service consumes and the handler of each subscription. Network stock and
flows may be up to 200 ms older, for larger batches; products are not held back (a
new product's first stage is waited for)."""
STOCK_PROJECTION = ProjectionSpec(
    positions, {q: q for q in ("on_hand", "reserved", *COUNTER_COLUMNS)}
)
"""Its projection of stock-level-changed, reconciled with the ledger (docs/kpis.md); a
row's location ATP is as of its own report, so only the lot's own figures compare."""


async def _review(uow: LifecycleUnitOfWork, now: datetime) -> Decision[bool]:
    decided = await run_review(uow, now)
    return Decision(False, emitted=decided.emitted)


def create_app(settings: LifecycleSettings | None = None) -> FastAPI:
    settings = settings or LifecycleSettings()
    runtime = ServiceRuntime(
        settings,
        unit_of_work=sql_unit_of_work,
        migrations_dir=MIGRATIONS,
        consumers=CONSUMERS,
        periodic=[PeriodicJob("lifecycle-review", _review, settings.review_interval_s)],
        workers=projection_reconciler("lifecycle", STOCK_PROJECTION, settings),
    )
    return create_http_app(
        runtime,
        title="skuhub lifecycle",
        description="Lifecycle stage per SKU and product (concept to retired) behind gates, "
        "SKU metrics from live stock events, ABC/XYZ classes, and the inventory policy "
        "each stage and class implies.",
        routers=[router, rules_http.router, accuracy_router, dead_letters_router],
        errors=ERROR_STATUSES,
    )


def main() -> None:
    settings = LifecycleSettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()

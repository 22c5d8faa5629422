"""Composition root of the sync gateway."""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from skuhub_contracts.subscriptions import OFFER_PROJECTION
from skuhub_runtime.dead_letters_http import dead_letters_router
from skuhub_runtime.handling import ConsumerSpec, decided
from skuhub_runtime.http import create_app as create_http_app
from skuhub_runtime.periodic import PeriodicJob
from skuhub_runtime.reconciler import accuracy_router
from skuhub_runtime.service import ServiceRuntime, Worker, run_service
from skuhub_sync_gateway.adapters.unit_of_work import sql_unit_of_work
from skuhub_sync_gateway.entrypoints import feed_http, http, kpis_http, trace_http, webhooks_http
from skuhub_sync_gateway.entrypoints.feed_retention import retention_job
from skuhub_sync_gateway.entrypoints.handlers import project, rebuild
from skuhub_sync_gateway.entrypoints.reconciler import reconciler
from skuhub_sync_gateway.entrypoints.webhook_workers import WebhookWorkers
from skuhub_sync_gateway.service_layer.channels import UnsafeChannelsError, seed_channels
from skuhub_sync_gateway.service_layer.projection import GatewayUnitOfWork
from skuhub_sync_gateway.settings import SyncGatewaySettings

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
CONSUMERS: list[ConsumerSpec[Any, GatewayUnitOfWork]] = [ConsumerSpec(OFFER_PROJECTION, project)]
"""What this service consumes and the handler of each subscription."""


def _seed(settings: SyncGatewaySettings) -> Worker[GatewayUnitOfWork]:
    seeds = [c.to_channel() for c in settings.channels]

    async def run(runtime: ServiceRuntime[GatewayUnitOfWork]) -> None:
        now = datetime.now(UTC)
        try:
            await runtime.execute(lambda uow: decided(seed_channels(uow, seeds, now)))
        except UnsafeChannelsError as refused:
            # The stored channels win; trying again would refuse again (docs/sync-gateway.md).
            log.error("SKUHUB_CHANNELS not applied beside the stored channels: %s", refused)

    return Worker("channel-seed", run, once=True)


def create_app(settings: SyncGatewaySettings | None = None) -> FastAPI:
    settings = settings or SyncGatewaySettings()
    runtime = ServiceRuntime(
        settings,
        unit_of_work=sql_unit_of_work,
        migrations_dir=MIGRATIONS,
        consumers=CONSUMERS,
        periodic=[
            PeriodicJob(
                "offer-rebuild",
                functools.partial(rebuild, batch=settings.rebuild_batch),
                settings.offer_rebuild_interval_s,
                # Each step holds the offer writers' lock: the consumer gets a turn between.
                catch_up_pause_s=0.05,
            ),
            retention_job(settings),
        ],
        workers=[
            _seed(settings),
            *WebhookWorkers(settings, sql_unit_of_work).workers(),
            *([reconciler(settings)] if settings.reconcile else []),
        ],
    )
    return create_http_app(
        runtime,
        title="skuhub sync gateway",
        description="Channels as data; per-channel offers (content in the channel's locale "
        "chain, allocated availability, sellable state) stored with versions and delivered "
        "by Kafka, change feed and signed webhooks.",
        # kpis_http first: its .../offers/{sku}/lineage is matched before .../offers/{sku}.
        routers=[
            kpis_http.router,
            http.router,
            feed_http.router,
            webhooks_http.router,
            trace_http.router,
            accuracy_router,
            dead_letters_router,
        ],
        errors=http.ERROR_STATUSES | feed_http.ERROR_STATUSES | webhooks_http.ERROR_STATUSES,
    )


def main() -> None:
    settings = SyncGatewaySettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()

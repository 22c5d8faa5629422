"""Periodic job: delete the offer change log's changes older than the retention period."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from skuhub_runtime.handling import Decision
from skuhub_runtime.periodic import PeriodicJob
from skuhub_sync_gateway.service_layer.feed import prune_feed
from skuhub_sync_gateway.service_layer.projection import GatewayUnitOfWork
from skuhub_sync_gateway.settings import SyncGatewaySettings


async def prune(
    uow: GatewayUnitOfWork, now: datetime, *, retention: timedelta, batch: int
) -> Decision[bool]:
    return Decision(await prune_feed(uow, now, retention=retention, batch=batch))


def retention_job(settings: SyncGatewaySettings) -> PeriodicJob[GatewayUnitOfWork]:
    return PeriodicJob(
        "feed-retention",
        functools.partial(
            prune,
            retention=timedelta(days=settings.feed_retention_days),
            batch=settings.feed_retention_batch,
        ),
        settings.feed_retention_interval_s,
        # Deleting a backlog must not take the event loop from the consumers.
        catch_up_pause_s=0.05,
    )

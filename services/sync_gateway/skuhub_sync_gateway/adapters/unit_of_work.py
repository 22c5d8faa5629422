"""The gateway's repositories on one connection (and its transaction)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_sync_gateway.adapters.accuracy_repository import SqlAccuracyRepository
from skuhub_sync_gateway.adapters.channel_repository import SqlChannelRepository
from skuhub_sync_gateway.adapters.feed_repository import SqlFeedRepository
from skuhub_sync_gateway.adapters.offer_repository import SqlOfferRepository
from skuhub_sync_gateway.adapters.projection_repository import SqlProjectionRepository
from skuhub_sync_gateway.adapters.webhook_repository import SqlWebhookRepository


@dataclass(frozen=True, slots=True)
class SqlUnitOfWork:
    projection: SqlProjectionRepository
    channels: SqlChannelRepository
    offers: SqlOfferRepository
    feed: SqlFeedRepository
    accuracy: SqlAccuracyRepository
    webhooks: SqlWebhookRepository


def sql_unit_of_work(conn: AsyncConnection) -> SqlUnitOfWork:
    return SqlUnitOfWork(
        projection=SqlProjectionRepository(conn),
        channels=SqlChannelRepository(conn),
        offers=SqlOfferRepository(conn),
        feed=SqlFeedRepository(conn),
        accuracy=SqlAccuracyRepository(conn),
        webhooks=SqlWebhookRepository(conn),
    )

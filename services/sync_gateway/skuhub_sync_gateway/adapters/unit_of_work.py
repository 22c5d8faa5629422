"""The gateway's repositories on one connection (and its transaction)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_sync_gateway.adapters.channel_repository import SqlChannelRepository
from skuhub_sync_gateway.adapters.offer_repository import SqlOfferRepository
from skuhub_sync_gateway.adapters.projection_repository import SqlProjectionRepository


@dataclass(frozen=True, slots=True)
class SqlUnitOfWork:
    projection: SqlProjectionRepository
    channels: SqlChannelRepository
    offers: SqlOfferRepository


def sql_unit_of_work(conn: AsyncConnection) -> SqlUnitOfWork:
    return SqlUnitOfWork(
        projection=SqlProjectionRepository(conn),
        channels=SqlChannelRepository(conn),
        offers=SqlOfferRepository(conn),
    )

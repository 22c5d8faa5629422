"""Channels in PostgreSQL; a change replaces the row only at the version the caller read."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_sync_gateway.adapters.tables import channels, offer_changes, offers
from skuhub_sync_gateway.domain.channels import (
    Allocation,
    AllocationRule,
    Channel,
    MerchantFeed,
)


class SqlChannelRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def all(self) -> list[Channel]:
        rows = await self._conn.execute(sa.select(channels).order_by(channels.c.code))
        return [_channel(r) for r in rows.mappings()]

    async def get(self, code: str) -> Channel | None:
        row = (
            (await self._conn.execute(sa.select(channels).where(channels.c.code == code)))
            .mappings()
            .first()
        )
        return _channel(row) if row else None

    async def add(self, channel: Channel, now: datetime) -> bool:
        written = await self._conn.execute(
            insert(channels)
            .values(**_row(channel), created_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=["code"])
            .returning(channels.c.code)
        )
        return written.first() is not None

    async def replace(self, channel: Channel, now: datetime) -> Channel | None:
        written = await self._conn.execute(
            sa.update(channels)
            .where(channels.c.code == channel.code, channels.c.version == channel.version - 1)
            .values(**_row(channel), updated_at=now)
            .returning(channels.c.code)
        )
        return channel if written.first() is not None else None

    async def remove(self, code: str) -> bool:
        await self._conn.execute(sa.delete(offers).where(offers.c.channel == code))
        await self._conn.execute(sa.delete(offer_changes).where(offer_changes.c.channel == code))
        gone = await self._conn.execute(
            sa.delete(channels).where(channels.c.code == code).returning(channels.c.code)
        )
        return gone.first() is not None


def _row(channel: Channel) -> dict[str, Any]:
    a = channel.allocation
    feed = channel.merchant_feed
    return {
        "code": channel.code,
        "name": channel.name,
        "locales": list(channel.locales),
        "scope": channel.scope,
        "currency": channel.currency,
        "locations": sorted(channel.locations),
        "allocation": {
            "rule": a.rule.value,
            "share": str(a.share),
            "priority": a.priority,
            "cap": None if a.cap is None else str(a.cap),
        },
        "safety_buffer": channel.safety_buffer,
        "low_stock_threshold": channel.low_stock_threshold,
        "back_orders": channel.back_orders,
        "merchant_feed": None
        if feed is None
        else {
            "link_template": feed.link_template,
            "price_attribute": feed.price_attribute,
            "brand_attribute": feed.brand_attribute,
        },
        "version": channel.version,
    }


def _channel(row: sa.RowMapping) -> Channel:
    a = row["allocation"]
    feed = row["merchant_feed"]
    return Channel(
        code=row["code"],
        name=row["name"],
        locales=tuple(row["locales"]),
        scope=row["scope"],
        currency=row["currency"],
        locations=frozenset(row["locations"]),
        allocation=Allocation(
            rule=AllocationRule(a["rule"]),
            share=Decimal(a["share"]),
            priority=a["priority"],
            cap=None if a["cap"] is None else Decimal(a["cap"]),
        ),
        safety_buffer=row["safety_buffer"],
        low_stock_threshold=row["low_stock_threshold"],
        back_orders=row["back_orders"],
        merchant_feed=MerchantFeed(**feed) if feed else None,
        version=row["version"],
    )

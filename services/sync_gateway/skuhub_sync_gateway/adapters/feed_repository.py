"""The change feed's reads of the offer change log and the current offers, and the log's
retention, in PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_sync_gateway.adapters.tables import offer_changes, offers
from skuhub_sync_gateway.service_layer.feed import FeedChange

_BEYOND = 2**63 - 1


class SqlFeedRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def changes(self, channel: str, after: int, limit: int) -> list[FeedChange]:
        # The offer as PostgreSQL prints it: the page is written out without parsing it.
        rows = await self._conn.execute(
            sa.select(
                offer_changes.c.seq,
                offer_changes.c.sku,
                offer_changes.c.offer_version,
                sa.cast(offer_changes.c.offer, sa.Text).label("offer"),
            )
            .where(offer_changes.c.channel == channel, offer_changes.c.seq > after)
            .order_by(offer_changes.c.seq)
            .limit(limit)
        )
        return [FeedChange(r.seq, r.sku, r.offer_version, r.offer) for r in rows]

    async def lost(self, channel: str, after: int, before: int | None) -> bool:
        # Retention deletes the log from its oldest change on, so every change below the
        # oldest kept one is gone; a current offer's own change among them was lost to a
        # reader after `after`. Searched only when such a change can exist at all.
        oldest = sa.select(sa.func.min(offer_changes.c.seq)).scalar_subquery()
        bound = sa.func.least(
            sa.func.coalesce(oldest, _BEYOND), _BEYOND if before is None else before
        )
        missing = sa.exists().where(
            offers.c.channel == channel, offers.c.seq > after, offers.c.seq < bound
        )
        found = await self._conn.execute(
            sa.select(
                sa.case((sa.literal(after + 1, sa.BigInteger) >= bound, sa.false()), else_=missing)
            )
        )
        return bool(found.scalar_one())

    async def head(self, channel: str) -> int:
        logged = await self._conn.execute(
            sa.select(sa.func.max(offer_changes.c.seq)).where(offer_changes.c.channel == channel)
        )
        newest = logged.scalar_one_or_none()
        if newest is None:  # nothing retained: the offers still carry their changes' seq
            stored = await self._conn.execute(
                sa.select(sa.func.max(offers.c.seq)).where(offers.c.channel == channel)
            )
            newest = stored.scalar_one_or_none()
        return int(newest or 0)

    async def current(self, channel: str, after_sku: str, limit: int) -> list[tuple[str, str]]:
        rows = await self._conn.execute(
            sa.select(offers.c.sku, sa.cast(offers.c.offer, sa.Text).label("offer"))
            .where(offers.c.channel == channel, offers.c.sku > after_sku)
            .order_by(offers.c.sku)
            .limit(limit)
        )
        return [(r.sku, r.offer) for r in rows]

    async def prune(self, older_than: datetime, limit: int) -> int:
        # The oldest changes in seq order, up to the first one young enough: the log stays
        # a suffix of itself, which `lost` relies on.
        oldest = (
            sa.select(offer_changes.c.seq, offer_changes.c.changed_at)
            .order_by(offer_changes.c.seq)
            .limit(limit)
            .cte("oldest")
        )
        kept = (
            sa.select(sa.func.min(oldest.c.seq))
            .where(oldest.c.changed_at >= older_than)
            .scalar_subquery()
        )
        doomed = sa.select(oldest.c.seq).where(oldest.c.seq < sa.func.coalesce(kept, _BEYOND))
        gone = await self._conn.execute(
            sa.delete(offer_changes)
            .where(offer_changes.c.seq.in_(doomed))
            .returning(offer_changes.c.seq)
        )
        return len(gone.all())

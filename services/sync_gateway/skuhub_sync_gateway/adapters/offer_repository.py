"""Stored offers, the offer change log and the rebuild queue in PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_runtime.bulk import Among, BulkInsert, update_on_conflict
from skuhub_sync_gateway.adapters.tables import (
    offer_changes,
    offer_rebuilds,
    offers,
    webhook_deliveries,
)
from skuhub_sync_gateway.adapters.webhook_repository import message_id
from skuhub_sync_gateway.service_layer.offers import (
    OfferChange,
    StoredOffer,
    TracedChange,
    TracedDelivery,
)

OFFER_WRITERS_LOCK = 0x5C0FFE4
"""Advisory lock key held by the transaction that writes offers (see ``lock``)."""
REBUILD = 1


_CHANGE = (
    "channel",
    "sku",
    "offer_version",
    "offer",
    "cause",
    "origin_time",
    "changed_at",
    "seq",
)
_SAVE_OFFERS = BulkInsert(
    offers,
    (*_CHANGE, "fingerprint", "lineage"),
    on_conflict=update_on_conflict(("channel", "sku"), (*_CHANGE[2:], "fingerprint", "lineage")),
)
_LOG_CHANGES = BulkInsert(offer_changes, (*_CHANGE, "traceparent", "caused_by"))
_OF_SKUS = Among([offers.c.sku], "skus")
_FINGERPRINTS = sa.select(
    offers.c.channel, offers.c.sku, offers.c.offer_version, offers.c.fingerprint
).where(_OF_SKUS.clause)


class SqlOfferRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def lock(self) -> None:
        # Held to commit: versions read after it are the latest, and change-log numbers are
        # taken in commit order, so a feed reader past seq N never misses a change below N.
        await self._conn.execute(sa.select(sa.func.pg_advisory_xact_lock(OFFER_WRITERS_LOCK)))

    async def fingerprints(self, skus: Sequence[str]) -> dict[tuple[str, str], tuple[int, str]]:
        if not skus:
            return {}
        rows = await self._conn.execute(_FINGERPRINTS, _OF_SKUS.keys(list(skus)))
        return {(r.channel, r.sku): (r.offer_version, r.fingerprint) for r in rows}

    async def save(self, changes: Sequence[OfferChange], now: datetime) -> None:
        if not changes:
            return
        numbers = await self._conn.execute(
            sa.select(sa.func.nextval("offer_change_seq")).select_from(
                sa.func.generate_series(1, len(changes))
            )
        )
        seqs = sorted(numbers.scalars())
        rows = [
            (
                c.channel,
                c.sku,
                c.event.offer_version,
                c.event.model_dump(mode="json"),
                c.event.cause.value,
                c.origin_time,
                now,
                seq,
            )
            for c, seq in zip(changes, seqs, strict=True)
        ]
        await _SAVE_OFFERS.execute(
            self._conn,
            [(*row, c.fingerprint, c.lineage) for row, c in zip(rows, changes, strict=True)],
        )
        await _LOG_CHANGES.execute(
            self._conn,
            [(*row, c.traceparent, c.caused_by) for row, c in zip(rows, changes, strict=True)],
        )

    async def get(self, channel: str, sku: str) -> StoredOffer | None:
        row = (
            (
                await self._conn.execute(
                    sa.select(offers).where(offers.c.channel == channel, offers.c.sku == sku)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return StoredOffer(
            channel=row["channel"],
            sku=row["sku"],
            offer_version=row["offer_version"],
            offer=row["offer"],
            lineage=row["lineage"],
            cause=row["cause"],
            origin_time=row["origin_time"],
            changed_at=row["changed_at"],
            seq=row["seq"],
        )

    async def request_rebuild(self, now: datetime) -> None:
        new = insert(offer_rebuilds).values(id=REBUILD, after_sku="", requested_at=now)
        await self._conn.execute(
            new.on_conflict_do_update(
                index_elements=["id"], set_={"after_sku": "", "requested_at": now}
            )
        )

    async def rebuild_cursor(self) -> str | None:
        found = await self._conn.execute(
            sa.select(offer_rebuilds.c.after_sku).where(offer_rebuilds.c.id == REBUILD)
        )
        return found.scalar_one_or_none()

    async def advance_rebuild(self, after_sku: str | None) -> None:
        if after_sku is None:
            await self._conn.execute(
                sa.delete(offer_rebuilds).where(offer_rebuilds.c.id == REBUILD)
            )
        else:
            await self._conn.execute(
                sa.update(offer_rebuilds)
                .where(offer_rebuilds.c.id == REBUILD)
                .values(after_sku=after_sku)
            )

    async def changes_of(self, sku: str, limit: int) -> list[TracedChange]:
        c = offer_changes
        rows = (
            await self._conn.execute(
                # Everything but the offer itself, which a trace does not show.
                sa.select(
                    c.c.seq,
                    c.c.channel,
                    c.c.sku,
                    c.c.offer_version,
                    c.c.cause,
                    c.c.caused_by,
                    c.c.origin_time,
                    c.c.changed_at,
                    c.c.traceparent,
                )
                .where(c.c.sku == sku)
                .order_by(c.c.seq.desc())
                .limit(limit)
            )
        ).all()
        if not rows:
            return []
        d = webhook_deliveries
        sent = await self._conn.execute(
            sa.select(
                d.c.id,
                d.c.subscription_id,
                d.c.channel,
                d.c.offer_version,
                d.c.status,
                d.c.attempts,
                d.c.created_at,
                d.c.delivered_at,
            )
            .where(d.c.sku == sku, d.c.seq.in_([r.seq for r in rows]))
            .order_by(d.c.created_at)
        )
        deliveries: dict[tuple[str, int], list[TracedDelivery]] = {}
        for r in sent:
            deliveries.setdefault((r.channel, r.offer_version), []).append(
                TracedDelivery(
                    subscription_id=str(r.subscription_id),
                    webhook_id=message_id(r.id),
                    status=r.status,
                    attempts=r.attempts,
                    created_at=r.created_at,
                    delivered_at=r.delivered_at,
                )
            )
        return [
            TracedChange(
                channel=r.channel,
                sku=r.sku,
                offer_version=r.offer_version,
                cause=r.cause,
                caused_by=r.caused_by,
                origin_time=r.origin_time,
                changed_at=r.changed_at,
                traceparent=r.traceparent,
                deliveries=deliveries.get((r.channel, r.offer_version), []),
            )
            for r in rows
        ]

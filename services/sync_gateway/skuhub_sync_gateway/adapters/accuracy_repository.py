"""The offers' verdicts and the reads of the reconciler and the KPIs, in PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_runtime.reconcile import Claim, PositionKey, Standing, Tally, Verdict
from skuhub_runtime.reconcile_store import (
    awaited_json,
    awaited_of,
    outside,
    tally_of,
    to_write,
)
from skuhub_sync_gateway.adapters.tables import (
    channels,
    offer_changes,
    offer_checks,
    offers,
    positions,
    products,
)
from skuhub_sync_gateway.service_layer.accuracy import (
    LatencyStats,
    OfferVerdict,
    StoredAvailability,
)

_KEY = ("channel", "sku")


class SqlAccuracyRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def skus_after(self, after: str, limit: int) -> list[str]:
        # Each side walks its own index from ``after`` and stops at ``limit``.
        with_offers = (
            sa.select(offers.c.sku)
            .where(offers.c.sku > after)
            .group_by(offers.c.sku)
            .order_by(offers.c.sku)
            .limit(limit)
        )
        with_positions = (
            sa.select(positions.c.sku)
            .where(positions.c.sku > after)
            .group_by(positions.c.sku)
            .order_by(positions.c.sku)
            .limit(limit)
        )
        both = sa.union(with_offers.subquery().select(), with_positions.subquery().select())
        sku = both.subquery().c.sku
        rows = await self._conn.execute(sa.select(sku).order_by(sku).limit(limit))
        return list(rows.scalars())

    async def offers_of(self, skus: Sequence[str]) -> dict[str, dict[str, StoredAvailability]]:
        if not skus:
            return {}
        rows = await self._conn.execute(
            sa.select(
                offers.c.channel,
                offers.c.sku,
                offers.c.offer_version,
                offers.c.offer["available"].astext.label("available"),
            ).where(offers.c.sku.in_(sorted(set(skus))))
        )
        found: dict[str, dict[str, StoredAvailability]] = {}
        for r in rows:
            found.setdefault(r.sku, {})[r.channel] = StoredAvailability(
                r.offer_version, Decimal(r.available)
            )
        return found

    async def known_products(self, skus: Sequence[str]) -> set[str]:
        if not skus:
            return set()
        rows = await self._conn.execute(
            sa.select(products.c.sku).where(products.c.sku.in_(sorted(set(skus))))
        )
        return set(rows.scalars())

    async def previous(self, skus: Sequence[str]) -> dict[tuple[str, str], Standing]:
        if not skus:
            return {}
        t = offer_checks
        rows = await self._conn.execute(
            sa.select(t.c.channel, t.c.sku, t.c.verdict, t.c.since, t.c.reason, t.c.awaited).where(
                t.c.sku.in_(sorted(set(skus)))
            )
        )
        return {
            (r.channel, r.sku): Standing(
                Verdict(r.verdict), r.since, r.reason, awaited_of(r.awaited)
            )
            for r in rows
        }

    async def replace(
        self,
        verdicts: Sequence[OfferVerdict],
        previous: Mapping[tuple[str, str], Standing],
        now: datetime,
    ) -> None:
        changed = [v for v in verdicts if to_write(v.standing, previous.get((v.channel, v.sku)))]
        if changed:
            new = insert(offer_checks)
            await self._conn.execute(
                new.on_conflict_do_update(
                    index_elements=list(_KEY),
                    set_={
                        c.name: new.excluded[c.name]
                        for c in offer_checks.columns
                        if c.name not in _KEY
                    },
                ),
                [_row(v, now) for v in sorted(changed, key=lambda v: (v.channel, v.sku))],
            )
        gone = sorted(set(previous) - {(v.channel, v.sku) for v in verdicts})
        if gone:
            t = offer_checks
            await self._conn.execute(sa.delete(t).where(sa.tuple_(t.c.channel, t.c.sku).in_(gone)))

    async def forget_outside(self, claim: Claim) -> None:
        await self._conn.execute(sa.delete(offer_checks).where(outside(offer_checks, claim)))

    async def tallies(self) -> dict[str, Tally]:
        t = offer_checks
        rows = await self._conn.execute(
            sa.select(t.c.channel, t.c.verdict, sa.func.count(), sa.func.min(t.c.since))
            .group_by(t.c.channel, t.c.verdict)
            .order_by(t.c.channel)
        )
        by_channel: dict[str, list[tuple[Verdict, int, datetime]]] = {}
        for channel, verdict, count, since in rows:
            by_channel.setdefault(channel, []).append((Verdict(verdict), count, since))
        return {channel: tally_of(counts) for channel, counts in by_channel.items()}

    async def mismatches(self, channel: str | None, limit: int) -> list[OfferVerdict]:
        t = offer_checks
        statement = sa.select(t).where(t.c.verdict == Verdict.MISMATCH.value)
        if channel is not None:
            statement = statement.where(t.c.channel == channel)
        rows = await self._conn.execute(
            statement.order_by(t.c.since, t.c.channel, t.c.sku).limit(limit)
        )
        return [_verdict(r) for r in rows.mappings()]

    async def latency(self, since: datetime, sample: int) -> list[LatencyStats]:
        # The newest ``sample`` changes of each channel (the (channel, seq) index), those
        # made since ``since``: bounded work whatever the log's size.
        seconds = sa.func.extract("epoch", offer_changes.c.changed_at - offer_changes.c.origin_time)
        recent = (
            sa.select(
                offer_changes.c.cause,
                sa.cast(sa.func.greatest(seconds, 0), sa.Float).label("s"),
                offer_changes.c.changed_at,
            )
            .where(offer_changes.c.channel == channels.c.code)
            .order_by(offer_changes.c.seq.desc())
            .limit(sample)
            .lateral("recent")
        )
        quantiles = sa.func.percentile_cont(
            sa.literal_column("ARRAY[0.5, 0.9, 0.99]::float8[]")
        ).within_group(recent.c.s)
        rows = await self._conn.execute(
            sa.select(
                channels.c.code,
                recent.c.cause,
                sa.func.count(),
                quantiles,
                sa.func.max(recent.c.s),
            )
            .select_from(channels.join(recent, sa.true()))
            .where(recent.c.changed_at >= since)
            .group_by(channels.c.code, recent.c.cause)
            .order_by(channels.c.code, recent.c.cause)
        )
        return [
            LatencyStats(
                channel=code,
                cause=cause,
                count=count,
                p50_s=float(q[0]),
                p90_s=float(q[1]),
                p99_s=float(q[2]),
                max_s=float(top),
            )
            for code, cause, count, q, top in rows
        ]


def _versions_json(versions: Mapping[PositionKey, int]) -> list[list[Any]]:
    return awaited_json(versions)


def _row(v: OfferVerdict, now: datetime) -> dict[str, Any]:
    return {
        "channel": v.channel,
        "sku": v.sku,
        "verdict": v.standing.verdict.value,
        "offer_version": v.offer_version,
        "offer_available": v.offer_available,
        "expected_available": v.expected_available,
        "local_versions": _versions_json(v.local_versions),
        "stock_versions": _versions_json(v.stock_versions),
        "reason": v.standing.reason,
        "awaited": awaited_json(v.standing.awaited),
        "since": v.standing.since,
        "checked_at": now,
    }


def _verdict(row: sa.RowMapping) -> OfferVerdict:
    return OfferVerdict(
        channel=row["channel"],
        sku=row["sku"],
        standing=Standing(
            Verdict(row["verdict"]), row["since"], row["reason"], awaited_of(row["awaited"])
        ),
        offer_version=row["offer_version"],
        offer_available=row["offer_available"],
        expected_available=row["expected_available"],
        local_versions=awaited_of(row["local_versions"]),
        stock_versions=awaited_of(row["stock_versions"]),
        checked_at=row["checked_at"],
    )

"""Webhook subscriptions and deliveries in PostgreSQL.

A delivery's id is a UUID in the table and ``msg_<32 hex>`` everywhere else (the
webhook-id header, the delivery log).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_runtime.bulk import BulkInsert
from skuhub_sync_gateway.adapters.tables import (
    offer_changes,
    webhook_deliveries,
    webhook_subscriptions,
)
from skuhub_sync_gateway.domain.webhooks import (
    DeadLetter,
    DeliveryStatus,
    Health,
    LoggedChange,
    Subscription,
    SubscriptionStatus,
)
from skuhub_sync_gateway.service_layer.webhooks import (
    AttemptRecord,
    Backlog,
    ClaimedDelivery,
    DeliveryView,
    FanOutCursor,
)

MESSAGE_PREFIX = "msg_"
_WAITING = [DeliveryStatus.PENDING.value, DeliveryStatus.RETRYING.value]
s = webhook_subscriptions
d = webhook_deliveries


def _is(column: sa.ColumnElement[str], *statuses: str) -> sa.ColumnElement[bool]:
    """``column IN ('a', 'b')`` with the values in the SQL text: the partial indexes on
    waiting and dead deliveries serve a statement only when its condition says so with
    constants, also in a prepared statement's generic plan."""
    return column.in_([sa.literal_column(f"'{status}'") for status in statuses])


def _waiting(table: sa.TableClause | sa.Table | Any = d) -> sa.ColumnElement[bool]:
    return _is(table.c.status, *_WAITING)


def _dead() -> sa.ColumnElement[bool]:
    return _is(d.c.status, DeliveryStatus.DEAD.value)


def message_id(value: uuid.UUID) -> str:
    return MESSAGE_PREFIX + value.hex


def delivery_uuid(message: str) -> uuid.UUID | None:
    """The table's id of a ``msg_…`` id; None when it is none of ours."""
    if not message.startswith(MESSAGE_PREFIX):
        return None
    try:
        return uuid.UUID(hex=message[len(MESSAGE_PREFIX) :])
    except ValueError:
        return None


def _subscription_uuid(subscription_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(subscription_id)
    except ValueError:
        return None


# Behind: a cursor below its channel's newest change. The newest change is one step down an
# index, where "any change after the cursor" made PostgreSQL collect every change of a
# subscription's backlog first (a bitmap scan: 5 ms an asking under load, growing with it).
_NEWEST_CHANGE = (
    sa.select(sa.func.max(offer_changes.c.seq))
    .where(offer_changes.c.channel == s.c.channel)
    .scalar_subquery()
)
_BEHIND = sa.select(sa.select(s.c.id).where(s.c.cursor < _NEWEST_CHANGE).exists())

_ADD_DELIVERIES = BulkInsert(
    d,
    (
        "id",
        "subscription_id",
        "channel",
        "sku",
        "offer_version",
        "seq",
        "sellable",
        "offer",
        "changed_at",
        "traceparent",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
    ),
    on_conflict="ON CONFLICT ON CONSTRAINT webhook_deliveries_once DO NOTHING",
    returning=("id",),
)


class SqlWebhookRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    # Subscriptions

    async def add(self, subscription: Subscription, cursor: int, now: datetime) -> None:
        await self._conn.execute(
            sa.insert(s).values(
                id=uuid.UUID(subscription.id),
                url=subscription.url,
                channel=subscription.channel,
                events=list(subscription.events),
                only_sellable_changes=subscription.only_sellable_changes,
                secret=subscription.secret,
                description=subscription.description,
                cursor=cursor,
                created_at=now,
                **_health_row(subscription.health, now),
            )
        )

    async def get(self, subscription_id: str) -> Subscription | None:
        key = _subscription_uuid(subscription_id)
        if key is None:
            return None
        row = (await self._conn.execute(sa.select(s).where(s.c.id == key))).mappings().first()
        return _subscription(row) if row else None

    async def subscriptions(self, channel: str | None = None) -> list[Subscription]:
        query = sa.select(s).order_by(s.c.created_at, s.c.id)
        if channel is not None:
            query = query.where(s.c.channel == channel)
        return [_subscription(r) for r in (await self._conn.execute(query)).mappings()]

    async def remove(self, subscription_id: str) -> bool:
        key = _subscription_uuid(subscription_id)
        if key is None:
            return False
        gone = await self._conn.execute(sa.delete(s).where(s.c.id == key).returning(s.c.id))
        return gone.first() is not None

    async def backlogs(self, subscription_ids: Sequence[str]) -> dict[str, Backlog]:
        keys = [k for k in map(_subscription_uuid, subscription_ids) if k is not None]
        if not keys:
            return {}
        counts: dict[str, dict[str, int]] = {str(k): {"waiting": 0, "dead": 0} for k in keys}
        # One count per partial index (waiting, dead): delivered rows are never read.
        for kind, condition in (("waiting", _waiting()), ("dead", _dead())):
            rows = await self._conn.execute(
                sa.select(d.c.subscription_id, sa.func.count())
                .where(d.c.subscription_id.in_(keys), condition)
                .group_by(d.c.subscription_id)
            )
            for key, count in rows:
                counts[str(key)][kind] = count
        return {k: Backlog(waiting=v["waiting"], dead=v["dead"]) for k, v in counts.items()}

    async def last_seq(self, channel: str) -> int:
        found = await self._conn.execute(
            sa.select(sa.func.max(offer_changes.c.seq)).where(offer_changes.c.channel == channel)
        )
        return found.scalar_one_or_none() or 0

    async def lock_health(self, subscription_id: str) -> Health | None:
        key = _subscription_uuid(subscription_id)
        if key is None:
            return None
        row = (
            (await self._conn.execute(sa.select(s).where(s.c.id == key).with_for_update()))
            .mappings()
            .first()
        )
        return _health(row) if row else None

    async def set_health(self, subscription_id: str, health: Health, now: datetime) -> None:
        await self._conn.execute(
            sa.update(s)
            .where(s.c.id == uuid.UUID(subscription_id))
            .values(**_health_row(health, now))
        )

    async def make_due(self, subscription_id: str, now: datetime) -> None:
        await self._conn.execute(
            sa.update(d)
            .where(
                d.c.subscription_id == uuid.UUID(subscription_id),
                _waiting(),
                d.c.next_attempt_at > now,
            )
            .values(next_attempt_at=now)
        )

    # Fan-out

    async def behind(self) -> bool:
        found = await self._conn.execute(_BEHIND)
        return bool(found.scalar())

    async def lock_cursors(self) -> list[FanOutCursor]:
        rows = await self._conn.execute(
            sa.select(s.c.id, s.c.channel, s.c.cursor, s.c.only_sellable_changes)
            .order_by(s.c.id)
            .with_for_update(skip_locked=True)
        )
        return [
            FanOutCursor(
                subscription_id=str(r.id),
                channel=r.channel,
                cursor=r.cursor,
                only_sellable_changes=r.only_sellable_changes,
            )
            for r in rows
        ]

    async def changes(self, channel: str, after: int, limit: int) -> list[LoggedChange]:
        c = offer_changes
        rows = await self._conn.execute(
            sa.select(
                c.c.seq,
                c.c.channel,
                c.c.sku,
                c.c.offer_version,
                c.c.offer,
                c.c.changed_at,
                c.c.traceparent,
            )
            .where(c.c.channel == channel, c.c.seq > after)
            .order_by(c.c.seq)
            .limit(limit)
        )
        return [
            LoggedChange(
                seq=r.seq,
                channel=r.channel,
                sku=r.sku,
                offer_version=r.offer_version,
                sellable=bool(r.offer.get("sellable")),
                offer=r.offer,
                changed_at=r.changed_at,
                traceparent=r.traceparent,
            )
            for r in rows
        ]

    async def last_sellable(
        self, subscription_id: str, channel: str, skus: Sequence[str]
    ) -> dict[str, bool]:
        if not skus:
            return {}
        rows = await self._conn.execute(
            sa.select(d.c.sku, d.c.sellable)
            .where(
                d.c.subscription_id == uuid.UUID(subscription_id),
                d.c.channel == channel,
                d.c.sku.in_(list(skus)),
            )
            .order_by(d.c.sku, d.c.offer_version.desc())
            .ext(distinct_on(d.c.sku))
        )
        return {r.sku: r.sellable for r in rows}

    async def add_deliveries(
        self, subscription_id: str, changes: Sequence[LoggedChange], now: datetime
    ) -> int:
        if not changes:
            return 0
        key = uuid.UUID(subscription_id)
        pending = DeliveryStatus.PENDING.value
        added = await _ADD_DELIVERIES.execute(
            self._conn,
            [
                (
                    uuid.uuid4(),
                    key,
                    c.channel,
                    c.sku,
                    c.offer_version,
                    c.seq,
                    c.sellable,
                    c.offer,
                    c.changed_at,
                    c.traceparent,
                    pending,
                    0,
                    now,
                    now,
                )
                for c in changes
            ],
        )
        return len(added.all()) if added is not None else 0

    async def move_cursor(self, subscription_id: str, seq: int) -> None:
        await self._conn.execute(
            sa.update(s)
            .where(s.c.id == uuid.UUID(subscription_id), s.c.cursor < seq)
            .values(cursor=seq)
        )

    # Dispatch

    async def take_probe(
        self, subscription_id: str, now: datetime, next_probe_at: datetime
    ) -> bool:
        taken = await self._conn.execute(
            sa.update(s)
            .where(
                s.c.id == uuid.UUID(subscription_id),
                s.c.status == SubscriptionStatus.PAUSED.value,
                sa.or_(s.c.next_probe_at.is_(None), s.c.next_probe_at <= now),
            )
            .values(next_probe_at=next_probe_at)
            .returning(s.c.id)
        )
        return taken.first() is not None

    async def claim(
        self,
        subscription_id: str,
        *,
        due_by: datetime,
        limit: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[ClaimedDelivery]:
        key = uuid.UUID(subscription_id)
        older = d.alias("older")
        # The ordering rule (domain.webhooks.sendable): only a SKU's oldest waiting delivery.
        # A scalar subquery, not NOT EXISTS: evaluated per candidate through the index of
        # waiting deliveries by SKU, while the candidates come in due order from the due
        # index and the LIMIT stops the scan (an anti-join would read the whole backlog).
        oldest = (
            sa.select(sa.func.min(older.c.offer_version))
            .where(
                older.c.subscription_id == d.c.subscription_id,
                older.c.channel == d.c.channel,
                older.c.sku == d.c.sku,
                _waiting(older),
            )
            .scalar_subquery()
        )
        candidates = (
            sa.select(d.c.id)
            .where(
                d.c.subscription_id == key,
                _waiting(),
                d.c.next_attempt_at <= due_by,
                sa.or_(d.c.leased_until.is_(None), d.c.leased_until <= now),
                d.c.offer_version == oldest,
            )
            .order_by(d.c.next_attempt_at, d.c.seq)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        rows = await self._conn.execute(
            sa.update(d)
            .where(d.c.id.in_(candidates))
            .values(leased_until=lease_until)
            .returning(
                d.c.id,
                d.c.sku,
                d.c.offer_version,
                d.c.attempts,
                d.c.offer,
                d.c.changed_at,
                d.c.traceparent,
                d.c.next_attempt_at,
                d.c.seq,
            )
        )
        claimed = sorted(rows, key=lambda r: (r.next_attempt_at, r.seq))
        return [
            ClaimedDelivery(
                id=message_id(r.id),
                sku=r.sku,
                offer_version=r.offer_version,
                attempts=r.attempts,
                offer=r.offer,
                changed_at=r.changed_at,
                traceparent=r.traceparent,
            )
            for r in claimed
        ]

    async def next_due(self, subscription_id: str, now: datetime) -> datetime | None:
        found = await self._conn.execute(
            sa.select(sa.func.min(d.c.next_attempt_at)).where(
                d.c.subscription_id == uuid.UUID(subscription_id),
                _waiting(),
                d.c.next_attempt_at > now,
            )
        )
        value: datetime | None = found.scalar_one_or_none()
        return value

    async def record(self, attempts: Sequence[AttemptRecord]) -> None:
        if not attempts:
            return
        delivered = DeliveryStatus.DELIVERED.value
        await self._conn.execute(
            sa.update(d)
            .where(
                d.c.id == sa.bindparam("key"),
                # No expanding IN in an executemany.
                sa.or_(*(d.c.status == status for status in _WAITING)),
            )
            .values(
                status=sa.bindparam("new_status"),
                attempts=d.c.attempts + 1,
                next_attempt_at=sa.bindparam("next_at"),
                leased_until=None,
                last_status_code=sa.bindparam("code"),
                last_error=sa.bindparam("error"),
                last_attempt_at=sa.bindparam("at"),
                delivered_at=sa.case(
                    (sa.bindparam("new_status") == delivered, sa.bindparam("at")),
                    else_=None,
                ),
            ),
            [
                {
                    "key": delivery_uuid(a.id),
                    "new_status": a.status.value,
                    "next_at": a.next_attempt_at,
                    "code": a.status_code,
                    "error": a.error,
                    "at": a.at,
                }
                for a in attempts
            ],
        )

    # The log and dead letters

    async def deliveries(
        self,
        subscription_id: str,
        *,
        sku: str | None = None,
        status: DeliveryStatus | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> list[DeliveryView]:
        key = _subscription_uuid(subscription_id)
        if key is None:
            return []
        query = sa.select(d).where(d.c.subscription_id == key)
        if sku is not None:
            query = query.where(d.c.channel == _channel_of(key), d.c.sku == sku)
        if status is not None:
            query = query.where(d.c.status == status.value)
        if before is not None:
            query = query.where(d.c.seq < before)
        rows = await self._conn.execute(query.order_by(d.c.seq.desc()).limit(limit))
        return [_view(r) for r in rows.mappings()]

    async def dead_letters(self, subscription_id: str) -> list[DeadLetter]:
        rows = await self._conn.execute(
            sa.select(d.c.id, d.c.sku, d.c.offer_version)
            .where(
                d.c.subscription_id == uuid.UUID(subscription_id),
                _dead(),
            )
            .order_by(d.c.seq)
        )
        return [
            DeadLetter(id=message_id(r.id), sku=r.sku, offer_version=r.offer_version) for r in rows
        ]

    async def newest_alive(self, subscription_id: str, skus: Sequence[str]) -> dict[str, int]:
        if not skus:
            return {}
        key = uuid.UUID(subscription_id)
        rows = await self._conn.execute(
            sa.select(d.c.sku, sa.func.max(d.c.offer_version))
            .where(
                d.c.subscription_id == key,
                d.c.channel == _channel_of(key),
                d.c.sku.in_(list(skus)),
                d.c.status.in_([*_WAITING, DeliveryStatus.DELIVERED.value]),
            )
            .group_by(d.c.sku)
        )
        return {row.sku: row[1] for row in rows}

    async def replay(self, delivery_ids: Sequence[str], now: datetime) -> None:
        await self._set_dead(
            delivery_ids,
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            leased_until=None,
        )

    async def supersede(self, delivery_ids: Sequence[str], now: datetime) -> None:
        await self._set_dead(delivery_ids, status=DeliveryStatus.SUPERSEDED.value)

    async def _set_dead(self, delivery_ids: Sequence[str], **values: Any) -> None:
        keys = [k for k in map(delivery_uuid, delivery_ids) if k is not None]
        if keys:
            await self._conn.execute(sa.update(d).where(d.c.id.in_(keys), _dead()).values(**values))


def _channel_of(key: uuid.UUID) -> sa.ScalarSelect[str]:
    """The subscription's channel, so that a lookup by SKU uses the index of deliveries by
    subscription, channel, SKU and version."""
    return sa.select(s.c.channel).where(s.c.id == key).scalar_subquery()


def _health_row(health: Health, now: datetime) -> dict[str, Any]:
    return {
        "status": health.status.value,
        "consecutive_failures": health.consecutive_failures,
        "paused_reason": health.paused_reason,
        "paused_since": health.paused_since,
        "next_probe_at": health.next_probe_at,
        "last_error": health.last_error,
        "last_error_at": health.last_error_at,
        "updated_at": now,
    }


def _health(row: sa.RowMapping) -> Health:
    return Health(
        status=SubscriptionStatus(row["status"]),
        consecutive_failures=row["consecutive_failures"],
        paused_reason=row["paused_reason"],
        paused_since=row["paused_since"],
        next_probe_at=row["next_probe_at"],
        last_error=row["last_error"],
        last_error_at=row["last_error_at"],
    )


def _subscription(row: sa.RowMapping) -> Subscription:
    return Subscription(
        id=str(row["id"]),
        url=row["url"],
        channel=row["channel"],
        events=tuple(row["events"]),
        only_sellable_changes=row["only_sellable_changes"],
        secret=row["secret"],
        description=row["description"],
        created_at=row["created_at"],
        health=_health(row),
    )


def _view(row: sa.RowMapping) -> DeliveryView:
    status = DeliveryStatus(row["status"])
    waiting = status in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
    return DeliveryView(
        id=message_id(row["id"]),
        sku=row["sku"],
        offer_version=row["offer_version"],
        position=row["seq"],
        status=status,
        attempts=row["attempts"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        last_attempt_at=row["last_attempt_at"],
        next_attempt_at=row["next_attempt_at"] if waiting else None,
        delivered_at=row["delivered_at"],
    )

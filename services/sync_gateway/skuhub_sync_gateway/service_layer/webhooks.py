"""Use cases of webhooks: subscriptions, fan-out of offer changes into deliveries, claiming
due deliveries and recording the attempts (docs/webhooks.md).

Each use case runs in one transaction of its caller. Sending is no use case: the
dispatcher claims deliveries in one transaction, sends them with no transaction open
(:class:`WebhookSender`), and records the attempts in another.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from skuhub_sync_gateway.domain.webhooks import (
    OFFER_CHANGED,
    DeadLetter,
    DeliveryStatus,
    Health,
    LoggedChange,
    Outcome,
    RetryPolicy,
    Subscription,
    SubscriptionStatus,
    after_attempt,
    events_problem,
    health_after,
    new_secret,
    plan_replay,
    resumed,
    secret_problem,
    to_deliver,
    url_problem,
)
from skuhub_sync_gateway.service_layer.projection import GatewayUnitOfWork

SECRET_BYTES = 32
FAR_FUTURE_S = 10 * 365 * 24 * 3600


class WebhookError(Exception):
    """A webhook request the gateway refuses; ``reason`` says what to fix."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class InvalidSubscriptionError(WebhookError):
    """A subscription that cannot work (URL, event filter, secret, channel)."""


class UnknownSubscriptionError(WebhookError):
    pass


@dataclass(frozen=True, slots=True)
class NewSubscription:
    """What a caller asks for."""

    url: str
    channel: str
    events: tuple[str, ...] = (OFFER_CHANGED,)
    only_sellable_changes: bool = False
    secret: str | None = None
    """None: one is generated (and shown once)."""
    description: str = ""


@dataclass(frozen=True, slots=True)
class FanOutCursor:
    """Where a subscription stands in its channel's offer change log."""

    subscription_id: str
    channel: str
    cursor: int
    only_sellable_changes: bool


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery leased for one attempt."""

    id: str
    """``msg_…``: the webhook-id, the same on every attempt."""
    sku: str
    offer_version: int
    attempts: int
    """Attempts made before this one."""
    offer: Mapping[str, Any]
    changed_at: datetime
    traceparent: str | None = None
    """The trace of the change (the gateway's span that logged it), continued by the send."""


@dataclass(frozen=True, slots=True)
class Claim:
    """What a dispatcher sends next, and when to look again if nothing."""

    subscription: Subscription
    deliveries: list[ClaimedDelivery]
    wake_at: datetime | None = None
    """When something becomes due (a retry, the next probe); None: not known."""
    probe: bool = False
    """The subscription is paused and this is its probe."""


@dataclass(frozen=True, slots=True)
class Message:
    """A signed request's parts: the webhook-id and the exact body."""

    id: str
    body: str
    traceparent: str | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    """One attempt as the sender saw it."""

    id: str
    ok: bool
    """The receiver answered 2xx."""
    status_code: int | None
    error: str | None
    """Why it failed (status and body excerpt, timeout, connection or protocol error)."""
    at: datetime
    """When the attempt ended."""


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """A delivery's state after an attempt."""

    id: str
    status: DeliveryStatus
    next_attempt_at: datetime
    status_code: int | None
    error: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """A delivery in the log."""

    id: str
    sku: str
    offer_version: int
    position: int
    """Its place in the channel's offer change log."""
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Backlog:
    waiting: int
    """Pending or retrying."""
    dead: int


@dataclass(frozen=True, slots=True)
class ReplayResult:
    replayed: list[str]
    superseded: list[str]


class WebhookRepository(Protocol):
    """Subscriptions, their cursors and their deliveries.

    Locks are taken subscription first, deliveries after, in every transaction.
    """

    async def add(self, subscription: Subscription, cursor: int, now: datetime) -> None:
        """Store a new subscription, fanned out up to ``cursor``."""

    async def get(self, subscription_id: str) -> Subscription | None: ...

    async def subscriptions(self, channel: str | None = None) -> list[Subscription]:
        """Every subscription (of ``channel``), oldest first."""

    async def remove(self, subscription_id: str) -> bool:
        """Delete a subscription and its deliveries; False when unknown."""

    async def backlogs(self, subscription_ids: Sequence[str]) -> dict[str, Backlog]: ...

    async def last_seq(self, channel: str) -> int:
        """The newest entry of the channel's offer change log (0 when none)."""

    async def lock_health(self, subscription_id: str) -> Health | None:
        """The subscription's health, locked until the transaction ends."""

    async def set_health(self, subscription_id: str, health: Health, now: datetime) -> None: ...

    async def make_due(self, subscription_id: str, now: datetime) -> None:
        """Every waiting delivery of the subscription is due at ``now``."""

    async def behind(self) -> bool:
        """Whether some subscription's channel logged changes past its cursor."""

    async def lock_cursors(self) -> list[FanOutCursor]:
        """The subscriptions no other transaction holds, locked until this one ends."""

    async def changes(self, channel: str, after: int, limit: int) -> list[LoggedChange]:
        """The channel's logged offer changes after ``after``, in log order."""

    async def last_sellable(
        self, subscription_id: str, channel: str, skus: Sequence[str]
    ) -> dict[str, bool]:
        """Per SKU, ``sellable`` of the newest version delivered (or to be) to it."""

    async def add_deliveries(
        self, subscription_id: str, changes: Sequence[LoggedChange], now: datetime
    ) -> int:
        """One pending delivery per change, unless one of that offer version exists; how
        many were added."""

    async def move_cursor(self, subscription_id: str, seq: int) -> None: ...

    async def take_probe(
        self, subscription_id: str, now: datetime, next_probe_at: datetime
    ) -> bool:
        """A paused subscription's probe is due: move it to ``next_probe_at``; False when
        it is not due (or the subscription is not paused)."""

    async def claim(
        self,
        subscription_id: str,
        *,
        due_by: datetime,
        limit: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[ClaimedDelivery]:
        """Lease up to ``limit`` deliveries the ordering rule lets go (``domain.webhooks.
        sendable``) that are due by ``due_by``, oldest due first."""

    async def next_due(self, subscription_id: str, now: datetime) -> datetime | None:
        """When the next waiting delivery falls due after ``now``."""

    async def record(self, attempts: Sequence[AttemptRecord]) -> None:
        """Store each attempt (one more attempt counted, the lease released) on deliveries
        still waiting."""

    async def deliveries(
        self,
        subscription_id: str,
        *,
        sku: str | None = None,
        status: DeliveryStatus | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> list[DeliveryView]:
        """The delivery log, newest position first."""

    async def dead_letters(self, subscription_id: str) -> list[DeadLetter]: ...

    async def newest_alive(self, subscription_id: str, skus: Sequence[str]) -> dict[str, int]:
        """Per SKU, the newest offer version delivered or waiting."""

    async def replay(self, delivery_ids: Sequence[str], now: datetime) -> None:
        """Dead deliveries pending again, with their attempts starting over."""

    async def supersede(self, delivery_ids: Sequence[str], now: datetime) -> None: ...


class WebhookSender(Protocol):
    """Sends signed messages to one subscription's endpoint."""

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        """Send every message (concurrently, within the endpoint's limit); one result each,
        failures included: it never raises for what the receiver does."""

    async def aclose(self) -> None: ...


def message_of(delivery: ClaimedDelivery) -> Message:
    """The body every attempt of a delivery sends (docs/webhooks.md, "The body")."""
    body = {
        "type": OFFER_CHANGED,
        "timestamp": delivery.changed_at.isoformat(),
        "data": delivery.offer,
    }
    return Message(
        id=delivery.id,
        body=json.dumps(body, separators=(",", ":")),
        traceparent=delivery.traceparent,
    )


async def create_subscription(
    uow: GatewayUnitOfWork, new: NewSubscription, subscription_id: str, now: datetime
) -> Subscription:
    """Check and store a subscription; it receives the changes logged from now on."""
    for field, problem in (
        ("url", url_problem(new.url)),
        ("events", events_problem(new.events)),
        ("secret", None if new.secret is None else secret_problem(new.secret)),
    ):
        if problem:
            raise InvalidSubscriptionError(problem, field=field)
    if await uow.channels.get(new.channel) is None:
        raise InvalidSubscriptionError(
            f"unknown channel {new.channel!r}; GET /v1/channels lists them", field="channel"
        )
    subscription = Subscription(
        id=subscription_id,
        url=new.url,
        channel=new.channel,
        events=tuple(dict.fromkeys(new.events)),
        only_sellable_changes=new.only_sellable_changes,
        secret=new.secret or new_secret(secrets.token_bytes(SECRET_BYTES)),
        description=new.description,
        created_at=now,
    )
    await uow.webhooks.add(subscription, await uow.webhooks.last_seq(new.channel), now)
    return subscription


async def remove_subscription(uow: GatewayUnitOfWork, subscription_id: str) -> None:
    if not await uow.webhooks.remove(subscription_id):
        raise _unknown(subscription_id)


async def resume_subscription(
    uow: GatewayUnitOfWork, subscription_id: str, now: datetime
) -> Subscription:
    """Active again at once: every waiting delivery is due now."""
    health = await uow.webhooks.lock_health(subscription_id)
    if health is None:
        raise _unknown(subscription_id)
    await uow.webhooks.set_health(subscription_id, resumed(health), now)
    await uow.webhooks.make_due(subscription_id, now)
    return await subscription(uow, subscription_id)


async def subscription(uow: GatewayUnitOfWork, subscription_id: str) -> Subscription:
    found = await uow.webhooks.get(subscription_id)
    if found is None:
        raise _unknown(subscription_id)
    return found


def _unknown(subscription_id: str) -> UnknownSubscriptionError:
    return UnknownSubscriptionError(
        f"unknown subscription {subscription_id}; GET /v1/subscriptions lists them"
    )


async def fan_out(uow: GatewayUnitOfWork, now: datetime, batch: int) -> dict[str, int]:
    """Turn up to ``batch`` logged changes per channel into deliveries of every subscription
    this transaction could lock, and move their cursors in the same transaction; per
    subscription that moved, how many deliveries it got (possibly 0)."""
    cursors = await uow.webhooks.lock_cursors()
    by_channel: dict[str, list[FanOutCursor]] = {}
    for cursor in cursors:
        by_channel.setdefault(cursor.channel, []).append(cursor)
    moved: dict[str, int] = {}
    for channel, group in by_channel.items():
        changes = await uow.webhooks.changes(channel, min(c.cursor for c in group), batch)
        if not changes:
            continue
        last = changes[-1].seq
        for cursor in group:
            mine = [change for change in changes if change.seq > cursor.cursor]
            if not mine:
                continue
            last_sellable = (
                await uow.webhooks.last_sellable(
                    cursor.subscription_id, channel, sorted({c.sku for c in mine})
                )
                if cursor.only_sellable_changes
                else {}
            )
            chosen = to_deliver(mine, cursor.only_sellable_changes, last_sellable)
            added = await uow.webhooks.add_deliveries(cursor.subscription_id, chosen, now)
            await uow.webhooks.move_cursor(cursor.subscription_id, last)
            moved[cursor.subscription_id] = added
    return moved


async def claim_deliveries(
    uow: GatewayUnitOfWork,
    subscription_id: str,
    now: datetime,
    *,
    policy: RetryPolicy,
    limit: int,
    lease_s: float,
) -> Claim | None:
    """Lease what the subscription sends next: up to ``limit`` due deliveries while it is
    active; one probe (the first the ordering lets go, due or not) per probe interval
    while it is paused. None when the subscription is gone."""
    found = await uow.webhooks.get(subscription_id)
    if found is None:
        return None
    lease_until = now + timedelta(seconds=lease_s)
    if found.health.status is SubscriptionStatus.PAUSED:
        probe_at = found.health.next_probe_at
        if probe_at is not None and probe_at > now:
            return Claim(found, [], wake_at=probe_at)
        next_probe = now + timedelta(seconds=policy.probe_interval_s)
        if not await uow.webhooks.take_probe(subscription_id, now, next_probe):
            return Claim(found, [], wake_at=next_probe)
        claimed = await uow.webhooks.claim(
            subscription_id,
            due_by=now + timedelta(seconds=FAR_FUTURE_S),
            limit=1,
            now=now,
            lease_until=lease_until,
        )
        return Claim(found, claimed, wake_at=next_probe, probe=True)
    claimed = await uow.webhooks.claim(
        subscription_id, due_by=now, limit=limit, now=now, lease_until=lease_until
    )
    wake_at = None if claimed else await uow.webhooks.next_due(subscription_id, now)
    return Claim(found, claimed, wake_at=wake_at)


async def record_attempts(
    uow: GatewayUnitOfWork,
    subscription_id: str,
    claimed: Sequence[ClaimedDelivery],
    results: Sequence[SendResult],
    now: datetime,
    *,
    policy: RetryPolicy,
    random: Callable[[], float],
) -> Health | None:
    """Store each attempt (delivered, retried later with backoff, or dead) and the
    subscription's health after them (paused, or active again after a probe succeeded:
    then everything waiting is due at once). None when the subscription is gone."""
    health = await uow.webhooks.lock_health(subscription_id)
    if health is None:
        return None
    by_id = {d.id: d for d in claimed}
    ordered = sorted(results, key=lambda r: r.at)
    records = []
    for result in ordered:
        status, next_at = after_attempt(
            policy, by_id[result.id].attempts, result.ok, result.at, random
        )
        records.append(
            AttemptRecord(
                id=result.id,
                status=status,
                next_attempt_at=next_at,
                status_code=result.status_code,
                error=result.error,
                at=result.at,
            )
        )
    await uow.webhooks.record(records)
    after = health_after(policy, health, [Outcome(r.ok, r.error, r.at) for r in ordered])
    if after != health:
        await uow.webhooks.set_health(subscription_id, after, now)
        if health.status is SubscriptionStatus.PAUSED and after.status is SubscriptionStatus.ACTIVE:
            await uow.webhooks.make_due(subscription_id, now)
    return after


async def replay_dead_letters(
    uow: GatewayUnitOfWork, subscription_id: str, now: datetime
) -> ReplayResult:
    """Send the dead letters again where the order per SKU allows it; mark the others
    superseded (``domain.webhooks.plan_replay``)."""
    if await uow.webhooks.lock_health(subscription_id) is None:
        raise _unknown(subscription_id)
    dead = await uow.webhooks.dead_letters(subscription_id)
    if not dead:
        return ReplayResult([], [])
    alive = await uow.webhooks.newest_alive(subscription_id, sorted({d.sku for d in dead}))
    plan = plan_replay(dead, alive)
    await uow.webhooks.replay(plan.replay, now)
    await uow.webhooks.supersede(plan.supersede, now)
    return ReplayResult(plan.replay, plan.supersede)

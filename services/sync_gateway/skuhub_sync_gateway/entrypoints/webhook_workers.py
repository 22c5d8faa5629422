"""The webhook workers: fan-out (offer change log → deliveries) and dispatch (deliveries →
signed requests), started with the service (docs/webhooks.md).

- **Fan-out** wakes after every commit of this process (``runtime.commits``) and at least
  every ``webhook_poll_interval_s``; when some subscription is behind its channel's log it
  adds the deliveries and moves the cursors in one transaction.
- **Dispatch** keeps one task per subscription, each with its own HTTP client, connection
  pool and limit of requests in flight, so one endpoint's failures or slowness never delay
  another's deliveries. A task claims due deliveries in one transaction (a lease), sends
  them with no transaction open, and records the attempts in a second one; it sleeps until
  the fan-out adds deliveries for it, the next retry falls due, or the poll interval ends.

The workers' own transactions do not fire ``runtime.commits``: nothing waits for a lease or
an attempt, and firing it would wake every waiter (and every dispatcher) after each batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from skuhub_runtime.commits import CommitSignal
from skuhub_runtime.metrics import LATENCY_BUCKETS
from skuhub_runtime.service import ServiceRuntime, Worker
from skuhub_sync_gateway.adapters.webhook_sender import HttpWebhookSender
from skuhub_sync_gateway.domain.webhooks import RetryPolicy, Subscription, SubscriptionStatus
from skuhub_sync_gateway.service_layer.projection import GatewayUnitOfWork
from skuhub_sync_gateway.service_layer.webhooks import (
    ClaimedDelivery,
    SendResult,
    WebhookSender,
    claim_deliveries,
    fan_out,
    message_of,
    record_attempts,
)
from skuhub_sync_gateway.settings import SyncGatewaySettings

log = logging.getLogger(__name__)
T = TypeVar("T")

ATTEMPTS = Counter(
    "skuhub_webhook_attempts_total",
    "Webhook delivery attempts, by outcome (delivered: the receiver answered 2xx).",
    ["outcome"],
)
DELIVERY_LATENCY = Histogram(
    "skuhub_webhook_delivery_latency_seconds",
    "From an offer version stored to its webhook delivered (first attempt or retry).",
    buckets=LATENCY_BUCKETS,
)

SUBSCRIPTIONS = Gauge(
    "skuhub_webhook_subscriptions",
    "Webhook subscriptions by state (active; paused: the endpoint failed too often in a row).",
    ["state"],
)

SenderFactory = Callable[[Subscription], WebhookSender]


class WebhookWorkers:
    """The fan-out and dispatch workers, and the wake-ups between them in this process."""

    def __init__(
        self,
        settings: SyncGatewaySettings,
        unit_of_work: Callable[[AsyncConnection], GatewayUnitOfWork],
        *,
        sender: SenderFactory | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._unit_of_work = unit_of_work
        self.policy = RetryPolicy(
            base_s=settings.webhook_retry_base_s,
            max_delay_s=settings.webhook_retry_max_delay_s,
            max_attempts=settings.webhook_max_attempts,
            pause_after_failures=settings.webhook_pause_after_failures,
            probe_interval_s=settings.webhook_probe_interval_s,
        )
        self._batch = settings.webhook_batch
        self._fan_out_batch = settings.webhook_fan_out_batch
        self._poll_s = settings.webhook_poll_interval_s
        # A claim outlives the batch it leases: every round of the limit in flight may take
        # the whole timeout. Only a crashed dispatcher's deliveries wait for it to run out.
        rounds = math.ceil(settings.webhook_batch / settings.webhook_concurrency)
        self._lease_s = (rounds + 1) * settings.webhook_timeout_s + 5.0
        self._sender = sender or (
            lambda s: HttpWebhookSender(
                s.url,
                s.secret,
                timeout_s=settings.webhook_timeout_s,
                concurrency=settings.webhook_concurrency,
            )
        )
        self._jitter = jitter
        self._added: dict[str, asyncio.Event] = {}

    def workers(self) -> list[Worker[GatewayUnitOfWork]]:
        async def fan_out_worker(runtime: ServiceRuntime[GatewayUnitOfWork]) -> None:
            await self.fan_out(runtime.engine, runtime.commits)

        async def dispatch_worker(runtime: ServiceRuntime[GatewayUnitOfWork]) -> None:
            await self.dispatch(runtime.engine)

        return [
            Worker("webhook-fan-out", fan_out_worker),
            Worker("webhook-dispatch", dispatch_worker),
        ]

    # Fan-out

    async def fan_out(self, engine: AsyncEngine, commits: CommitSignal) -> None:
        """Turn logged offer changes into deliveries until cancelled."""
        while True:
            woken = asyncio.ensure_future(commits.wait(self._poll_s))
            # Let the waiter listen before the round reads: a commit during the round then
            # starts the next one at once instead of after the poll interval.
            await asyncio.sleep(0)
            try:
                if not await self.fan_out_once(engine):
                    await woken  # nothing to do, or every subscription held by another instance
            finally:
                woken.cancel()

    async def fan_out_once(self, engine: AsyncEngine) -> dict[str, int]:
        """One round: per subscription whose cursor moved, the deliveries it got."""
        if not await self._read(engine, lambda uow: uow.webhooks.behind()):
            return {}
        now = datetime.now(UTC)
        async with self._begin(engine) as uow:
            moved = await fan_out(uow, now, self._fan_out_batch)
        for subscription_id, added in moved.items():
            if added:
                self._signal(subscription_id).set()
        return moved

    # Dispatch

    async def dispatch(self, engine: AsyncEngine) -> None:
        """Keep one dispatcher per subscription running until cancelled."""
        tasks: dict[str, asyncio.Task[None]] = {}
        try:
            while True:
                subscriptions = await self._read(engine, lambda uow: uow.webhooks.subscriptions())
                current = {s.id: s for s in subscriptions}
                for state in SubscriptionStatus:
                    SUBSCRIPTIONS.labels(state.value).set(
                        sum(s.health.status == state for s in subscriptions)
                    )
                for subscription_id, task in list(tasks.items()):
                    if subscription_id not in current:
                        task.cancel()
                    if subscription_id not in current or task.done():
                        del tasks[subscription_id]
                        self._added.pop(subscription_id, None)
                        _log_failure(task)
                for subscription_id, subscription in current.items():
                    if subscription_id not in tasks:
                        tasks[subscription_id] = asyncio.create_task(
                            self._serve(engine, subscription),
                            name=f"webhook-dispatch-{subscription_id}",
                        )
                await asyncio.sleep(self._poll_s)  # the supervisor's round, not a wait on data
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)

    async def _serve(self, engine: AsyncEngine, subscription: Subscription) -> None:
        sender = self._sender(subscription)
        wake = self._signal(subscription.id)
        try:
            while True:
                wake.clear()  # deliveries added from here on wake the wait below
                now = datetime.now(UTC)
                async with self._begin(engine) as uow:
                    claim = await claim_deliveries(
                        uow,
                        subscription.id,
                        now,
                        policy=self.policy,
                        limit=self._batch,
                        lease_s=self._lease_s,
                    )
                if claim is None:
                    return  # removed
                if claim.deliveries:
                    results = await sender.send([message_of(d) for d in claim.deliveries])
                    await self._record(engine, subscription.id, claim.deliveries, results)
                    _observe(claim.deliveries, results)
                    continue
                timeout = self._poll_s
                if claim.wake_at is not None:
                    timeout = min(timeout, max((claim.wake_at - now).total_seconds(), 0.0))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout)
        finally:
            await sender.aclose()

    async def _record(
        self,
        engine: AsyncEngine,
        subscription_id: str,
        claimed: list[ClaimedDelivery],
        results: list[SendResult],
    ) -> None:
        """Record the attempts, trying again while PostgreSQL is out for a moment: what is
        not recorded before the lease runs out is sent again (a duplicate for the receiver
        to recognise by its webhook-id)."""
        deadline = time.monotonic() + self._lease_s / 2
        while True:
            try:
                async with self._begin(engine) as uow:
                    await record_attempts(
                        uow,
                        subscription_id,
                        claimed,
                        results,
                        datetime.now(UTC),
                        policy=self.policy,
                        random=self._jitter,
                    )
                return
            except (SQLAlchemyError, OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                log.warning("recording webhook attempts failed; trying again", exc_info=True)
                await asyncio.sleep(0.5)  # PostgreSQL's outage, not a wait on data

    def _signal(self, subscription_id: str) -> asyncio.Event:
        return self._added.setdefault(subscription_id, asyncio.Event())

    # Transactions of the workers' own (no commit signal)

    @contextlib.asynccontextmanager
    async def _begin(self, engine: AsyncEngine) -> AsyncIterator[GatewayUnitOfWork]:
        async with engine.begin() as conn:
            yield self._unit_of_work(conn)

    async def _read(
        self, engine: AsyncEngine, query: Callable[[GatewayUnitOfWork], Awaitable[T]]
    ) -> T:
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await query(self._unit_of_work(autocommit))


def _observe(claimed: list[ClaimedDelivery], results: list[SendResult]) -> None:
    changed = {d.id: d.changed_at for d in claimed}
    for result in results:
        ATTEMPTS.labels("delivered" if result.ok else "failed").inc()
        if result.ok:
            DELIVERY_LATENCY.observe(max((result.at - changed[result.id]).total_seconds(), 0.0))


def _log_failure(task: asyncio.Task[None]) -> None:
    if task.done() and not task.cancelled() and task.exception() is not None:
        log.error(
            "webhook dispatcher %s failed; started again",
            task.get_name(),
            exc_info=task.exception(),
        )

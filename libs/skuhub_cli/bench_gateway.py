"""The sync gateway's delivery figures inside the latency case of ``skuhub bench``.

- **Webhooks**: a subscription is made before the load, to an address where nothing
  listens yet, so its deliveries pile up (the subscription pauses). After the load a local
  receiver starts and the subscription is resumed: the backlog's drain rate is what one
  subscription can deliver, and the receiver checks signatures with ``standardwebhooks``.
- **Feed**: the web channel's change log read from the start in pages of 1,000.
- **Accuracy**: seconds from the end of the load until a reconciler pass, asked for when the
  stack has caught up, reports every offer and projected position matching the ledger.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
from aiohttp import web
from standardwebhooks.webhooks import Webhook

from skuhub_cli import endpoints
from skuhub_cli.bench_probes import LatencySummary
from skuhub_cli.bench_report import Row
from skuhub_cli.bench_session import BenchSession
from skuhub_cli.launcher import ServiceGroup
from skuhub_cli.ports import free_port

FEED_PAGE = 1000
VERIFIED_SAMPLE = 200
"""Deliveries whose signature the receiver checks (checking all would slow the receiver)."""


@dataclass
class Receiver:
    """A local webhook endpoint that counts what it gets and checks some signatures."""

    secret: str
    port: int = field(default_factory=free_port)
    received: int = 0
    verified: int = 0
    first_at: float | None = None
    last_at: float | None = None
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.verified < VERIFIED_SAMPLE:
            Webhook(self.secret).verify(body, dict(request.headers))
            self.verified += 1
        now = time.monotonic()
        self.first_at = self.first_at or now
        self.last_at = now
        self.received += 1
        return web.Response(status=204)


async def subscribe_while_down(group: ServiceGroup) -> tuple[str, Receiver]:
    """A subscription of the web channel to a receiver that is not up yet."""
    receiver = Receiver(secret="")
    async with httpx.AsyncClient(timeout=10.0, headers=endpoints.auth_headers()) as client:
        made = await client.post(
            f"{group.url('sync_gateway')}/v1/subscriptions",
            json={"url": f"http://127.0.0.1:{receiver.port}/hook", "channel": "web"},
        )
        made.raise_for_status()
    body = made.json()
    receiver.secret = body["secret"]
    return str(body["id"]), receiver


async def webhook_drain(
    session: BenchSession, group: ServiceGroup, subscription: str, receiver: Receiver
) -> None:
    """Start the receiver, resume the subscription, time the backlog's delivery."""
    base = f"{group.url('sync_gateway')}/v1/subscriptions/{subscription}"
    schema = f"{group.wiring.schema_prefix}sync_gateway"
    await receiver.start()
    try:
        async with httpx.AsyncClient(timeout=10.0, headers=endpoints.auth_headers()) as client:
            (await client.post(f"{base}/resume")).raise_for_status()
            with session.step("Delivering the webhook backlog"):
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    counts = await session.db.webhook_deliveries(schema)
                    if counts and not counts.get("pending") and not counts.get("retrying"):
                        break
                    # The bench's polling interval, not a synchronisation of the services.
                    await asyncio.sleep(0.2)
    finally:
        await receiver.stop()
    counts = await session.db.webhook_deliveries(schema)
    span = (receiver.last_at or 0) - (receiver.first_at or 0)
    rate = receiver.received / span if span > 0 else 0.0
    session.report.details["webhooks"] = {
        "received": receiver.received,
        "signatures_verified": receiver.verified,
        "seconds": round(span, 3),
        "rate": round(rate, 1),
        "deliveries_by_status": counts,
    }
    session.report.add(
        Row(
            "sync_gateway webhooks",
            "backlog delivered, one subscription",
            f"{rate:,.0f} deliveries/s",
            note=f"{receiver.received:,} received in {span:.2f}s, {receiver.verified} "
            f"signatures verified; deliveries {counts}",
        )
    )


async def feed_pages(session: BenchSession, group: ServiceGroup) -> None:
    """Read the web channel's feed from the start, 1,000 changes a page; time each page."""
    url = f"{group.url('sync_gateway')}/v1/channels/web/feed"
    seconds: list[float] = []
    changes = 0
    cursor: str | None = None
    async with httpx.AsyncClient(timeout=30.0, headers=endpoints.auth_headers()) as client:
        while True:
            params: dict[str, Any] = {"limit": FEED_PAGE}
            if cursor:
                params["cursor"] = cursor
            started = time.perf_counter()
            page = await client.get(url, params=params)
            seconds.append(time.perf_counter() - started)
            page.raise_for_status()
            body = page.json()
            changes += len(body["changes"])
            cursor = body["next_cursor"]
            if not body["has_more"]:
                break
    full = seconds[:-1] or seconds  # the last page is short
    summary = LatencySummary.of(full)
    session.report.details["feed_pages"] = {"changes": changes, **asdict(summary)}
    session.report.add(
        Row(
            "sync_gateway feed",
            f"page of {FEED_PAGE:,} p50/p99",
            f"{summary.p50_ms:.1f} / {summary.p99_ms:.1f} ms",
            note=f"{changes:,} changes in {len(seconds)} pages over HTTP; max "
            f"{summary.max_ms:.1f} ms",
        )
    )


async def accuracy_after(session: BenchSession, group: ServiceGroup, load_end: datetime) -> None:
    """Seconds from the end of the load to a complete reconciler pass, started after it,
    that found every offer and projected position equal to the ledger."""
    url = f"{group.url('sync_gateway')}/v1/kpis"
    found: dict[str, Any] = {}
    with session.step("Waiting for the reconciler to find every offer accurate"):
        async with httpx.AsyncClient(timeout=10.0, headers=endpoints.auth_headers()) as client:
            # Passes run every 30 s by default; the one that counts starts now.
            passes = f"{group.url('sync_gateway')}/v1/accuracy/passes"
            (await client.post(passes)).raise_for_status()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                found = (await client.get(url)).json()["accuracy"]
                sweep = found["last_sweep"]
                if (
                    sweep
                    and datetime.fromisoformat(sweep["started_at"]) >= load_end
                    and _complete(found["offers"])
                    and _complete(found["positions"])
                ):
                    break
                # The bench's polling interval, not a synchronisation of the services.
                await asyncio.sleep(0.1)
    sweep = found.get("last_sweep") or {}
    finished = sweep.get("finished_at")
    after_s = (datetime.fromisoformat(finished) - load_end).total_seconds() if finished else None
    session.report.details["gateway_reconciler"] = found
    offers = found.get("offers", {})
    session.report.add(
        Row(
            "accuracy (reconciler)",
            "offers = ledger, load end → pass done",
            f"{after_s:.2f} s" if after_s is not None else "not reached",
            note=f"offers {offers.get('matches')} match, {offers.get('mismatches')} mismatch, "
            f"{offers.get('in_flight')} in flight; accuracy {offers.get('accuracy')}; pass of "
            f"{sweep.get('skus')} SKUs in {sweep.get('seconds')}s",
        )
    )


def _complete(tally: dict[str, Any]) -> bool:
    return (
        tally.get("accuracy") is not None
        and Decimal(str(tally["accuracy"])) == 1
        and not tally.get("in_flight")
        and not tally.get("mismatches")
    )

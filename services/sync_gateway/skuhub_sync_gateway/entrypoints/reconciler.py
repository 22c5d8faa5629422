"""The gateway's continuous reconciler: each step checks a batch of SKUs' projected
positions and every channel's stored offer of them against the stock service
(libs/skuhub_runtime/reconciler.py runs the steps; docs/kpis.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_runtime.reconcile import Claim, Figures, Sweep
from skuhub_runtime.reconcile_store import ProjectionSpec, read_projection
from skuhub_runtime.reconciler import (
    SWEEP,
    finish_positions,
    publish,
    reconciler_worker,
    record_positions,
)
from skuhub_runtime.service import Worker
from skuhub_runtime.stock_positions import StockPositions
from skuhub_sync_gateway.adapters.tables import positions
from skuhub_sync_gateway.service_layer.accuracy import (
    OfferSnapshot,
    offer_snapshot,
    overall,
    record_offers,
)
from skuhub_sync_gateway.service_layer.projection import GatewayUnitOfWork
from skuhub_sync_gateway.settings import SyncGatewaySettings

SERVICE = "sync_gateway"
OFFERS = "offers"
ALL_CHANNELS = "*"
"""The channel label of the gauges over every channel's offers together."""
POSITIONS_SPEC = ProjectionSpec(
    positions, {"on_hand": "on_hand", "available_to_promise": "available_to_promise"}
)
"""The projection's figures compared with stock's at the same version (a row's location
ATP is as of its own report, so only the lot's own figures compare)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    positions: dict[str, list[Figures]]
    offers: OfferSnapshot


class GatewayReconciliation:
    """Positions and offers of the gateway, against the ledger."""

    def __init__(self, grace: timedelta) -> None:
        self.name = SWEEP
        self._grace = grace

    async def skus_after(
        self, conn: AsyncConnection, uow: GatewayUnitOfWork, after: str, limit: int
    ) -> list[str]:
        return await uow.accuracy.skus_after(after, limit)

    async def snapshot(
        self, conn: AsyncConnection, uow: GatewayUnitOfWork, claim: Claim
    ) -> Snapshot:
        found = await read_projection(conn, POSITIONS_SPEC, claim.skus)
        return Snapshot(found, await offer_snapshot(uow, claim.skus, found))

    async def record(
        self,
        conn: AsyncConnection,
        uow: GatewayUnitOfWork,
        claim: Claim,
        snapshot: Snapshot,
        stock: Mapping[str, StockPositions],
        now: datetime,
    ) -> None:
        await record_positions(conn, claim, snapshot.positions, stock, now, self._grace)
        await record_offers(uow, snapshot.offers, stock, now, self._grace)
        await uow.accuracy.forget_outside(claim)

    async def finish(
        self, conn: AsyncConnection, uow: GatewayUnitOfWork, sweep: Sweep, now: datetime
    ) -> None:
        await finish_positions(conn, SERVICE, now)
        tallies = await uow.accuracy.tallies()
        for channel, tally in tallies.items():
            publish(SERVICE, OFFERS, channel, tally, now)
        publish(SERVICE, OFFERS, ALL_CHANNELS, overall(tallies.values()), now)


def reconciler(settings: SyncGatewaySettings) -> Worker[GatewayUnitOfWork]:
    """The worker of the gateway's reconciler."""
    return reconciler_worker(lambda: GatewayReconciliation(settings.grace), settings)

"""The continuous reconciler: sweeps a service's projection of stock positions, a batch of
SKUs per step, and compares it with what the stock service's API says (docs/kpis.md).

One step:

1. in one transaction, take the next batch of SKUs of the sweep (the sweep row's lock
   shares a pass between instances) and read the service's own state of them;
2. ask the stock service for those SKUs' positions (``POST /v1/positions/query``);
3. in another transaction, classify (:mod:`skuhub_runtime.reconcile`) and store the
   verdicts with the time each discrepancy was first seen.

The local state is read *before* stock is asked, so an honest projection can only be
behind stock (in flight), never ahead. A pass that took fewer SKUs than a batch ends the
sweep; the gauges are published then, and the next pass starts after
``reconcile_interval_s``.

A service whose only state to check is a projection table uses
:class:`ProjectionReconciliation`; the sync gateway adds its offers to the same step.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Generic, Protocol, TypeVar

from fastapi import APIRouter, Depends, Query
from prometheus_client import Counter, Gauge
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_runtime.access_http import requires
from skuhub_runtime.access_tokens import Scope
from skuhub_runtime.http import get_runtime
from skuhub_runtime.reconcile import (
    Claim,
    Figures,
    PositionVerdict,
    Sweep,
    Tally,
    reconcile_positions,
)
from skuhub_runtime.reconcile_settings import ReconcilingSettings
from skuhub_runtime.reconcile_store import (
    PositionCheckStore,
    ProjectionSpec,
    SweepStore,
    projection_skus_after,
    read_projection,
)
from skuhub_runtime.service import ServiceRuntime, Worker
from skuhub_runtime.settings import ServiceSettings
from skuhub_runtime.stock_positions import (
    StockPositions,
    StockPositionsClient,
    StockUnavailableError,
)

log = logging.getLogger(__name__)

U = TypeVar("U")
U_contra = TypeVar("U_contra", contravariant=True)
S = TypeVar("S")

POSITIONS = "positions"
"""The projection label of stock-position checks (gauges, KPIs)."""
SWEEP = "stock"
"""The name of a service's reconciler sweep (its row in reconciler_sweeps)."""


ACCURACY = Gauge(
    "skuhub_reconcile_accuracy_ratio",
    "Data accuracy at the end of the last reconciler pass: matches / (matches + mismatches), "
    "compared with the stock service at the same position version (in-flight checks apart).",
    ["service", "projection", "channel"],
)
MISMATCHES = Gauge(
    "skuhub_reconcile_mismatches",
    "Open mismatches at the end of the last reconciler pass.",
    ["service", "projection", "channel"],
)
IN_FLIGHT = Gauge(
    "skuhub_reconcile_in_flight",
    "Checks where stock was ahead, within the grace, at the end of the last pass.",
    ["service", "projection", "channel"],
)
OLDEST_MISMATCH = Gauge(
    "skuhub_reconcile_oldest_mismatch_age_seconds",
    "Age of the oldest open mismatch at the end of the last pass (0: none).",
    ["service", "projection", "channel"],
)
LAST_SWEEP = Gauge(
    "skuhub_reconcile_last_sweep_timestamp_seconds",
    "When the last complete reconciler pass ended (Unix time).",
    ["service"],
)
SWEEP_SECONDS = Gauge(
    "skuhub_reconcile_sweep_seconds", "How long the last complete pass took.", ["service"]
)
SWEEP_SKUS = Gauge(
    "skuhub_reconcile_sweep_skus", "SKUs the last complete pass checked.", ["service"]
)
STOCK_ERRORS = Counter(
    "skuhub_reconcile_stock_errors_total",
    "Reconciler steps the stock service did not answer (retried at the next step).",
    ["service"],
)


def publish(service: str, projection: str, channel: str, tally: Tally, now: datetime) -> None:
    """Set the gauges of one kind of check from its tally."""
    labels = (service, projection, channel)
    accuracy = tally.accuracy
    ACCURACY.labels(*labels).set(float(accuracy) if accuracy is not None else float("nan"))
    MISMATCHES.labels(*labels).set(tally.mismatches)
    IN_FLIGHT.labels(*labels).set(tally.in_flight)
    OLDEST_MISMATCH.labels(*labels).set(tally.oldest_mismatch_age_s(now) or 0.0)


class Reconciliation(Protocol[U_contra, S]):
    """What a service checks: its SKUs in order, a snapshot of their state, and how the
    stock service's answer is judged against it."""

    name: str
    """The sweep's name (its row in reconciler_sweeps)."""

    async def skus_after(
        self, conn: AsyncConnection, uow: U_contra, after: str, limit: int
    ) -> list[str]: ...

    async def snapshot(self, conn: AsyncConnection, uow: U_contra, claim: Claim) -> S:
        """The service's own state of the claimed SKUs."""

    async def record(
        self,
        conn: AsyncConnection,
        uow: U_contra,
        claim: Claim,
        snapshot: S,
        stock: Mapping[str, StockPositions],
        now: datetime,
    ) -> None:
        """Classify and store the verdicts of the claimed SKUs; forget those of the SKUs
        the claim passed over (they left the sweep)."""

    async def finish(
        self, conn: AsyncConnection, uow: U_contra, sweep: Sweep, now: datetime
    ) -> None:
        """A pass ended: publish the gauges."""


class Reconciler(Generic[U, S]):
    """Runs a reconciliation's steps on a service's transactions."""

    def __init__(
        self,
        runtime: ServiceRuntime[U],
        reconciliation: Reconciliation[U, S],
        stock: StockPositionsClient,
        settings: ReconcilingSettings,
    ) -> None:
        self._runtime = runtime
        self._reconciliation = reconciliation
        self._stock = stock
        self._settings = settings

    async def step(self, now: datetime | None = None) -> bool:
        """Check the next batch; True while the pass goes on (``now``: a fixed clock).

        Raises:
            StockUnavailableError: the stock service did not answer (nothing is stored;
                the pass goes on from the next batch).
        """
        r = self._reconciliation

        def clock() -> datetime:
            return now or datetime.now(UTC)

        async with self._runtime.transactions.begin() as (conn, uow):
            claim = await SweepStore(conn).claim(
                r.name,
                self._settings.reconcile_batch,
                lambda after, limit: r.skus_after(conn, uow, after, limit),
                clock(),
            )
            snapshot = await r.snapshot(conn, uow, claim)
        answer = await self._stock.positions(claim.skus) if claim.skus else {}
        sweep = claim.sweep
        async with self._runtime.transactions.begin() as (conn, uow):
            await r.record(conn, uow, claim, snapshot, answer, clock())
            if claim.ended:
                sweep = dataclasses.replace(sweep, last_finished_at=clock())
                await SweepStore(conn).finished(r.name, clock())
                await r.finish(conn, uow, sweep, clock())
        if claim.ended:
            _published_sweep(self._runtime.service, sweep)
        return not claim.ended

    async def run(self) -> None:
        """Pass after pass until cancelled. While stock does not answer, a warning is
        logged at first and then every ``dependency_warning_interval_s``."""
        failing_since: float | None = None
        warned_at = 0.0
        while True:
            try:
                more = await self.step()
            except StockUnavailableError as exc:
                STOCK_ERRORS.labels(self._runtime.service).inc()
                now = time.monotonic()
                if failing_since is None:
                    failing_since = now
                if (
                    failing_since == now
                    or now - warned_at >= self._settings.dependency_warning_interval_s
                ):
                    warned_at = now
                    log.warning(
                        "reconciler: %s for %.0fs; trying again every %.0fs",
                        exc,
                        now - failing_since,
                        self._pause(False),
                    )
                more = False
            else:
                if failing_since is not None:
                    log.info("reconciler: the stock service answers again")
                failing_since = None
            await self._wait(self._pause(more), more)

    async def _wait(self, pause_s: float, more: bool) -> None:
        """The pause before the next step, cut short when a pass is asked for.

        A request is answered by a pass that *starts* after it: one that arrives during a
        pass hurries that pass on and stays pending until it ends, so the next starts at
        once instead of after the interval.
        """
        requested = pass_requests(self._runtime)
        if requested.is_set():
            if not more:
                requested.clear()
            return
        try:
            # The reconciler's clock, not a synchronisation: what is due is in the database.
            await asyncio.wait_for(requested.wait(), pause_s)
        except TimeoutError:
            return
        if not more:
            requested.clear()

    def _pause(self, more: bool) -> float:
        s = self._settings
        return s.reconcile_step_pause_s if more else s.reconcile_interval_s


_PASS_REQUESTS: dict[int, asyncio.Event] = {}
"""Per runtime (one per process, but tests build several), by identity."""


def pass_requests(runtime: ServiceRuntime[Any]) -> asyncio.Event:
    """Set when someone asked this instance for a pass now (``POST /v1/accuracy/passes``)."""
    return _PASS_REQUESTS.setdefault(id(runtime), asyncio.Event())


def _published_sweep(service: str, sweep: Sweep) -> None:
    if sweep.last_finished_at is None or sweep.last_started_at is None:
        return
    LAST_SWEEP.labels(service).set(sweep.last_finished_at.timestamp())
    SWEEP_SECONDS.labels(service).set(
        (sweep.last_finished_at - sweep.last_started_at).total_seconds()
    )
    SWEEP_SKUS.labels(service).set(sweep.last_skus or 0)


def reconciler_worker(
    reconciliation: Callable[[], Reconciliation[U, Any]], settings: ReconcilingSettings
) -> Worker[U]:
    """The worker that runs a service's reconciler for as long as the service runs."""

    async def run(runtime: ServiceRuntime[U]) -> None:
        token = settings.stock_token.get_secret_value() if settings.stock_token else None
        async with StockPositionsClient(
            settings.stock_url, token=token, timeout_s=settings.stock_timeout_s
        ) as stock:
            await Reconciler(runtime, reconciliation(), stock, settings).run()

    return Worker("reconciler", run)


# ---- a projection table alone (catalog, lifecycle)


def projection_reconciler(
    service: str, spec: ProjectionSpec, settings: ReconcilingSettings
) -> list[Worker[Any]]:
    """The workers of a service whose stock projection is one table (none when
    ``settings.reconcile`` is off)."""
    if not settings.reconcile:
        return []
    return [
        reconciler_worker(lambda: ProjectionReconciliation(service, spec, settings.grace), settings)
    ]


class ProjectionReconciliation:
    """Compares a service's projection table of stock positions with the ledger."""

    def __init__(self, service: str, spec: ProjectionSpec, grace: timedelta) -> None:
        self.name = SWEEP
        self._service = service
        self._spec = spec
        self._grace = grace

    async def skus_after(
        self, conn: AsyncConnection, uow: object, after: str, limit: int
    ) -> list[str]:
        return await projection_skus_after(conn, self._spec, after, limit)

    async def snapshot(
        self, conn: AsyncConnection, uow: object, claim: Claim
    ) -> dict[str, list[Figures]]:
        return await read_projection(conn, self._spec, claim.skus)

    async def record(
        self,
        conn: AsyncConnection,
        uow: object,
        claim: Claim,
        snapshot: dict[str, list[Figures]],
        stock: Mapping[str, StockPositions],
        now: datetime,
    ) -> None:
        await record_positions(conn, claim, snapshot, stock, now, self._grace)

    async def finish(self, conn: AsyncConnection, uow: object, sweep: Sweep, now: datetime) -> None:
        await finish_positions(conn, self._service, now)


async def record_positions(
    conn: AsyncConnection,
    claim: Claim,
    local: Mapping[str, Sequence[Figures]],
    stock: Mapping[str, StockPositions],
    now: datetime,
    grace: timedelta,
) -> list[PositionVerdict]:
    """Classify and store one batch of a projection's positions; the verdicts."""
    store = PositionCheckStore(conn)
    previous = await store.previous(claim.skus)
    theirs = {sku: answer.positions for sku, answer in stock.items()}
    verdicts = reconcile_positions(claim.skus, local, theirs, previous, now, grace)
    await store.replace(verdicts, previous, now)
    await store.forget_outside(claim)
    return verdicts


async def finish_positions(conn: AsyncConnection, service: str, now: datetime) -> Tally:
    """End of a pass over positions: publish the gauges."""
    tally = await PositionCheckStore(conn).tally()
    publish(service, POSITIONS, "", tally, now)
    return tally


# ---- GET /v1/accuracy (catalog, lifecycle; the gateway's /v1/kpis has it too)


class SweepView(BaseModel):
    started_at: datetime = Field(description="When the last complete pass started.")
    finished_at: datetime = Field(description="When it ended.")
    skus: int = Field(description="SKUs it checked.")
    seconds: float = Field(description="How long it took.")


class TallyView(BaseModel):
    matches: int = Field(description="Same version on both sides, same figures.")
    mismatches: int = Field(
        description="Same version with other figures, a projection ahead of stock, or stock "
        "ahead for longer than the grace."
    )
    in_flight: int = Field(description="Stock is ahead, for less than the grace so far.")
    accuracy: Decimal | None = Field(
        description="matches / (matches + mismatches), 6 places; null before any comparison."
    )
    oldest_mismatch_age_s: float | None = Field(
        description="Seconds since the oldest open mismatch was first seen; null: none."
    )

    @classmethod
    def of(cls, tally: Tally, now: datetime) -> TallyView:
        return cls(
            matches=tally.matches,
            mismatches=tally.mismatches,
            in_flight=tally.in_flight,
            accuracy=tally.accuracy,
            oldest_mismatch_age_s=tally.oldest_mismatch_age_s(now),
        )


class AccuracyView(BaseModel):
    positions: TallyView = Field(
        description="This service's projection of stock positions against the stock service."
    )
    grace_s: float = Field(description="How long a position may be in flight.")
    last_sweep: SweepView | None = Field(description="The last complete pass; null before one.")


class PositionMismatchView(BaseModel):
    sku: str
    location: str
    lot: str | None
    local_version: int | None = Field(description="The version this service holds; null: none.")
    stock_version: int | None = Field(description="The version stock holds; null: none.")
    local: dict[str, Decimal] | None = Field(description="The figures compared, as held here.")
    stock: dict[str, Decimal] | None = Field(description="The same figures at stock.")
    reason: str
    first_seen: datetime = Field(description="When the discrepancy was first seen.")
    age_s: float
    checked_at: datetime | None


def sweep_view(sweep: Sweep | None) -> SweepView | None:
    if sweep is None or sweep.last_started_at is None or sweep.last_finished_at is None:
        return None
    return SweepView(
        started_at=sweep.last_started_at,
        finished_at=sweep.last_finished_at,
        skus=sweep.last_skus or 0,
        seconds=(sweep.last_finished_at - sweep.last_started_at).total_seconds(),
    )


def mismatch_view(v: PositionVerdict, now: datetime) -> PositionMismatchView:
    return PositionMismatchView(
        sku=v.sku,
        location=v.location,
        lot=v.lot or None,
        local_version=v.local.version if v.local else None,
        stock_version=v.stock.version if v.stock else None,
        local=dict(v.local.quantities) if v.local else None,
        stock=dict(v.stock.quantities) if v.stock else None,
        reason=v.standing.reason,
        first_seen=v.standing.since,
        age_s=max((now - v.standing.since).total_seconds(), 0.0),
        checked_at=v.checked_at,
    )


async def positions_accuracy(conn: AsyncConnection) -> tuple[Tally, Sweep | None]:
    """The stored tally of position checks and the sweep's place."""
    return await PositionCheckStore(conn).tally(), await SweepStore(conn).get(SWEEP)


def grace_of(settings: ServiceSettings) -> float:
    return settings.reconcile_grace_s if isinstance(settings, ReconcilingSettings) else 0.0


Runtime = Annotated[ServiceRuntime[Any], Depends(get_runtime)]
accuracy_router = APIRouter(prefix="/v1", tags=["accuracy"])


@accuracy_router.get(
    "/accuracy",
    response_model=AccuracyView,
    summary="Data accuracy of this service's stock projection",
    description="Its projection of stock positions compared with the stock service's ledger "
    "at the same position version by the continuous reconciler (docs/kpis.md): verdicts as "
    "of each SKU's last check.",
)
async def get_accuracy(runtime: Runtime) -> AccuracyView:
    async with runtime.engine.connect() as conn:
        tally, sweep = await positions_accuracy(conn)
    return AccuracyView(
        positions=TallyView.of(tally, datetime.now(UTC)),
        grace_s=grace_of(runtime.settings),
        last_sweep=sweep_view(sweep),
    )


class PassRequested(BaseModel):
    requested_at: datetime = Field(
        description="A pass that starts after this is one that follows the request: compare "
        "last_sweep.started_at of GET /v1/accuracy with it."
    )


@accuracy_router.post(
    "/accuracy/passes",
    dependencies=[requires(Scope.OPERATE)],
    response_model=PassRequested,
    status_code=202,
    summary="Ask for a reconciler pass now",
    description="The reconciler of this instance starts its next step at once instead of "
    "waiting out its interval (after a load, or after mending data by hand). A pass "
    "already under way goes on without pauses, and the next one starts as soon as it ends: "
    "the pass that answers the request is the first that started after requested_at.",
)
async def request_pass(runtime: Runtime) -> PassRequested:
    pass_requests(runtime).set()
    return PassRequested(requested_at=datetime.now(UTC))


@accuracy_router.get(
    "/accuracy/mismatches",
    response_model=list[PositionMismatchView],
    summary="Every open mismatch of this service's stock projection",
    description="Oldest first: each position whose figures differ from the ledger at the "
    "same version, that is ahead of the ledger, or that stayed behind longer than the grace.",
)
async def get_accuracy_mismatches(
    runtime: Runtime,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
) -> list[PositionMismatchView]:
    async with runtime.engine.connect() as conn:
        found = await PositionCheckStore(conn).mismatches(limit)
    now = datetime.now(UTC)
    return [mismatch_view(v, now) for v in found]

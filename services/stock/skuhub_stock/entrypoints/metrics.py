"""The stock service's own Prometheus metrics (beside the runtime's, at ``/metrics``).

Counted when the decision is made, inside its transaction: a batch retried after an
infrastructure error counts again. Gauges of parked movements are refreshed by a
periodic job from the database, so every replica reports the same figures.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter, Gauge

from skuhub_runtime.handling import Decision
from skuhub_stock.domain.ledger import Ledger
from skuhub_stock.service_layer.ports import StockUnitOfWork

ANOMALIES = Counter(
    "skuhub_stock_anomalies_total",
    "Times a position entered an anomalous state (negative_on_hand, oversold, "
    "negative_in_transit) or a release found less reserved than it released.",
    ["anomaly"],
)
CYCLE_COUNTS = Counter(
    "skuhub_stock_cycle_counts_total",
    "Cycle counts applied, by whether they matched what the ledger had as of their time "
    "(variance zero) or not.",
    ["matched"],
)
PARKED = Counter(
    "skuhub_stock_parked_total",
    "Movements parked until their partner (reservation, transfer-out) arrives.",
    ["waiting_for"],
)
PARKED_NOW = Gauge("skuhub_stock_parked_records", "Movements waiting for their partner now.")
PARKED_OLDEST = Gauge(
    "skuhub_stock_parked_oldest_age_seconds",
    "Age of the oldest parked movement (0 when none waits): the alert's figure.",
)
RESERVATIONS = Counter(
    "skuhub_stock_reservations_total",
    "Reservation commands by outcome: granted, refused (409), released, confirmed, expired.",
    ["outcome"],
)


def observe(ledger: Ledger | None) -> None:
    """Count what a decision recorded: anomalies, counts, parked movements."""
    if ledger is None:
        return
    for anomaly in ledger.anomalies:
        ANOMALIES.labels(anomaly.anomaly).inc()
    for variance in ledger.variances:
        CYCLE_COUNTS.labels(str(variance.difference == 0).lower()).inc()
    for parked in ledger.newly_parked:
        PARKED.labels(parked.waiting_for[0]).inc()


async def refresh_parked_gauges(uow: StockUnitOfWork, now: datetime) -> Decision[bool]:
    """Set the parked gauges from the database."""
    count, oldest = await uow.ledger.parked_summary()
    PARKED_NOW.set(count)
    PARKED_OLDEST.set((now - oldest).total_seconds() if oldest is not None else 0)
    return Decision(value=False)

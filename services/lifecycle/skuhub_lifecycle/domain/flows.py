"""Stock flows per SKU from stock-level-changed: network totals and a ledger by day.

Pure Python. stock-level-changed carries a position's state, including cumulative
counters (received, shipped, returned, scrapped, lost sales) that never decrease.
A SKU's flow in a period is the growth of those counters, so a replayed, repeated
or coalesced event cannot distort it: an event not newer than the position's
version changes nothing, and two changes folded into one still add up to the same
growth.

Stockouts (spans at zero network available-to-promise) are timed on the event clock
(each event's ``changed_at``, never the processing clock), so a replay rebuilds the
same spans. The clock of a SKU only moves forward: an event stamped earlier than the
last one applied counts at the time of the last one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal

COUNTERS = ("received", "shipped", "returned", "scrapped", "lost_sales")
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PositionReport:
    """One stock-level-changed: a position's state after a change."""

    sku: str
    location: str
    lot: str | None
    version: int
    on_hand: Decimal
    reserved: Decimal
    location_available_to_promise: Decimal
    received: Decimal
    shipped: Decimal
    returned: Decimal
    scrapped: Decimal
    lost_sales: Decimal
    changed_at: datetime

    @property
    def key(self) -> tuple[str, str]:
        return (self.location, self.lot or "")


@dataclass(slots=True)
class DayFlows:
    """What happened to a SKU on one (UTC) day: counter growth and time at zero ATP."""

    sku: str
    day: date
    received: Decimal = ZERO
    shipped: Decimal = ZERO
    returned: Decimal = ZERO
    scrapped: Decimal = ZERO
    lost_sales: Decimal = ZERO
    on_hand_close: Decimal | None = None
    """Network on hand after the day's last change (None: no change that day)."""

    def add(self, other: DayFlows) -> None:
        """Fold a later part of the same day into this one."""
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.on_hand_close is not None:
            self.on_hand_close = other.on_hand_close


@dataclass(slots=True)
class SkuStock:
    """A SKU's network stock now, its cumulative counters, and its event clock."""

    sku: str
    on_hand: Decimal = ZERO
    reserved: Decimal = ZERO
    available_to_promise: Decimal = ZERO
    received: Decimal = ZERO
    shipped: Decimal = ZERO
    returned: Decimal = ZERO
    scrapped: Decimal = ZERO
    lost_sales: Decimal = ZERO
    tracked_since: datetime | None = None
    last_at: datetime | None = None
    last_sale_at: datetime | None = None
    zero_since: datetime | None = None
    """Start of the stockout under way (network ATP at zero), None while there is stock."""
    positions: dict[tuple[str, str], PositionReport] = field(default_factory=dict)
    """The newest report of each position (location, lot)."""

    @property
    def at_zero(self) -> bool:
        return self.available_to_promise <= 0


@dataclass
class Applied:
    """What a batch of reports did: positions to store, days to add, stockouts begun or
    ended, reports already seen."""

    positions: list[PositionReport] = field(default_factory=list)
    days: dict[tuple[str, date], DayFlows] = field(default_factory=dict)
    stockouts: dict[tuple[str, datetime], datetime | None] = field(default_factory=dict)
    """(SKU, start) -> end of each stockout the batch began or ended (None: still under way)."""
    already_seen: list[int] = field(default_factory=list)
    """Indexes (in the batch) of reports not newer than their position."""


def apply_reports(stocks: dict[str, SkuStock], reports: Iterable[PositionReport]) -> Applied:
    """Apply reports in order to the SKUs' stock (created when new), and say what changed."""
    applied = Applied()
    for index, report in enumerate(reports):
        stock = stocks.setdefault(report.sku, SkuStock(report.sku))
        previous = stock.positions.get(report.key)
        if previous is not None and report.version <= previous.version:
            applied.already_seen.append(index)
            continue
        at = _advance_clock(stock, report.changed_at)
        today = DayFlows(report.sku, _day_of(at))
        for name in COUNTERS:
            growth = getattr(report, name) - (getattr(previous, name) if previous else ZERO)
            setattr(today, name, growth)
            setattr(stock, name, getattr(stock, name) + growth)
        if today.shipped > 0:
            stock.last_sale_at = stock.last_at
        stock.positions[report.key] = report
        _total(stock)
        _time_stockout(stock, at, applied.stockouts)
        today.on_hand_close = stock.on_hand
        _fold(applied.days, today)
        applied.positions.append(report)
    return applied


def _advance_clock(stock: SkuStock, at: datetime) -> datetime:
    """Move the SKU's clock to ``at`` (never back); the clock's time."""
    if stock.last_at is None:
        stock.tracked_since = at
    stock.last_at = at if stock.last_at is None else max(at, stock.last_at)
    return stock.last_at


def _time_stockout(
    stock: SkuStock, at: datetime, stockouts: dict[tuple[str, datetime], datetime | None]
) -> None:
    """Begin a stockout when network ATP reaches zero, end it when stock is back."""
    if stock.at_zero and stock.zero_since is None:
        stock.zero_since = at
        stockouts[(stock.sku, at)] = None
    elif not stock.at_zero and stock.zero_since is not None:
        stockouts[(stock.sku, stock.zero_since)] = at
        stock.zero_since = None


def _total(stock: SkuStock) -> None:
    """Network totals from the newest report of each position.

    Available-to-promise is per location (lots of one location share it), so each
    location counts once, with its most recent figure.
    """
    stock.on_hand = sum((p.on_hand for p in stock.positions.values()), ZERO)
    stock.reserved = sum((p.reserved for p in stock.positions.values()), ZERO)
    by_location: dict[str, PositionReport] = {}
    for report in stock.positions.values():
        latest = by_location.get(report.location)
        if latest is None or report.changed_at >= latest.changed_at:
            by_location[report.location] = report
    stock.available_to_promise = sum(
        (max(ZERO, p.location_available_to_promise) for p in by_location.values()), ZERO
    )


def _fold(days: dict[tuple[str, date], DayFlows], part: DayFlows) -> None:
    key = (part.sku, part.day)
    if key in days:
        days[key].add(part)
    else:
        days[key] = replace(part)


def _day_of(at: datetime) -> date:
    return at.astimezone(UTC).date()

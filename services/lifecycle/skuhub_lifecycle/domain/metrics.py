"""SKU metrics over a rolling window, from the day ledger (docs/lifecycle.md, "SKU metrics").

Pure Python; ``now`` is passed in. A window of ``w`` days is today (UTC) and the
``w - 1`` days before it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from skuhub_lifecycle.domain.flows import ZERO, DayFlows, SkuStock
from skuhub_lifecycle.domain.stages import SELLING_STAGES, StageChange

WINDOWS = (7, 28, 90)
"""The windows the service reports (days)."""
ABC_WINDOW_DAYS = 28
XYZ_WEEKS = 13
A_SHARE = Decimal("0.80")
B_SHARE = Decimal("0.95")
X_MAX_CV = 0.5
Y_MAX_CV = 1.0


class Velocity(StrEnum):
    A = "A"
    B = "B"
    C = "C"


class Variability(StrEnum):
    X = "X"
    Y = "Y"
    Z = "Z"


@dataclass(frozen=True, slots=True)
class Span:
    """A span of time; ``end`` None while it lasts."""

    start: datetime
    end: datetime | None = None


def selling_spans(changes: Sequence[StageChange]) -> list[Span]:
    """The spans a SKU spent in a stage that sells (active, mature, phase-out), from its
    stage history, oldest change first."""
    spans: list[Span] = []
    opened: datetime | None = None
    for change in changes:
        if change.stage in SELLING_STAGES and opened is None:
            opened = change.changed_at
        elif change.stage not in SELLING_STAGES and opened is not None:
            spans.append(Span(opened, change.changed_at))
            opened = None
    if opened is not None:
        spans.append(Span(opened))
    return spans


def stockout_rate(
    selling: Sequence[Span], stockouts: Sequence[Span], start: datetime, end: datetime
) -> float | None:
    """Share of the selling time from ``start`` to ``end`` spent at zero network ATP (None
    when the SKU was not selling then)."""
    sellable = sum(_overlap(s, Span(start, end)) for s in selling)
    if sellable <= 0:
        return None
    short = sum(_overlap(s, o, Span(start, end)) for s in selling for o in stockouts)
    return short / sellable


def _overlap(*spans: Span) -> float:
    """Seconds common to every span (an open span ends at the last closed one's end)."""
    ends = [s.end for s in spans if s.end is not None]
    latest_end = min(ends)
    earliest = max(s.start for s in spans)
    return max(0.0, (latest_end - earliest).total_seconds())


@dataclass(frozen=True, slots=True)
class SkuClass:
    """A SKU's velocity and variability classes, and the units sold they were ranked by."""

    sku: str
    velocity: Velocity
    variability: Variability
    units_sold_28: Decimal


@dataclass(frozen=True, slots=True)
class WindowMetrics:
    """One SKU's figures over one window; None where the formula divides by zero."""

    sku: str
    window_days: int
    units_sold: Decimal
    units_received: Decimal
    units_returned: Decimal
    units_scrapped: Decimal
    lost_sales: Decimal
    on_hand: Decimal
    opening_on_hand: Decimal
    average_on_hand: Decimal
    inventory_turnover: Decimal | None
    sell_through: Decimal | None
    weeks_of_supply: Decimal | None
    fill_rate: Decimal | None
    stockout_rate: float | None
    days_since_last_sale: int | None


def window_metrics(
    stock: SkuStock,
    days: Sequence[DayFlows],
    opening: DayFlows | None,
    *,
    window_days: int,
    now: datetime,
    selling: Sequence[Span] = (),
    stockouts: Sequence[Span] = (),
) -> WindowMetrics:
    """The SKU's metrics over the window ending today.

    ``days`` are the SKU's recorded days inside the window, in order; ``opening`` is its
    last recorded day before the window (its closing on hand opens the window);
    ``selling`` the spans it spent in a selling stage, ``stockouts`` its spans at zero
    network ATP.
    """
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=window_days - 1)
    inside = [d for d in days if first <= d.day <= today]
    sold = _sum(inside, "shipped")
    received = _sum(inside, "received")
    lost = _sum(inside, "lost_sales")
    opening_on_hand = _closing(opening)
    average = _average_on_hand(stock, inside, opening_on_hand, first, today, opening is None)
    window_start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    weekly_sales = sold / Decimal(window_days) * 7
    return WindowMetrics(
        sku=stock.sku,
        window_days=window_days,
        units_sold=sold,
        units_received=received,
        units_returned=_sum(inside, "returned"),
        units_scrapped=_sum(inside, "scrapped"),
        lost_sales=lost,
        on_hand=stock.on_hand,
        opening_on_hand=opening_on_hand,
        average_on_hand=average,
        inventory_turnover=_ratio(sold, average),
        sell_through=_ratio(sold, opening_on_hand + received),
        weeks_of_supply=_ratio(stock.on_hand, weekly_sales),
        fill_rate=_ratio(sold, sold + lost),
        stockout_rate=stockout_rate(selling, stockouts, window_start, now),
        days_since_last_sale=(now - stock.last_sale_at).days if stock.last_sale_at else None,
    )


def velocity_classes(units_sold: Mapping[str, Decimal]) -> dict[str, Velocity]:
    """ABC by units sold: A until 80 % of all units are covered, B until 95 %, then C.

    The SKU that crosses a boundary belongs to the class it completes. A SKU that sold
    nothing is C; so is every SKU when nothing sold at all.
    """
    total = sum(units_sold.values(), ZERO)
    classes: dict[str, Velocity] = {}
    covered = ZERO
    for sku, sold in sorted(units_sold.items(), key=lambda item: (-item[1], item[0])):
        if sold <= 0 or total <= 0:
            classes[sku] = Velocity.C
            continue
        share_before = covered / total
        covered += sold
        if share_before < A_SHARE:
            classes[sku] = Velocity.A
        elif share_before < B_SHARE:
            classes[sku] = Velocity.B
        else:
            classes[sku] = Velocity.C
    return classes


def variability_class(weekly_demand: Sequence[Decimal]) -> Variability:
    """XYZ by the coefficient of variation of weekly demand (population standard deviation
    over the mean): X up to 0.5, Y up to 1.0, Z above (and Z without demand)."""
    values = [float(w) for w in weekly_demand]
    mean = statistics.fmean(values) if values else 0.0
    if mean <= 0 or not math.isfinite(mean):
        return Variability.Z
    cv = statistics.pstdev(values) / mean
    if cv <= X_MAX_CV:
        return Variability.X
    if cv <= Y_MAX_CV:
        return Variability.Y
    return Variability.Z


def weekly_series(
    by_week: Mapping[int, Decimal], *, first_seen: date, today: date, weeks: int = XYZ_WEEKS
) -> list[Decimal]:
    """Demand in each of the last ``weeks`` seven-day spans ending today, oldest first.

    ``by_week`` holds the demand of span ``n`` (0: the span ending today, 1: the one before);
    a span without an entry had none. Spans that end before the SKU was first seen are left
    out, so a new SKU is not called erratic for the weeks before it existed.
    """
    series: list[Decimal] = []
    for n in range(weeks - 1, -1, -1):
        if today - timedelta(days=7 * n) < first_seen:
            continue
        series.append(by_week.get(n, ZERO))
    return series


def _average_on_hand(
    stock: SkuStock,
    inside: Sequence[DayFlows],
    opening: Decimal,
    first: date,
    today: date,
    new_in_window: bool,
) -> Decimal:
    """Mean closing on hand over the window's days (from the SKU's first day if it is newer);
    a day without a change closes at the day before's figure, today at the current one."""
    by_day = {d.day: d.on_hand_close for d in inside if d.on_hand_close is not None}
    if new_in_window:
        if not by_day:
            return stock.on_hand
        first = min(by_day)
    closes: list[Decimal] = []
    close = opening
    day = first
    while day <= today:
        close = by_day.get(day, close)
        closes.append(stock.on_hand if day == today else close)
        day += timedelta(days=1)
    return sum(closes, ZERO) / len(closes)


def _closing(day: DayFlows | None) -> Decimal:
    if day is None or day.on_hand_close is None:
        return ZERO
    return day.on_hand_close


def _sum(days: Sequence[DayFlows], name: str) -> Decimal:
    return sum((getattr(d, name) for d in days), ZERO)


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    if denominator <= 0:
        return None
    return numerator / denominator


def sell_through_by_week(
    days: Sequence[DayFlows], *, today: date, weeks: int, window_days: int = ABC_WINDOW_DAYS
) -> list[Decimal | None]:
    """Sell-through over ``window_days`` ending at today and at each of the ``weeks - 1``
    week ends before it, oldest first (``days`` in order, reaching back far enough)."""
    found: list[Decimal | None] = []
    for week in range(weeks - 1, -1, -1):
        end = today - timedelta(days=7 * week)
        first = end - timedelta(days=window_days - 1)
        inside = [d for d in days if first <= d.day <= end]
        before = [d for d in days if d.day < first and d.on_hand_close is not None]
        opening = before[-1].on_hand_close if before else None
        if opening is None and not inside:
            found.append(None)
            continue
        sold = _sum(inside, "shipped")
        found.append(_ratio(sold, (opening or ZERO) + _sum(inside, "received")))
    return found

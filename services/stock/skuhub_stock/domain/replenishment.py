"""Replenishment: how much demand to expect, when to reorder, how much to propose.

Pure Python (the standard library's normal distribution for the quantile z) plus
statsforecast for intermittent demand, imported on first use: no I/O, no frameworks,
time and ids passed in. The formulas are in docs/replenishment.md:

- daily demand = units shipped + lost sales that day;
- safety stock  SS = b x z x sigma_d x sqrt(L + R), z = norm.ppf(service level), b the
  lifecycle policy's buffer multiplier (1 without one, and under a min/max policy);
- reorder point (the order-up-to level S of a periodic review) = d x (L + R) + SS;
- inventory position IP = on_hand + in_transit + incoming - reserved;
- propose when IP <= reorder point: S - IP (max - IP under a min/max policy),
  rounded up to the order multiple; never while the SKU's lifecycle policy says not to
  replenish (docs/stock.md, "Lifecycle policy").
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from enum import StrEnum

ZERO = Decimal(0)
QUANTUM = Decimal("0.000001")
"""Figures are kept to the contracts' six decimal places."""

SERVICE_LEVEL_MIN = 0.5
SERVICE_LEVEL_MAX = 0.999
MAX_DAYS = 3650
"""Longest lead time or review period a policy may have (ten years)."""
BUFFER_MULTIPLIER_MAX = 10.0
"""Largest factor a lifecycle policy may put on the safety stock."""

INTERMITTENT_MIN_DAYS = 28
"""Croston's method needs a few demand intervals to smooth: four weeks at least."""
INTERMITTENT_MIN_ZERO_SHARE = 0.3
"""Demand is intermittent when at least this share of the days had none."""

PositionKey = tuple[str, str]
"""(sku, location GLN): replenishment plans per SKU and location, across lots."""

SHIPMENT = "shipment"
LOST_SALE = "lost_sale"
"""The movement kinds that are demand: what was shipped, and what was asked for but could not
be served (a lost sale moves no stock; the ledger journals it and leaves positions alone)."""


class PolicyError(Exception):
    """A replenishment policy the domain refuses; ``field`` names the input."""

    def __init__(self, reason: str, *, field: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class ProposalNotFoundError(Exception):
    def __init__(self, proposal_id: str) -> None:
        self.reason = f"no replenishment proposal {proposal_id}"
        super().__init__(self.reason)


class ProposalNotOpenError(Exception):
    """Only an open proposal can be accepted or dismissed."""

    def __init__(self, proposal_id: str, status: ProposalStatus) -> None:
        self.reason = f"proposal {proposal_id} is {status.value}, not open: it was decided already"
        super().__init__(self.reason)


# ------------------------------------------------------------------------------------ policy


@dataclass(frozen=True, slots=True)
class ReplenishmentPolicy:
    """How one SKU at one location is replenished.

    Without ``min_quantity``/``max_quantity`` the reorder point and order-up-to level are
    computed from demand; with both, they are the planner's min and max.
    """

    lead_time_days: int = 7
    review_period_days: int = 7
    service_level: float = 0.95
    min_quantity: Decimal | None = None
    max_quantity: Decimal | None = None
    order_multiple: Decimal = Decimal(1)
    """Pack size: proposals are whole multiples of it."""

    def __post_init__(self) -> None:
        for name in ("lead_time_days", "review_period_days"):
            _check_days(getattr(self, name), name)
        _check_service_level(self.service_level)
        if not self.order_multiple.is_finite() or self.order_multiple <= 0:
            raise PolicyError("must be more than zero", field="order_multiple")
        if (self.min_quantity is None) != (self.max_quantity is None):
            missing = "max_quantity" if self.max_quantity is None else "min_quantity"
            raise PolicyError(
                "min_quantity and max_quantity go together (a min/max policy) or not at all",
                field=missing,
            )
        if self.min_quantity is not None and self.max_quantity is not None:
            if not self.min_quantity.is_finite() or self.min_quantity < 0:
                raise PolicyError("must be zero or more", field="min_quantity")
            if not self.max_quantity.is_finite() or self.max_quantity <= self.min_quantity:
                raise PolicyError("must be more than min_quantity", field="max_quantity")

    @property
    def is_min_max(self) -> bool:
        return self.min_quantity is not None and self.max_quantity is not None

    @property
    def protection_days(self) -> int:
        """L + R: the days an order placed now has to cover."""
        return self.lead_time_days + self.review_period_days


def _check_days(days: object, name: str) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_DAYS:
        raise PolicyError(f"must be whole days from 0 to {MAX_DAYS}", field=name)


def _check_service_level(level: object) -> None:
    if not (
        isinstance(level, (int, float))
        and not isinstance(level, bool)
        and math.isfinite(level)
        and SERVICE_LEVEL_MIN <= level <= SERVICE_LEVEL_MAX
    ):
        raise PolicyError(
            f"must be from {SERVICE_LEVEL_MIN} to {SERVICE_LEVEL_MAX} (the share of demand "
            "served from stock)",
            field="service_level",
        )


# -------------------------------------------------------------------------- lifecycle policy


@dataclass(frozen=True, slots=True)
class LifecyclePolicy:
    """The lifecycle service's inventory policy of one SKU, at every location.

    Decided from the SKU's stage and its velocity and variability classes; each change
    has the next ``version``, and only the highest version seen counts.
    """

    sku: str
    version: int
    stage: str
    replenish: bool
    """False: no new proposals for the SKU anywhere (before launch, and while it runs down)."""
    service_level: float
    review_period_days: int
    buffer_multiplier: float
    """Multiplies the safety stock computed from demand."""
    changed_at: datetime
    velocity_class: str | None = None
    variability_class: str | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise PolicyError("must be a whole number from 1", field="policy_version")
        _check_days(self.review_period_days, "review_period_days")
        _check_service_level(self.service_level)
        factor = self.buffer_multiplier
        if not (
            isinstance(factor, (int, float))
            and not isinstance(factor, bool)
            and math.isfinite(factor)
            and 0 <= factor <= BUFFER_MULTIPLIER_MAX
        ):
            raise PolicyError(
                f"must be from 0 to {BUFFER_MULTIPLIER_MAX}", field="buffer_multiplier"
            )

    def supersedes(self, stored: LifecyclePolicy | None) -> bool:
        """Whether this policy replaces ``stored``: only a higher version does (an equal one
        is a re-delivery, a lower one arrived late)."""
        return stored is None or self.version > stored.version


def newest_per_sku(
    received: Iterable[tuple[str, LifecyclePolicy]],
) -> dict[str, tuple[str, LifecyclePolicy]]:
    """The highest version of each SKU's policy among ``(event id, policy)`` pairs, with its
    event id; of equal versions the first one received."""
    newest: dict[str, tuple[str, LifecyclePolicy]] = {}
    for event_id, policy in received:
        found = newest.get(policy.sku)
        if found is None or policy.supersedes(found[1]):
            newest[policy.sku] = (event_id, policy)
    return newest


@dataclass(frozen=True, slots=True)
class PolicyInForce:
    """What a review applies to one position: its policy with the SKU's lifecycle policy.

    - ``policy``: lead time, order multiple and min/max from the planner's policy of the
      position or the default; service level and review period from the planner's policy
      when one is set, else from the lifecycle policy, else the default.
    - ``buffer_multiplier``: the lifecycle policy's, on a safety stock computed from
      demand; 1 without a lifecycle policy and under a min/max policy (the planner's min
      and max are the levels; the buffer does not move them).
    - the lifecycle policy's ``replenish`` = false holds every new proposal, whatever
      the planner set.
    """

    policy: ReplenishmentPolicy
    buffer_multiplier: float = 1.0
    lifecycle: LifecyclePolicy | None = None
    set_by_planner: bool = False
    """True: the position has a policy set (PUT /v1/policies); False: the default applies."""

    @property
    def replenish(self) -> bool:
        return self.lifecycle is None or self.lifecycle.replenish

    @property
    def hold_reason(self) -> str | None:
        """Why no new proposal is made, or None when proposals are made."""
        if self.lifecycle is None or self.lifecycle.replenish:
            return None
        held = self.lifecycle
        why = f": {held.reason}" if held.reason else ""
        return (
            f"lifecycle policy version {held.version} (stage {held.stage}) says not to "
            f"replenish{why}"
        )


def policy_in_force(
    position: ReplenishmentPolicy | None,
    lifecycle: LifecyclePolicy | None,
    default: ReplenishmentPolicy,
) -> PolicyInForce:
    """Combine the planner's policy of a position (None when not set), the SKU's lifecycle
    policy (None until one arrives) and the default, as :class:`PolicyInForce` says."""
    if position is not None:
        buffer = 1.0 if lifecycle is None or position.is_min_max else lifecycle.buffer_multiplier
        return PolicyInForce(position, buffer, lifecycle, set_by_planner=True)
    if lifecycle is None:
        return PolicyInForce(default)
    policy = dataclasses.replace(
        default,
        service_level=lifecycle.service_level,
        review_period_days=lifecycle.review_period_days,
    )
    buffer = 1.0 if policy.is_min_max else lifecycle.buffer_multiplier
    return PolicyInForce(policy, buffer, lifecycle)


# ------------------------------------------------------------------------------------ demand


@dataclass(frozen=True, slots=True)
class DailyDemand:
    """What one SKU at one location was asked for on one day."""

    day: date
    shipped: Decimal = ZERO
    lost_sales: Decimal = ZERO

    @property
    def demand(self) -> Decimal:
        return self.shipped + self.lost_sales


@dataclass(frozen=True, slots=True)
class DemandNoted:
    """Demand to add to a SKU's day at a location (from shipments and lost sales)."""

    sku: str
    location: str
    day: date
    shipped: Decimal = ZERO
    lost_sales: Decimal = ZERO

    def __post_init__(self) -> None:
        for name in ("shipped", "lost_sales"):
            value: Decimal = getattr(self, name)
            if not value.is_finite() or value < 0:
                raise ValueError(f"{name} must be zero or more, not {value}")

    @property
    def key(self) -> PositionKey:
        return (self.sku, self.location)


def demand_from(
    kind: str, sku: str, location: str, day: date, quantity: Decimal
) -> DemandNoted | None:
    """The demand a movement of this kind stands for, if any (shipments and lost sales)."""
    if kind == SHIPMENT:
        return DemandNoted(sku, location, day, shipped=quantity)
    if kind == LOST_SALE:
        return DemandNoted(sku, location, day, lost_sales=quantity)
    return None


def combine(noted: Iterable[DemandNoted]) -> list[DemandNoted]:
    """One entry per SKU, location and day, the quantities added; ordered by key and day."""
    totals: dict[tuple[str, str, date], DemandNoted] = {}
    for n in noted:
        key = (n.sku, n.location, n.day)
        found = totals.get(key)
        totals[key] = (
            n
            if found is None
            else dataclasses.replace(
                found, shipped=found.shipped + n.shipped, lost_sales=found.lost_sales + n.lost_sales
            )
        )
    return [totals[key] for key in sorted(totals)]


def daily_series(history: Iterable[DailyDemand], first: date, last: date) -> list[float]:
    """Demand per day from ``first`` to ``last`` (both included); a day not recorded had none."""
    if last < first:
        return []
    by_day = {d.day: d.demand for d in history}
    return [
        float(by_day.get(first + timedelta(days=offset), ZERO))
        for offset in range((last - first).days + 1)
    ]


class ForecastMethod(StrEnum):
    NONE = "none"
    """No history: nothing is expected."""
    MEAN = "mean"
    CROSTON_SBA = "croston_sba"


@dataclass(frozen=True, slots=True)
class DemandEstimate:
    mean_daily: float
    """Expected demand per day (d in the formulas)."""
    std_daily: float
    """Standard deviation of daily demand (sigma_d): the sample one, n - 1 in the divisor."""
    days: int
    """Days of history behind the estimate."""
    method: ForecastMethod


def is_intermittent(series: Sequence[float]) -> bool:
    """Enough history (four weeks) with many days without demand (30 % or more)."""
    if len(series) < INTERMITTENT_MIN_DAYS:
        return False
    zeros = sum(1 for d in series if d == 0)
    return zeros >= INTERMITTENT_MIN_ZERO_SHARE * len(series) and zeros < len(series)


def estimate_demand(series: Sequence[float]) -> DemandEstimate:
    """Mean and spread of daily demand.

    The mean is the plain mean over the series, or Croston's method with the
    Syntetos-Boylan correction (statsforecast's ``CrostonSBA``) when demand is intermittent.
    The spread is the sample standard deviation of the days (zero with fewer than two).
    """
    if not series:
        return DemandEstimate(0.0, 0.0, 0, ForecastMethod.NONE)
    std = statistics.stdev(series) if len(series) > 1 else 0.0
    if is_intermittent(series):
        return DemandEstimate(croston_sba(series), std, len(series), ForecastMethod.CROSTON_SBA)
    return DemandEstimate(statistics.fmean(series), std, len(series), ForecastMethod.MEAN)


def croston_sba(series: Sequence[float]) -> float:
    """Expected demand per day of an intermittent series (statsforecast's CrostonSBA:
    smoothing 0.1 of demand sizes and of intervals, their ratio times 0.95)."""
    # Imported on first use: statsforecast takes ~1.2 s to import (docs/dependencies.md).
    import numpy as np
    from statsforecast.models import CrostonSBA

    forecast = CrostonSBA().forecast(y=np.asarray(series, dtype=np.float64), h=1)
    return float(forecast["mean"][0])


# ------------------------------------------------------------------------------------ levels


_STANDARD_NORMAL = statistics.NormalDist()


def z_value(service_level: float) -> float:
    """The standard normal quantile of the service level (1.645 for 0.95).

    The inverse of the standard normal CDF, what ``scipy.stats.norm.ppf`` evaluates for
    mean 0 and deviation 1, by the standard library's ``NormalDist.inv_cdf`` (Wichura's
    algorithm AS 241, good to about 1e-16): tests/unit/test_replenishment.py holds it to
    scipy's ``ndtri``. scipy's import alone cost the service 40 MiB of its memory
    (docs/dependencies.md).
    """
    return _STANDARD_NORMAL.inv_cdf(service_level)


def safety_stock(
    z: float, std_daily: float, protection_days: int, buffer_multiplier: float = 1.0
) -> float:
    """SS = b x z x sigma_d x sqrt(L + R) (b: the lifecycle policy's buffer multiplier)."""
    return max(z * std_daily * math.sqrt(protection_days), 0.0) * buffer_multiplier


def reorder_point(mean_daily: float, protection_days: int, safety: float) -> float:
    """d x (L + R) + SS: the order-up-to level of a periodic review."""
    return mean_daily * protection_days + safety


@dataclass(frozen=True, slots=True)
class Levels:
    safety_stock: Decimal
    reorder_point: Decimal
    """Propose when the inventory position is at or below it."""
    order_up_to: Decimal
    """What a proposal brings the inventory position up to."""


def levels(
    policy: ReplenishmentPolicy, estimate: DemandEstimate, buffer_multiplier: float = 1.0
) -> Levels:
    """Reorder point and order-up-to level: computed, or the policy's min and max.

    The safety stock is the computed one either way (under min/max it is for comparison,
    without the buffer multiplier: the planner's min and max are the levels).
    """
    days = policy.protection_days
    z = z_value(policy.service_level)
    if policy.min_quantity is not None and policy.max_quantity is not None:
        safety = safety_stock(z, estimate.std_daily, days)
        return Levels(_quantity(safety), policy.min_quantity, policy.max_quantity)
    safety = safety_stock(z, estimate.std_daily, days, buffer_multiplier)
    point = _quantity(reorder_point(estimate.mean_daily, days, safety))
    return Levels(_quantity(safety), point, point)


def _quantity(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(QUANTUM, rounding=ROUND_HALF_UP)


def round_up(quantity: Decimal, multiple: Decimal) -> Decimal:
    """The smallest whole multiple of ``multiple`` that is at least ``quantity``."""
    packs = (quantity / multiple).to_integral_value(rounding=ROUND_CEILING)
    return packs * multiple


# ---------------------------------------------------------------------------------- position


@dataclass(frozen=True, slots=True)
class PositionFigures:
    """What the ledger knows of one SKU at one location (its lots added up)."""

    sku: str
    location: str
    unit: str
    on_hand: Decimal
    reserved: Decimal
    in_transit: Decimal
    incoming: Decimal
    """Ordered from suppliers, not yet shipped to the location (open purchase orders)."""

    @property
    def key(self) -> PositionKey:
        return (self.sku, self.location)

    @property
    def inventory_position(self) -> Decimal:
        """IP = on_hand + in_transit + incoming - reserved."""
        return self.on_hand + self.in_transit + self.incoming - self.reserved

    @property
    def available_to_promise(self) -> Decimal:
        """As the ledger defines it: max(on_hand - reserved, 0)."""
        return max(self.on_hand - self.reserved, ZERO)


# --------------------------------------------------------------------------------- proposals


class ProposalStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposal to reorder one SKU at one location, and what was decided about it."""

    id: str
    sku: str
    location: str
    quantity: Decimal
    unit: str
    reorder_point: Decimal
    order_up_to: Decimal
    safety_stock: Decimal
    inventory_position: Decimal
    available_to_promise: Decimal
    created_at: datetime
    status: ProposalStatus = ProposalStatus.OPEN
    decided_at: datetime | None = None
    decided_by: str | None = None
    note: str | None = None

    @property
    def key(self) -> PositionKey:
        return (self.sku, self.location)

    def accept(self, at: datetime, *, by: str | None = None, note: str | None = None) -> Proposal:
        return self._decide(ProposalStatus.ACCEPTED, at, by, note)

    def dismiss(self, at: datetime, *, by: str | None = None, note: str | None = None) -> Proposal:
        return self._decide(ProposalStatus.DISMISSED, at, by, note)

    def _decide(
        self, status: ProposalStatus, at: datetime, by: str | None, note: str | None
    ) -> Proposal:
        """Raises:
        ProposalNotOpenError: it was accepted or dismissed already.
        """
        if self.status is not ProposalStatus.OPEN:
            raise ProposalNotOpenError(self.id, self.status)
        return dataclasses.replace(self, status=status, decided_at=at, decided_by=by, note=note)


def blocks_new_proposal(
    latest: Proposal | None, policy: ReplenishmentPolicy, now: datetime
) -> bool:
    """Whether the latest proposal of a position holds back a new one.

    An open one always does. A decided one does for the rest of its review period: a
    position is reviewed once per period, and an accepted order shows in ``incoming`` only
    once the purchase order reaches the ledger.
    """
    if latest is None:
        return False
    if latest.status is ProposalStatus.OPEN:
        return True
    decided = latest.decided_at or latest.created_at
    return now < decided + timedelta(days=policy.review_period_days)


def propose(
    figures: PositionFigures,
    policy: ReplenishmentPolicy,
    estimate: DemandEstimate,
    *,
    latest: Proposal | None,
    now: datetime,
    new_id: Callable[[], str],
    buffer_multiplier: float = 1.0,
) -> Proposal | None:
    """A new proposal when the inventory position is at or below the reorder point and the
    position has none holding it back; None otherwise (and when there is nothing to order)."""
    if blocks_new_proposal(latest, policy, now):
        return None
    found = levels(policy, estimate, buffer_multiplier)
    position = figures.inventory_position
    if position > found.reorder_point:
        return None
    quantity = round_up(found.order_up_to - position, policy.order_multiple)
    if quantity <= 0:
        return None
    return Proposal(
        id=new_id(),
        sku=figures.sku,
        location=figures.location,
        quantity=quantity,
        unit=figures.unit,
        reorder_point=found.reorder_point,
        order_up_to=found.order_up_to,
        safety_stock=found.safety_stock,
        inventory_position=position,
        available_to_promise=figures.available_to_promise,
        created_at=now,
    )


def propose_in_force(
    figures: PositionFigures,
    in_force: PolicyInForce,
    estimate: DemandEstimate,
    *,
    latest: Proposal | None,
    now: datetime,
    new_id: Callable[[], str],
) -> Proposal | None:
    """:func:`propose` under the policy in force: nothing while the SKU's lifecycle policy
    holds replenishment (``in_force.hold_reason`` says why), else with its buffer."""
    if not in_force.replenish:
        return None
    return propose(
        figures,
        in_force.policy,
        estimate,
        latest=latest,
        now=now,
        new_id=new_id,
        buffer_multiplier=in_force.buffer_multiplier,
    )

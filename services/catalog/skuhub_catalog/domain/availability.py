"""What the catalog shows beside a product's content: its stock and its lifecycle stage,
as the stock and lifecycle services last reported them.

Pure Python. The figures follow the stock formula sheet (docs/stock.md): a location's
available-to-promise is the signed sum over its lots of (on hand - quality hold - expired -
reserved), never below zero; the network's is the sum over locations. A kit holds no
stock: its positions carry the kits its components make, which is its figure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PositionFact:
    """One stock position (SKU, location, lot) at one version; lot "" for none."""

    sku: str
    location: str
    lot: str
    unit: str
    on_hand: Decimal
    quality_hold: Decimal
    expired: Decimal
    reserved: Decimal
    available_to_promise: Decimal
    kit: bool
    position_version: int
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class StageFact:
    """A SKU's lifecycle stage at one version."""

    sku: str
    stage: str
    stage_version: int
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class LocationAvailability:
    location: str
    on_hand: Decimal
    available_to_promise: Decimal


@dataclass(frozen=True, slots=True)
class Availability:
    """A SKU's stock over the network, per location, in its stock unit."""

    unit: str
    on_hand: Decimal
    available_to_promise: Decimal
    locations: tuple[LocationAvailability, ...]
    changed_at: datetime


def availability(positions: Iterable[PositionFact]) -> Availability | None:
    """The network and per-location figures of one SKU's positions (None: none known)."""
    by_location: dict[str, list[PositionFact]] = defaultdict(list)
    for position in positions:
        by_location[position.location].append(position)
    if not by_location:
        return None
    locations = tuple(
        LocationAvailability(
            location=location,
            on_hand=sum((p.on_hand for p in lots), ZERO),
            available_to_promise=_location_atp(lots),
        )
        for location, lots in sorted(by_location.items())
    )
    every = [p for lots in by_location.values() for p in lots]
    return Availability(
        unit=every[0].unit,
        on_hand=sum((loc.on_hand for loc in locations), ZERO),
        available_to_promise=sum((loc.available_to_promise for loc in locations), ZERO),
        locations=locations,
        changed_at=max(p.changed_at for p in every),
    )


def _location_atp(lots: list[PositionFact]) -> Decimal:
    if any(p.kit for p in lots):
        return max((p.available_to_promise for p in lots), default=ZERO)
    signed = sum((p.on_hand - p.quality_hold - p.expired - p.reserved for p in lots), ZERO)
    return max(signed, ZERO)

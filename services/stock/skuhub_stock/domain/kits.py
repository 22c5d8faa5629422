"""Kits: products sold as a set of components, holding no stock of their own.

A kit's availability at a location is how many whole kits its components' ATP there
can make (docs/stock.md, "Kits"); over the network it is the sum of the locations'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

Component = tuple[str, Decimal]
"""(component SKU, units of it per kit, in its stock unit)."""


@dataclass(frozen=True, slots=True)
class Kit:
    sku: str
    unit: str
    components: tuple[Component, ...]


@dataclass(slots=True)
class KitPosition:
    """A kit's availability at one location, versioned like a position."""

    sku: str
    location: str
    unit: str
    available: Decimal
    version: int = 0
    cause: str = ""
    """The component movement that changed it last."""


def kit_available(components: Sequence[Component], atp: Mapping[str, Decimal]) -> Decimal:
    """min over components of floor(component ATP / quantity per kit), never below zero;
    zero for a kit without components (a component missing from ``atp`` has none)."""
    if not components:
        return Decimal(0)
    return max(
        min(
            (atp.get(sku, Decimal(0)) / quantity).to_integral_value(ROUND_FLOOR)
            for sku, quantity in components
        ),
        Decimal(0),
    )

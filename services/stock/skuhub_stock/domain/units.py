"""Quantities into a SKU's stock unit: pack sizes from the catalog, physical units by pint
(the UN/ECE codes and pint's names: skuhub_contracts.units)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import cache

from skuhub_contracts import units
from skuhub_contracts.units import COUNTING_UNITS, PHYSICAL_UNITS
from skuhub_stock.domain.movements import MovementRejected

PLACES = Decimal("0.000001")
"""Converted quantities keep six decimal places, as the contracts carry them."""


@cache
def physical_factor(unit: str, stock_unit: str) -> Decimal | None:
    """How many ``stock_unit`` one ``unit`` is, when both are physical units of one
    dimension; None otherwise."""
    source, target = PHYSICAL_UNITS.get(unit), PHYSICAL_UNITS.get(stock_unit)
    if source is None or target is None:
        return None
    registry = units.registry()
    quantity = registry.Quantity(Decimal(1), source)
    if quantity.dimensionality != registry.Quantity(Decimal(1), target).dimensionality:
        return None
    return Decimal(str(quantity.to(target).magnitude))


def same_unit(a: str, b: str) -> bool:
    """Whether two codes name one unit (the counting units are one unit under four codes)."""
    return a == b or (a in COUNTING_UNITS and b in COUNTING_UNITS)


def to_stock_unit(
    quantity: Decimal, unit: str, stock_unit: str, packs: Mapping[str, Decimal]
) -> Decimal:
    """``quantity`` of ``unit`` in ``stock_unit``, rounded half-even to six places.

    Raises:
        MovementRejected: ``unit`` is neither the stock unit, one of its packs, nor a
            physical unit of the stock unit's dimension.
    """
    if same_unit(unit, stock_unit):
        return quantity
    size = packs.get(unit)
    if size is not None:
        return (quantity * size).quantize(PLACES)
    factor = physical_factor(unit, stock_unit)
    if factor is not None:
        return (quantity * factor).quantize(PLACES)
    known = ", ".join(sorted({stock_unit, *packs}))
    raise MovementRejected(
        f"unit {unit} cannot be converted to the stock unit {stock_unit}: send one of {known}"
        + (" or a physical unit of the same dimension" if stock_unit in PHYSICAL_UNITS else ""),
        field="unit",
    )

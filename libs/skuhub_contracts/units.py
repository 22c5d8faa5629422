"""Units of measure as the contracts name them: UN/ECE Recommendation 20 codes.

pint knows the physical ones under its own names; the table below is the bridge. Counting
units (each, piece, one) are one unit under four codes. The stock service converts
movements with it, the catalog checks measurements against a dimension with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from typing import Any, Final

COUNTING_UNITS: Final = frozenset({"EA", "PCE", "C62", "H87"})

PHYSICAL_UNITS: Final[Mapping[str, str]] = {
    "MGM": "milligram",
    "GRM": "gram",
    "KGM": "kilogram",
    "TNE": "metric_ton",
    "ONZ": "ounce",
    "LBR": "pound",
    "MLT": "milliliter",
    "CLT": "centiliter",
    "DLT": "deciliter",
    "LTR": "liter",
    "MTQ": "meter ** 3",
    "GLL": "gallon",
    "MMT": "millimeter",
    "CMT": "centimeter",
    "MTR": "meter",
    "KMT": "kilometer",
    "INH": "inch",
    "FOT": "foot",
    "YRD": "yard",
    "CMK": "centimeter ** 2",
    "MTK": "meter ** 2",
}

DIMENSIONS: Final[Mapping[str, str]] = {
    "mass": "[mass]",
    "volume": "[length] ** 3",
    "length": "[length]",
    "area": "[length] ** 2",
}
"""The unit families a measurement may be in, by pint dimensionality."""


@cache
def registry() -> Any:
    """pint's unit registry with Decimal magnitudes, built on first use (it takes a moment)."""
    import pint

    return pint.UnitRegistry(non_int_type=Decimal)


@cache
def dimension_of(unit: str) -> str | None:
    """The unit family (``mass``, ``volume``, ``length``, ``area``) of a physical unit code."""
    name = PHYSICAL_UNITS.get(unit)
    if name is None:
        return None
    dimensionality = str(registry().Quantity(Decimal(1), name).dimensionality)
    return next((family for family, dim in DIMENSIONS.items() if dim == dimensionality), None)

"""UN/ECE unit codes and their physical meaning (skuhub_contracts.units), and the stock
unit conversions built on them: every code in the table is one pint knows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from skuhub_contracts.units import PHYSICAL_UNITS, dimension_of
from skuhub_stock.domain.units import physical_factor


@pytest.mark.parametrize("code", sorted(PHYSICAL_UNITS))
def test_every_physical_code_has_a_unit_family(code: str) -> None:
    assert dimension_of(code) in {"mass", "volume", "length", "area"}


@pytest.mark.parametrize(
    ("unit", "stock_unit", "factor"),
    [
        ("MTQ", "LTR", Decimal(1000)),  # 1 m³ = 1,000 l
        ("MTK", "CMK", Decimal(10_000)),  # 1 m² = 10,000 cm²
        ("KGM", "GRM", Decimal(1000)),
        ("MMT", "CMT", Decimal("0.1")),
    ],
)
def test_physical_units_convert_within_their_family(
    unit: str, stock_unit: str, factor: Decimal
) -> None:
    assert physical_factor(unit, stock_unit) == factor


def test_units_of_different_families_or_counting_units_do_not_convert() -> None:
    assert physical_factor("KGM", "LTR") is None
    assert physical_factor("EA", "KGM") is None
    assert dimension_of("EA") is None

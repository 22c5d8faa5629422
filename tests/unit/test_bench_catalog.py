"""The catalog import benchmark's supplier file (skuhub_cli.bench_catalog): a file the
catalog accepts whole, so its rate is the rate of importing, not of refusing."""

from __future__ import annotations

from collections import defaultdict

from stdnum import ean

from skuhub_cli.bench_catalog import (
    ATTRIBUTES,
    LOCALES,
    VARIANTS_PER_MODEL,
    models_of,
    supplier_rows,
)


def test_every_row_fills_every_column_a_variant_needs_and_has_a_valid_gtin() -> None:
    header, *rows = list(supplier_rows(200, seed=42))
    cells = [dict(zip(header, row, strict=True)) for row in rows]

    assert len(cells) == 200
    assert len(header) == 5 + 2 * len(LOCALES) + ATTRIBUTES
    assert all(ean.is_valid(c["EAN"]) for c in cells)
    assert len({c["EAN"] for c in cells}) == len({c["Article"] for c in cells}) == 200
    colours = defaultdict(list)
    for c in cells:
        if c["Model"]:
            colours[c["Model"]].append(c["Colour"])
    assert sum(len(v) for v in colours.values()) == 40, "one product in five is a variant"
    assert all(len(v) == len(set(v)) <= VARIANTS_PER_MODEL for v in colours.values())
    assert sorted(colours) == models_of(200)

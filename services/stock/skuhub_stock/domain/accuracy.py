"""Inventory record accuracy: how often a cycle count finds what the ledger says."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from skuhub_stock.domain.ledger import Variance


@dataclass(frozen=True, slots=True)
class RecordAccuracy:
    counts: int
    within_tolerance: int
    tolerance: Decimal

    @property
    def accuracy(self) -> Decimal | None:
        """Share of counts within tolerance (None without counts)."""
        if not self.counts:
            return None
        return (Decimal(self.within_tolerance) / self.counts).quantize(Decimal("0.0001"))


def record_accuracy(variances: Iterable[Variance], tolerance: Decimal) -> RecordAccuracy:
    """Counts whose |variance| <= tolerance x max(|counted|, 1) (docs/stock.md, Time)."""
    counts = within = 0
    for variance in variances:
        counts += 1
        if abs(variance.difference) <= tolerance * max(abs(variance.counted), Decimal(1)):
            within += 1
    return RecordAccuracy(counts, within, tolerance)

"""What ``skuhub bench`` runs: sizes, rates and seed, with the quick and full defaults."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skuhub_traffic.model import TrafficConfig

QUICK_MOVEMENTS = 3_000
FULL_MOVEMENTS = 20_000
QUICK_RATES = (200,)
FULL_RATES = (100, 250, 500, 1000)
QUICK_SECONDS_PER_RATE = 15.0
FULL_SECONDS_PER_RATE = 20.0
QUICK_PRODUCT_MODELS = 500
FULL_PRODUCT_MODELS = 1_500
QUICK_POSITIONS = 100_000
FULL_POSITIONS = 1_000_000
FULL_REALISTIC = 1_000_000
QUICK_CATALOG_IMPORT = 10_000
FULL_CATALOG_IMPORT = 100_000
FULL_TRACED = 20_000


@dataclass(frozen=True, slots=True)
class BenchOptions:
    """What ``skuhub bench`` runs; :meth:`build` fills in the quick/full defaults."""

    quick: bool
    movements: int
    rates: tuple[int, ...]
    seconds_per_rate: float
    out: Path
    product_models: int = QUICK_PRODUCT_MODELS
    partitions: int = 3
    seed: int = 42
    backlog: int = 0
    replicas: tuple[int, ...] = ()
    """Counts of stock instances: when given, only the scale-out cases run."""
    positions: int = QUICK_POSITIONS
    """Stored positions under the stock reads and reservations case (0: skip it)."""
    realistic: int = 0
    """Movements of the retailer-size stream (50,000 SKUs x 20 locations; 0: skip it)."""
    catalog_import: int = QUICK_CATALOG_IMPORT
    """SKUs of the supplier file the catalog imports (0: skip it)."""
    traced: int = 0
    """Movements stock drains with and without exporting every span (0: skip it)."""

    @classmethod
    def build(
        cls,
        *,
        quick: bool,
        movements: int | None,
        rates: Sequence[int] | None,
        seconds_per_rate: float | None,
        out: Path,
        product_models: int | None = None,
        partitions: int = 3,
        seed: int = 42,
        backlog: int = 0,
        replicas: Sequence[int] = (),
        positions: int | None = None,
        realistic: int | None = None,
        catalog_import: int | None = None,
        traced: int | None = None,
    ) -> BenchOptions:
        return cls(
            quick=quick,
            movements=movements or (QUICK_MOVEMENTS if quick else FULL_MOVEMENTS),
            rates=tuple(rates) if rates else (QUICK_RATES if quick else FULL_RATES),
            seconds_per_rate=seconds_per_rate
            or (QUICK_SECONDS_PER_RATE if quick else FULL_SECONDS_PER_RATE),
            out=out,
            product_models=product_models
            or (QUICK_PRODUCT_MODELS if quick else FULL_PRODUCT_MODELS),
            partitions=partitions,
            seed=seed,
            backlog=backlog,
            replicas=tuple(replicas),
            positions=positions
            if positions is not None
            else (QUICK_POSITIONS if quick else FULL_POSITIONS),
            realistic=realistic if realistic is not None else (0 if quick else FULL_REALISTIC),
            catalog_import=catalog_import
            if catalog_import is not None
            else (QUICK_CATALOG_IMPORT if quick else FULL_CATALOG_IMPORT),
            traced=traced if traced is not None else (0 if quick else FULL_TRACED),
        )

    def command(self) -> str:
        """The command line that reproduces this run."""
        parts = ["skuhub", "bench"]
        if self.quick:
            parts.append("--quick")
        parts += ["--movements", str(self.movements)]
        parts += ["--rates", ",".join(str(r) for r in self.rates)]
        parts += ["--seconds-per-rate", f"{self.seconds_per_rate:g}"]
        parts += ["--product-models", str(self.product_models)]
        if self.partitions != 3:
            parts += ["--partitions", str(self.partitions)]
        if self.seed != 42:
            parts += ["--seed", str(self.seed)]
        if self.backlog:
            parts += ["--backlog", str(self.backlog)]
        if self.replicas:
            parts += ["--replicas", ",".join(str(r) for r in self.replicas)]
        parts += ["--positions", str(self.positions), "--realistic", str(self.realistic)]
        parts += ["--catalog-import", str(self.catalog_import), "--traced", str(self.traced)]
        return shlex.join(parts)

    def summary(self) -> dict[str, Any]:
        """The options as the JSON report lists them."""
        return {
            "quick": self.quick,
            "movements": self.movements,
            "rates": list(self.rates),
            "seconds_per_rate": self.seconds_per_rate,
            "product_models": self.product_models,
            "partitions": self.partitions,
            "seed": self.seed,
            "backlog": self.backlog,
            "replicas": list(self.replicas),
            "positions": self.positions,
            "realistic": self.realistic,
            "catalog_import": self.catalog_import,
            "traced": self.traced,
        }

    def traffic(self, movements: int) -> TrafficConfig:
        return TrafficConfig(
            seed=self.seed, movements=movements, product_models=self.product_models
        )

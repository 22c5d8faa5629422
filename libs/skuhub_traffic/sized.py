"""A stream of a retailer's size: many SKUs at many locations, demand skewed like real demand.

The simulated world of :mod:`skuhub_traffic.movements` opens every SKU at every location
and walks every position every day: right for the hard cases, too slow and too uniform
for a million movements over 50,000 SKUs x 20 locations. This stream is drawn instead:

- a SKU by Zipf's law (rank r drawn in proportion to 1 / r**skew: a few SKUs carry most
  of the movements, most SKUs few), a location uniformly;
- a position's first movement is its opening receipt; after that, shipments (60 %),
  receipts (20 %), reservations (8 %) and their releases (6 %), cycle counts, adjustments
  and returns (2 % each), at increasing times over the stream's days;
- delivered like every generated stream (duplicates, late and malformed records, the same
  encoding), so the oracle and the benchmark's accuracy check read it unchanged.

No lots, no catalog facts: this stream measures size, the hard profile measures rules.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

from skuhub_traffic.catalog import build_catalog
from skuhub_traffic.model import Delivery, TrafficConfig
from skuhub_traffic.movements import DAY, MILLI, _deliver, _Move

KINDS = (
    ("shipment", 60),
    ("receipt", 20),
    ("reservation", 8),
    ("reservation_release", 6),
    ("cycle_count", 2),
    ("adjustment", 2),
    ("return", 2),
)
"""Kinds after a position's opening receipt, with their weights in percent."""


def sized_deliveries(
    config: TrafficConfig, *, skus: int = 50_000, locations: int = 20, skew: float = 1.0
) -> list[Delivery]:
    """About ``config.movements`` valid movements over ``skus`` SKUs at ``locations``
    locations (the catalog generator's GLNs), delivered as upstream sends them."""
    rng = random.Random(f"sized:{config.seed}")
    world = replace(config, locations=locations, product_models=1, kits=0)
    catalog = build_catalog(world)
    glns = [loc.gln for loc in catalog.locations]
    weights = list(itertools.accumulate(1 / rank**skew for rank in range(1, skus + 1)))
    count = max(1, config.movements)
    drawn_skus = rng.choices(range(skus), cum_weights=weights, k=count)
    drawn_places = rng.choices(range(len(glns)), k=count)
    kinds = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS], k=count)
    step = max(1, max(1, config.days) * DAY // count)
    on_hand: dict[tuple[int, int], int] = {}
    moves: list[_Move] = []
    for i, (s, place, kind) in enumerate(zip(drawn_skus, drawn_places, kinds, strict=True)):
        key = (s, place)
        held = on_hand.get(key)
        if held is None:
            kind, units = "receipt", rng.randint(50, 200)
        elif kind == "cycle_count":
            units = max(0, held + rng.choice((-1, 0, 0, 0, 1)))
        elif kind == "adjustment":
            units = rng.choice((-2, -1, 1, 2))
        else:
            units = rng.randint(1, 12 if kind == "receipt" else 3)
        change = {"receipt": units, "return": units, "adjustment": units, "shipment": -units}
        on_hand[key] = units if kind == "cycle_count" else (held or 0) + change.get(kind, 0)
        reason = "opening balance" if held is None else None
        sku, location = f"SZ-{s:06d}", glns[place]
        moves.append(
            (i * step, kind, sku, location, None, units * MILLI, "EA", None, None, reason, None)
        )
    return _deliver(replace(config, profile="classic"), catalog, moves)

"""The retailer-size stream: deterministic, skewed like demand, every position opened by a
receipt, read by the oracle like any generated stream."""

from __future__ import annotations

import json
from collections import Counter

from skuhub_traffic import Oracle, TrafficConfig
from skuhub_traffic.sized import sized_deliveries

CONFIG = TrafficConfig(seed=5, movements=6_000)


def bodies(config: TrafficConfig = CONFIG, **sizes: int) -> list[dict[str, object]]:
    return [json.loads(d.value) for d in sized_deliveries(config, **sizes) if d.kind == "valid"]


def test_the_same_seed_gives_the_same_stream() -> None:
    assert sized_deliveries(CONFIG, skus=500) == sized_deliveries(CONFIG, skus=500)
    assert sized_deliveries(CONFIG, skus=500) != sized_deliveries(
        TrafficConfig(seed=6, movements=6_000), skus=500
    )


def test_demand_is_skewed_across_many_skus_and_locations() -> None:
    valid = bodies(skus=2_000, locations=20)
    assert len(valid) == 6_000
    by_sku = Counter(str(b["sku"]) for b in valid)
    assert by_sku.most_common(1)[0][0] == "SZ-000000", "rank 1 is the most moved"
    top_20 = sum(n for _, n in by_sku.most_common(20))  # the top 1 % of 2,000 SKUs
    # Zipf's law with s = 1 over 2,000 ranks: the top 20 carry H(20) / H(2000) = 44 %.
    assert 0.38 < top_20 / len(valid) < 0.50
    assert len({b["location"] for b in valid}) == 20


def test_every_position_opens_with_a_receipt() -> None:
    first: dict[tuple[object, object], dict[str, object]] = {}
    # In the order things happened (a few records are delivered late).
    for body in sorted(bodies(skus=300), key=lambda b: str(b["occurred_at"])):
        first.setdefault((body["sku"], body["location"]), body)
    assert {b["kind"] for b in first.values()} == {"receipt"}
    assert {b["reason"] for b in first.values()} == {"opening balance"}


def test_the_oracle_reads_it_like_any_stream() -> None:
    deliveries = sized_deliveries(CONFIG, skus=300)
    oracle = Oracle.from_deliveries(deliveries)
    kinds = Counter(d.kind for d in deliveries)
    assert oracle.expected_counts == dict(kinds)
    assert oracle.applied == 6_000

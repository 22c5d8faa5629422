"""Generated upstream traffic (duplicates, late and malformed records) converges to the oracle."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from skuhub_contracts.topics import STOCK_MOVED
from skuhub_traffic import Oracle, TrafficConfig, build_catalog, generate_deliveries, publish
from tests import api
from tests.harness import Stack, wait_until

pytestmark = pytest.mark.e2e

TRAFFIC = TrafficConfig(
    seed=11,
    product_models=8,
    kits=1,
    locations=3,
    days=10,
    movements=800,
    duplicate_share=0.05,
    late_share=0.05,
    malformed_share=0.02,
    source_system="wms-e2e",
)


Ledger = dict[tuple[str, str, str], tuple[Decimal, Decimal, Decimal]]


def stock_ledger(stack: Stack, skus: list[str]) -> Ledger:
    ledger: Ledger = {}
    for sku in skus:
        for p in api.get(f"{stack.url('stock')}/v1/positions/{sku}").json()["positions"]:
            key = (sku, p["location"], p["lot"] or "")
            ledger[key] = (Decimal(p["on_hand"]), Decimal(p["reserved"]), Decimal(p["in_transit"]))
    return ledger


def test_stock_ledger_and_channel_offers_converge_to_the_generators_oracle(stack: Stack) -> None:
    catalog = build_catalog(TRAFFIC)
    deliveries = generate_deliveries(TRAFFIC, catalog)
    oracle = Oracle.from_deliveries(deliveries)
    kinds = {d.kind for d in deliveries}
    assert kinds == {"valid", "duplicate", "malformed"}
    assert any(d.late for d in deliveries)

    stats = publish(
        deliveries, bootstrap=stack.infra.kafka_bootstrap, topic=stack.topic(STOCK_MOVED.name)
    )
    assert stats.records == len(deliveries)

    skus = sorted({key[0] for key in oracle.positions})
    wait_until(
        lambda: not oracle.compare(stock_ledger(stack, skus)),
        timeout=90,
        interval=0.5,
        what="the stock ledger to equal the oracle",
    )

    expected_web = {sku: oracle.network_available_to_promise(sku) for sku in skus}

    def offers_match() -> bool:
        for sku, available in expected_web.items():
            offer: dict[str, Any] = api.get(
                f"{stack.url('sync_gateway')}/v1/channels/web/offers/{sku}"
            ).json()
            if Decimal(str(offer.get("available"))) != available:
                return False
        return True

    wait_until(
        offers_match, timeout=60, interval=0.5, what="every web offer to show the oracle's ATP"
    )

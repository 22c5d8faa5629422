"""Scale out: stock as several instances in one consumer group loses and doubles nothing while
one instance is killed with kill -9 and another joins, all under a steady stream.

The oracle is computed here from what was published, with the rule docs/decisions.md
states (receipts add to on hand, shipments remove, adjustments are signed):
``on_hand(sku, location) = Σ receipt - Σ shipment + Σ adjustment``.
"""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from skuhub_contracts.subscriptions import STOCK_MOVEMENTS
from skuhub_contracts.topics import STOCK_MOVED
from tests import api
from tests.harness import Infrastructure, Stack, group_progress, stock_ledger, wait_until
from tests.upstream import SIGNS, SteadyPublisher

pytestmark = pytest.mark.e2e

SKUS = 120
STEP = 250
"""Records acknowledged between two events of the scenario (start, kill, join, end)."""
RATE_PER_S = 200.0


def applied_events(url: str) -> float:
    """``skuhub_events_applied_total`` of one instance, over every event type."""
    metrics = api.get(f"{url}/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "skuhub_events_applied_total"
    )


def kill_9(pid: int | None) -> None:
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)


def test_stock_instances_killed_and_joined_mid_stream_lose_and_double_nothing(
    infra: Infrastructure, workdir: Path
) -> None:
    stack = Stack(infra, workdir)
    stack.start(("stock",), replicas={"stock": 2})
    publisher: SteadyPublisher | None = None
    try:
        first, second = stack.group.instances("stock")
        assert (first.name, second.name) == ("stock-1", "stock-2")
        topic = stack.topic(STOCK_MOVED.name)
        skus = [f"SCALE-{uuid.uuid4().hex[:6].upper()}-{n:03d}" for n in range(SKUS)]
        publisher = SteadyPublisher(
            infra.kafka_bootstrap, topic, skus, rate_per_s=RATE_PER_S, kinds=tuple(SIGNS)
        )
        publisher.start()

        publisher.reach(STEP)
        kill_9(first.pid)
        assert first.wait_exit(timeout=10) == -signal.SIGKILL
        publisher.reach(2 * STEP)
        joined = stack.add_instance("stock")
        assert joined.name == "stock-3"
        publisher.reach(3 * STEP)
        publisher.stop()

        group = stack.settings.consumer_group(STOCK_MOVEMENTS)
        wait_until(
            lambda: group_progress(infra.kafka_bootstrap, group, [topic]).lag == 0,
            timeout=120,
            interval=0.5,
            what=f"consumer group {group} to have no lag",
        )
        ledger = stock_ledger(infra.database_url, f"{stack.prefix}_stock", skus)
        positions, expected = ledger.on_hand, publisher.expected_on_hand()
        wrong = {k: (positions.get(k), v) for k, v in expected.items() if positions.get(k) != v}
        assert not wrong, f"{len(wrong)} positions differ (actual, oracle): {[*wrong.items()][:5]}"
        assert set(positions) == set(expected), "positions nobody moved"
        assert ledger.journaled == len(publisher.acknowledged), "movements lost or doubled"
        assert not publisher.failed
        assert applied_events(joined.url) > 0, "the joining instance never got a partition"
    finally:
        if publisher is not None:
            publisher.stop()
        stack.stop()

"""Scale out: stock as several instances in one consumer group loses and doubles nothing while
one instance is killed with kill -9 and another joins, all under a steady stream.

The oracle is computed here from what was published, with the rule docs/decisions.md
states (receipts add to on hand, shipments remove, adjustments are signed):
``on_hand(sku, location) = Σ receipt - Σ shipment + Σ adjustment``.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from skuhub_contracts.subscriptions import STOCK_MOVEMENTS
from skuhub_contracts.topics import STOCK_MOVED
from tests.harness import Infrastructure, Stack, run_async, wait_until
from tests.upstream import GLN_A, GLN_B, Upstream, movement

pytestmark = pytest.mark.e2e

SKUS = 120
SIGN = {"receipt": 1, "shipment": -1, "adjustment": 1}
"""How each kind published here moves on hand (adjustment quantities carry their own sign)."""
STEP = 250
"""Records published between two events of the scenario (start, kill, join, end)."""

Position = tuple[str, str]


class SteadyPublisher(threading.Thread):
    """Publishes movements one after another (each acknowledged) until told to stop,
    and keeps the oracle of everything acknowledged."""

    def __init__(self, bootstrap: str, topic: str, skus: list[str]) -> None:
        super().__init__(daemon=True)
        self.upstream = Upstream(bootstrap)
        self.topic = topic
        self.skus = skus
        self.source_system = f"wms-scale-{uuid.uuid4().hex[:8]}"
        self.published = 0
        self.oracle: Counter[Position] = Counter()
        self.error: BaseException | None = None
        self._halt = threading.Event()
        self._random = random.Random(7)

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                self._publish_one()
        except BaseException as exc:  # reported by the test, not lost in a thread
            self.error = exc

    def _publish_one(self) -> None:
        pick = self._random
        sku, location = pick.choice(self.skus), pick.choice((GLN_A, GLN_B))
        kind = pick.choice(tuple(SIGN))
        quantity = pick.randint(1, 20) * (pick.choice((1, -1)) if kind == "adjustment" else 1)
        self.upstream.publish_movement(
            self.topic,
            movement(
                sku,
                kind,
                str(quantity),
                location=location,
                source_system=self.source_system,
                source_sequence=self.published + 1,
            ),
        )
        # Counted once acknowledged (publish_movement flushes): the oracle is what the broker has.
        self.oracle[(sku, location)] += SIGN[kind] * quantity
        self.published += 1

    def reach(self, count: int, within_s: float = 120) -> None:
        """Wait until ``count`` records are acknowledged in all."""

        def reached() -> bool:
            assert self.error is None, f"publishing failed: {self.error!r}"
            return self.published >= count

        wait_until(reached, timeout=within_s, what=f"{count} movements published")

    def finish(self) -> None:
        self._halt.set()
        self.join(timeout=30)
        assert self.error is None, f"publishing failed: {self.error!r}"


def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """End offsets minus the group's committed offsets, over the topic's partitions."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        committed = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        lag = 0
        for tp in committed:
            _, high = consumer.get_watermark_offsets(tp, timeout=10)
            lag += high - max(tp.offset, 0)
        return lag
    finally:
        consumer.close()


async def ledger(
    database_url: str, schema: str, source_system: str
) -> tuple[dict[Position, Decimal], int]:
    """On hand per (sku, location) of the test's SKUs, and the movements journaled from its
    source system, read straight from PostgreSQL."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    f'SELECT sku, location, on_hand FROM "{schema}".positions '
                    "WHERE sku LIKE 'SCALE-%' AND lot = ''"
                )
            )
            positions = {(sku, location): on_hand for sku, location, on_hand in rows}
            journaled = (
                await conn.execute(
                    text(f'SELECT count(*) FROM "{schema}".movements WHERE source_system = :s'),
                    {"s": source_system},
                )
            ).scalar_one()
        return positions, int(journaled)
    finally:
        await engine.dispose()


def applied_events(url: str) -> float:
    """``skuhub_events_applied_total`` of one instance, over every event type."""
    metrics = httpx.get(f"{url}/metrics").text
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
        publisher = SteadyPublisher(infra.kafka_bootstrap, topic, skus)
        publisher.start()

        publisher.reach(STEP)
        kill_9(first.pid)
        assert first.wait_exit(timeout=10) == -signal.SIGKILL
        publisher.reach(2 * STEP)
        joined = stack.add_instance("stock")
        assert joined.name == "stock-3"
        publisher.reach(3 * STEP)
        publisher.finish()

        group = stack.settings.consumer_group(STOCK_MOVEMENTS)
        wait_until(
            lambda: group_lag(infra.kafka_bootstrap, group, topic) == 0,
            timeout=120,
            interval=0.5,
            what=f"consumer group {group} to have no lag",
        )
        positions, journaled = run_async(
            ledger(infra.database_url, f"{stack.prefix}_stock", publisher.source_system)
        )
        expected = {key: Decimal(value) for key, value in publisher.oracle.items()}
        wrong = {k: (positions.get(k), v) for k, v in expected.items() if positions.get(k) != v}
        assert not wrong, f"{len(wrong)} positions differ (actual, oracle): {[*wrong.items()][:5]}"
        assert set(positions) == set(expected), "positions nobody moved"
        assert journaled == publisher.published, "movements lost or doubled"
        assert applied_events(joined.url) > 0, "the joining instance never got a partition"
    finally:
        if publisher is not None and publisher.is_alive():
            publisher.finish()
        stack.stop()

"""An upstream system as the outside world runs it: librdkafka (confluent-kafka), no skuhub code
on the wire path except the contract models used to build a valid body."""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiokafka import ConsumerRecord
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    Producer,
    TopicPartition,
)

from skuhub_contracts.codec import Envelope, KafkaRecord, encode
from skuhub_contracts.events import StockMoved
from tests.harness import wait_until

GLN_A = "4012345000009"
GLN_B = "4012345000016"


def new_trace() -> tuple[str, str]:
    """A fresh W3C traceparent and its trace id."""
    trace_id = os.urandom(16).hex()
    return f"00-{trace_id}-{os.urandom(8).hex()}-01", trace_id


def movement(sku: str, kind: str = "receipt", quantity: str = "10", **fields: Any) -> StockMoved:
    values: dict[str, Any] = {
        "sku": sku,
        "kind": kind,
        "location": GLN_A,
        "quantity": Decimal(quantity),
        "unit": "EA",
        "source_system": "wms-test",
        "source_sequence": int(uuid.uuid4().int % 10**12),
        "occurred_at": datetime.now(UTC),
    }
    values.update(fields)
    return StockMoved(**values)


def upstream_producer(bootstrap: str, **settings: Any) -> Producer:
    """A librdkafka producer configured as docs/contracts.md asks of upstreams (acks=all,
    idempotent, murmur2 partitioning), with ``settings`` added."""
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "partitioner": "murmur2_random",
            **settings,
        }
    )


class Upstream:
    """Publishes raw records with confluent-kafka, as an upstream system would (idempotent)."""

    def __init__(self, bootstrap: str) -> None:
        self._producer = upstream_producer(bootstrap, **{"linger.ms": 1})
        self.bootstrap = bootstrap

    def publish(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes | None]] = (),
    ) -> None:
        errors: list[Any] = []
        self._producer.produce(
            topic,
            value=value,
            key=key,
            headers=[(name, header) for name, header in headers],
            on_delivery=lambda err, _msg: errors.append(err) if err else None,
        )
        remaining = self._producer.flush(15)
        assert remaining == 0, "the broker did not acknowledge the record within 15s"
        assert not errors, f"delivery failed: {errors}"

    def publish_movement(
        self,
        topic: str,
        payload: StockMoved,
        *,
        traceparent: str | None = None,
        event_id: str | None = None,
    ) -> Envelope[StockMoved]:
        """A stock-moved event in CloudEvents binary mode, as a WMS would send it."""
        envelope = Envelope(
            payload=payload,
            id=event_id or str(uuid.uuid4()),
            source="urn:wms:test",
            traceparent=traceparent,
        )
        record = encode(envelope)
        # An upstream does not know skuhub's origin time: let the broker timestamp stand in.
        headers = [(n, v) for n, v in record.headers if n != "ce_origintime"]
        self.publish(topic, record.value, key=record.key, headers=headers)
        return envelope


SIGNS = {"receipt": 1, "shipment": -1, "adjustment": 1}
"""How each kind a steady publisher sends moves on hand (docs/decisions.md): receipts add,
shipments take away, adjustments carry their own sign."""


class SteadyPublisher:
    """Publishes movements at a steady rate from a thread, as a WMS under load would, and
    keeps those the broker acknowledged: the oracle a test checks the ledger against.

    Records are produced without waiting for each acknowledgement, so publishing goes on
    while the broker does not answer (librdkafka queues and retries; idempotence keeps a
    retried record single). ``kinds``: receipts only by default; shipments and signed
    adjustments too when a test wants positions to move both ways.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        skus: Sequence[str],
        *,
        rate_per_s: float = 20.0,
        kinds: Sequence[str] = ("receipt",),
        seed: int = 7,
    ) -> None:
        # A message timeout that outlives any outage a test injects.
        self._producer = upstream_producer(
            bootstrap, **{"linger.ms": 5, "message.timeout.ms": 300_000}
        )
        self._topic = topic
        self._skus = list(skus)
        self._kinds = tuple(kinds)
        self._interval_s = 1.0 / rate_per_s
        self._random = random.Random(seed)
        self.source_system = f"wms-steady-{uuid.uuid4().hex[:6]}"
        self._sequence = itertools.count(1)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steady-publisher", daemon=True)
        self.produced = 0
        self.acknowledged: list[StockMoved] = []
        self.failed: list[str] = []

    def start(self) -> None:
        self._thread.start()

    def reach(self, count: int, within_s: float = 120.0) -> None:
        """Wait until ``count`` records are acknowledged in all."""

        def reached() -> bool:
            assert not self.failed, f"publishing failed: {self.failed[0]}"
            return len(self.acknowledged) >= count

        wait_until(reached, timeout=within_s, what=f"{count} movements acknowledged")

    def stop(self, flush_timeout_s: float = 120.0) -> None:
        """Stop publishing and wait until every record produced is acknowledged or failed
        (again: a no-op)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        remaining = self._producer.flush(flush_timeout_s)
        assert remaining == 0, f"{remaining} records still unacknowledged after the flush"

    def expected_on_hand(self) -> dict[tuple[str, str], Decimal]:
        """On hand per (SKU, location) after every acknowledged movement, by ``SIGNS``."""
        totals: dict[tuple[str, str], Decimal] = {}
        for moved in self.acknowledged:
            key = (moved.sku, moved.location)
            totals[key] = totals.get(key, Decimal(0)) + SIGNS[moved.kind] * moved.quantity
        return totals

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stopping.is_set():
            self._publish_one()
            self._producer.poll(0)  # serve delivery reports
            next_at += self._interval_s
            # Pacing the load, not synchronisation: stop() ends the wait at once.
            self._stopping.wait(max(next_at - time.monotonic(), 0.0))

    def _publish_one(self) -> None:
        pick = self._random
        kind = pick.choice(self._kinds)
        quantity = pick.randint(1, 9) * (pick.choice((1, -1)) if kind == "adjustment" else 1)
        payload = movement(
            pick.choice(self._skus),
            kind,
            str(quantity),
            location=pick.choice((GLN_A, GLN_B)),
            source_system=self.source_system,
            source_sequence=next(self._sequence),
        )
        record = encode(Envelope(payload=payload, id=str(uuid.uuid4()), source="urn:wms:steady"))
        headers: list[tuple[str, str | bytes | None]] = [
            (n, v) for n, v in record.headers if n != "ce_origintime"
        ]

        def delivered(err: Any, _msg: Any) -> None:
            if err:
                self.failed.append(str(err))
            else:
                self.acknowledged.append(payload)

        self._producer.produce(
            self._topic, value=record.value, key=record.key, headers=headers, on_delivery=delivered
        )
        self.produced += 1


def find_records(
    bootstrap: str,
    topic: str,
    match: Callable[[Any], bool],
    *,
    expect: int = 1,
    timeout: float = 30.0,
) -> list[Any]:
    """Read a topic from the start until ``expect`` records match (or the deadline passes)."""
    return _read(bootstrap, topic, match, lambda found: len(found) >= expect, timeout)


def records_until(
    bootstrap: str,
    topic: str,
    match: Callable[[Any], bool],
    fence: Callable[[Any], bool],
    *,
    timeout: float = 30.0,
) -> list[Any]:
    """Every matching record up to and including the first ``fence`` record.

    Asserting that something was *not* published needs an end to read to: publish
    a fence on the same key (same partition, so it lands after everything before
    it) and read up to it, instead of waiting a while for nothing to arrive.
    """

    def fenced(found: list[Any]) -> bool:
        return bool(found) and fence(found[-1])

    found = _read(bootstrap, topic, lambda m: match(m) or fence(m), fenced, timeout)
    if not fenced(found):
        raise AssertionError(f"the fence record did not arrive on {topic} within {timeout}s")
    return found


def _read(
    bootstrap: str,
    topic: str,
    match: Callable[[Any], bool],
    done: Callable[[list[Any]], bool],
    timeout: float,
) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    # Assign partitions instead of joining a group: no rebalance to wait for.
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    found: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while not done(found) and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and not message.error() and match(message):
                found.append(message)
    finally:
        consumer.close()
    return found


def headers_of(message: Any) -> dict[str, str]:
    return {
        name: (value or b"").decode("utf-8", "replace") for name, value in (message.headers() or [])
    }


def body_of(message: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(message.value())
    return loaded


def as_consumed(topic: str, record: KafkaRecord, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    """``record`` as aiokafka hands it to a consumer (for tests that drive a consumer directly)."""
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=-1,
        timestamp_type=0,
        key=record.key,
        value=record.value,
        checksum=None,
        serialized_key_size=len(record.key),
        serialized_value_size=len(record.value),
        headers=list(record.headers),
    )

"""Send generated deliveries through a real Kafka client, flat out or at a fixed rate."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from skuhub_traffic.model import Delivery, PublishStats

ORIGIN_TIME_HEADER = "ce_origintime"
PROGRESS_EVERY = 500


class PublishError(RuntimeError):
    """Some records were not acknowledged by the broker."""


class IdempotenceState:
    """Whether the idempotent producer has its producer id yet, from librdkafka's statistics.

    Records produced before that wait in the client (a few hundred ms after start-up);
    timing them from then would charge the client's start to skuhub's latency, which a
    long-running upstream never pays. So publishing starts once the id is assigned.
    """

    ASSIGNED = "Assigned"

    def __init__(self) -> None:
        self.state = ""

    def read(self, statistics: str) -> None:
        """librdkafka's ``stats_cb``: the statistics as JSON."""
        self.state = json.loads(statistics).get("eos", {}).get("idemp_state", "")

    def wait(
        self,
        producer: Any,
        bootstrap: str,
        *,
        within_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Serve the producer's callbacks until the id is assigned; PublishError after
        ``within_s``."""
        deadline = clock() + within_s
        while self.state != self.ASSIGNED:
            if clock() > deadline:
                raise PublishError(
                    f"no producer id from {bootstrap} within {within_s:.0f}s "
                    f"(idempotent producer state: {self.state or 'unknown'})"
                )
            producer.poll(0.05)


def publish(
    deliveries: Sequence[Delivery],
    *,
    bootstrap: str,
    topic: str,
    rate: float | None = None,
    one_per_batch: bool = False,
    on_progress: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> PublishStats:
    """Produce every delivery to ``topic`` in order; return how many and how fast.

    Valid and duplicate records get ``ce_origintime`` = the send time, so latency
    is measured from publish. ``rate`` (records per second) paces by a fixed
    schedule that does not drift; ``None`` sends as fast as the client can.
    ``one_per_batch`` sends every record in a record batch of its own, as a steady
    trickle of single events does (the partition then holds as many batches as
    records). ``on_progress`` gets the number of records sent so far, now and then.
    ``clock`` and ``sleep`` are injectable so pacing can be tested without waiting.

    Raises:
        PublishError: the broker did not acknowledge every record.
    """
    from confluent_kafka import KafkaException, Producer

    if rate is not None and rate <= 0:
        raise ValueError("rate must be positive (records per second), or None for flat out")
    idempotence = IdempotenceState()
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 0 if one_per_batch else 5,
            "batch.num.messages": 1 if one_per_batch else 10_000,
            # The key's partition as skuhub's own producers choose it (murmur2, the Java
            # default); librdkafka's default (CRC32) would split a SKU over two partitions.
            "partitioner": "murmur2_random",
            "statistics.interval.ms": 50,
            "stats_cb": idempotence.read,
        }
    )
    idempotence.wait(producer, bootstrap, clock=clock)
    failures: list[str] = []

    def delivered(err: Any, msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    stats = PublishStats()
    started = clock()
    interval = 1.0 / rate if rate else 0.0
    for index, delivery in enumerate(deliveries):
        if rate:
            due = started + index * interval
            wait = due - clock()
            if wait > 0:
                producer.poll(0)
                sleep(wait)
        headers: list[tuple[str, str | bytes | None]] = list(delivery.headers)
        if delivery.kind != "malformed":
            now = datetime.now(UTC).isoformat().encode()
            headers = [(n, now if n == ORIGIN_TIME_HEADER else v) for n, v in headers]
        while True:
            try:
                producer.produce(
                    topic,
                    key=delivery.key,
                    value=delivery.value,
                    headers=headers,
                    on_delivery=delivered,
                )
                break
            except BufferError:  # the local queue is full: let the client drain it
                producer.poll(0.05)
            except KafkaException as exc:
                raise PublishError(f"cannot produce to {topic} on {bootstrap}: {exc}") from exc
        producer.poll(0)
        stats.records += 1
        stats.by_kind[delivery.kind] = stats.by_kind.get(delivery.kind, 0) + 1
        if on_progress is not None and stats.records % PROGRESS_EVERY == 0:
            on_progress(stats.records)
    remaining = producer.flush(60.0)
    stats.seconds = clock() - started
    if on_progress is not None:
        on_progress(stats.records)
    if remaining:
        raise PublishError(f"{remaining} records were not delivered to {topic} within 60 s")
    if failures:
        raise PublishError(
            f"{len(failures)} of {stats.records} records failed on {topic}: {failures[0]}"
        )
    return stats

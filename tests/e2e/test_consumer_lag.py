"""Consumer lag as the running stock service exports it, and ``skuhub top`` on it.

The stock service's consumer is held behind on purpose: the test locks its inbox
table, so every batch waits (and retries) without committing an offset. Oracle: the
records the test produced to each partition (with timestamps it chose) against the
offsets the group committed, read with a client of the test's own.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from typer.testing import CliRunner

from skuhub_cli.main import app
from skuhub_cli.ports import free_port
from skuhub_contracts.codec import Envelope, encode
from skuhub_contracts.subscriptions import STOCK_MOVEMENTS
from skuhub_contracts.topics import STOCK_MOVED
from tests.harness import Infrastructure, Stack, group_progress, wait_until
from tests.upstream import movement, upstream_producer

T = TypeVar("T")
RECORDS = 12
AGE_S = 120.0
"""How old the test stamps its records: the lag in seconds starts above this."""


class TableLock:
    """An ACCESS EXCLUSIVE lock on a table, held by a connection of the test's own (on an
    event loop in a thread of its own, so it outlives each test's calls)."""

    def __init__(self, database_url: str, table: str) -> None:
        self._engine = create_async_engine(database_url)
        self._table = table
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._conn: AsyncConnection | None = None

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    def hold(self) -> None:
        self._conn = conn = self._engine.connect()
        self._run(conn.start())
        self._run(conn.begin().start())
        self._run(conn.execute(text(f"LOCK TABLE {self._table} IN ACCESS EXCLUSIVE MODE")))

    def release(self) -> None:
        if self._conn is not None:
            self._run(self._conn.rollback())
            self._run(self._conn.close())
            self._conn = None

    def close(self) -> None:
        self.release()
        self._run(self._engine.dispose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@dataclass
class HeldBack:
    stack: Stack
    group: str
    topic: str
    produced: dict[int, int]
    """Records produced per partition (the group had committed nothing before)."""
    oldest_ms: dict[int, int]
    lock: TableLock


@pytest.fixture(scope="module")
def held_back(infra: Infrastructure, workdir: Path) -> Iterator[HeldBack]:
    stack = Stack(infra, workdir)
    stack.start(("stock",), env={"SKUHUB_LAG_REFRESH_INTERVAL_S": "0.3"})
    lock = TableLock(infra.database_url, f'"{stack.prefix}_stock".inbox')
    try:
        lock.hold()
        topic = stack.topic(STOCK_MOVED.name)
        produced, oldest = produce_old_movements(infra.kafka_bootstrap, topic)
        yield HeldBack(
            stack, stack.settings.consumer_group(STOCK_MOVEMENTS), topic, produced, oldest, lock
        )
    finally:
        lock.close()
        stack.stop()


def produce_old_movements(bootstrap: str, topic: str) -> tuple[dict[int, int], dict[int, int]]:
    """Publish RECORDS movements stamped AGE_S ago and older; count them per partition."""
    producer = upstream_producer(bootstrap)
    produced: dict[int, int] = {}
    oldest: dict[int, int] = {}
    stamped = int(time.time() * 1000 - AGE_S * 1000)

    def delivered(err: object, message: object) -> None:
        assert err is None, err
        partition = message.partition()  # type: ignore[attr-defined]
        produced[partition] = produced.get(partition, 0) + 1
        timestamp = message.timestamp()[1]  # type: ignore[attr-defined]
        oldest[partition] = min(oldest.get(partition, timestamp), timestamp)

    for n in range(RECORDS):
        record = encode(Envelope(payload=movement(f"LAG-{uuid.uuid4().hex[:8]}"), source="urn:t"))
        producer.produce(
            topic,
            value=record.value,
            key=record.key,
            headers=[(k, v) for k, v in record.headers if k != "ce_origintime"],
            timestamp=stamped - n * 1000,
            on_delivery=delivered,
        )
    assert producer.flush(15) == 0, "the broker did not acknowledge the records"
    return produced, oldest


def lag_of(held: HeldBack, sample: str) -> dict[int, float]:
    """Per partition: the stock service's exported ``sample`` for the held-back group."""
    text = httpx.get(f"{held.stack.url('stock')}/metrics").text
    found: dict[int, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = (s.labels.get("group"), s.labels.get("topic"))
            if s.name == sample and labels == (held.group, held.topic):
                found[int(s.labels["partition"])] = float(s.value)
    return found


def test_exported_lag_is_the_records_produced_after_the_committed_offset(
    held_back: HeldBack,
) -> None:
    expected = {p: float(held_back.produced.get(p, 0)) for p in range(3)}

    wait_until(
        lambda: lag_of(held_back, "kafka_consumergroup_group_lag") == expected,
        timeout=30,
        what=f"the exported lag to reach {expected}",
    )

    progress = group_progress(
        held_back.stack.infra.kafka_bootstrap, held_back.group, [held_back.topic]
    )
    assert (progress.committed, progress.end) == (0, RECORDS), "the group was not held back"
    offsets = lag_of(held_back, "kafka_consumergroup_group_offset")
    assert offsets == {0: 0.0, 1: 0.0, 2: 0.0}


def test_lag_seconds_is_the_age_of_the_oldest_record_and_grows(held_back: HeldBack) -> None:
    first = lag_of(held_back, "kafka_consumergroup_group_lag_seconds")
    read_at_ms = time.time() * 1000
    for partition, oldest in held_back.oldest_ms.items():
        assert AGE_S <= first[partition] <= (read_at_ms - oldest) / 1000

    wait_until(
        lambda: all(
            lag_of(held_back, "kafka_consumergroup_group_lag_seconds")[p] >= first[p] + 1.0
            for p in held_back.oldest_ms
        ),
        timeout=30,
        what="the lag in seconds to grow while the group stands still",
    )


def test_skuhub_top_once_shows_the_running_service_and_a_missing_one_as_down(
    held_back: HeldBack,
) -> None:
    gone = f"http://127.0.0.1:{free_port()}"

    result = CliRunner().invoke(
        app,
        [
            "top",
            "--once",
            "--interval",
            "0.5",
            "--url",
            f"stock={held_back.stack.url('stock')}",
            "--url",
            f"gone={gone}",
        ],
        env={"COLUMNS": "200"},
    )

    assert result.exit_code == 0, result.output
    rows = {
        cells[0]: cells
        for line in result.output.splitlines()
        if len(cells := [c.strip() for c in line.split("│")[1:-1]]) == 10
    }
    assert rows["stock"][1] == "up"
    assert rows["stock"][3] == str(RECORDS)
    assert float(rows["stock"][4].removesuffix(" s")) >= AGE_S
    assert rows["gone"][1] == "down"
    assert f"gone: ConnectError at {gone}" in result.output


def test_lag_returns_to_zero_once_the_group_catches_up(held_back: HeldBack) -> None:
    held_back.lock.release()  # the inbox is free: the held batches go through

    wait_until(
        lambda: (
            lag_of(held_back, "kafka_consumergroup_group_lag") == {0: 0.0, 1: 0.0, 2: 0.0}
            and lag_of(held_back, "kafka_consumergroup_group_lag_seconds")
            == {0: 0.0, 1: 0.0, 2: 0.0}
        ),
        timeout=60,
        what="the lag to return to zero after the catch-up",
    )
    progress = group_progress(
        held_back.stack.infra.kafka_bootstrap, held_back.group, [held_back.topic]
    )
    assert progress.committed == RECORDS

"""Publishing generated traffic (libs/skuhub_traffic/publish.py) and ``skuhub generate``.

A fake confluent-kafka Producer stands in for the broker: no network here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import confluent_kafka
import pytest
from typer.testing import CliRunner

from skuhub_cli.main import app
from skuhub_traffic import Delivery, Oracle, PublishError, TrafficConfig, generate_deliveries
from skuhub_traffic.publish import IdempotenceState, publish


class FakeProducer:
    instances: list[FakeProducer] = []
    fail_every: int = 0
    clock: Callable[[], float] = time.monotonic

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.sent: list[tuple[str, bytes, bytes, list[tuple[str, Any]], float]] = []
        self.pending: list[Callable[[Any, Any], None]] = []
        self.acknowledged = 0
        FakeProducer.instances.append(self)

    def produce(
        self,
        topic: str,
        *,
        key: bytes,
        value: bytes,
        headers: list[tuple[str, Any]],
        on_delivery: Callable[[Any, Any], None],
    ) -> None:
        self.sent.append((topic, key, value, headers, FakeProducer.clock()))
        self.pending.append(on_delivery)

    def poll(self, timeout: float = 0) -> int:
        # As librdkafka does now and then: statistics, here with the producer id assigned.
        if stats := self.config.get("stats_cb"):
            stats(json.dumps({"eos": {"idemp_state": "Assigned"}}))
        return self._drain()

    def flush(self, timeout: float = 0) -> int:
        self._drain()
        return 0

    def _drain(self) -> int:
        done = len(self.pending)
        for callback in self.pending:
            self.acknowledged += 1
            failed = FakeProducer.fail_every and self.acknowledged % FakeProducer.fail_every == 0
            callback("broker said no" if failed else None, None)
        self.pending.clear()
        return done


@pytest.fixture
def producer(monkeypatch: pytest.MonkeyPatch) -> type[FakeProducer]:
    FakeProducer.instances = []
    FakeProducer.fail_every = 0
    FakeProducer.clock = time.monotonic
    monkeypatch.setattr(confluent_kafka, "Producer", FakeProducer)
    return FakeProducer


@pytest.fixture(scope="module")
def deliveries() -> list[Delivery]:
    return generate_deliveries(TrafficConfig(seed=2, movements=600, malformed_share=0.05))


def test_publish_sends_every_record_in_order_and_restamps_origin_time(
    producer: type[FakeProducer], deliveries: list[Delivery]
) -> None:
    before = datetime.now(UTC)
    progress: list[int] = []
    stats = publish(deliveries, bootstrap="x:1", topic="t", on_progress=progress.append)
    (fake,) = producer.instances
    assert fake.config["acks"] == "all"
    assert fake.config["enable.idempotence"] is True
    assert fake.config["batch.num.messages"] > 1  # batches by default

    assert [(k, v) for _, k, v, _, _ in fake.sent] == [(d.key, d.value) for d in deliveries]
    assert stats.records == len(deliveries)
    assert stats.by_kind == {
        kind: sum(1 for d in deliveries if d.kind == kind) for kind in stats.by_kind
    }
    assert progress[-1] == len(deliveries)
    for delivery, (_, _, _, headers, _) in zip(deliveries, fake.sent, strict=True):
        if delivery.kind == "malformed":
            assert headers == list(delivery.headers)
            continue
        sent = dict(headers)
        origin = datetime.fromisoformat(sent["ce_origintime"].decode())
        assert origin >= before
        assert {n: v for n, v in headers if n != "ce_origintime"} == {
            n: v for n, v in delivery.headers if n != "ce_origintime"
        }


def test_publishing_waits_for_the_producer_id_and_says_when_none_comes() -> None:
    class Silent:
        """A producer whose id never comes (its statistics say so)."""

        def __init__(self, state: IdempotenceState) -> None:
            self.state = state

        def poll(self, timeout: float = 0) -> int:
            self.state.read(json.dumps({"eos": {"idemp_state": "WaitPid"}}))
            return 0

    now = [0.0]

    def clock() -> float:
        now[0] += 1.0
        return now[0]

    state = IdempotenceState()
    with pytest.raises(PublishError, match=r"no producer id from x:1 within 5s \(.*WaitPid\)"):
        state.wait(Silent(state), "x:1", within_s=5, clock=clock)


def test_one_per_batch_sends_every_record_in_a_batch_of_its_own(
    producer: type[FakeProducer], deliveries: list[Delivery]
) -> None:
    publish(deliveries[:10], bootstrap="x:1", topic="t", one_per_batch=True)
    (fake,) = producer.instances
    assert fake.config["batch.num.messages"] == 1
    assert fake.config["linger.ms"] == 0


def test_publish_paces_a_fixed_rate_without_drift(
    producer: type[FakeProducer], deliveries: list[Delivery]
) -> None:
    class VirtualClock:
        """Time that only moves when the publisher sleeps, plus a little per send."""

        now = 1000.0

        def __call__(self) -> float:
            self.now += 0.0001  # each look at the clock costs a little, like real work
            return self.now

        def sleep(self, seconds: float) -> None:
            self.now += seconds

    clock = VirtualClock()
    producer.clock = clock
    stats = publish(
        deliveries[:41], bootstrap="x:1", topic="t", rate=400.0, clock=clock, sleep=clock.sleep
    )
    (fake,) = producer.instances
    times = [t for *_, t in fake.sent]
    started = times[0]
    # Every record leaves at (or just after) its slot on the schedule: no drift accumulates.
    for index, sent_at in enumerate(times):
        assert index / 400 <= sent_at - started + 0.0005 < index / 400 + 0.001
    assert stats.seconds == pytest.approx(40 / 400, abs=0.002)
    assert stats.rate == pytest.approx(41 / stats.seconds)


def test_publish_raises_when_a_delivery_fails(
    producer: type[FakeProducer], deliveries: list[Delivery]
) -> None:
    producer.fail_every = 7
    with pytest.raises(PublishError, match="broker said no"):
        publish(deliveries[:20], bootstrap="x:1", topic="t")


def test_publish_rejects_a_non_positive_rate(deliveries: list[Delivery]) -> None:
    with pytest.raises(ValueError, match="rate"):
        publish(deliveries[:1], bootstrap="x:1", topic="t", rate=0)


def test_generate_command_writes_catalog_oracle_and_summary(
    producer: type[FakeProducer], tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--seed",
            "4",
            "--movements",
            "800",
            "--product-models",
            "12",
            "--out",
            str(tmp_path),
            "--publish",
            "--bootstrap",
            "fake:9092",
            "--topic-prefix",
            "t1.",
        ],
    )
    assert result.exit_code == 0, result.output
    catalog = json.loads((tmp_path / "catalog.json").read_text(encoding="utf-8"))
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    oracle = Oracle.read(tmp_path / "oracle.json")
    assert len(catalog["products"]) == summary["products"]
    assert summary["by_kind"]["valid"] == oracle.expected_counts["valid"]
    assert summary["published"]["topic"] == "t1.stock.stock-moved.v1"
    (fake,) = producer.instances
    assert fake.config["bootstrap.servers"] == "fake:9092"
    assert len(fake.sent) == summary["deliveries"]
    expected = generate_deliveries(TrafficConfig(seed=4, movements=800, product_models=12))
    assert [v for _, _, v, _, _ in fake.sent] == [d.value for d in expected]

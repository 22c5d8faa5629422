"""Outbox header storage and the consumer's failure handling, without I/O."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc

from skuhub_contracts.subscriptions import STOCK_MOVEMENTS
from skuhub_runtime import consumer as consumer_module
from skuhub_runtime.consumer import BatchResult, retry_in_place
from skuhub_runtime.handling import ConsumerSpec, Outcome
from skuhub_runtime.outbox import kafka_headers, stored_headers
from skuhub_runtime.settings import ServiceSettings
from tests.fakes.consumer import consumer_without_database


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("ce_id", b"evt-1"), ("traceparent", b"00-ab-cd-01")],
        [("x", b"\x00"), ("y", b"\xff\xfe"), ("z", "grüße".encode())],
        [("repeated", b"1"), ("repeated", b"2")],
        [("empty", b"")],
    ],
)
def test_headers_survive_the_outbox_byte_for_byte(headers: list[tuple[str, bytes]]) -> None:
    stored = stored_headers(headers)
    text = json.dumps(stored)
    assert "\\u0000" not in text, "PostgreSQL's JSONB refuses NUL"
    assert kafka_headers(json.loads(text)) == headers


def test_readable_headers_stay_readable_in_the_table() -> None:
    assert stored_headers([("ce_type", b"skuhub.stock-moved.v1")]) == [
        ["ce_type", "skuhub.stock-moved.v1"]
    ]


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"pg error {sqlstate}")
        self.sqlstate = sqlstate


def _dbapi_error(kind: type[sa_exc.DBAPIError], sqlstate: str) -> sa_exc.DBAPIError:
    return kind("SELECT 1", {}, _PgError(sqlstate))


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"), True),
        (_dbapi_error(sa_exc.OperationalError, "08006"), True),  # connection failure
        (_dbapi_error(sa_exc.DBAPIError, "40001"), True),  # serialization failure
        (_dbapi_error(sa_exc.ProgrammingError, "42P01"), True),  # undefined table: a bug
        (_dbapi_error(sa_exc.InternalError, "XX000"), True),
        (_dbapi_error(sa_exc.DataError, "22003"), False),  # numeric out of range: the record
        (_dbapi_error(sa_exc.IntegrityError, "23514"), False),  # check violation: the record
        (ValueError("quantity must be positive"), False),
    ],
)
def test_errors_the_record_did_not_cause_are_retried_not_dead_lettered(
    error: BaseException, retry: bool
) -> None:
    assert retry_in_place(error) is retry


class _FakeConsumer:
    def __init__(self) -> None:
        self.seeks: list[tuple[str, int, int]] = []

    def seek(self, partition: Any, offset: int) -> None:
        self.seeks.append((partition.topic, partition.partition, offset))


class _FakeMessage:
    def __init__(self, records: tuple[Any, ...]) -> None:
        self.raw_message = records
        self.acked = False

    async def ack(self) -> None:
        self.acked = True


async def test_a_batch_that_fails_unexpectedly_is_read_again_not_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def nothing(*_: Any) -> Outcome:
        return Outcome()

    batch_consumer = consumer_without_database(
        ConsumerSpec(STOCK_MOVEMENTS, nothing), ServiceSettings(service_name="stock")
    )
    kafka_consumer = _FakeConsumer()
    batch_consumer._subscriber = SimpleNamespace(consumer=kafka_consumer)

    async def explode(records: Any) -> BatchResult:
        raise RuntimeError("a bug")

    monkeypatch.setattr(batch_consumer, "process", explode)
    records = tuple(
        SimpleNamespace(topic="t", partition=p, offset=o) for p, o in [(0, 5), (1, 9), (0, 6)]
    )
    message = _FakeMessage(records)

    await batch_consumer._on_batch(message)  # type: ignore[arg-type]

    assert message.acked is False
    assert sorted(kafka_consumer.seeks) == [("t", 0, 5), ("t", 1, 9)]


def test_a_slow_batch_is_logged_with_where_the_time_went(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticks = iter([10.0, 10.002, 10.010, 11.050])
    clock = consumer_module._PhaseClock("stock", clock=lambda: next(ticks))
    for phase in ("claim", "handle", "commit"):
        clock.lap(phase)

    with caplog.at_level(logging.WARNING, logger="skuhub_runtime.consumer"):
        clock.report(5)

    assert "slow batch of 5 records: claim 2 ms, handle 8 ms, commit 1040 ms" in caplog.text


def test_a_quick_batch_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    ticks = iter([10.0, 10.1, 10.2])
    clock = consumer_module._PhaseClock("stock", clock=lambda: next(ticks))
    clock.lap("claim")
    clock.lap("commit")

    with caplog.at_level(logging.WARNING, logger="skuhub_runtime.consumer"):
        clock.report(5)

    assert "slow batch" not in caplog.text

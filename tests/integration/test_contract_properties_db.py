"""Whatever the published schemas allow reaches each consumer's database without a database error.

Batches of instances generated from the checked-in ``schemas/`` files go, as Kafka records,
through each consuming service's real consumer (its handler and SQL unit of work, from the
service's composition root) into a real PostgreSQL schema. Every record is applied, recognised
as a duplicate, refused by the domain, or dead-lettered with a reason naming the field; none
ends as an internal error and no batch is retried for a database error it caused.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skuhub_contracts.codec import KafkaRecord
from skuhub_contracts.events import (
    EventPayload,
    LifecycleStageChanged,
    ProductChanged,
    StockLevelChanged,
    StockMoved,
)
from skuhub_lifecycle.adapters.unit_of_work import sql_unit_of_work as lifecycle_uow
from skuhub_lifecycle.entrypoints import app as lifecycle_app
from skuhub_runtime import metrics, migrations
from skuhub_runtime.consumer import BatchConsumer
from skuhub_runtime.db import create_engine
from skuhub_runtime.handling import ConsumerSpec
from skuhub_runtime.settings import ServiceSettings
from skuhub_runtime.transactions import Transactions
from skuhub_stock.adapters.ledger_repository import sql_unit_of_work as stock_uow
from skuhub_stock.entrypoints import app as stock_app
from skuhub_sync_gateway.adapters.unit_of_work import sql_unit_of_work as gateway_uow
from skuhub_sync_gateway.entrypoints import app as gateway_app
from tests.harness import Infrastructure
from tests.unit.test_codec import PAYLOADS
from tests.unit.test_contract_properties import (
    binary_headers,
    instances_of,
    named_fields,
    published_schema,
    top_level,
)
from tests.upstream import as_consumed

pytestmark = pytest.mark.integration

Service = tuple[str, Callable[[Any], Any], Sequence[ConsumerSpec[Any, Any]], Any]
SERVICES: dict[str, Service] = {
    "stock": ("stock", stock_uow, stock_app.CONSUMERS, stock_app.MIGRATIONS),
    "lifecycle": ("lifecycle", lifecycle_uow, lifecycle_app.CONSUMERS, lifecycle_app.MIGRATIONS),
    "sync_gateway": (
        "sync_gateway",
        gateway_uow,
        gateway_app.CONSUMERS,
        gateway_app.MIGRATIONS,
    ),
}
CONSUMED: list[tuple[str, type[EventPayload]]] = [
    ("stock", StockMoved),
    ("stock", ProductChanged),
    ("lifecycle", ProductChanged),
    ("sync_gateway", ProductChanged),
    ("sync_gateway", StockLevelChanged),
    ("sync_gateway", LifecycleStageChanged),
]


@pytest.fixture
async def consumer_of(
    infra: Infrastructure, request: pytest.FixtureRequest
) -> AsyncIterator[BatchConsumer[Any, Any]]:
    service, unit_of_work, consumers, revisions = SERVICES[request.param[0]]
    prefix = f"p{uuid.uuid4().hex[:8]}"
    config = ServiceSettings(
        service_name=service,
        database_url=infra.database_url,
        kafka_bootstrap=infra.kafka_bootstrap,
        topic_prefix=f"{prefix}.",
        schema_prefix=f"{prefix}_",
    )
    engine = create_engine(config)
    await migrations.upgrade(engine, revisions, config.db_schema)
    transactions = Transactions(engine, unit_of_work, settings=config, after_commit=lambda _: None)
    [spec] = [c for c in consumers if request.param[1] in c.subscription.events]
    yield BatchConsumer(spec, settings=config, transactions=transactions)
    await engine.dispose()


OFFSETS = itertools.count()
"""Every record of the session at an offset of its own, as on a real partition (the consumer
knows a record it dead-lettered by its place)."""


def record(event: type[EventPayload], instance: dict[str, Any]) -> Any:
    sku = instance["sku"]
    headers = [(n, v) for n, v in binary_headers(event, sku) if n != "ce_id"]
    headers.append(("ce_id", f"prop-{uuid.uuid4()}".encode()))
    raw = KafkaRecord(sku.encode(), json.dumps(instance).encode(), headers)
    return as_consumed(f"property.{event.event_type}", raw, next(OFFSETS))


def retries(service: str) -> float:
    return metrics.CONSUMER_RETRIES.labels(service)._value.get()  # type: ignore[no-any-return]


def a_valid(event: type[EventPayload]) -> dict[str, Any]:
    """A payload every consumer applies: the codec tests' sample under a SKU of its own."""
    sample = PAYLOADS[event].model_dump(mode="json")
    sample["sku"] = f"PROP-{uuid.uuid4().hex[:12]}"
    if event is StockMoved:
        sample["source_sequence"] = uuid.uuid4().int % 2**62
    return sample


@pytest.mark.parametrize(
    ("consumer_of", "event"),
    [((service, event), event) for service, event in CONSUMED],
    indirect=["consumer_of"],
    ids=[f"{service}-{event.__name__}" for service, event in CONSUMED],
)
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(data=st.data())
async def test_every_published_instance_is_applied_or_refused_for_a_field_never_a_db_error(
    consumer_of: BatchConsumer[Any, Any], event: type[EventPayload], data: st.DataObject
) -> None:
    consumer = consumer_of
    schema = published_schema(event)
    generated = data.draw(st.lists(instances_of(event), min_size=1, max_size=8))
    valid = a_valid(event)
    records = [record(event, instance) for instance in [*generated, valid]]
    service = consumer.spec.subscription.service
    before = retries(service)

    result = await consumer.process(records)

    assert retries(service) == before, "a batch was retried: a database error"
    assert decoded_id(records[-1]) in result.applied, "the valid record was held up"
    assert len(result.applied) + result.duplicates + len(result.dead_lettered) >= len(records)
    prefix = f"invalid {event.event_type} payload: "
    for _, reason in result.dead_lettered:
        assert "internal error" not in reason, reason
        if reason.startswith(prefix):
            fields = named_fields(reason, prefix)
            assert all(top_level(field) in schema["properties"] for field in fields), reason


def decoded_id(kafka_record: Any) -> str:
    return str(dict(kafka_record.headers)["ce_id"].decode())

"""A consumer that gathers asks the broker to hold its fetches (docs/runtime.md, "Batches")."""

from __future__ import annotations

from typing import Any

from skuhub_contracts.subscriptions import CATALOG_PROJECTION, LIFECYCLE_STOCK, OFFER_PROJECTION
from skuhub_runtime.handling import ConsumerSpec, Outcome
from skuhub_runtime.settings import ServiceSettings
from tests.fakes.consumer import consumer_without_database


class _Broker:
    """Keeps what a subscriber was created with."""

    def __init__(self) -> None:
        self.options: dict[str, Any] = {}

    def subscriber(self, *topics: str, **options: Any) -> Any:
        self.options = options
        return lambda handler: None


async def _nothing(*_: Any) -> Outcome:
    return Outcome()


def _subscribed_with(spec: ConsumerSpec[Any, Any]) -> dict[str, Any]:
    settings = ServiceSettings(service_name=spec.subscription.service, consumer_fetch_wait_ms=150)
    consumer = consumer_without_database(spec, settings)
    broker = _Broker()
    consumer.register(broker)  # type: ignore[arg-type]
    return broker.options


def test_a_consumer_that_gathers_has_the_broker_wait_for_about_a_full_batch() -> None:
    options = _subscribed_with(ConsumerSpec(LIFECYCLE_STOCK, _nothing, gather_ms=200))

    assert options["fetch_max_wait_ms"] == 200
    assert options["fetch_min_bytes"] == 512 * 1024


def test_a_consumer_that_does_not_gather_is_answered_as_soon_as_a_record_arrives() -> None:
    options = _subscribed_with(ConsumerSpec(OFFER_PROJECTION, _nothing))

    assert options["fetch_min_bytes"] == 1
    assert options["fetch_max_wait_ms"] == 150  # the idle long poll, answered on arrival


def test_only_the_projections_nobody_waits_on_gather() -> None:
    from skuhub_catalog.entrypoints.app import CONSUMERS as CATALOG
    from skuhub_lifecycle.entrypoints.app import CONSUMERS as LIFECYCLE
    from skuhub_stock.entrypoints.handlers import StockHandlers, consumers
    from skuhub_sync_gateway.entrypoints.app import CONSUMERS as GATEWAY

    specs: list[ConsumerSpec[Any, Any]] = [
        *CATALOG,
        *LIFECYCLE,
        *consumers(StockHandlers()),
        *GATEWAY,
    ]
    gathering = {spec.subscription for spec in specs if spec.gather_ms}

    assert gathering == {CATALOG_PROJECTION, LIFECYCLE_STOCK}

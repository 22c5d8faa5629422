"""Services consume exactly what the subscription registry (and so the AsyncAPI document) says."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from skuhub_contracts.subscriptions import SUBSCRIPTIONS, subscriptions_of
from skuhub_contracts.topics import SERVICES
from skuhub_runtime.handling import ConsumerSpec


def consumers_of(service: str) -> list[ConsumerSpec[Any, Any]]:
    app = importlib.import_module(f"skuhub_{service}.entrypoints.app")
    consumers: list[ConsumerSpec[Any, Any]] = getattr(app, "CONSUMERS", [])
    return consumers


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_subscribes_to_exactly_its_registry_entries(service: str) -> None:
    subscribed = [spec.subscription for spec in consumers_of(service)]
    assert subscribed == list(subscriptions_of(service))


def test_every_registry_entry_has_a_consumer_and_a_group_of_its_own() -> None:
    served = [spec.subscription for service in SERVICES for spec in consumers_of(service)]
    assert sorted(s.name for s in served) == sorted(s.name for s in SUBSCRIPTIONS)
    groups = {(s.service, s.name) for s in SUBSCRIPTIONS}
    assert len(groups) == len(SUBSCRIPTIONS), "two subscriptions would share a consumer group"

"""What end-to-end tests read from the running stack: the gateway's offers, metrics."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import Stack, wait_until


def new_sku(prefix: str = "SKU") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


def offer(stack: Stack, sku: str, channel: str = "web") -> dict[str, Any] | None:
    response = httpx.get(f"{stack.url('sync_gateway')}/v1/channels/{channel}/offers/{sku}")
    if response.status_code == 404:
        return None
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def offer_where(
    stack: Stack, sku: str, condition: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    """The SKU's web offer once ``condition`` holds for it (fails after 30 s)."""

    def matching() -> dict[str, Any] | None:
        found = offer(stack, sku)
        return found if found is not None and condition(found) else None

    return wait_until(matching, timeout=30, what=what)


def metric(stack: Stack, service: str, sample: str, **labels: str) -> float:
    """The value of one sample on a service's ``/metrics`` (0 when it is absent)."""
    text = httpx.get(f"{stack.url(service)}/metrics").text
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == sample and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0

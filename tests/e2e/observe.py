"""What end-to-end tests read from the running stack (the gateway's offers, metrics), and
the one write many of them need: taking a product through review to the channels."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from skuhub_cli.demo import launch_product
from tests import api
from tests.harness import Stack, wait_until


def new_sku(prefix: str = "SKU") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


def new_gtin13() -> str:
    """A random GTIN-13 with its GS1 check digit: weights 3 and 1 alternating from the
    right of the twelve digits, the digit that makes the sum a multiple of ten."""
    digits = [int(d) for d in f"{uuid.uuid4().int % 10**12:012d}"]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return "".join(map(str, digits)) + str(-total % 10)


def publish_product(stack: Stack, sku: str) -> dict[str, Any]:
    """Submit, approve and publish the product, so its content reaches the channels; the
    published product."""
    body: dict[str, Any] = {}
    for action in ("submit", "approve", "publish"):
        moved = api.post(
            f"{stack.url('catalog')}/v1/product-workflow/{sku}", json={"action": action}
        )
        assert moved.status_code == 200, moved.text
        body = moved.json()
    return body


def launch(stack: Stack, sku: str) -> None:
    """Take a published product from concept to active through the lifecycle's gates."""
    with api.client(timeout=10.0) as client:
        problem = launch_product(client, stack.url("lifecycle"), sku, actor="e2e")
    assert problem is None, problem


def offer(stack: Stack, sku: str, channel: str = "web") -> dict[str, Any] | None:
    response = api.get(f"{stack.url('sync_gateway')}/v1/channels/{channel}/offers/{sku}")
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
    text = api.get(f"{stack.url(service)}/metrics").text
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == sample and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0

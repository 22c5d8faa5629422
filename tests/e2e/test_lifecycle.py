"""The lifecycle on the real stack: a gate that refuses and then passes once the catalog and
stock facts arrive, and a successor switch the gateway shows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from skuhub_contracts.topics import STOCK_MOVED
from tests import api
from tests.e2e.observe import launch, new_sku, offer_where, publish_product
from tests.harness import Stack, wait_until
from tests.upstream import GLN_A, Upstream, movement

pytestmark = pytest.mark.e2e


def create_product(stack: Stack, sku: str) -> None:
    created = api.post(
        f"{stack.url('catalog')}/v1/products",
        json={
            "sku": sku,
            "status": "enabled",
            "title": {"en_US": "Blue mug", "de_DE": "Blaue Tasse"},
            "unit": "EA",
            "family": "apparel",
        },
    )
    assert created.status_code == 201, created.text


def transition(stack: Stack, sku: str, **body: Any) -> httpx.Response:
    return api.post(
        f"{stack.url('lifecycle')}/v1/stages/{sku}/transitions",
        json={"reason": "e2e", "actor": "e2e", **body},
    )


def passes(stack: Stack, sku: str, what: str, **body: Any) -> dict[str, Any]:
    def moved() -> dict[str, Any] | None:
        response = transition(stack, sku, **body)
        return response.json() if response.status_code == 200 else None

    return wait_until(moved, timeout=30, what=what)


def test_a_gate_refuses_then_passes_once_the_catalog_and_stock_facts_arrive(
    stack: Stack, upstream: Upstream
) -> None:
    sku = new_sku("GATED")
    create_product(stack, sku)
    passes(stack, sku, "the lifecycle to see the product", stage="development")

    refused = transition(stack, sku, stage="pre-launch")
    assert refused.status_code == 409, refused.text
    assert "not approved in the catalog" in refused.json()["detail"]

    publish_product(stack, sku)
    passes(stack, sku, "pre-launch once approved", stage="pre-launch")
    no_stock = transition(stack, sku, stage="active")
    assert no_stock.status_code == 409, no_stock.text
    assert "no stock available to promise" in no_stock.json()["detail"]

    upstream.publish_movement(stack.topic(STOCK_MOVED.name), movement(sku, quantity="4"))
    active = passes(stack, sku, "active once stocked", stage="active")

    assert (active["stage"], active["actor"]) == ("active", "e2e")
    history = api.get(f"{stack.url('lifecycle')}/v1/stages/{sku}/history").json()
    assert [h["stage"] for h in history] == ["concept", "development", "pre-launch", "active"]
    policy = api.get(f"{stack.url('lifecycle')}/v1/policies/{sku}").json()
    assert (policy["stage"], policy["replenish"]) == ("active", True)


def test_a_discontinued_sku_names_its_successor_in_the_channel_offer(stack: Stack) -> None:
    old, new = new_sku("OLD"), new_sku("NEW")
    for sku in (old, new):
        create_product(stack, sku)
        publish_product(stack, sku)
        launch(stack, sku)

    for body in ({"stage": "phase-out"}, {"stage": "discontinued", "successor": new}):
        moved = transition(stack, old, **body)
        assert moved.status_code == 200, moved.text

    found = offer_where(
        stack, old, lambda o: o["stage"] == "discontinued", "the discontinued stage in the offer"
    )
    assert (found["successor"], found["sellable"]) == (new, False)
    retire_refused = transition(stack, new, stage="discontinued", successor=old)
    assert retire_refused.status_code == 409  # phase-out first: not in the table


def test_metrics_classes_and_rules_over_http(stack: Stack, upstream: Upstream) -> None:
    lifecycle = stack.url("lifecycle")
    sku = new_sku("MEASURED")
    create_product(stack, sku)
    upstream.publish_movement(stack.topic(STOCK_MOVED.name), movement(sku, quantity="9"))

    def measured() -> dict[str, Any] | None:
        response = api.get(f"{lifecycle}/v1/sku-metrics/{sku}", params={"window": "7"})
        return response.json() if response.status_code == 200 else None

    metrics = wait_until(measured, timeout=30, what="the SKU's metrics")
    [week] = metrics["windows"]
    figures = [Decimal(week[name]) for name in ("units_received", "on_hand", "units_sold")]
    assert (week["window_days"], figures) == (7, [Decimal(9), Decimal(9), Decimal(0)])
    assert (week["fill_rate"], Decimal(week["sell_through"])) == (None, Decimal(0))  # 0 / (0 + 9)

    reviewed = api.post(f"{lifecycle}/v1/reviews")
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["classified"] >= 1
    [found] = api.get(f"{lifecycle}/v1/classes", params={"after": sku[:-1], "limit": 1}).json()
    assert (found["sku"], found["velocity_class"]) == (sku, "C")  # it sold nothing

    rules = api.get(f"{lifecycle}/v1/rules").json()
    del rules["version"]
    first = api.put(f"{lifecycle}/v1/rules", json=rules).json()["version"]
    changed = {**rules, "slow_seller": "apply", "expected_version": first}
    saved = api.put(f"{lifecycle}/v1/rules", json=changed)
    stale = api.put(f"{lifecycle}/v1/rules", json=changed)

    assert saved.status_code == 200, saved.text
    assert (saved.json()["version"], saved.json()["slow_seller"]) == (first + 1, "apply")
    assert stale.status_code == 409, stale.text
    assert "read them again" in stale.json()["detail"]


def test_stock_follows_the_policy_the_lifecycle_publishes(stack: Stack, upstream: Upstream) -> None:
    sku = new_sku("POLICY")
    create_product(stack, sku)
    upstream.publish_movement(stack.topic(STOCK_MOVED.name), movement(sku, quantity="3"))
    position = f"{stack.url('stock')}/v1/policies/{sku}/{GLN_A}"

    def in_force(stage: str) -> dict[str, Any] | None:
        view = api.get(position).json()
        lifecycle = view.get("lifecycle") or {}
        return view if lifecycle.get("stage") == stage else None

    held = wait_until(lambda: in_force("concept"), timeout=30, what="the concept policy in stock")
    assert (held["replenish"], "says not to replenish" in held["hold_reason"]) == (False, True)

    publish_product(stack, sku)
    launch(stack, sku)
    active = wait_until(lambda: in_force("active"), timeout=30, what="the active policy in stock")
    assert (active["replenish"], active["hold_reason"], active["buffer_multiplier"]) == (
        True,
        None,
        0.5,
    )

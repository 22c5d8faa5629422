"""Webhooks on the running stack: movements published upstream reach a real receiver as
signed offer.changed deliveries, verified with the Standard Webhooks library, every offer
version once and in order (docs/webhooks.md)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from skuhub_contracts.topics import STOCK_MOVED
from tests import api
from tests.e2e.observe import new_sku, offer_where
from tests.harness import Stack, wait_until
from tests.upstream import Upstream, movement
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver().serve() as serving:
        yield serving


def test_stock_movements_reach_a_subscribed_receiver_signed_once_per_offer_version_in_order(
    stack: Stack, upstream: Upstream, receiver: Receiver
) -> None:
    gateway = stack.url("sync_gateway")
    created = api.post(f"{gateway}/v1/subscriptions", json={"url": receiver.url, "channel": "web"})
    assert created.status_code == 201, created.text
    subscription = created.json()
    receiver.secret = subscription["secret"]
    try:
        sku = new_sku("HOOK")
        topic = stack.topic(STOCK_MOVED.name)
        upstream.publish_movement(topic, movement(sku, quantity="5"))
        offer_where(stack, sku, lambda o: Decimal(o["available"]) == 5, "5 available")
        upstream.publish_movement(topic, movement(sku, quantity="7"))
        last = offer_where(stack, sku, lambda o: Decimal(o["available"]) == 12, "12 available")

        expected = list(range(1, last["offer_version"] + 1))
        wait_until(
            lambda: receiver.versions().get(sku) == expected,
            timeout=30,
            what=f"versions {expected} of {sku} delivered",
        )
        log = api.get(
            f"{gateway}/v1/subscriptions/{subscription['id']}/deliveries", params={"sku": sku}
        )
        state = api.get(f"{gateway}/v1/subscriptions/{subscription['id']}")
    finally:
        api.delete(f"{gateway}/v1/subscriptions/{subscription['id']}")

    assert receiver.unverified == []
    mine = [r for r in receiver.accepted if r.sku == sku]
    assert len({r.id for r in mine}) == len(mine) == len(expected)
    newest = receiver.bodies[mine[-1].id]
    assert newest["type"] == "offer.changed"
    assert newest["data"]["channel"] == "web"
    assert Decimal(newest["data"]["available"]) == 12
    assert log.status_code == 200, log.text
    assert [d["offer_version"] for d in log.json()] == expected[::-1]
    assert {d["id"] for d in log.json()} == {r.id for r in mine}
    assert state.json()["status"] == "active"
    assert "secret" not in state.json()


def test_a_subscription_for_an_unknown_channel_or_a_bad_url_is_refused(stack: Stack) -> None:
    gateway = stack.url("sync_gateway")
    unknown = api.post(
        f"{gateway}/v1/subscriptions",
        json={"url": "https://example.com/hooks", "channel": "no-such-channel"},
    )
    ftp = api.post(
        f"{gateway}/v1/subscriptions", json={"url": "ftp://example.com/hooks", "channel": "web"}
    )

    assert unknown.status_code == 422
    assert "unknown channel 'no-such-channel'" in unknown.text
    assert ftp.status_code == 422
    assert "https:// or http://" in ftp.text

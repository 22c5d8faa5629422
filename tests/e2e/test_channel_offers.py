"""Channels and stored offers on the real stack (stock and gateway on their own prefix, so
changing channels cannot disturb the shared stack): two channels sharing a location never
promise more than its ATP; every offer version is published once on Kafka, keyed by SKU;
the offer answers with an ETag; bad channel configuration is refused with the reason.

Expected numbers are worked out by hand from docs/sync-gateway.md ("Allocation").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from skuhub_contracts.topics import CHANNEL_OFFER_CHANGED, STOCK_MOVED
from tests import api
from tests.e2e.observe import new_sku
from tests.harness import Infrastructure, Stack, wait_until
from tests.upstream import GLN_A, GLN_B, Upstream, body_of, find_records, movement

pytestmark = pytest.mark.e2e

CHANNELS = [
    {"id": "web", "name": "Web", "allocation": {"rule": "share", "share": "0.5"}},
    {
        "id": "market",
        "name": "Marketplace",
        "locale": "fr_FR",
        "locations": [GLN_A],
        "allocation": {"rule": "share", "share": "0.5"},
    },
]


@pytest.fixture(scope="module")
def own_stack(infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir: Path = tmp_path_factory.mktemp("channels")
    stack = Stack(infra, workdir)
    try:
        stack.start(("stock", "sync_gateway"), env={"SKUHUB_CHANNELS": json.dumps(CHANNELS)})
        yield stack
    finally:
        stack.stop()


def gateway(stack: Stack) -> str:
    return f"{stack.url('sync_gateway')}/v1"


def offers_of(stack: Stack, sku: str) -> dict[str, dict[str, Any]]:
    """The SKU's offers by channel (those that exist yet)."""
    found: dict[str, dict[str, Any]] = {}
    for channel in ("web", "market"):
        response = api.get(f"{gateway(stack)}/channels/{channel}/offers/{sku}")
        if response.status_code == 200:
            found[channel] = response.json()
    return found


def offers_when(stack: Stack, sku: str, what: str, **available: int) -> dict[str, Any]:
    """The SKU's offers once each named channel's offer has that many available."""

    def reached() -> dict[str, Any] | None:
        found = offers_of(stack, sku)
        wanted = all(
            c in found and Decimal(found[c]["available"]) == n for c, n in available.items()
        )
        return found if wanted else None

    found: dict[str, Any] = wait_until(reached, timeout=30, what=what)
    return found


def test_two_channels_sharing_a_location_never_promise_more_than_its_atp(
    own_stack: Stack,
) -> None:
    sku = new_sku("SHARED")
    upstream = Upstream(own_stack.infra.kafka_bootstrap)
    topic = own_stack.topic(STOCK_MOVED.name)
    upstream.publish_movement(topic, movement(sku, quantity="7", location=GLN_A))
    upstream.publish_movement(topic, movement(sku, quantity="4", location=GLN_B))

    # A (7): web floor(3.5) = 3, market 3; B (4): web alone, floor(2) = 2.
    offers = offers_when(own_stack, sku, web=5, market=3, what="both offers of both receipts")
    # With web's 3 at A, 6 of A's 7 units are promised; web's other 2 come from B.
    assert offers["web"]["sources"]["location_atp"] == {GLN_A: "7", GLN_B: "4"}

    # Every version of each channel's offer is published once, keyed by the SKU, in order.
    records = find_records(
        own_stack.infra.kafka_bootstrap,
        own_stack.topic(CHANNEL_OFFER_CHANGED.name),
        lambda m: m.key() == sku.encode(),
        expect=offers["web"]["offer_version"] + offers["market"]["offer_version"],
    )
    versions: dict[str, list[int]] = {}
    for record in records:
        body = body_of(record)
        versions.setdefault(body["channel"], []).append(body["offer_version"])
    assert versions == {
        "web": list(range(1, offers["web"]["offer_version"] + 1)),
        "market": list(range(1, offers["market"]["offer_version"] + 1)),
    }


def test_an_offer_answers_not_modified_to_its_etag(own_stack: Stack) -> None:
    sku = new_sku("ETAG")
    Upstream(own_stack.infra.kafka_bootstrap).publish_movement(
        own_stack.topic(STOCK_MOVED.name), movement(sku, quantity="2", location=GLN_B)
    )
    url = f"{gateway(own_stack)}/channels/web/offers/{sku}"
    offers_when(own_stack, sku, web=1, what="the offer")
    first = api.get(url)
    etag = first.headers["ETag"]
    assert etag == f'"{first.json()["offer_version"]}"'

    again = api.get(url, headers={"If-None-Match": etag})

    assert (again.status_code, again.headers["ETag"], again.content) == (304, etag, b"")


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"locations": ["4012345000008"]}, 422, "check digit"),
        ({"locale": "xx_ZZ"}, 422, "not a locale CLDR knows"),
        ({"currency": "EUX"}, 422, "ISO 4217"),
        ({"allocation": {"rule": "share", "share": "0.2"}}, 409, "add up to 1.2"),
        ({"allocation": {"rule": "exclusive"}, "locations": []}, 409, "names its locations"),
    ],
)
def test_bad_channel_configuration_is_refused_with_the_reason(
    own_stack: Stack, change: dict[str, Any], status: int, reason: str
) -> None:
    body = {"code": "outlet", "name": "Outlet", "locations": [GLN_A]} | change

    refused = api.post(f"{gateway(own_stack)}/channels", json=body)

    assert refused.status_code == status, refused.text
    assert reason in refused.text


def test_a_channel_change_reallocates_every_offer(own_stack: Stack) -> None:
    sku = new_sku("REALLOC")
    Upstream(own_stack.infra.kafka_bootstrap).publish_movement(
        own_stack.topic(STOCK_MOVED.name), movement(sku, quantity="8", location=GLN_A)
    )
    offers_when(own_stack, sku, market=4, what="market's half of 8")
    market = api.get(f"{gateway(own_stack)}/channels/market")
    quarter = market.json() | {"allocation": {"rule": "share", "share": "0.25"}}
    quarter.pop("version")

    stale = api.put(
        f"{gateway(own_stack)}/channels/market", json=quarter, headers={"If-Match": '"99"'}
    )
    changed = api.put(
        f"{gateway(own_stack)}/channels/market",
        json=quarter,
        headers={"If-Match": market.headers["ETag"]},
    )

    assert stale.status_code == 412, stale.text
    assert changed.status_code == 200, changed.text
    # floor(0.25 x 8) = 2 for market; web keeps floor(0.5 x 8) = 4.
    offers = offers_when(own_stack, sku, market=2, what="the rebuilt offer")
    assert offers["market"]["cause"] == "channel"
    assert Decimal(offers["web"]["available"]) == 4
    restored = api.get(f"{gateway(own_stack)}/channels/market").json()
    restored.pop("version")
    api.put(
        f"{gateway(own_stack)}/channels/market",
        json=restored | {"allocation": {"rule": "share", "share": "0.5"}},
    ).raise_for_status()
